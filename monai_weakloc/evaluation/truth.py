"""What the evaluation tasks score a folder of outputs against, gathered in one object.

:func:`~monai_weakloc.evaluation.dataset_truth` builds it from a dataset layout; tests and other toolkits can
build it by hand from their own tables. Every field is optional: a task whose truth is missing cannot run
(see :func:`~monai_weakloc.evaluation.evaluate_outputs`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from monai_weakloc.evaluation.lesion_position import LesionPosition

__all__ = ["EvaluationTruth"]


@dataclass(frozen=True)
class EvaluationTruth:
    """The truth inputs of the evaluation tasks.

    Attributes:
        image_ids: the evaluated images (one split); ``None``: every image of the predictions. The pointing
            task counts the evaluated images without a lesion box as negatives.
        grades_csv: single-label truth ``image,level`` (task ``grades``).
        labels_csv: multi-label truth, wide ``image,<label1>,...`` of 0/1 or a ChestX-ray14 entry list
            ``Image Index,Finding Labels`` (task ``labels``; for multi-label pointing, the images whose truth
            says a class is absent are that class's negatives).
        lesion_boxes_csv: lesion boxes ``image,label,x,y,w,h`` in pixels of the original images (tasks
            ``boxes`` and ``pointing``).
        masks_dir: truth masks named as the outputs' masks, ``<image>_<label>.<ext>`` (task ``masks``).
        image_sizes: image id -> (H, W) of at least the images with lesion boxes (the random-box baseline and
            the pointing baselines).
        lesion_position: the training split's most frequent lesion position (a pointing baseline); ``None``
            when not given, which ``metrics.json`` says.
    """

    image_ids: Sequence[str] | None = None
    grades_csv: str | Path | None = None
    labels_csv: str | Path | None = None
    lesion_boxes_csv: str | Path | None = None
    masks_dir: str | Path | None = None
    image_sizes: Mapping[str, tuple[int, int]] | None = None
    lesion_position: LesionPosition | None = None
