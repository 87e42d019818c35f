"""The saliency-crop method's inference (the paper's Listing 2, lines 11-19) as a localizer of the output contract.

Whole image (downsampled, preprocessed) -> guided-backpropagation saliency of the unhealthy class through the first
network's adaptive-pooling form -> border rule -> arg-max -> crop of the full-resolution image (read again from the
file the batch names) -> histogram stretch -> crop network -> class probabilities, moved so that the SVM threshold
is 0.5 (:func:`~weakloc_networks.saliency_crop_threshold.recalibrate`).

The :class:`~monai_weakloc.localize.Localization` it returns: the probabilities; heatmap ``saliency`` (B, h, w)
over the network input; one box labelled ``crop`` per image and its centre as a point labelled ``crop``, scored by
the saliency there. Boxes and points are in network-input pixels (the output writer maps them to the original
image); the crop was taken in full-resolution pixels and is mapped to the input exactly by the resize factors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import torch
from monai.transforms import ScaleIntensity
from monai.utils import CommonKeys, convert_to_tensor

from monai_weakloc.localize.localization import Detections, Localization
from weakloc_networks.saliency_crop import SaliencyCropNetwork
from weakloc_networks.saliency_crop_centres import (
    SaliencyCentres,
    full_resolution_centre,
)
from weakloc_networks.saliency_crop_pipeline import UNHEALTHY_CLASS, SaliencyCropper
from weakloc_networks.saliency_crop_threshold import recalibrate

__all__ = ["CROP_LABEL", "CropPipelineResult", "SaliencyCropLocalizer"]

CROP_LABEL = "crop"


class CropPipelineResult(NamedTuple):
    """What the pipeline found for a batch.

    Attributes:
        located: the saliency maps (B, h, w), their centres (B, 2) in map pixels and scores (B,).
        boxes: (B, 4) crop boxes ``x, y, w, h`` in network-input pixels.
        probabilities: (B, 2) the crop network's class probabilities, uncalibrated.
    """

    located: SaliencyCentres
    boxes: torch.Tensor
    probabilities: torch.Tensor


class SaliencyCropLocalizer:
    """Saliency, crop and crop-network probabilities of whole images.

    Args:
        saliency_network: the first network, trained on downsampled whole images.
        crop_network: the network trained on the training crops (input ``crop_size``).
        crop_size: side of the square crop in full-resolution pixels.
        kappa: fraction of the saliency map's width and height left out at each edge.
        threshold: the SVM threshold on the unhealthy probability, in (0, 1) (0.5 leaves the probabilities as they
            are).
        class_names: the two class names.
        unhealthy_class: the class whose saliency is taken and whose probability the threshold is on.
        absolute: average the absolute gradient over the channels instead of the signed one.
        image_key: the batch key of the (B, C, h, w) network input, a ``MetaTensor`` naming its files.
        heatmap_name: the saliency map's name in the outputs.
    """

    def __init__(
        self,
        saliency_network: SaliencyCropNetwork,
        crop_network: SaliencyCropNetwork,
        crop_size: int,
        kappa: float,
        threshold: float = 0.5,
        class_names: Sequence[str] = ("healthy", "unhealthy"),
        unhealthy_class: int = UNHEALTHY_CLASS,
        absolute: bool = False,
        image_key: str = CommonKeys.IMAGE,
        heatmap_name: str = "saliency",
    ) -> None:
        if not 0 < threshold < 1:
            raise ValueError(f"SaliencyCropLocalizer: threshold must lie in (0, 1), got {threshold!r}")
        if len(class_names) != 2:
            raise ValueError(f"SaliencyCropLocalizer: needs two class names, got {list(class_names)}")
        self.cropper = SaliencyCropper(saliency_network, crop_size, kappa, unhealthy_class, absolute)
        self.crop_network = crop_network
        self.threshold = threshold
        self.class_names = [str(name) for name in class_names]
        self.unhealthy_class = unhealthy_class
        self.image_key = image_key
        self.heatmap_name = heatmap_name
        self.stretch = ScaleIntensity()

    def run_pipeline(self, batch: Mapping[str, Any]) -> CropPipelineResult:
        """Saliency, crop and crop network for a batch.

        Args:
            batch: ``image_key`` (B, C, h, w) preprocessed whole images whose meta names their files
                (``filename_or_obj``).

        Returns:
            the maps and centres, the crop boxes in network-input pixels and the uncalibrated probabilities.

        Raises:
            KeyError: when the batch has no images.
            ValueError: when a file's image is smaller than the crop (naming it).
        """
        if self.image_key not in batch:
            raise KeyError(f"SaliencyCropLocalizer: the batch has no {self.image_key!r} (keys: {sorted(batch)})")
        images = batch[self.image_key]
        located = self.cropper.locate(images)
        map_size = tuple(images.shape[-2:])
        crops, boxes = [], []
        for index, path in enumerate(images.meta["filename_or_obj"]):
            full = self.cropper.load(path)
            size = full.shape[-2:]
            try:
                crop, (x0, y0, x1, y1) = self.cropper.crop(
                    full, full_resolution_centre(located.centres[index], map_size, size)
                )
            except ValueError as error:
                raise ValueError(f"{path}: {error}") from error
            crops.append(convert_to_tensor(self.stretch(crop), track_meta=False))
            scale_x, scale_y = map_size[1] / size[1], map_size[0] / size[0]
            boxes.append([x0 * scale_x, y0 * scale_y, (x1 - x0) * scale_x, (y1 - y0) * scale_y])
        parameter = next(self.crop_network.parameters())
        training = self.crop_network.training
        self.crop_network.eval()
        with torch.no_grad():
            logits = self.crop_network(torch.stack(crops).to(parameter.device))
        self.crop_network.train(training)
        return CropPipelineResult(
            located, torch.tensor(boxes, dtype=torch.float32), torch.softmax(logits.float(), dim=1).cpu()
        )

    def __call__(self, pred: Any, batch: Mapping[str, Any] | None = None) -> Localization:
        """Args:
            pred: the evaluator's output for the batch (not read: the probabilities are the crop network's).
            batch: the batch (see :meth:`run_pipeline`).

        Returns:
            the batch's :class:`Localization` in network-input pixels.

        Raises:
            ValueError: without a batch (the method's probabilities need the images).
        """
        if batch is None:
            raise ValueError("SaliencyCropLocalizer: needs the batch (its probabilities come from the image's crop)")
        result = self.run_pipeline(batch)
        located = result.located
        scores = located.scores.cpu()
        boxes = [Detections(box[None], [CROP_LABEL], score[None]) for box, score in zip(result.boxes, scores)]
        points = [
            Detections(centre[None], [CROP_LABEL], score[None]) for centre, score in zip(located.centres.cpu(), scores)
        ]
        return Localization(
            recalibrate(result.probabilities, self.threshold, self.unhealthy_class),
            "single_label",
            self.class_names,
            heatmaps={self.heatmap_name: located.maps.cpu()},
            boxes=boxes,
            points=points,
        )
