"""ChestX-ray14 (NIH Clinical Center) as distributed.

Layout::

    Data_Entry_2017.csv    Image Index,Finding Labels,...,Patient ID,...   ('|'-separated or 'No Finding')
    BBox_List_2017.csv     Image Index,Finding Label,Bbox [x,y,w,h]        (optional; 'Infiltrate' = Infiltration)
    train_val_list.txt, test_list.txt                                      (optional; official patient-level split)
    images/*.png   or   images_001/images/*.png .. images_012/images/*.png
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from monai_weakloc.data.readers.checks import IdRegistry, empty_boxes, parse_box, problem_log_for
from monai_weakloc.data.readers.files import absolute_root, index_files
from monai_weakloc.data.readers.tables import read_csv_table
from monai_weakloc.data.records import ProblemLog

__all__ = ["read_chestxray14", "CHESTXRAY14_LABELS"]

CHESTXRAY14_LABELS = (
    "Atelectasis",
    "Cardiomegaly",
    "Effusion",
    "Infiltration",
    "Mass",
    "Nodule",
    "Pneumonia",
    "Pneumothorax",
    "Consolidation",
    "Edema",
    "Emphysema",
    "Fibrosis",
    "Pleural_Thickening",
    "Hernia",
)
LABEL_INDEX = {name: index for index, name in enumerate(CHESTXRAY14_LABELS)}
BOX_LABEL_SPELLINGS = {"Infiltrate": "Infiltration"}
NO_FINDING = "No Finding"
ENTRY_FILE = "Data_Entry_2017.csv"
BOX_FILE = "BBox_List_2017.csv"
SPLIT_FILES = {"train": "train_val_list.txt", "test": "test_list.txt"}
IMAGE_INDEX = "Image Index"
FINDING_LABELS = "Finding Labels"
PATIENT_ID = "Patient ID"
BOX_LABEL = "Finding Label"
BOX_COLUMNS = ("Bbox[x]", "Bbox[y]", "Bbox[w]", "Bbox[h]")


def _image_index(base: Path) -> dict[str, Path] | None:
    """PNG file name -> path over ``images/`` and ``images_NNN/images/``; ``None`` when neither exists."""
    folders = [base / "images", *sorted(base.glob("images_[0-9][0-9][0-9]/images"))]
    if not any(folder.is_dir() for folder in folders):
        return None
    index: dict[str, Path] = {}
    for folder in folders:
        index.update(index_files(folder, (".png",)))
    return index


def _split_of_images(base: Path, log: ProblemLog) -> dict[str, str] | None:
    """Image file name -> ``train``/``test`` from the official lists; ``None`` when there are no lists."""
    present = {split: base / name for split, name in SPLIT_FILES.items() if (base / name).is_file()}
    if not present:
        return None
    if len(present) < len(SPLIT_FILES):
        missing = next(name for split, name in SPLIT_FILES.items() if split not in present)
        log.report(base / missing, None, "split list not found (the other split list is present)")
        return None
    split_of: dict[str, str] = {}
    for split, path in present.items():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            name = line.strip()
            if not name:
                continue
            if name in split_of:
                log.report(path, number, f"image {name!r} is listed twice (also in {SPLIT_FILES[split_of[name]]})")
                continue
            split_of[name] = split
    return split_of


def _multi_hot(findings: str, table: Path, row: int, image_id: str, log: ProblemLog) -> np.ndarray | None:
    """float32 (14,) multi-hot label of a ``Finding Labels`` cell; ``None`` after reporting a bad name."""
    names = [name.strip() for name in findings.split("|")]
    label = np.zeros(len(CHESTXRAY14_LABELS), dtype=np.float32)
    if names == [NO_FINDING]:
        return label
    for name in names:
        if name == NO_FINDING:
            log.report(table, row, f"{FINDING_LABELS} {findings!r} combines {NO_FINDING!r} with findings", image_id)
            return None
        if name not in LABEL_INDEX:
            log.report(table, row, f"unknown finding label {name!r} in {FINDING_LABELS} {findings!r}", image_id)
            return None
        label[LABEL_INDEX[name]] = 1.0
    return label


def _boxes_by_image(table: Path, image_names: set[str], log: ProblemLog) -> dict[str, tuple[list, list[str]]]:
    """Image file name -> (list of float32 (4,) boxes, list of finding names) from the box list."""
    rows = read_csv_table(table, (IMAGE_INDEX, BOX_LABEL, *BOX_COLUMNS), log)
    boxes: dict[str, tuple[list, list[str]]] = {}
    for row in rows or []:
        name = row.values[IMAGE_INDEX]
        finding = BOX_LABEL_SPELLINGS.get(row.values[BOX_LABEL], row.values[BOX_LABEL])
        if name not in image_names:
            log.report(table, row.number, f"image {name!r} is not in {ENTRY_FILE}")
            continue
        image_id = Path(name).stem
        if finding not in LABEL_INDEX:
            log.report(table, row.number, f"unknown finding label {row.values[BOX_LABEL]!r}", image_id)
            continue
        cells = [row.values[column] for column in BOX_COLUMNS]
        box = parse_box(cells, fields=BOX_COLUMNS, file=table, row=row.number, problems=log, image_id=image_id)
        if box is None:
            continue
        image_boxes, image_labels = boxes.setdefault(name, ([], []))
        image_boxes.append(box)
        image_labels.append(finding)
    return boxes


def read_chestxray14(root: str | Path, *, on_error: str = "raise", problems: ProblemLog | None = None) -> list[dict]:
    """Read ChestX-ray14: one record per image with its 14-finding multi-hot label, split and boxes.

    Args:
        root: the folder holding ``Data_Entry_2017.csv``.
        on_error: ``"raise"`` or ``"skip"`` (log and skip bad rows), see :class:`ProblemLog`.
        problems: a log to report to instead of a new ``ProblemLog(on_error)``.

    Returns:
        Records with ``image``, ``id`` (e.g. ``00000001_000``), ``label`` (float32 (14,), multi-hot in the
        order of :data:`CHESTXRAY14_LABELS`, all zero for ``No Finding``) and ``patient``, in entry-list
        order; ``split`` (``train``/``test``) when the split lists are present; ``boxes`` (float32 (N, 4),
        ``x, y, w, h``, (0, 4) for images without boxes) and ``box_labels`` (N finding names, ``Infiltrate``
        written ``Infiltration``) when ``BBox_List_2017.csv`` is present. With split lists, an image in
        neither list is a problem.

    Raises:
        ValueError: with ``on_error="raise"``, for the first problem in the data.
    """
    log = problem_log_for(on_error, problems)
    base = absolute_root(root)
    entries = base / ENTRY_FILE
    rows = read_csv_table(entries, (IMAGE_INDEX, FINDING_LABELS, PATIENT_ID), log)
    if rows is None:
        return []
    images = _image_index(base)
    if images is None:
        log.report(base / "images", None, "image folder not found (nor images_001/images .. images_012/images)")
        return []
    split_of = _split_of_images(base, log)
    ids = IdRegistry(log, "image")
    records = []
    for row in rows:
        name = row.values[IMAGE_INDEX]
        if not name:
            log.report(entries, row.number, f"{IMAGE_INDEX} is empty")
            continue
        image_id = Path(name).stem
        label = _multi_hot(row.values[FINDING_LABELS], entries, row.number, image_id, log)
        if label is None or not ids.add(name, entries, row.number):
            continue
        if name not in images:
            log.report(entries, row.number, f"image file not found: {name} in images/ or images_NNN/images/", image_id)
            continue
        record = {"image": str(images[name]), "id": image_id, "label": label, "patient": row.values[PATIENT_ID]}
        if split_of is not None:
            if name not in split_of:
                log.report(entries, row.number, f"image {name!r} is in neither {' nor '.join(SPLIT_FILES.values())}")
                continue
            record["split"] = split_of[name]
        records.append(record)
    if (base / BOX_FILE).is_file():
        boxes = _boxes_by_image(base / BOX_FILE, set(ids.first_seen), log)
        for record in records:
            image_boxes, image_labels = boxes.get(Path(record["image"]).name, ([], []))
            record["boxes"] = np.stack(image_boxes) if image_boxes else empty_boxes()
            record["box_labels"] = image_labels
    return records
