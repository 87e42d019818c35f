"""Training loss of Zoom-in-Net for each of its three training phases."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from monai.utils import convert_to_tensor
from torch import nn

__all__ = ["ZoomInNetLoss"]

OUTPUT_KEYS: tuple[str, str, str] = ("y_m", "y_a", "y_c")


class ZoomInNetLoss(nn.Module):
    """Softmax cross-entropy on the logits that the current phase trains.

    The paper trains each sub-network with softmax cross-entropy on its own output against the image-level
    grade: M-Net on y_M, A-Net on y_A (whose logits are the spatial sums of the gated maps, so this loss
    is what teaches the attention where the evidence lies), C-Net on y_C. Hence:

    - phase 1 (M-Net alone): CE(y_m);
    - phase 2 (M-Net frozen, A-Net trains): CE(y_a);
    - phase 3 (joint): w_m * CE(y_m) + w_a * CE(y_a) + w_c * CE(y_c); summing keeps every head supervised
      while the shared M-Net is fine-tuned, so neither the attention nor the M-Net head drifts while the
      C-Net learns.

    Used as ``loss_function`` of a MONAI ``SupervisedTrainer`` whose network is :class:`ZoomInNet`: the
    trainer's default iteration calls ``loss_function(network_output, labels)`` with the network's dict
    unchanged (extra network inputs come through ``monai.engines.PrepareBatchExtraInput``).

    Args:
        phase: 1, 2 or 3; can be changed later through :attr:`phase`.
        weights: (w_m, w_a, w_c) of phase 3, non-negative.
    """

    def __init__(self, phase: int = 1, weights: Sequence[float] = (1.0, 1.0, 1.0)) -> None:
        super().__init__()
        weights = tuple(float(w) for w in weights)
        if len(weights) != 3 or any(not w >= 0 for w in weights):
            raise ValueError(
                f"ZoomInNetLoss: weights must be three non-negative numbers (w_m, w_a, w_c), got {weights}"
            )
        self.weights = weights
        self._phase = 1
        self.phase = phase

    @property
    def phase(self) -> int:
        """The training phase, 1, 2 or 3."""
        return self._phase

    @phase.setter
    def phase(self, phase: int) -> None:
        if phase not in (1, 2, 3):
            raise ValueError(f"ZoomInNetLoss: phase must be 1, 2 or 3, got {phase!r}")
        self._phase = phase

    def set_phase(self, phase: int) -> None:
        """Switch the phase (what :class:`monai_weakloc.engines.phases.PhaseSchedule` calls)."""
        self.phase = phase

    def _terms(self) -> list[tuple[str, float]]:
        if self._phase == 1:
            return [("y_m", 1.0)]
        if self._phase == 2:
            return [("y_a", 1.0)]
        return list(zip(OUTPUT_KEYS, self.weights))

    @staticmethod
    def _targets(labels: torch.Tensor, batch: int, num_classes: int) -> torch.Tensor:
        """Class indices (B,) long, or class probabilities (B, K) float, from the labels as given."""
        targets = convert_to_tensor(labels, track_meta=False)
        if targets.ndim == 2 and targets.shape[1] == 1:
            targets = targets[:, 0]
        if targets.ndim == 1:
            if targets.is_floating_point() and not torch.equal(targets, targets.round()):
                raise ValueError(f"ZoomInNetLoss: labels must be integer grades, got {targets.tolist()}")
            targets = targets.long()
            if targets.numel() and (targets.min() < 0 or targets.max() >= num_classes):
                raise ValueError(f"ZoomInNetLoss: labels must be in [0, {num_classes - 1}], got {targets.tolist()}")
        elif targets.ndim == 2 and targets.shape[1] == num_classes:
            targets = targets.float()
        else:
            raise ValueError(
                f"ZoomInNetLoss: labels must be (B,), (B, 1) grades or (B, {num_classes}) probabilities, "
                f"got shape {tuple(targets.shape)}"
            )
        if targets.shape[0] != batch:
            raise ValueError(f"ZoomInNetLoss: {targets.shape[0]} labels for a batch of {batch}")
        return targets

    def forward(self, outputs: Mapping[str, torch.Tensor], labels: torch.Tensor) -> torch.Tensor:
        """Args:
            outputs: the network's dict with logits ``y_m``, ``y_a``, ``y_c`` (B, K) as the phase needs.
            labels: grades (B,) or (B, 1), or class probabilities (B, K).

        Returns:
            the scalar loss (mean over the batch).

        Raises:
            TypeError: if ``outputs`` is not a mapping.
            ValueError: if a logit the phase needs is missing or the labels do not fit.
        """
        if not isinstance(outputs, Mapping):
            raise TypeError(
                f"ZoomInNetLoss: outputs must be the network's dict of logits, got {type(outputs).__name__}"
            )
        terms = self._terms()
        missing = [key for key, _ in terms if key not in outputs]
        if missing:
            raise ValueError(
                f"ZoomInNetLoss: phase {self._phase} needs outputs {missing}, got keys {sorted(outputs)} "
                "(y_c needs image_high and a network in phase 3)"
            )
        first = outputs[terms[0][0]]
        targets = self._targets(labels, first.shape[0], first.shape[1])
        losses = [weight * F.cross_entropy(outputs[key], targets) for key, weight in terms]
        return torch.stack(losses).sum()
