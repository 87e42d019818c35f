"""The truth of the evaluation tasks built from a dataset layout, through the project's readers.

:func:`dataset_truth` reads one split of a dataset with the layout's reader
(:data:`monai_weakloc.data.READERS`) and writes what the tasks score against into a work folder:

- ``grades.csv`` ``image,level``: the integer label of every image (grades of EyePACS, Messidor, IDRiD grading;
  the class of TB, MIAS, CBIS-DDSM, the csv layout; for IDRiD segmentation, whether the image has the lesion);
- ``labels.csv`` ``image,<label1>,...`` of 0/1: multi-label truth (ChestX-ray14, its 14 findings);
- ``lesion_boxes.csv`` ``image,label,x,y,w,h``: the boxes the records carry (ChestX-ray14's
  ``BBox_List_2017.csv`` with ``Infiltrate`` read as ``Infiltration``; MIAS's centre and radius as the square
  around the circle, its Y turned from the bottom edge to the top; a ``lesion_boxes`` table), else the rows of
  the split's images in a lesion-box CSV (``lesion_boxes_csv``, by default ``<dataset>/lesion_boxes.csv`` when
  it exists: the synthetic EyePACS and TB sets, or the ophthalmologists' boxes of the Zoom-in-Net paper);
- ``masks/<image>_<mask_label>.<ext>``: links to the truth masks (IDRiD's ``IDRiD_01_MA.tif``, or the masks of
  a ``masks_dir``), and an empty 8-bit PNG where an image has no mask of that lesion (IDRiD ships none then).

Image sizes are read from the image file headers, for the images with lesion boxes only. With
``train_split``, the training split's boxes give the most frequent lesion position
(:func:`~monai_weakloc.evaluation.lesion_position.most_frequent_lesion_position`).
"""

from __future__ import annotations

import csv
import inspect
import logging
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from monai_weakloc.data.readers.chestxray14 import CHESTXRAY14_LABELS
from monai_weakloc.data.readers.dispatch import READERS, read_dataset
from monai_weakloc.data.readers.files import absolute_root
from monai_weakloc.data.records import ProblemLog
from monai_weakloc.evaluation.lesion_position import LesionPosition, most_frequent_lesion_position
from monai_weakloc.evaluation.map_files import map_files_by_id
from monai_weakloc.evaluation.tables import read_box_table
from monai_weakloc.evaluation.truth import EvaluationTruth
from monai_weakloc.transforms.load_2d import file_suffix

__all__ = ["LESION_BOXES_FILE", "MULTI_LABEL_NAMES", "dataset_truth", "records_truth", "read_split"]

logger = logging.getLogger(__name__)

LESION_BOXES_FILE = "lesion_boxes.csv"
"""The lesion-box CSV looked for in a dataset folder whose records carry no boxes."""
MULTI_LABEL_NAMES: dict[str, tuple[str, ...]] = {"chestxray14": CHESTXRAY14_LABELS}
"""Layout -> the class names of its multi-hot labels, in label order."""
SPLITS_OPTION = "splits"
GRADES_FILE = "grades.csv"
LABELS_FILE = "labels.csv"
MASKS_FOLDER = "masks"


def read_split(
    layout: str, dataset_dir: str | Path, split: str | None, on_error: str = "raise", **reader_options: object
) -> list[dict]:
    """The records of one split of a dataset, as its reader gives them (images are not decoded).

    Args:
        layout: a layout of :data:`monai_weakloc.data.READERS`.
        dataset_dir: the dataset folder (or CSV for ``csv`` and ``lesion_boxes``).
        split: ``train``, ``val``, ``test``; ``None`` for every record. A reader with a ``splits`` option
            (EyePACS) reads that split's label file only; for the others the records of that ``split`` are kept.
        on_error: ``"raise"`` or ``"skip"`` (log and leave out bad rows), see :class:`ProblemLog`.
        reader_options: the layout's own options, e.g. ``task="grading"`` for IDRiD.

    Returns:
        the split's records.

    Raises:
        ValueError: for an unknown layout; a split asked of a layout whose records have none; a split without
            a record; and, with ``on_error="raise"``, the first problem in the data.
    """
    if layout not in READERS:
        raise ValueError(f"unknown dataset layout {layout!r}; known layouts: {', '.join(READERS)}")
    reads_splits = SPLITS_OPTION in inspect.signature(READERS[layout]).parameters
    options = dict(reader_options)
    if split is not None and reads_splits:
        options[SPLITS_OPTION] = split
    records = read_dataset(layout, dataset_dir, problems=ProblemLog(on_error), **options)
    if split is None:
        return records
    if not reads_splits:
        without_split = [record["id"] for record in records if "split" not in record]
        if without_split:
            raise ValueError(
                f"{dataset_dir}: {layout} records have no split (e.g. {without_split[0]!r}); "
                "evaluate the whole dataset (no split)"
            )
        found = sorted({record["split"] for record in records})
        records = [record for record in records if record["split"] == split]
        if not records:
            raise ValueError(f"{dataset_dir}: no {layout} image in split {split!r} (splits: {', '.join(found)})")
    return records


