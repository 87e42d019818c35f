"""Losses of the microaneurysm segmentation method (Sarhan et al., MICCAI 2019).

- :class:`HGNLoss`: the hypothesis generation network's class-weighted cross-entropy plus Dice;
- :class:`AngularTripletLoss`: triplet loss under the angular cosine distance;
- :class:`PRNLoss`: the patch refinement network's triplet loss on embeddings plus cross-entropy on the
  anchor/negative pairs of a triplet batch;
- :class:`PatchCrossEntropy`: cross-entropy of patch logits with any reduction, the per-sample loss that
  selective sampling rescores the healthy pool with.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from monai.losses import DiceLoss
from monai.utils import convert_to_tensor
from torch import nn

__all__ = [
    "AngularTripletLoss",
    "HGNLoss",
    "PRNLoss",
    "PatchCrossEntropy",
    "angular_distance",
    "class_indices",
    "patch_labels",
]

COSINE_LIMIT = 1.0 - 1e-6
"""The cosine is clamped to +-COSINE_LIMIT: arccos' derivative is infinite at +-1 (the distance of a vector to
itself), which would make the gradients NaN."""

REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction: str, owner: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{owner}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def class_indices(labels: torch.Tensor, num_classes: int, owner: str) -> torch.Tensor:
    """Labels of any shape holding integral values in [0, num_classes), as a long tensor of the same shape.

    Raises:
        ValueError: on a value that is not a class index (``owner`` names the caller).
    """
    targets = convert_to_tensor(labels, track_meta=False)
    if targets.is_floating_point() and not torch.equal(targets, targets.round()):
        raise ValueError(f"{owner}: labels must be integer class indices, got values {targets.unique().tolist()}")
    targets = targets.long()
    if targets.numel() and (targets.min() < 0 or targets.max() >= num_classes):
        raise ValueError(f"{owner}: labels must lie in [0, {num_classes - 1}], got values {targets.unique().tolist()}")
    return targets


def patch_labels(labels: torch.Tensor, batch: int, num_classes: int, owner: str) -> torch.Tensor:
    """Patch labels (B,) or (B, 1) as class indices, a long tensor (B,).

    Args:
        labels: the labels as the batch carries them (tensor, array or MetaTensor).
        batch: the B they must have.
        num_classes: K of the logits.
        owner: the class name for error messages.

    Raises:
        ValueError: on another shape or batch size, or a value that is not a class index.
    """
    targets = convert_to_tensor(labels, track_meta=False)
    if targets.ndim == 2 and targets.shape[1] == 1:
        targets = targets[:, 0]
    if targets.ndim != 1 or targets.shape[0] != batch:
        raise ValueError(f"{owner}: labels must be ({batch},) or ({batch}, 1) class indices, got {tuple(targets.shape)}")
    return class_indices(targets, num_classes, owner)


def angular_distance(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """Angular cosine distance ``arccos(cos_sim(a, b)) / pi``, in [0, 1] (0: same direction, 1: opposite).

    The cosine is clamped to ``+-COSINE_LIMIT`` so that the gradient stays finite where the vectors are
    parallel; two equal vectors are then ``arccos(COSINE_LIMIT) / pi`` (about 4.5e-4) apart, not 0.

    Args:
        first: (N, D) embeddings.
        second: (N, D) embeddings.

    Returns:
        (N,) distances.
    """
    cosine = F.cosine_similarity(first, second, dim=1)
    return torch.arccos(cosine.clamp(-COSINE_LIMIT, COSINE_LIMIT)) / math.pi


class HGNLoss(nn.Module):
    """Class-weighted cross-entropy plus Dice, the loss of the hypothesis generation networks (FRRN).

    ``loss = CE_w(logits, label) + dice_weight * Dice(softmax(logits), one_hot(label))``; the Dice is MONAI's
    ``DiceLoss`` over the foreground classes (``include_background=False``). MONAI's ``DiceCELoss`` is not used:
    with class weights and ``include_background=False`` it also scales its Dice term by the foreground weights,
    which the paper's "weighted cross entropy plus Dice" does not.

    Args:
        class_weights: K cross-entropy weights, one per class (healthy, microaneurysm); their number fixes K.
        dice_weight: weight of the Dice term (0 leaves the weighted cross-entropy alone).
        dice_batch: Dice over the whole batch (``DiceLoss(batch=True)``) rather than per patch and averaged.
            Lesion-free patches make up most batches; per patch their Dice is about 1 whatever the prediction,
            over the batch their false positives count against the lesions' overlap instead.

    Raises:
        ValueError: on fewer than two weights, a negative weight, or a negative ``dice_weight``.
    """

    def __init__(
        self, class_weights: Sequence[float] = (1.0, 10.0), dice_weight: float = 1.0, dice_batch: bool = True
    ) -> None:
        super().__init__()
        weights = [float(w) for w in class_weights]
        if len(weights) < 2 or any(not w >= 0 for w in weights):
            raise ValueError(f"HGNLoss: class_weights must be at least two non-negative numbers, got {class_weights!r}")
        if not dice_weight >= 0:
            raise ValueError(f"HGNLoss: dice_weight must be non-negative, got {dice_weight!r}")
        self.register_buffer("class_weights", torch.tensor(weights))
        self.dice_weight = float(dice_weight)
        self.dice = DiceLoss(include_background=False, to_onehot_y=True, softmax=True, batch=dice_batch)

    def forward(self, logits: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        """Args:
            logits: (B, K, H, W) per-pixel logits.
            label: (B, 1, H, W) class indices (0: healthy, 1: microaneurysm).

        Returns:
            the scalar loss.

        Raises:
            ValueError: when the shapes do not fit each other or the weights, or a label is not a class index.
        """
        num_classes = self.class_weights.shape[0]
        if logits.ndim < 3 or logits.shape[1] != num_classes:
            raise ValueError(
                f"HGNLoss: logits must be (B, {num_classes}, H, W) for {num_classes} class weights, "
                f"got {tuple(logits.shape)}"
            )
        target = convert_to_tensor(label, track_meta=False)
        expected = (logits.shape[0], 1, *logits.shape[2:])
        if tuple(target.shape) != expected:
            raise ValueError(f"HGNLoss: label must have shape {expected}, got {tuple(target.shape)}")
        indices = class_indices(target, num_classes, "HGNLoss").to(logits.device)
        cross_entropy = F.cross_entropy(logits, indices[:, 0], weight=self.class_weights.to(logits.dtype))
        return cross_entropy + self.dice_weight * self.dice(logits, indices)


class AngularTripletLoss(nn.Module):
    """Triplet loss ``relu(d(a, p) - d(a, n) + margin)`` under the angular cosine distance.

    PyTorch's ``TripletMarginWithDistanceLoss`` does the triplet arithmetic; this class gives it
    :func:`angular_distance`.

    The default margin 0.2: the PRN's embeddings are averages of ReLU features, so they lie in the positive
    orthant and any two are at most 90 degrees apart, a distance of at most 0.5. A margin must stay below 0.5
    to be attainable; 0.2 (36 degrees) asks for a clear gap while leaving room to meet it. (The margin value
    of the paper did not survive in the text we have.)

    Args:
        margin: the margin, in units of the distance (fractions of 180 degrees), in [0, 1).
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (one value per triplet).

    Raises:
        ValueError: on a margin outside [0, 1) or an unknown reduction.
    """

    def __init__(self, margin: float = 0.2, reduction: str = "mean") -> None:
        super().__init__()
        if not 0.0 <= margin < 1.0:
            raise ValueError(f"AngularTripletLoss: margin must lie in [0, 1), got {margin!r}")
        _check_reduction(reduction, "AngularTripletLoss")
        self.margin = float(margin)
        self.triplet = nn.TripletMarginWithDistanceLoss(
            distance_function=angular_distance, margin=self.margin, reduction=reduction
        )

    def forward(self, anchor: torch.Tensor, positive: torch.Tensor, negative: torch.Tensor) -> torch.Tensor:
        """Args:
            anchor: (N, D) embeddings.
            positive: (N, D) embeddings of the anchors' class.
            negative: (N, D) embeddings of the other class.

        Returns:
            the scalar loss, or (N,) with ``reduction="none"``.

        Raises:
            ValueError: when the three shapes differ or are not (N, D).
        """
        if anchor.ndim != 2 or anchor.shape != positive.shape or anchor.shape != negative.shape:
            raise ValueError(
                "AngularTripletLoss: anchor, positive and negative must be (N, D) of one shape, got "
                f"{tuple(anchor.shape)}, {tuple(positive.shape)}, {tuple(negative.shape)}"
            )
        return self.triplet(anchor, positive, negative)


class PatchCrossEntropy(nn.Module):
    """Cross-entropy of patch logits against patch labels given as (B,) or (B, 1).

    ``torch.nn.CrossEntropyLoss`` rejects (B, 1) labels, the shape a batch of one-element label arrays has.
    With ``reduction="none"`` this is the per-sample loss that ``weakloc_samplers``' ``SelectiveRescoreHandler``
    rescores the healthy pool with (there the network is ``PatchRefinementLogits``); a healthy patch's loss is
    then ``-log p(healthy)``, high where the PRN takes it for a microaneurysm.

    Args:
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.

    Raises:
        ValueError: on an unknown reduction.
    """

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        _check_reduction(reduction, "PatchCrossEntropy")
        self.reduction = reduction

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Args:
            logits: (B, K).
            labels: (B,) or (B, 1) class indices.

        Returns:
            the scalar loss, or (B,) with ``reduction="none"``.

        Raises:
            TypeError: when ``logits`` is not a tensor (pass the PRN's ``logits``, not its dict).
            ValueError: on a bad shape or label.
        """
        if not isinstance(logits, torch.Tensor):
            raise TypeError(f"PatchCrossEntropy: logits must be a (B, K) tensor, got {type(logits).__name__}")
        if logits.ndim != 2:
            raise ValueError(f"PatchCrossEntropy: logits must be (B, K), got {tuple(logits.shape)}")
        targets = patch_labels(labels, logits.shape[0], logits.shape[1], "PatchCrossEntropy").to(logits.device)
        return F.cross_entropy(logits, targets, reduction=self.reduction)


