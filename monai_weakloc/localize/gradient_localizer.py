"""A localizer for any classifier: its probabilities and a gradient saliency map, with the map's maximum as a point.

MONAI's ``SupervisedEvaluator`` (1.6.1) runs the inferer inside ``eval_mode``, which is ``torch.no_grad``
(not ``inference_mode``); its event handlers run after that block, but an inferer may localize inside it,
a caller may wrap the whole run in ``torch.no_grad`` or ``torch.inference_mode``, and a network validated
during training is back in train mode by the time the handlers run. The evaluator's ``pred`` holds no graph
in any case, so :class:`GradientLocalizer` reads only the probabilities from it and runs the network once
more, in eval mode, on the batch's images for the saliency map, through
:func:`~monai_weakloc.localize.saliency.input_gradients`, which switches autograd on for that pass alone
(``torch.inference_mode(False)``, ``torch.enable_grad()``) and copies inference tensors into ordinary ones.

MONAI's ``GuidedBackpropGrad`` and ``VanillaGrad`` take one image per call and only networks that return a
tensor, and its default CAM normaliser flips maps; hence this localizer over the batched maps of
:mod:`monai_weakloc.localize.saliency`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import torch
from monai.config import NdarrayOrTensor
from monai.utils import CommonKeys, convert_to_tensor
from torch import nn

from monai_weakloc.localize.field_of_view import mask_outside_field_of_view
from monai_weakloc.localize.localization import PROBABILITY_KINDS, Detections, Localization
from monai_weakloc.localize.peaks import heatmap_to_points
from monai_weakloc.localize.region import Point
from monai_weakloc.localize.saliency import gradient_saliency, guided_backprop_saliency

__all__ = ["SALIENCY_METHODS", "GradientLocalizer"]

SALIENCY_METHODS: dict[str, Callable[..., torch.Tensor]] = {
    "guided_backprop": guided_backprop_saliency,
    "gradient": gradient_saliency,
}
"""Saliency method name -> ``saliency(network, images (B, C, H, W), target_classes, absolute) -> (B, H, W)``."""


class _LogitsOf(nn.Module):
    """The logits entry of a network that returns a dict, as a module the saliency functions can hook."""

    def __init__(self, network: nn.Module, logits_key: str) -> None:
        super().__init__()
        self.network = network
        self.logits_key = logits_key

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.network(images)[self.logits_key]


class GradientLocalizer:
    """Class probabilities, a gradient saliency heatmap of one class, and a point at the heatmap's maximum.

    - probabilities: softmax (``single_label``) or sigmoid (``multi_label``) of the logits in ``pred``;
    - heatmap ``heatmap_name``: (B, H, W) saliency of the target class over the network input (the mean over
      channels of the absolute input gradient, or of the signed one), not normalised;
    - points: per image, one point at the heatmap's maximum inside the field of view (batch key
      ``field_of_view_key``, when present), labelled with the target class's name and scored by the map's
      value there; an image whose field of view is empty gets no point.

    Called without a batch (as :class:`~monai_weakloc.engines.LocalizerProbabilities` calls it for validation
    metrics) it returns the probabilities alone: no images, no saliency pass.

    Args:
        network: the classifier; the saliency pass runs it in eval mode on the batch's images and restores
            its modes afterwards. Parameter ``.grad`` fields are left untouched.
        method: a key of :data:`SALIENCY_METHODS`; ``guided_backprop`` guides ``torch.nn.ReLU`` modules only.
        target_class: the class whose logit is backpropagated for every image; ``None`` takes each image's
            arg-max of the logits in ``pred``.
        absolute: reduce channels by the mean absolute gradient (default) instead of the mean signed one.
        probability_kind: one of :data:`~monai_weakloc.localize.localization.PROBABILITY_KINDS`.
        class_names: the K class names (point labels and prediction columns); ``None`` numbers them.
        heatmap_name: the heatmap's name in the outputs; ``None`` uses ``method``.
        logits_key: the key of the logits (B, K) when the network returns a dict; ``None``: the output is
            the logits tensor.
        image_key: the batch key of the network input (B, C, H, W).
        field_of_view_key: the batch key of the field of view (B, 1, H, W) in network-input pixels.

    Raises:
        TypeError: when ``network`` is not a ``torch.nn.Module``.
        ValueError: naming the option that is unknown or out of range.
    """

    def __init__(
        self,
        network: nn.Module,
        method: str = "guided_backprop",
        target_class: int | None = None,
        absolute: bool = True,
        probability_kind: str = "single_label",
        class_names: Sequence[str] | None = None,
        heatmap_name: str | None = None,
        logits_key: str | None = None,
        image_key: str = CommonKeys.IMAGE,
        field_of_view_key: str = "fov",
    ) -> None:
        if not isinstance(network, nn.Module):
            raise TypeError(f"GradientLocalizer: network must be a torch.nn.Module, got {type(network).__name__}")
        if method not in SALIENCY_METHODS:
            raise ValueError(f"GradientLocalizer: method must be one of {sorted(SALIENCY_METHODS)}, got {method!r}")
        if probability_kind not in PROBABILITY_KINDS:
            raise ValueError(
                f"GradientLocalizer: probability_kind must be one of {PROBABILITY_KINDS}, got {probability_kind!r}"
            )
        if target_class is not None:
            if isinstance(target_class, bool) or not isinstance(target_class, int) or target_class < 0:
                raise ValueError(
                    f"GradientLocalizer: target_class must be a non-negative int or None, got {target_class!r}"
                )
            if class_names is not None and target_class >= len(class_names):
                raise ValueError(
                    f"GradientLocalizer: target_class {target_class} out of range for {len(class_names)} class names"
                )
        if heatmap_name is not None and (not isinstance(heatmap_name, str) or not heatmap_name):
            raise ValueError(
                f"GradientLocalizer: heatmap_name must be a non-empty string or None, got {heatmap_name!r}"
            )
        self.network = network
        self.method = method
        self.target_class = target_class
        self.absolute = absolute
        self.probability_kind = probability_kind
        self.class_names = None if class_names is None else [str(name) for name in class_names]
        self.heatmap_name = method if heatmap_name is None else heatmap_name
        self.logits_key = logits_key
        self.image_key = image_key
        self.field_of_view_key = field_of_view_key
        self._scored_network = network if logits_key is None else _LogitsOf(network, logits_key)

    def __call__(self, pred: Any, batch: Mapping[str, Any] | None = None) -> Localization:
        """Args:
            pred: the network's output for the batch: logits (B, K), or a dict holding them at ``logits_key``.
            batch: the batch, with the images at ``image_key`` and optionally the field of view at
                ``field_of_view_key``; ``None`` gives the probabilities alone.

        Returns:
            the batch's :class:`Localization`.

        Raises:
            KeyError: when ``pred`` or ``batch`` lacks a key.
            TypeError, ValueError: on a bad ``pred``, batch or images, or a ``target_class`` of no class.
        """
        logits = self._logits(pred)
        single_label = self.probability_kind == "single_label"
        probabilities = torch.softmax(logits, dim=1) if single_label else torch.sigmoid(logits)
        localization = Localization(probabilities, self.probability_kind, self.class_names)
        if batch is None:
            return localization
        if not isinstance(batch, Mapping):
            raise TypeError(f"GradientLocalizer: the batch must be a dict, got {type(batch).__name__}")
        num_classes = logits.shape[1]
        if self.target_class is not None and self.target_class >= num_classes:
            raise ValueError(
                f"GradientLocalizer: target_class {self.target_class} out of range for {num_classes} classes"
            )
        targets = logits.argmax(dim=1).tolist() if self.target_class is None else [self.target_class] * len(logits)
        maps = SALIENCY_METHODS[self.method](self._scored_network, self._images(batch), targets, self.absolute)
        class_names = localization.names_of_classes()
        points = [
            Detections(
                torch.tensor([[point.x, point.y] for point in found]).reshape(-1, 2),
                [class_names[target]] * len(found),
                torch.tensor([point.score for point in found]),
            )
            for found, target in zip(self._maxima(maps, batch.get(self.field_of_view_key)), targets)
        ]
        return replace(localization, heatmaps={self.heatmap_name: maps}, points=points)

    def _logits(self, pred: Any) -> torch.Tensor:
        """The (B, K) logits of ``pred``, detached, as a float tensor without meta data."""
        if self.logits_key is not None:
            if not isinstance(pred, Mapping):
                raise TypeError(
                    f"GradientLocalizer: logits_key={self.logits_key!r} needs a dict network output, "
                    f"got {type(pred).__name__}"
                )
            if self.logits_key not in pred:
                raise KeyError(
                    f"GradientLocalizer: the network output has no {self.logits_key!r} (keys: {sorted(pred)})"
                )
            pred = pred[self.logits_key]
        if not isinstance(pred, torch.Tensor):
            raise TypeError(
                f"GradientLocalizer: the logits must be a tensor (B, K), got {type(pred).__name__}; "
                "set logits_key for a network that returns a dict"
            )
        if pred.ndim != 2:
            raise ValueError(f"GradientLocalizer: the logits must be (B, K), got {tuple(pred.shape)}")
        return convert_to_tensor(pred, track_meta=False).detach().float()

    def _images(self, batch: Mapping[str, Any]) -> torch.Tensor:
        """The batch's (B, C, H, W) images without meta data, on the network's device."""
        if self.image_key not in batch:
            raise KeyError(f"GradientLocalizer: the batch has no {self.image_key!r} (keys: {sorted(batch)})")
        images = convert_to_tensor(batch[self.image_key], track_meta=False)
        if images.ndim != 4:
            raise ValueError(f"GradientLocalizer: images must be (B, C, H, W), got {tuple(images.shape)}")
        parameter = next(self.network.parameters(), None)
        return images if parameter is None else images.to(parameter.device)

    @staticmethod
    def _maxima(maps: torch.Tensor, field_of_view: NdarrayOrTensor | None) -> list[list[Point]]:
        """Per image, the map's maximum as a list of at most one point, inside the field of view if given.

        Cells outside the field of view get a value below the batch's lowest, and the peak threshold is that
        lowest value, so no point lies outside (:func:`heatmap_to_points` takes finite maps only, not -inf).

        Args:
            maps: (B, H, W) saliency maps.
            field_of_view: (B, 1, H, W) or (B, H, W) mask, or ``None`` (the whole map).

        Returns:
            B lists of one point (none when an image's field of view is empty), in map pixels.
        """
        lowest = float(maps.min())
        if field_of_view is not None:
            maps = mask_outside_field_of_view(maps, field_of_view, fill=lowest - 1.0 - abs(lowest))
        return heatmap_to_points(maps, min_distance=0, threshold=lowest, max_points=1)
