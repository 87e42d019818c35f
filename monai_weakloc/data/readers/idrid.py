"""IDRiD (Indian Diabetic Retinopathy Image Dataset) as distributed: segmentation and disease grading.

Layout (folder names exactly as distributed, with the dots and spaces)::

    A. Segmentation/1. Original Images/a. Training Set/IDRiD_01.jpg          (b. Testing Set for test)
    A. Segmentation/2. All Segmentation Groundtruths/a. Training Set/1. Microaneurysms/IDRiD_01_MA.tif
        ... 2. Haemorrhages (_HE), 3. Hard Exudates (_EX), 4. Soft Exudates (_SE), 5. Optic Disc (_OD)
    B. Disease Grading/1. Original Images/a. Training Set/IDRiD_001.jpg      (b. Testing Set for test)
    B. Disease Grading/2. Groundtruths/a. IDRiD_Disease Grading_Training Labels.csv
    B. Disease Grading/2. Groundtruths/b. IDRiD_Disease Grading_Testing Labels.csv

Not every segmentation image has every lesion's mask. The grading test images are numbered from
``IDRiD_001`` again, so ids are unique within a split only.
"""

from __future__ import annotations

from pathlib import Path

from monai_weakloc.data.readers.checks import IdRegistry, problem_log_for
from monai_weakloc.data.readers.files import absolute_root, index_files
from monai_weakloc.data.readers.grading_rows import GRADE, IMAGE_NAME, MACULAR_EDEMA, read_grading_row
from monai_weakloc.data.readers.tables import read_csv_table
from monai_weakloc.data.records import ProblemLog

__all__ = ["read_idrid", "IDRID_TASKS", "IDRID_LESIONS"]

IDRID_TASKS = ("segmentation", "grading")
SEGMENTATION = "A. Segmentation"
SEGMENTATION_IMAGES = "1. Original Images"
SEGMENTATION_MASKS = "2. All Segmentation Groundtruths"
GRADING = "B. Disease Grading"
GRADING_IMAGES = "1. Original Images"
GRADING_LABELS = "2. Groundtruths"
SET_FOLDERS = {"train": "a. Training Set", "test": "b. Testing Set"}
GRADING_LABEL_FILES = {
    "train": "a. IDRiD_Disease Grading_Training Labels.csv",
    "test": "b. IDRiD_Disease Grading_Testing Labels.csv",
}
LESION_FOLDERS = {
    "MA": "1. Microaneurysms",
    "HE": "2. Haemorrhages",
    "EX": "3. Hard Exudates",
    "SE": "4. Soft Exudates",
    "OD": "5. Optic Disc",
}
IDRID_LESIONS = tuple(LESION_FOLDERS)
MAX_GRADE = 4


def _masks_of_split(base: Path, split: str, image_ids: set[str], log: ProblemLog) -> dict[str, dict[str, str]]:
    """Image id -> {lesion code -> mask path} for the mask files of one split that exist."""
    masks: dict[str, dict[str, str]] = {image_id: {} for image_id in image_ids}
    for code, lesion_folder in LESION_FOLDERS.items():
        folder = base / SEGMENTATION / SEGMENTATION_MASKS / SET_FOLDERS[split] / lesion_folder
        for name, path in sorted(index_files(folder, (".tif", ".tiff")).items()):
            stem = Path(name).stem
            if not stem.endswith(f"_{code}"):
                log.report(path, None, f"mask file name does not end in _{code}.tif")
                continue
            image_id = stem[: -len(code) - 1]
            if image_id not in masks:
                log.report(path, None, f"mask without image: no {image_id}.jpg among the {split} images")
                continue
            masks[image_id][code] = str(path)
    return masks


