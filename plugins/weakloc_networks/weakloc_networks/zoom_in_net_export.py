"""Zoom-in-Net grade probabilities as a plain image -> tensor network, for ``verify_net_in_out`` and
``ckpt_export`` (TorchScript).

The full :class:`~weakloc_networks.zoom_in_net.ZoomInNet` returns a dict and samples its C-Net regions with
data-dependent Python loops, so neither MONAI command works on it. :class:`ZoomInNetGrader` keeps the part
that maps one image to grade probabilities without region sampling: M-Net + A-Net, the phase-2 prediction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from weakloc_networks.zoom_in_net import ZoomInNet

__all__ = ["ZoomInNetGrader"]

C_NET_PREFIX = "c_net."


class ZoomInNetGrader(nn.Module):
    """Grade probabilities of one image from a Zoom-in-Net's M-Net and A-Net (no region sampling).

    Output: mean of softmax(y_M) and softmax(y_A), which is ``ZoomInNet.predict_proba(outputs, phase=2)``.
    With ``paired_eyes`` the image stands in for its fellow eye (its pooled M-Net feature is concatenated
    with itself), as the bundle does for images without a fellow eye.

    The layers are those of ``zoom_in_net`` (shared, not copied); :meth:`load_state_dict` accepts the full
    network's state dict (``model.pt`` of the bundle) and ignores the C-Net entries, so that
    ``python -m monai.bundle ckpt_export`` loads the bundle's checkpoint into this network directly. It
    scripts with ``torch.jit.script`` and traces with ``torch.jit.trace``.

    Args:
        zoom_in_net: the Zoom-in-Net whose M-Net and A-Net to use.

    Raises:
        TypeError: if ``zoom_in_net`` is not a :class:`ZoomInNet`.
    """

    def __init__(self, zoom_in_net: ZoomInNet) -> None:
        super().__init__()
        if not isinstance(zoom_in_net, ZoomInNet):
            raise TypeError(f"ZoomInNetGrader: zoom_in_net must be a ZoomInNet, got {type(zoom_in_net).__name__}")
        self.paired_eyes = zoom_in_net.paired_eyes
        self.m_net = zoom_in_net.m_net
        self.a_net = zoom_in_net.a_net

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Args:
            image: (B, in_channels, H, W), intensities in [0, 1]; the network was trained at
                ``low_res`` x ``low_res`` (492 px in the paper).

        Returns:
            grade probabilities, (B, K), rows summing to 1.
        """
        feature_map = self.m_net.features(image)
        fellow_feature_map = feature_map if self.paired_eyes else None
        y_m = self.m_net.classify(self.m_net.embed(feature_map, fellow_feature_map))
        y_a = self.a_net(feature_map)["y_a"]
        return torch.stack([torch.softmax(y_m, dim=1), torch.softmax(y_a, dim=1)]).mean(dim=0)

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False) -> Any:
        """Load a :class:`ZoomInNet` state dict (its ``c_net.*`` entries are ignored) or this network's own.

        Args:
            state_dict: parameters and buffers, keys ``m_net.*``, ``a_net.*`` (and ``c_net.*``).
            strict: whether every other key must match (see :meth:`torch.nn.Module.load_state_dict`).
            assign: see :meth:`torch.nn.Module.load_state_dict`.

        Returns:
            the missing and unexpected keys, as :meth:`torch.nn.Module.load_state_dict` returns them.
        """
        grader_state = {key: value for key, value in state_dict.items() if not key.startswith(C_NET_PREFIX)}
        return super().load_state_dict(grader_state, strict=strict, assign=assign)
