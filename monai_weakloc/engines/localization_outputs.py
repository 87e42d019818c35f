"""Write what a weakly supervised localizer found, per image, in the original image's geometry.

Every bundle's inference writes the same files into its ``output_dir``:

- ``predictions.csv``: ``image,<label_column>,prob_0,...,prob_{K-1}``, one row per image;
- ``heatmaps/<image>_<name>.png`` and ``.nii.gz``: one map per image and heatmap name, resized back to the
  original image (undoing the border crop);
- ``boxes.csv``: ``image,label,x,y,w,h,score`` in pixels of the original image;
- ``overlays/<image>.png``: the region map (by default the heatmaps' sum) blended on the original image, with the boxes.

Networks differ in what they return; a bundle passes an ``extract`` callable turning the network's
output for a batch into a :class:`LocalizationBatch` in network-input pixels, and this handler maps it back
through the loader's meta data (``original_size`` and ``crop_box``, see
:mod:`monai_weakloc.transforms`). MONAI's ``SaveImage``/``ClassificationSaver`` write one array or one
CSV of scores; none maps boxes and maps back through a crop, hence this handler.
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ignite.engine import Engine, Events
from monai.utils import CommonKeys

from monai_weakloc.report import write_heatmap_nifti, write_heatmap_png, write_overlay
from monai_weakloc.transforms import CROP_BOX_META_KEY, ORIGINAL_SIZE_META_KEY, LoadImage2D

__all__ = ["LocalizationBatch", "LocalizationOutputWriter", "input_boxes_to_original"]

logger = logging.getLogger(__name__)


@dataclass
class LocalizationBatch:
    """A batch of localization results in network-input pixels.

    Attributes:
        probabilities: (B, K) class probabilities.
        heatmaps: (B, M, h, w), M maps per image (``h, w`` any size; they cover the network input).
        boxes: per image, (n_i, 4) boxes ``x, y, w, h`` in network-input pixels.
        box_scores: per image, (n_i,) scores; ``None`` scores each box by the maximum of the region map
            inside it.
        region_map: (B, h', w'), the map the boxes were taken from, shown by the overlays; ``None`` takes
            the heatmaps' sum.
    """

    probabilities: torch.Tensor
    heatmaps: torch.Tensor
    boxes: Sequence[torch.Tensor]
    box_scores: Sequence[torch.Tensor] | None = None
    region_map: torch.Tensor | None = None


def input_boxes_to_original(boxes: np.ndarray, input_size: Sequence[int], crop_box: Sequence[int]) -> np.ndarray:
    """Map ``x, y, w, h`` boxes from the network input to the original image.

    The input was the crop ``crop_box = (x0, y0, x1, y1)`` of the original image, resized to ``input_size``.

    Args:
        boxes: (n, 4) ``x, y, w, h`` in input pixels.
        input_size: (H_in, W_in).
        crop_box: the crop in original pixels, exclusive ends.

    Returns:
        (n, 4) ``x, y, w, h`` in original pixels.
    """
    x0, y0, x1, y1 = (float(v) for v in crop_box)
    scale_x = (x1 - x0) / float(input_size[1])
    scale_y = (y1 - y0) / float(input_size[0])
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.stack(
        [boxes[:, 0] * scale_x + x0, boxes[:, 1] * scale_y + y0, boxes[:, 2] * scale_x, boxes[:, 3] * scale_y], axis=1
    )


class LocalizationOutputWriter:
    """Ignite handler, attached to an evaluator, writing predictions, heatmaps, boxes and overlays.

    Args:
        output_dir: where the files go.
        extract: ``extract(pred)`` with the evaluator's ``engine.state.output[CommonKeys.PRED]`` (the network's
            output for the batch; use an evaluator with ``decollate=False``) returning a :class:`LocalizationBatch`.
        heatmap_names: names of the M heatmaps (file suffixes), e.g. ``["grade1", ..., "grade4"]``.
        image_key: batch key of the network input image (a ``MetaTensor`` with ``original_size`` and
            ``crop_box`` in its meta and ``filename_or_obj``).
        id_key: batch key of the image ids.
        label_column: name of the predicted-label column of ``predictions.csv``.
        box_label: label written for every box.
        write_nifti: also write each heatmap as NIfTI.
        write_overlays: write ``overlays/`` (reads each original image once more).
    """

    def __init__(
        self,
        output_dir: str | Path,
        extract: Callable[[Any], LocalizationBatch],
        heatmap_names: Sequence[str],
        image_key: str = CommonKeys.IMAGE,
        id_key: str = "id",
        label_column: str = "level",
        box_label: str = "lesion",
        write_nifti: bool = True,
        write_overlays: bool = True,
    ) -> None:
        self.output_dir = Path(output_dir)
        self.extract = extract
        self.heatmap_names = list(heatmap_names)
        self.image_key = image_key
        self.id_key = id_key
        self.label_column = label_column
        self.box_label = box_label
        self.write_nifti = write_nifti
        self.write_overlays = write_overlays
        self._loader = LoadImage2D(mode="keep")
        self._predictions: list[list[Any]] = []
        self._boxes: list[list[Any]] = []
        self._num_classes = 0

    def attach(self, engine: Engine) -> None:
        """Attach to an evaluator."""
        engine.add_event_handler(Events.EPOCH_STARTED, self.reset)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self.write_batch)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self.write_tables)

    def reset(self, engine: Engine | None = None) -> None:
        """Forget the rows of an earlier run."""
        self._predictions, self._boxes = [], []

    def write_batch(self, engine: Engine) -> None:
        """Write the heatmaps and overlays of one batch and keep its table rows."""
        batch = engine.state.batch
        image = batch[self.image_key]
        result = self.extract(engine.state.output[CommonKeys.PRED])
        heatmaps = result.heatmaps.detach().float().cpu()
        if heatmaps.shape[1] != len(self.heatmap_names):
            raise ValueError(
                f"LocalizationOutputWriter: {heatmaps.shape[1]} heatmaps per image but {len(self.heatmap_names)} "
                f"heatmap_names {self.heatmap_names}"
            )
        region_maps = (
            result.region_map.detach().float().cpu() if result.region_map is not None else heatmaps.sum(dim=1)
        )
        probabilities = result.probabilities.detach().float().cpu()
        self._num_classes = probabilities.shape[1]
        input_size = tuple(image.shape[-2:])
        meta = image.meta
        for index, image_id in enumerate(batch[self.id_key]):
            original_size = [int(v) for v in meta[ORIGINAL_SIZE_META_KEY][index]]
            crop_box = [int(v) for v in meta[CROP_BOX_META_KEY][index]] if CROP_BOX_META_KEY in meta else None
            crop = crop_box or [0, 0, original_size[1], original_size[0]]
            self._predictions.append(
                [image_id, int(probabilities[index].argmax()), *[f"{p:.6f}" for p in probabilities[index].tolist()]]
            )
            maps = heatmaps[index]
            for name, heatmap in zip(self.heatmap_names, maps):
                write_heatmap_png(heatmap, self.output_dir / "heatmaps" / f"{image_id}_{name}.png", original_size, crop)
                if self.write_nifti:
                    write_heatmap_nifti(
                        heatmap, self.output_dir / "heatmaps" / f"{image_id}_{name}.nii.gz", original_size, crop
                    )
            boxes_input = result.boxes[index].detach().float().cpu().numpy().reshape(-1, 4)
            scores = (
                result.box_scores[index].detach().float().cpu().numpy().reshape(-1)
                if result.box_scores is not None
                else self._scores_from_heatmap(region_maps[index], boxes_input, input_size)
            )
            boxes_original = input_boxes_to_original(boxes_input, input_size, crop)
            for box, score in zip(boxes_original, scores):
                self._boxes.append([image_id, self.box_label, *[f"{v:.1f}" for v in box], f"{float(score):.6f}"])
            if self.write_overlays:
                original = self._loader(meta["filename_or_obj"][index])
                write_overlay(
                    original,
                    region_maps[index],
                    self.output_dir / "overlays" / f"{image_id}.png",
                    boxes=[(x, y, x + w, y + h) for x, y, w, h in boxes_original],
                    scores=[float(s) for s in scores],
                    crop_box=crop,
                )

    @staticmethod
    def _scores_from_heatmap(heatmap: torch.Tensor, boxes: np.ndarray, input_size: Sequence[int]) -> np.ndarray:
        """Max of ``heatmap`` (h, w), resized to the input, inside each input-pixel box."""
        resized = torch.nn.functional.interpolate(
            heatmap[None, None], size=tuple(input_size), mode="bilinear", align_corners=False
        )[0, 0]
        scores = []
        for x, y, w, h in boxes:
            x0, y0 = max(int(np.floor(x)), 0), max(int(np.floor(y)), 0)
            x1, y1 = max(int(np.ceil(x + w)), x0 + 1), max(int(np.ceil(y + h)), y0 + 1)
            scores.append(float(resized[y0:y1, x0:x1].max()))
        return np.asarray(scores)

    def write_tables(self, engine: Engine | None = None) -> None:
        """Write ``predictions.csv`` and ``boxes.csv`` (atomically) and log where everything is."""
        self.output_dir.mkdir(parents=True, exist_ok=True)
        header = ["image", self.label_column, *[f"prob_{k}" for k in range(self._num_classes)]]
        self._write_csv(self.output_dir / "predictions.csv", header, self._predictions)
        self._write_csv(self.output_dir / "boxes.csv", ["image", "label", "x", "y", "w", "h", "score"], self._boxes)
        logger.info(
            "wrote %d predictions and %d boxes to %s (heatmaps/ and overlays/ beside them)",
            len(self._predictions), len(self._boxes), self.output_dir,
        )

    @staticmethod
    def _write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
        tmp = path.with_suffix(".csv.tmp")
        with open(tmp, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(sorted(rows, key=lambda row: str(row[0])))
        os.replace(tmp, path)
