"""What a localizer found for a batch, in network-input pixels: the one result every method returns.

A localizer (registry kind ``localizer``) turns a network's output for a batch, and the batch itself, into a
:class:`Localization`; the output writer (:class:`monai_weakloc.engines.LocalizationOutputWriter`) maps it
back to the original images and writes the files of the output contract (``docs/outputs.md``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

__all__ = ["PROBABILITY_KINDS", "Detections", "Localization", "Localizer"]

PROBABILITY_KINDS: tuple[str, ...] = ("single_label", "multi_label")
"""``single_label``: one softmax over K classes per image; ``multi_label``: one sigmoid per class."""


@dataclass
class Detections:
    """Labelled detections of one image (boxes or points), in network-input pixels.

    Attributes:
        coordinates: (n, 4) boxes ``x, y, w, h`` or (n, 2) points ``x, y`` (a pixel's centre at ``i + 0.5``).
        labels: n labels (class names, or a name such as ``lesion``).
        scores: (n,) scores that rank the detections (higher is more confident).
    """

    coordinates: torch.Tensor
    labels: Sequence[str]
    scores: torch.Tensor

    def __post_init__(self) -> None:
        if self.coordinates.ndim != 2 or self.coordinates.shape[1] not in (2, 4):
            raise ValueError(f"Detections: coordinates must be (n, 4) boxes or (n, 2) points, got {tuple(self.coordinates.shape)}")
        count = self.coordinates.shape[0]
        if len(self.labels) != count or self.scores.reshape(-1).shape[0] != count:
            raise ValueError(
                f"Detections: {count} coordinates but {len(self.labels)} labels and {self.scores.numel()} scores"
            )

    @classmethod
    def empty(cls, width: int) -> Detections:
        """No detection; ``width`` is 4 for boxes, 2 for points."""
        return cls(torch.zeros(0, width), [], torch.zeros(0))


@dataclass
class Localization:
    """A batch of B images' class probabilities and, as the method has them, maps, boxes, points and masks.

    Attributes:
        probabilities: (B, K) class probabilities.
        probability_kind: one of :data:`PROBABILITY_KINDS`.
        class_names: K class names (multi-label columns of ``predictions.csv``); ``None`` numbers them.
        heatmaps: named maps, each (B, h, w) covering the network input (any h, w).
        boxes: per image, the boxes found (``None``: the method gives none).
        points: per image, the points found (``None``: the method gives none).
        masks: per label, (B, h, w) probabilities covering the network input (``None``: no masks).
        overlay_map: (B, h, w), the map the overlays show; ``None`` shows the first heatmap (or the first mask).
    """

    probabilities: torch.Tensor
    probability_kind: str = "single_label"
    class_names: Sequence[str] | None = None
    heatmaps: Mapping[str, torch.Tensor] = field(default_factory=dict)
    boxes: Sequence[Detections] | None = None
    points: Sequence[Detections] | None = None
    masks: Mapping[str, torch.Tensor] | None = None
    overlay_map: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if self.probability_kind not in PROBABILITY_KINDS:
            raise ValueError(f"Localization: probability_kind must be one of {PROBABILITY_KINDS}, got {self.probability_kind!r}")
        if self.probabilities.ndim != 2:
            raise ValueError(f"Localization: probabilities must be (B, K), got {tuple(self.probabilities.shape)}")
        batch, num_classes = self.probabilities.shape
        if self.class_names is not None and len(self.class_names) != num_classes:
            raise ValueError(f"Localization: {len(self.class_names)} class names for {num_classes} probabilities")
        named_maps = {**{f"heatmap {name!r}": m for name, m in self.heatmaps.items()},
                      **{f"mask {name!r}": m for name, m in (self.masks or {}).items()}}
        if self.overlay_map is not None:
            named_maps["overlay_map"] = self.overlay_map
        for name, values in named_maps.items():
            if values.ndim != 3 or values.shape[0] != batch:
                raise ValueError(f"Localization: {name} must be ({batch}, h, w), got {tuple(values.shape)}")
        for name, per_image in (("boxes", self.boxes), ("points", self.points)):
            if per_image is not None and len(per_image) != batch:
                raise ValueError(f"Localization: {name} for {len(per_image)} images in a batch of {batch}")

    @property
    def batch_size(self) -> int:
        """B."""
        return int(self.probabilities.shape[0])

    def names_of_classes(self) -> list[str]:
        """The K class names, ``class_<k>`` where none were given."""
        if self.class_names is not None:
            return [str(name) for name in self.class_names]
        return [f"class_{k}" for k in range(self.probabilities.shape[1])]


class Localizer(Protocol):
    """What the registry's ``localizer`` kind builds: ``localizer(pred, batch) -> Localization``."""

    def __call__(self, pred: Any, batch: Mapping[str, Any] | None = None) -> Localization:
        """Args:
            pred: the network's output for the batch (``engine.state.output["pred"]`` of an evaluator with
                ``decollate=False``).
            batch: the batch (``engine.state.batch``), for localizers that need the input or its field of view.
        """
        ...