class PRNLoss(nn.Module):
    """The PRN's loss on a triplet batch: cross-entropy on the anchor/negative pairs plus the triplet loss.

    The batch is laid out as ``weakloc_samplers.TripletBatchSampler`` yields it: ``3T`` patches, anchors
    ``[0, T)``, positives ``[T, 2T)``, negatives ``[2T, 3T)``, anchors and positives lesion patches (label 1),
    negatives healthy ones (label 0); the labels are checked against that layout.

    ``loss = CE(logits of anchors and negatives) + triplet_weight * AngularTriplet(embeddings)``.

    The cross-entropy covers the anchor/negative pairs only, as the paper's "cross-entropy loss between the
    anchor and the negative pair": every batch is then balanced, one lesion patch per healthy one.
    ``triplet_weight=0`` is the paper's "cls" ablation; it keeps the same batches and the same cross-entropy
    term (the positives then only pass forward), so the ablation differs from the PRN in the triplet term alone.

    Called by MONAI's ``SupervisedTrainer`` as ``loss_function(network_output, labels)`` with the
    :class:`~weakloc_networks.patch_refinement.PatchRefinementNetwork`'s dict unchanged.

    Args:
        triplet_weight: weight of the triplet term, non-negative.
        margin: the triplet margin (see :class:`AngularTripletLoss`).

    Raises:
        ValueError: on a negative ``triplet_weight`` or a bad margin.
    """

    def __init__(self, triplet_weight: float = 1.0, margin: float = 0.2) -> None:
        super().__init__()
        if not triplet_weight >= 0:
            raise ValueError(f"PRNLoss: triplet_weight must be non-negative, got {triplet_weight!r}")
        self.triplet_weight = float(triplet_weight)
        self.triplet = AngularTripletLoss(margin=margin)

    def forward(self, y_pred: Mapping[str, torch.Tensor], y: torch.Tensor) -> torch.Tensor:
        """Args:
            y_pred: the PRN's output for ``3T`` patches, ``{"logits": (3T, K), "embedding": (3T, D)}``.
            y: patch labels (3T,) or (3T, 1): 1 for anchors and positives, 0 for negatives.

        Returns:
            the scalar loss.

        Raises:
            TypeError: when ``y_pred`` is not a mapping.
            ValueError: on a missing key, a batch not divisible by three, or labels that do not follow the
                triplet layout.
        """
        if not isinstance(y_pred, Mapping):
            raise TypeError(f"PRNLoss: y_pred must be the PRN's dict of outputs, got {type(y_pred).__name__}")
        missing = [key for key in ("logits", "embedding") if key not in y_pred]
        if missing:
            raise ValueError(f"PRNLoss: y_pred lacks {missing}, got keys {sorted(y_pred)}")
        logits, embedding = y_pred["logits"], y_pred["embedding"]
        batch = logits.shape[0]
        if batch == 0 or batch % 3 or embedding.shape[0] != batch:
            raise ValueError(
                f"PRNLoss: a triplet batch needs 3T patches with one embedding each, got {batch} logits "
                f"and {embedding.shape[0]} embeddings"
            )
        labels = patch_labels(y, batch, logits.shape[1], "PRNLoss").to(logits.device)
        anchor_labels, positive_labels, negative_labels = labels.chunk(3)
        if (anchor_labels != 1).any() or (positive_labels != 1).any() or (negative_labels != 0).any():
            raise ValueError(
                "PRNLoss: labels must be 1 for anchors and positives and 0 for negatives "
                f"(TripletBatchSampler's layout), got {labels.tolist()}"
            )
        anchor_logits, _, negative_logits = logits.chunk(3)
        pair_logits = torch.cat([anchor_logits, negative_logits])
        cross_entropy = F.cross_entropy(pair_logits, torch.cat([anchor_labels, negative_labels]))
        return cross_entropy + self.triplet_weight * self.triplet(*embedding.chunk(3))