def _read_segmentation(base: Path, lesion: str, log: ProblemLog) -> list[dict]:
    images_root = base / SEGMENTATION / SEGMENTATION_IMAGES
    present = [(split, images_root / name) for split, name in SET_FOLDERS.items() if (images_root / name).is_dir()]
    if not present:
        log.report(images_root / SET_FOLDERS["train"], None, f"image folder not found (nor {SET_FOLDERS['test']})")
        return []
    records = []
    for split, folder in present:
        images = {Path(name).stem: path for name, path in sorted(index_files(folder, (".jpg", ".jpeg")).items())}
        masks = _masks_of_split(base, split, set(images), log)
        for image_id, image in images.items():
            records.append(
                {
                    "image": str(image),
                    "id": image_id,
                    "label": int(lesion in masks[image_id]),
                    "split": split,
                    "mask": masks[image_id].get(lesion),
                    "masks": masks[image_id],
                }
            )
    return records


def _read_grading_split(table: Path, image_folder: Path, split: str, log: ProblemLog) -> list[dict]:
    rows = read_csv_table(table, (IMAGE_NAME, GRADE, MACULAR_EDEMA), log)
    if rows is None:
        return []
    if not image_folder.is_dir():
        log.report(image_folder, None, f"image folder not found (needed by {table.name})")
        return []
    images = index_files(image_folder, (".jpg", ".jpeg"))
    ids = IdRegistry(log, "image")
    records = []
    for row in rows:
        record = read_grading_row(row, table, images, image_folder, ".jpg", MAX_GRADE, ids, log)
        if record is not None:
            records.append({**record, "split": split})
    return records


def _read_grading(base: Path, log: ProblemLog) -> list[dict]:
    labels_folder = base / GRADING / GRADING_LABELS
    present = [split for split, name in GRADING_LABEL_FILES.items() if (labels_folder / name).is_file()]
    if not present:
        missing = labels_folder / GRADING_LABEL_FILES["train"]
        log.report(missing, None, f"label file not found (nor {GRADING_LABEL_FILES['test']})")
        return []
    records = []
    for split in present:
        image_folder = base / GRADING / GRADING_IMAGES / SET_FOLDERS[split]
        records.extend(_read_grading_split(labels_folder / GRADING_LABEL_FILES[split], image_folder, split, log))
    return records


def read_idrid(
    root: str | Path,
    *,
    on_error: str = "raise",
    problems: ProblemLog | None = None,
    task: str = "segmentation",
    lesion: str = "MA",
) -> list[dict]:
    """Read IDRiD: lesion segmentation (images with their masks) or disease grading (images with grades).

    Args:
        root: the folder holding ``A. Segmentation`` and/or ``B. Disease Grading``.
        on_error: ``"raise"`` or ``"skip"`` (log and skip bad rows), see :class:`ProblemLog`.
        problems: a log to report to instead of a new ``ProblemLog(on_error)``.
        task: ``"segmentation"`` or ``"grading"``.
        lesion: segmentation only: the primary lesion (``MA``, ``HE``, ``EX``, ``SE`` or ``OD``), whose mask
            becomes ``mask`` and whose presence becomes ``label``.

    Returns:
        Segmentation: records with ``image``, ``id`` (e.g. ``IDRiD_01``), ``split`` (from the set folder),
        ``label`` (1 when the image has a ``lesion`` mask, else 0), ``mask`` (that mask's path or ``None``)
        and ``masks`` (lesion code -> path for every mask file that exists), sorted by split then id.
        Grading: records with ``image``, ``id`` (e.g. ``IDRiD_001``), ``label`` (retinopathy grade 0..4),
        ``macular_edema`` (0..2) and ``split``, in label-file order, training file first.

    Raises:
        ValueError: for an unknown ``task`` or ``lesion``; and, with ``on_error="raise"``, for the first
            problem in the data.
    """
    if task not in IDRID_TASKS:
        raise ValueError(f"IDRiD task must be one of {IDRID_TASKS}, got {task!r}")
    if lesion not in LESION_FOLDERS:
        raise ValueError(f"IDRiD lesion must be one of {IDRID_LESIONS}, got {lesion!r}")
    log = problem_log_for(on_error, problems)
    base = absolute_root(root)
    if task == "segmentation":
        return _read_segmentation(base, lesion, log)
    return _read_grading(base, log)
