"""CBIS-DDSM (Curated Breast Imaging Subset of DDSM) as distributed by TCIA.

Layout: the case-description tables ``mass_case_description_train_set.csv``,
``mass_case_description_test_set.csv``, ``calc_case_description_train_set.csv`` and
``calc_case_description_test_set.csv`` (any subset of them), one row per abnormality, whose
``image file path`` and ``ROI mask file path`` columns name DICOM files relative to the image folder
(the TCIA download, e.g. ``Mass-Training_P_00001_LEFT_CC/1.3.6.../1.3.6.../000000.dcm``).
"""

from __future__ import annotations

import re
from pathlib import Path

from monai_weakloc.data.readers.checks import IdRegistry, parse_int, problem_log_for
from monai_weakloc.data.readers.files import absolute_root
from monai_weakloc.data.readers.tables import TableRow, read_csv_table
from monai_weakloc.data.records import ProblemLog

__all__ = ["read_cbis_ddsm", "PATHOLOGY_LABELS"]

CASE_FILE = re.compile(r"^(mass|calc)_case_description_(?P<split>train|test)_set\.csv$", re.IGNORECASE)
PATHOLOGY_LABELS = {"MALIGNANT": 1, "BENIGN": 0, "BENIGN_WITHOUT_CALLBACK": 0}
PATIENT = "patient_id"
LATERALITY = "left or right breast"
VIEW = "image view"
ABNORMALITY_ID = "abnormality id"
PATHOLOGY = "pathology"
IMAGE_PATH = "image file path"
MASK_PATH = "ROI mask file path"
REQUIRED_COLUMNS = (PATIENT, LATERALITY, VIEW, ABNORMALITY_ID, PATHOLOGY, IMAGE_PATH, MASK_PATH)


def _image_id(values: dict[str, str]) -> str | None:
    """The id of the mammogram a row describes: the top folder of its image path (``None`` when empty)."""
    return Path(values[IMAGE_PATH]).parts[0] if values[IMAGE_PATH] else None


def _existing_file(
    values: dict[str, str], column: str, image_folder: Path, table: Path, row: int, log: ProblemLog
) -> Path | None:
    """``image_folder / values[column]`` when that file exists; report it missing otherwise."""
    if not values[column]:
        log.report(table, row, f"{column} is empty", _image_id(values))
        return None
    path = image_folder / values[column]
    if not path.is_file():
        log.report(table, row, f"{column.removesuffix(' path')} not found: {path}", _image_id(values))
        return None
    return path


def _add_abnormality(
    records: dict[str, dict], row: TableRow, table: Path, split: str, image_folder: Path, log: ProblemLog
) -> None:
    """Add one abnormality row to the record of its image (created on its first row)."""
    values = row.values
    image_id = _image_id(values)
    pathology = values[PATHOLOGY]
    if pathology not in PATHOLOGY_LABELS:
        log.report(table, row.number, f"{PATHOLOGY} {pathology!r} is not one of {tuple(PATHOLOGY_LABELS)}", image_id)
        return
    abnormality_id = parse_int(
        values[ABNORMALITY_ID], field=ABNORMALITY_ID, low=1, high=None, file=table, row=row.number, problems=log,
        image_id=image_id,
    )
    if abnormality_id is None:
        return
    image = _existing_file(values, IMAGE_PATH, image_folder, table, row.number, log)
    mask = _existing_file(values, MASK_PATH, image_folder, table, row.number, log)
    if image is None or mask is None:
        return
    record = records.setdefault(
        values[IMAGE_PATH],
        {
            "image": str(image),
            "id": image_id,
            "label": 0,
            "split": split,
            "patient": values[PATIENT],
            "laterality": values[LATERALITY],
            "view": values[VIEW],
            "masks": {},
            "mask_labels": {},
        },
    )
    key = str(abnormality_id)
    record["masks"][key] = str(mask)
    record["mask_labels"][key] = PATHOLOGY_LABELS[pathology]
    record["label"] = max(record["mask_labels"].values())


def read_cbis_ddsm(
    root: str | Path,
    *,
    on_error: str = "raise",
    problems: ProblemLog | None = None,
    image_dir: str | Path | None = None,
) -> list[dict]:
    """Read CBIS-DDSM: one record per mammogram, label 1 when any of its abnormalities is malignant.

    Args:
        root: the folder holding the case-description CSV files.
        on_error: ``"raise"`` or ``"skip"`` (log and skip bad rows), see :class:`ProblemLog`.
        problems: a log to report to instead of a new ``ProblemLog(on_error)``.
        image_dir: the folder the CSV paths are relative to (default ``root``).

    Returns:
        Records with ``image`` (DICOM path), ``id`` (the image's top folder, e.g.
        ``Mass-Training_P_00001_LEFT_CC``), ``label`` (1 malignant, 0 benign or benign without callback),
        ``split`` (from the file name), ``patient``, ``laterality``, ``view``, ``masks`` (abnormality id ->
        ROI mask path), ``mask_labels`` (abnormality id -> 0/1) and ``mask`` (the ROI mask of the
        lowest abnormality id), in table order (files sorted by name).

    Raises:
        ValueError: with ``on_error="raise"``, for the first problem in the data.
    """
    log = problem_log_for(on_error, problems)
    base = absolute_root(root)
    image_folder = absolute_root(image_dir) if image_dir is not None else base
    tables = sorted(path for path in base.iterdir() if CASE_FILE.match(path.name)) if base.is_dir() else []
    if not tables:
        expected = base / "mass_case_description_train_set.csv"
        log.report(expected, None, "label file not found: no <mass|calc>_case_description_<train|test>_set.csv")
        return []
    records: dict[str, dict] = {}
    abnormalities = IdRegistry(log, "abnormality")
    for table in tables:
        split = CASE_FILE.match(table.name)["split"].lower()
        for row in read_csv_table(table, REQUIRED_COLUMNS, log) or []:
            key = f"{row.values[IMAGE_PATH]} abnormality {row.values[ABNORMALITY_ID]}"
            if abnormalities.add(key, table, row.number):
                _add_abnormality(records, row, table, split, image_folder, log)
    for record in records.values():
        record["mask"] = record["masks"][min(record["masks"], key=int)]
    return list(records.values())