def _image_size(image: str | Path) -> tuple[int, int]:
    """(H, W) of an image from its header (PIL opens lazily: the pixels are not decoded)."""
    try:
        with Image.open(image) as opened:
            return opened.height, opened.width
    except (UnidentifiedImageError, OSError) as error:
        raise ValueError(f"{image}: cannot read the image header for its size: {error}") from error


def _check_ids(records: Sequence[dict]) -> list[str]:
    """The record ids, each once; a repeated id is a ``ValueError`` naming it and its images."""
    images: dict[str, str] = {}
    for record in records:
        identifier = record["id"]
        if identifier in images:
            raise ValueError(
                f"image id {identifier!r} is used by two evaluated images: {images[identifier]} and {record['image']}"
            )
        images[identifier] = record["image"]
    return list(images)


def _write_rows(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _label_tables(
    records: Sequence[dict], work_dir: Path, label_names: Sequence[str] | None
) -> tuple[Path | None, Path | None]:
    """Write ``grades.csv`` (integer labels) or ``labels.csv`` (multi-hot labels); the paths, ``None`` if neither."""
    labelled = [record for record in records if "label" in record]
    if not labelled:
        return None, None
    if all(np.ndim(record["label"]) == 0 for record in labelled):
        rows = [(record["id"], int(record["label"])) for record in labelled]
        return _write_rows(work_dir / GRADES_FILE, ("image", "level"), rows), None
    if label_names is None:
        raise ValueError(f"record {labelled[0]['id']!r} has a multi-hot label: give label_names, the class of each")
    rows = []
    for record in labelled:
        values = np.asarray(record["label"]).ravel()
        if values.size != len(label_names):
            raise ValueError(
                f"record {record['id']!r}: {values.size} label values for {len(label_names)} label names"
            )
        rows.append((record["id"], *(int(value > 0) for value in values)))
    return None, _write_rows(work_dir / LABELS_FILE, ("image", *label_names), rows)


def _record_boxes(records: Sequence[dict]) -> dict[str, tuple[np.ndarray, list[str]]] | None:
    """Image id -> (boxes, labels) of the records that carry boxes; ``None`` when none carries the key."""
    if not any("boxes" in record for record in records):
        return None
    return {
        record["id"]: (np.asarray(record["boxes"], dtype=np.float64).reshape(-1, 4), list(record["box_labels"]))
        for record in records
        if "boxes" in record and len(record["box_labels"])
    }


def _table_boxes(lesion_boxes_csv: Path, ids: Sequence[str]) -> dict[str, tuple[np.ndarray, list[str]]]:
    """Image id -> (boxes, labels) of the rows of ``lesion_boxes_csv`` whose image is one of ``ids``."""
    table = read_box_table(lesion_boxes_csv, "truth")
    return {
        identifier: (table.boxes[identifier], table.labels[identifier]) for identifier in ids if identifier in table.boxes
    }


def _lesion_boxes(
    records: Sequence[dict], ids: Sequence[str], lesion_boxes_csv: Path | None
) -> dict[str, tuple[np.ndarray, list[str]]] | None:
    """The boxes of the evaluated images: from ``lesion_boxes_csv`` when given, else from the records."""
    if lesion_boxes_csv is not None:
        return _table_boxes(lesion_boxes_csv, ids)
    return _record_boxes(records)


def _write_boxes(path: Path, boxes: Mapping[str, tuple[np.ndarray, list[str]]]) -> Path:
    rows = [
        (identifier, label, *(f"{value:g}" for value in box))
        for identifier, (image_boxes, labels) in boxes.items()
        for box, label in zip(image_boxes, labels)
    ]
    return _write_rows(path, ("image", "label", "x", "y", "w", "h"), rows)


def _mask_sources(
    records: Sequence[dict], masks_dir: Path | None, mask_label: str
) -> dict[str, Path | None] | None:
    """Image id -> its truth mask of ``mask_label`` (``None``: it has none); ``None`` without any mask source."""
    if masks_dir is not None:
        files = map_files_by_id(masks_dir, "truth mask")
        sources = {
            record["id"]: files.get(f"{record['id']}_{mask_label}", files.get(record["id"])) for record in records
        }
        if not any(sources.values()):
            shown = ", ".join(f"{record['id']}.*" for record in records[:3])
            raise ValueError(
                f"{masks_dir}: no mask of any evaluated image (looked for {shown} and <image>_{mask_label}.*)"
            )
        return sources
    if not any("masks" in record for record in records):
        return None
    return {record["id"]: record.get("masks", {}).get(mask_label) for record in records}


def _write_masks(folder: Path, records: Sequence[dict], sources: Mapping[str, Path | None], mask_label: str) -> Path:
    """Link every image's mask as ``<image>_<mask_label><suffix>`` into ``folder`` (emptied first); an image
    without one gets an all-zero 8-bit PNG of its size."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    empty = 0
    for record in records:
        source = sources[record["id"]]
        name = f"{record['id']}_{mask_label}"
        if source is None:
            height, width = _image_size(record["image"])
            Image.fromarray(np.zeros((height, width), dtype=np.uint8)).save(folder / f"{name}.png")
            empty += 1
            continue
        source = absolute_root(source)
        (folder / f"{name}{file_suffix(source)}").symlink_to(source)
    if empty:
        logger.info(
            "%d of %d evaluated image(s) have no %s mask: empty masks written to %s", empty, len(records), mask_label, folder
        )
    return folder


def _lesion_position(
    train_records: Sequence[dict], lesion_boxes_csv: Path | None, what: str
) -> LesionPosition:
    """The most frequent lesion position of the training records' boxes."""
    ids = _check_ids(train_records)
    boxes = _lesion_boxes(train_records, ids, lesion_boxes_csv)
    if not boxes:
        raise ValueError(f"{what} has no lesion box: the most frequent lesion position cannot be placed")
    images = {record["id"]: record["image"] for record in train_records}
    sizes = {identifier: _image_size(images[identifier]) for identifier in boxes}
    return most_frequent_lesion_position({identifier: value[0] for identifier, value in boxes.items()}, sizes)


def records_truth(
    records: Sequence[dict],
    work_dir: str | Path,
    *,
    label_names: Sequence[str] | None = None,
    lesion_boxes_csv: str | Path | None = None,
    masks_dir: str | Path | None = None,
    mask_label: str = "MA",
    train_records: Sequence[dict] | None = None,
) -> EvaluationTruth:
    """The truth of the evaluated ``records`` (a reader's records of one split), its tables written to ``work_dir``.

    Args:
        records: the evaluated images: ``id``, ``image`` and, where they have them, ``label``, ``boxes`` with
            ``box_labels``, ``masks`` (see :mod:`monai_weakloc.data.records`).
        work_dir: the folder ``grades.csv``, ``labels.csv``, ``lesion_boxes.csv`` and ``masks/`` are written to
            (those files and that folder are replaced).
        label_names: the class names of multi-hot labels, in label order.
        lesion_boxes_csv: a lesion-box CSV ``image,label,x,y,w,h`` to take the boxes from instead of the
            records; its rows of other images are left out.
        masks_dir: a folder of truth masks ``<image>.<ext>`` or ``<image>_<mask_label>.<ext>`` to take the masks
            from instead of the records' ``masks``; an image without one has no lesion.
        mask_label: the lesion whose masks are evaluated, the ``<label>`` of the outputs' ``masks/<image>_<label>``.
        train_records: the training split's records, for the most frequent lesion position (boxes from
            ``lesion_boxes_csv`` when given, else from these records).

    Returns:
        the truth; a field is ``None`` where the records (and options) have nothing for it.

    Raises:
        FileNotFoundError: when ``lesion_boxes_csv`` or ``masks_dir`` does not exist.
        ValueError: naming the record, file or row, for a repeated id, a multi-hot label without names, a bad
            lesion-box row, an unreadable image header, no mask of any image in ``masks_dir``, or training
            records without a box.
    """
    folder = absolute_root(work_dir)
    folder.mkdir(parents=True, exist_ok=True)
    ids = _check_ids(records)
    box_table = None if lesion_boxes_csv is None else absolute_root(lesion_boxes_csv)
    if box_table is not None and not box_table.is_file():
        raise FileNotFoundError(f"lesion-box CSV not found: {box_table}")
    grades_csv, labels_csv = _label_tables(records, folder, label_names)
    boxes = _lesion_boxes(records, ids, box_table)
    images = {record["id"]: record["image"] for record in records}
    lesion_boxes_path = image_sizes = None
    if boxes:
        lesion_boxes_path = _write_boxes(folder / LESION_BOXES_FILE, boxes)
        image_sizes = {identifier: _image_size(images[identifier]) for identifier in boxes}
    elif boxes is not None:
        logger.warning("none of the %d evaluated image(s) has a lesion box", len(ids))
    sources = _mask_sources(records, None if masks_dir is None else absolute_root(masks_dir), mask_label)
    truth_masks = None if sources is None else _write_masks(folder / MASKS_FOLDER, records, sources, mask_label)
    position = None
    if train_records is not None:
        position = _lesion_position(train_records, box_table, "the training records")
    return EvaluationTruth(
        image_ids=tuple(ids),
        grades_csv=grades_csv,
        labels_csv=labels_csv,
        lesion_boxes_csv=lesion_boxes_path,
        masks_dir=truth_masks,
        image_sizes=image_sizes,
        lesion_position=position,
    )


def dataset_truth(
    layout: str,
    dataset_dir: str | Path,
    *,
    work_dir: str | Path,
    split: str | None = None,
    train_split: str | None = None,
    lesion_boxes_csv: str | Path | None = None,
    masks_dir: str | Path | None = None,
    mask_label: str = "MA",
    on_error: str = "raise",
    **reader_options: object,
) -> EvaluationTruth:
    """The truth of one split of a dataset in ``layout`` (see the module docstring), tables in ``work_dir``.

    Args:
        layout: a layout of :data:`monai_weakloc.data.READERS`: ``eyepacs``, ``messidor``, ``idrid``,
            ``chestxray14``, ``tb_cxr``, ``mias``, ``cbis_ddsm``, ``csv``, ``lesion_boxes``.
        dataset_dir: the dataset folder (or CSV for ``csv`` and ``lesion_boxes``).
        work_dir: the folder the truth tables are written to (see :func:`records_truth`).
        split: the evaluated split (``train``, ``val``, ``test``); ``None``: every image.
        train_split: the training split, for the most frequent lesion position; ``None``: that baseline is
            reported missing.
        lesion_boxes_csv: a lesion-box CSV ``image,label,x,y,w,h``; default ``<dataset_dir>/lesion_boxes.csv``
            when it exists and the layout's records carry no boxes.
        masks_dir: a folder of truth masks ``<image>.<ext>`` or ``<image>_<mask_label>.<ext>``, for layouts
            whose records carry no masks (the synthetic EyePACS ``ma_masks/``).
        mask_label: the lesion whose masks are evaluated (IDRiD: ``MA``, ``HE``, ``EX``, ``SE``, ``OD``).
        on_error: ``"raise"`` or ``"skip"`` (log and leave out bad rows), see :class:`ProblemLog`.
        reader_options: the layout's own reader options, e.g. ``task="grading"`` for IDRiD.

    Returns:
        the truth of the split.

    Raises:
        FileNotFoundError: when a given file or folder does not exist.
        ValueError: naming the file, row or image at fault (see :func:`read_split` and :func:`records_truth`).
    """
    records = read_split(layout, dataset_dir, split, on_error, **reader_options)
    boxes_csv = lesion_boxes_csv
    dataset_folder = absolute_root(dataset_dir)
    default_boxes = dataset_folder / LESION_BOXES_FILE
    if boxes_csv is None and dataset_folder.is_dir() and default_boxes.is_file() and _record_boxes(records) is None:
        boxes_csv = default_boxes
    truth = records_truth(
        records,
        work_dir,
        label_names=MULTI_LABEL_NAMES.get(layout),
        lesion_boxes_csv=boxes_csv,
        masks_dir=masks_dir,
        mask_label=mask_label,
    )
    if train_split is None:
        return truth
    train_records = read_split(layout, dataset_dir, train_split, on_error, **reader_options)
    train_boxes = None if boxes_csv is None else absolute_root(boxes_csv)
    position = _lesion_position(train_records, train_boxes, f"{layout} split {train_split!r} of {dataset_folder}")
    return replace(truth, lesion_position=position)
