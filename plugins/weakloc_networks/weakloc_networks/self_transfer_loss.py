"""The self-transfer learning loss: the classifier's and the localizer's losses weighted by alpha."""

from __future__ import annotations

import numbers
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from monai.utils import convert_to_tensor
from torch import nn

from weakloc_networks.ma_losses import patch_labels

__all__ = ["SelfTransferLoss"]

OUTPUT_KEYS: tuple[str, str] = ("classifier", "localizer")


class SelfTransferLoss(nn.Module):
    """``(1 - alpha) * loss(classifier logits) + alpha * loss(localizer logits)`` (Hwang and Kim, eq. 1).

    The component loss is softmax cross-entropy against class indices, or with ``multi_label`` binary
    cross-entropy with logits per label against 0/1 labels. Each is the mean over the batch (and the labels);
    the paper writes a sum over the N images, which only rescales the learning rate.

    ``alpha`` is meant to change during training (0.1 at first, 0.9 after 60 epochs in the paper):
    :class:`monai_weakloc.engines.loss_weight_schedule.LossWeightSchedule` sets it at every epoch start. The two
    unweighted component losses of the last call are kept in :attr:`last_classifier_loss` and
    :attr:`last_localizer_loss` (``None`` before the first call) for
    :class:`monai_weakloc.engines.loss_curves.LossComponentCurves`.

    Used as ``loss_function`` of a MONAI ``SupervisedTrainer`` whose network is
    :class:`~weakloc_networks.self_transfer.SelfTransferNetwork`: the trainer calls
    ``loss_function(network_output, labels)`` with the network's dict unchanged.

    Args:
        alpha: the localizer's weight, in [0, 1].
        multi_label: binary cross-entropy per label instead of softmax cross-entropy.

    Raises:
        TypeError: when ``alpha`` is not a number.
        ValueError: on ``alpha`` outside [0, 1].
    """

    def __init__(self, alpha: float = 0.1, multi_label: bool = False) -> None:
        super().__init__()
        self._alpha = 0.0
        self.alpha = alpha
        self.multi_label = bool(multi_label)
        self.last_classifier_loss: float | None = None
        self.last_localizer_loss: float | None = None

    @property
    def alpha(self) -> float:
        """The localizer's weight, in [0, 1]; setting another value raises ``ValueError`` (``TypeError`` for a
        non-number)."""
        return self._alpha

    @alpha.setter
    def alpha(self, alpha: float) -> None:
        if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
            raise TypeError(f"SelfTransferLoss: alpha must be a number, got {type(alpha).__name__}")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"SelfTransferLoss: alpha must lie in [0, 1], got {alpha!r}")
        self._alpha = float(alpha)

    def forward(self, y_pred: Mapping[str, torch.Tensor], y: torch.Tensor) -> torch.Tensor:
        """Args:
            y_pred: the network's dict with ``classifier`` and ``localizer`` logits, each (B, K) (other keys,
                such as ``maps``, are ignored).
            y: single-label: (B,) or (B, 1) class indices in [0, K); multi-label: (B, K) labels, each 0 or 1.

        Returns:
            the scalar loss.

        Raises:
            TypeError: when ``y_pred`` is not a mapping.
            ValueError: on a missing key, logits not (B, K) of one shape, or labels that do not fit them.
        """
        if not isinstance(y_pred, Mapping):
            raise TypeError(
                f"SelfTransferLoss: y_pred must be the network's dict of logits, got {type(y_pred).__name__}"
            )
        missing = [key for key in OUTPUT_KEYS if key not in y_pred]
        if missing:
            raise ValueError(f"SelfTransferLoss: y_pred lacks {missing}, got keys {sorted(y_pred)}")
        classifier, localizer = y_pred["classifier"], y_pred["localizer"]
        if classifier.ndim != 2 or classifier.shape != localizer.shape:
            raise ValueError(
                "SelfTransferLoss: classifier and localizer logits must be (B, K) of one shape, got "
                f"{tuple(classifier.shape)} and {tuple(localizer.shape)}"
            )
        if self.multi_label:
            targets = self._multi_labels(y, tuple(classifier.shape)).to(classifier.device, classifier.dtype)
            classifier_loss = F.binary_cross_entropy_with_logits(classifier, targets)
            localizer_loss = F.binary_cross_entropy_with_logits(localizer, targets)
        else:
            batch, num_classes = classifier.shape
            targets = patch_labels(y, batch, num_classes, "SelfTransferLoss").to(classifier.device)
            classifier_loss = F.cross_entropy(classifier, targets)
            localizer_loss = F.cross_entropy(localizer, targets)
        self.last_classifier_loss = float(classifier_loss.detach())
        self.last_localizer_loss = float(localizer_loss.detach())
        return (1.0 - self._alpha) * classifier_loss + self._alpha * localizer_loss

    @staticmethod
    def _multi_labels(labels: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
        """Multi-label targets (B, K) of 0s and 1s, as given."""
        targets = convert_to_tensor(labels, track_meta=False)
        if tuple(targets.shape) != shape:
            raise ValueError(
                f"SelfTransferLoss: multi-label labels must be {shape} like the logits, got {tuple(targets.shape)}"
            )
        if not ((targets == 0) | (targets == 1)).all():
            raise ValueError(
                f"SelfTransferLoss: multi-label labels must be 0 or 1, got values {targets.unique().tolist()}"
            )
        return targets
