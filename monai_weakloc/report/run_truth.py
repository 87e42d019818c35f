"""The truth an evaluation scored a run against, read back from its truth folder for the report.

:func:`~monai_weakloc.evaluation.dataset_truth` writes ``grades.csv`` (``image,level``), ``labels.csv``
(``image,<class>,...`` of 0/1), ``lesion_boxes.csv`` (``image,label,x,y,w,h``) and ``masks/<image>_<label>.*``;
a run has the ones its dataset gives. They are read with the evaluation's own readers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from monai_weakloc.evaluation.map_files import map_files_by_id
from monai_weakloc.evaluation.tables import (
    BoxTable,
    GradeTable,
    LabelTable,
    read_box_table,
    read_grade_table,
    read_label_truth,
)

__all__ = ["RunTruth", "read_run_truth"]

GRADES_FILE = "grades.csv"
LABELS_FILE = "labels.csv"
LESION_BOXES_FILE = "lesion_boxes.csv"
MASKS_FOLDER = "masks"


@dataclass(frozen=True)
class RunTruth:
    """The truth tables of a run, each ``None`` when the truth folder does not hold it.

    Attributes:
        grades: single-label truth, one grade or class per image.
        labels: multi-label truth, 0/1 per image and class of the predictions.
        boxes: lesion boxes ``x, y, w, h`` in pixels of the original images, with their labels.
        masks: image id -> its truth mask file of the scored lesion (``<image>_<mask_label>``).
        mask_label: the lesion of the masks, ``None`` without masks.
    """

    grades: GradeTable | None = None
    labels: LabelTable | None = None
    boxes: BoxTable | None = None
    masks: dict[str, Path] | None = None
    mask_label: str | None = None


def _mask_files(folder: Path, mask_label: str) -> dict[str, Path]:
    """Image id -> mask file of ``<image>_<mask_label>.*`` in ``folder``."""
    suffix = f"_{mask_label}"
    return {
        name.removesuffix(suffix): path
        for name, path in map_files_by_id(folder, "truth mask").items()
        if name.endswith(suffix)
    }


def read_run_truth(truth_dir: Path | None, class_names: Sequence[str] | None, mask_label: str | None) -> RunTruth:
    """Read the truth folder of an evaluation.

    Args:
        truth_dir: the folder, or ``None`` (no truth).
        class_names: the class columns of multi-label predictions (to read ``labels.csv``), ``None`` for
            single-label predictions.
        mask_label: the lesion the ``masks`` task scored (``metrics.json``'s ``masks.mask_label``), ``None``
            when the masks were not scored.

    Returns:
        the tables found.

    Raises:
        ValueError: naming the file and row, for a bad table.
    """
    if truth_dir is None:
        return RunTruth()
    grades_csv, labels_csv = truth_dir / GRADES_FILE, truth_dir / LABELS_FILE
    boxes_csv, masks_dir = truth_dir / LESION_BOXES_FILE, truth_dir / MASKS_FOLDER
    with_masks = mask_label is not None and masks_dir.is_dir()
    return RunTruth(
        grades=read_grade_table(grades_csv, "truth") if class_names is None and grades_csv.is_file() else None,
        labels=read_label_truth(labels_csv, class_names) if class_names is not None and labels_csv.is_file() else None,
        boxes=read_box_table(boxes_csv, "truth") if boxes_csv.is_file() else None,
        masks=_mask_files(masks_dir, mask_label) if with_masks else None,
        mask_label=mask_label if with_masks else None,
    )
