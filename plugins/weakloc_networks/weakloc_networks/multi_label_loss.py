"""Binary cross-entropy per label on the ``logits`` of a network that returns a dict (logits and maps)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from monai.utils import convert_to_tensor
from torch import nn

__all__ = ["MultiLabelMapLoss"]


class MultiLabelMapLoss(nn.Module):
    """Binary cross-entropy with logits on ``y_pred["logits"]``, the mean over images and labels.

    Used as ``loss_function`` of a MONAI ``SupervisedTrainer`` whose network returns a dict, such as
    :class:`~weakloc_networks.multi_attention.MultiAttentionNetwork` (``maps`` is not read): the trainer calls
    ``loss_function(network_output, labels)`` with the dict unchanged.

    Args:
        pos_weight: K weights of the positive term, one per label (``torch``'s ``pos_weight``: above 1 for rare
            labels); ``None`` weighs every label 1.

    Raises:
        TypeError: when ``pos_weight`` is not a sequence of numbers.
        ValueError: when ``pos_weight`` is empty or has a weight that is not positive.
    """

    def __init__(self, pos_weight: Sequence[float] | None = None) -> None:
        super().__init__()
        weights = None
        if pos_weight is not None:
            if isinstance(pos_weight, (str, bytes)) or not isinstance(pos_weight, Sequence):
                raise TypeError(f"MultiLabelMapLoss: pos_weight must be a sequence of numbers, got {pos_weight!r}")
            weights = torch.as_tensor(pos_weight, dtype=torch.float32)
            if weights.ndim != 1 or weights.numel() == 0 or not bool((weights > 0).all()):
                raise ValueError(
                    f"MultiLabelMapLoss: pos_weight must be positive weights, one per label, got {pos_weight!r}"
                )
        self.register_buffer("pos_weight", weights)

    def forward(self, y_pred: Mapping[str, torch.Tensor], y: torch.Tensor) -> torch.Tensor:
        """Args:
            y_pred: the network's dict with ``logits`` (B, K).
            y: (B, K) multi-hot labels, each 0 or 1.

        Returns:
            the scalar loss.

        Raises:
            TypeError: when ``y_pred`` is not a mapping.
            ValueError: without ``logits``, on logits that are not (B, K), labels of another shape or not 0 or 1,
                or a ``pos_weight`` of another length than K.
        """
        if not isinstance(y_pred, Mapping):
            raise TypeError(f"MultiLabelMapLoss: y_pred must be the network's dict, got {type(y_pred).__name__}")
        if "logits" not in y_pred:
            raise ValueError(f"MultiLabelMapLoss: y_pred lacks 'logits', got keys {sorted(y_pred)}")
        logits = y_pred["logits"]
        if logits.ndim != 2:
            raise ValueError(f"MultiLabelMapLoss: logits must be (B, K), got {tuple(logits.shape)}")
        targets = convert_to_tensor(y, track_meta=False)
        if targets.shape != logits.shape:
            raise ValueError(
                f"MultiLabelMapLoss: labels must be {tuple(logits.shape)} like the logits, got {tuple(targets.shape)}"
            )
        if not ((targets == 0) | (targets == 1)).all():
            raise ValueError(f"MultiLabelMapLoss: labels must be 0 or 1, got values {targets.unique().tolist()}")
        if self.pos_weight is not None and self.pos_weight.numel() != logits.shape[1]:
            raise ValueError(
                f"MultiLabelMapLoss: pos_weight has {self.pos_weight.numel()} weights for {logits.shape[1]} labels"
            )
        return F.binary_cross_entropy_with_logits(
            logits, targets.to(logits.device, logits.dtype), pos_weight=self.pos_weight
        )
