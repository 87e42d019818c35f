"""The CSV inputs of the evaluation: truth and prediction tables of grades, lesion boxes and labels.

Rows are read by the dataset readers' table layer (:func:`monai_weakloc.data.readers.tables.read_csv_table`)
and cells checked by their value checks (:mod:`monai_weakloc.data.readers.checks`), so that every
problem is a ``ValueError`` naming the file, the 1-based row (the header is row 1) with the row's image id,
the column and the value: ``pred.csv, row 3 (10_left): level 'x' is not an integer``. ``read_lesion_boxes``
is not used for box tables: it resolves every ``image`` cell to an image file, and an evaluation runs on the
tables alone.

Images are matched between a truth and a prediction table by their *id*: the ``image`` cell without a
directory and without an image file suffix (``train/10_left.jpeg`` and ``10_left`` are both ``10_left``).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath

import numpy as np

from monai_weakloc.data.readers.checks import IdRegistry, parse_box, parse_float, parse_int
from monai_weakloc.data.readers.files import absolute_root
from monai_weakloc.data.readers.tables import TableRow, read_csv_table
from monai_weakloc.data.records import DataProblem, ProblemLog
from monai_weakloc.transforms.load_2d import SUPPORTED_SUFFIXES

__all__ = [
    "ID_SUFFIXES",
    "GradeTable",
    "BoxTable",
    "LabelTable",
    "image_id",
    "read_grade_table",
    "read_box_table",
    "read_label_scores",
    "read_label_truth",
    "matched_ids",
]

ID_SUFFIXES: tuple[str, ...] = tuple(sorted({*SUPPORTED_SUFFIXES, ".npy"}, key=len, reverse=True))
"""File suffixes removed from an ``image`` cell to give its id (longest first, so ``.nii.gz`` before ``.gz``)."""

PROBABILITY_COLUMN = re.compile(r"^prob_(\d+)$")
BOX_COLUMNS = ("x", "y", "w", "h")
IMAGE = "image"
CHESTXRAY14_IMAGE = "Image Index"
CHESTXRAY14_FINDINGS = "Finding Labels"
NO_FINDING = "No Finding"
SHOWN_IDS = 5
PROBABILITY_SUM_TOLERANCE = 1e-3


def image_id(name: str) -> str:
    """The id of an image named in a table or by a file: no directory, no image file suffix.

    Args:
        name: an ``image`` cell or a file name, e.g. ``"train/10_left.jpeg"`` or ``"IDRiD_01_MA.tif"``.

    Returns:
        e.g. ``"10_left"``; a name without a known suffix (see :data:`ID_SUFFIXES`) keeps its dots.
    """
    base = PurePath(name.replace("\\", "/")).name
    lowered = base.lower()
    for suffix in ID_SUFFIXES:
        if lowered.endswith(suffix) and len(base) > len(suffix):
            return base[: -len(suffix)]
    return base


def _read_rows(path: str | Path, required: Sequence[str], what: str) -> tuple[Path, list[TableRow]]:
    """The data rows of a CSV that has the ``required`` columns and at least one data row.

    Raises:
        FileNotFoundError: when the file does not exist.
        ValueError: naming the file, for missing columns or a table without data rows.
    """
    table = absolute_root(path)
    if not table.is_file():
        raise FileNotFoundError(f"{what} CSV not found: {table}")
    rows = read_csv_table(table, required, ProblemLog("raise"))
    if not rows:
        raise ValueError(f"{table}: the {what} table has no data rows")
    return table, rows


def _require_columns(table: Path, rows: list[TableRow], required: Sequence[str]) -> None:
    """Raise ``ValueError`` naming the file and the columns of ``required`` that ``rows`` lack."""
    names = list(rows[0].values)
    missing = [column for column in required if column not in names]
    if missing:
        found = ", ".join(repr(name) for name in names)
        raise ValueError(f"{table}: missing column(s) {', '.join(repr(c) for c in missing)} (found {found})")


def _row_id(row: TableRow, column: str, table: Path) -> str:
    """The image id of a row; an empty cell is a ``ValueError`` naming the file and row."""
    cell = row.values[column]
    if not cell:
        raise ValueError(f"{table}, row {row.number}: {column} is empty")
    return image_id(cell)


def _row_error(table: Path, row: int, identifier: str, message: str) -> ValueError:
    """The error of a bad row, naming the file, the row and the row's image id."""
    return ValueError(str(DataProblem(str(table), row, message, identifier)))


def _number(row: TableRow, column: str, table: Path, identifier: str) -> float:
    """A finite float cell; anything else is a ``ValueError`` naming the file, row, image id and column."""
    value = parse_float(
        row.values[column], field=column, file=table, row=row.number, problems=ProblemLog("raise"), image_id=identifier
    )
    return float(value)  # parse_float raised on a bad value: the log is "raise"


@dataclass(frozen=True)
class GradeTable:
    """A table of one grade per image, with optional grade probabilities.

    Attributes:
        path: the CSV file.
        ids: (N,) image ids, in file order.
        rows: (N,) 1-based row number of each image in the file.
        grades: (N,) int64 grades (column ``level``).
        probabilities: (N, K) float64 grade probabilities (columns ``prob_0`` .. ``prob_{K-1}``), or ``None``.
    """

    path: Path
    ids: list[str]
    rows: list[int]
    grades: np.ndarray
    probabilities: np.ndarray | None


def _probability_columns(table: Path, names: Sequence[str]) -> list[str]:
    """``prob_0`` .. ``prob_{K-1}`` among ``names`` (empty when there is none), checked to be complete."""
    indices = sorted(int(match.group(1)) for match in map(PROBABILITY_COLUMN.match, names) if match)
    if not indices:
        return []
    expected = list(range(max(indices) + 1))
    missing = [f"prob_{index}" for index in expected if index not in indices]
    if missing or len(expected) < 2:
        raise ValueError(
            f"{table}: probability columns must be prob_0 .. prob_K-1 with K >= 2; "
            f"missing {', '.join(missing) or 'prob_1'}"
        )
    return [f"prob_{index}" for index in expected]


def _check_probability_row(values: np.ndarray, table: Path, row: int, identifier: str) -> None:
    """Raise ``ValueError`` naming the file, row and image id unless ``values`` (K,) is a probability vector."""
    if ((values < 0) | (values > 1)).any():
        raise _row_error(table, row, identifier, f"grade probabilities must lie in [0, 1], got {values.tolist()}")
    total = float(values.sum())
    if abs(total - 1.0) > PROBABILITY_SUM_TOLERANCE:
        raise _row_error(
            table, row, identifier, f"grade probabilities sum to {total:.4f}, not 1 (write softmax outputs)"
        )


def read_grade_table(path: str | Path, what: str) -> GradeTable:
    """Read ``image,level[,prob_0..prob_{K-1}]`` (other columns are ignored).

    Args:
        path: the CSV file.
        what: what the table is (``"truth"``, ``"prediction"``), for messages.

    Returns:
        the table.

    Raises:
        FileNotFoundError: when the file does not exist.
        ValueError: naming the file and row, for a missing column, an empty table, an empty or duplicate
            image, a level that is not a non-negative integer, or probabilities that are not numbers in
            [0, 1] summing to 1.
    """
    table, rows = _read_rows(path, (IMAGE, "level"), what)
    probability_columns = _probability_columns(table, list(rows[0].values))
    log = ProblemLog("raise")
    seen = IdRegistry(log, what="image")
    ids, numbers, grades, probabilities = [], [], [], []
    for row in rows:
        identifier = _row_id(row, IMAGE, table)
        seen.add(identifier, table, row.number)
        grade = parse_int(
            row.values["level"], field="level", low=0, high=None, file=table, row=row.number, problems=log,
            image_id=identifier,
        )
        if probability_columns:
            values = np.array([_number(row, column, table, identifier) for column in probability_columns])
            _check_probability_row(values, table, row.number, identifier)
            probabilities.append(values)
        ids.append(identifier)
        numbers.append(row.number)
        grades.append(grade)
    return GradeTable(
        path=table,
        ids=ids,
        rows=numbers,
        grades=np.asarray(grades, dtype=np.int64),
        probabilities=np.stack(probabilities) if probability_columns else None,
    )


@dataclass(frozen=True)
class BoxTable:
    """Lesion boxes ``image,label,x,y,w,h[,score]`` gathered per image.

    Attributes:
        path: the CSV file.
        boxes: image id -> (N, 4) float64 ``x, y, w, h`` boxes, images in order of their first row.
        labels: image id -> N lesion labels.
        scores: image id -> (N,) float64 scores when the table has a ``score`` column, else ``None``.
    """

    path: Path
    boxes: dict[str, np.ndarray]
    labels: dict[str, list[str]]
    scores: dict[str, np.ndarray] | None


def read_box_table(path: str | Path, what: str) -> BoxTable:
    """Read a lesion-box CSV ``image,label,x,y,w,h[,score]``, one row per box (other columns are ignored).

    Args:
        path: the CSV file.
        what: what the table is (``"truth"``, ``"prediction"``), for messages.

    Returns:
        the boxes per image.

    Raises:
        FileNotFoundError: when the file does not exist.
        ValueError: naming the file and row, for a missing column, an empty table, an empty image or
            label, a non-numeric or non-finite coordinate or score, or a width/height that is not positive.
    """
    table, rows = _read_rows(path, (IMAGE, "label", *BOX_COLUMNS), what)
    with_scores = "score" in rows[0].values
    log = ProblemLog("raise")
    boxes: dict[str, list[np.ndarray]] = {}
    labels: dict[str, list[str]] = {}
    scores: dict[str, list[float]] = {}
    for row in rows:
        identifier = _row_id(row, IMAGE, table)
        label = row.values["label"]
        if not label:
            raise _row_error(table, row.number, identifier, "label is empty")
        cells = [row.values[column] for column in BOX_COLUMNS]
        box = parse_box(cells, fields=BOX_COLUMNS, file=table, row=row.number, problems=log, image_id=identifier)
        boxes.setdefault(identifier, []).append(np.asarray(box, dtype=np.float64))
        labels.setdefault(identifier, []).append(label)
        if with_scores:
            scores.setdefault(identifier, []).append(_number(row, "score", table, identifier))
    return BoxTable(
        path=table,
        boxes={identifier: np.stack(rows_) for identifier, rows_ in boxes.items()},
        labels=labels,
        scores={identifier: np.asarray(values) for identifier, values in scores.items()} if with_scores else None,
    )


@dataclass(frozen=True)
class LabelTable:
    """One value per image and label: multi-label truth (0/1) or predicted scores.

    Attributes:
        path: the CSV file.
        ids: (N,) image ids, in file order.
        label_names: (L,) label names, the columns of ``values``.
        values: (N, L) float64 values.
    """

    path: Path
    ids: list[str]
    label_names: list[str]
    values: np.ndarray


def read_label_scores(path: str | Path) -> LabelTable:
    """Read wide multi-label predictions ``image,<label1>,<label2>,...``: every other column is a label.

    Raises:
        FileNotFoundError: when the file does not exist.
        ValueError: naming the file and row, for no ``image`` column, no label column, an empty table, an
            empty or duplicate image, or a score that is not a finite number.
    """
    table, rows = _read_rows(path, (IMAGE,), "prediction")
    label_names = [name for name in rows[0].values if name != IMAGE]
    if not label_names:
        raise ValueError(f"{table}: no label column besides {IMAGE!r}; expected image,<label1>,<label2>,...")
    seen = IdRegistry(ProblemLog("raise"), what="image")
    ids, values = [], []
    for row in rows:
        identifier = _row_id(row, IMAGE, table)
        seen.add(identifier, table, row.number)
        ids.append(identifier)
        values.append([_number(row, name, table, identifier) for name in label_names])
    return LabelTable(path=table, ids=ids, label_names=label_names, values=np.asarray(values, dtype=np.float64))


def _finding_row(
    row: TableRow, table: Path, identifier: str, label_names: Sequence[str], ignored: set[str]
) -> list[float]:
    """0/1 values of ``label_names`` from a ``|``-separated ``Finding Labels`` cell; unknown names go to ``ignored``."""
    findings = [name.strip() for name in row.values[CHESTXRAY14_FINDINGS].split("|") if name.strip()]
    if not findings:
        raise _row_error(table, row.number, identifier, f"{CHESTXRAY14_FINDINGS} is empty (write {NO_FINDING!r})")
    if NO_FINDING in findings and len(findings) > 1:
        raise _row_error(
            table, row.number, identifier, f"{CHESTXRAY14_FINDINGS} combines {NO_FINDING!r} with findings"
        )
    ignored.update(name for name in findings if name != NO_FINDING and name not in label_names)
    return [float(name in findings) for name in label_names]


def _indicator_row(row: TableRow, table: Path, identifier: str, label_names: Sequence[str]) -> list[float]:
    """0/1 values of ``label_names`` from the wide columns of a row."""
    values = [_number(row, name, table, identifier) for name in label_names]
    for name, value in zip(label_names, values):
        if value not in (0.0, 1.0):
            raise _row_error(table, row.number, identifier, f"{name} {row.values[name]!r} is not 0 or 1")
    return values


def read_label_truth(path: str | Path, label_names: Sequence[str]) -> LabelTable:
    """Read multi-label truth for ``label_names``, in either of two forms.

    - ChestX-ray14 style: columns ``Image Index,Finding Labels`` (other columns ignored), findings
      ``|``-separated or ``No Finding``; a finding not in ``label_names`` is ignored with a warning.
    - wide: ``image,<label1>,<label2>,...`` of 0/1; a column not in ``label_names`` is ignored with a warning.

    Args:
        path: the CSV file.
        label_names: the labels to read (the prediction table's label columns).

    Returns:
        the (N, len(label_names)) 0/1 table.

    Raises:
        FileNotFoundError: when the file does not exist.
        ValueError: naming the file and row, for a missing id column or (wide form) label column, an empty
            table, an empty or duplicate image, or a value that is not 0/1 / a bad ``Finding Labels`` cell.
    """
    table, rows = _read_rows(path, (), "truth")
    names = list(rows[0].values)
    chestxray14 = CHESTXRAY14_FINDINGS in names
    id_column = CHESTXRAY14_IMAGE if chestxray14 else IMAGE
    _require_columns(table, rows, (id_column,) if chestxray14 else (IMAGE, *label_names))
    ignored = set() if chestxray14 else {name for name in names if name not in (IMAGE, *label_names)}
    seen = IdRegistry(ProblemLog("raise"), what="image")
    ids, values = [], []
    for row in rows:
        identifier = _row_id(row, id_column, table)
        seen.add(identifier, table, row.number)
        ids.append(identifier)
        if chestxray14:
            values.append(_finding_row(row, table, identifier, label_names, ignored))
        else:
            values.append(_indicator_row(row, table, identifier, label_names))
    if ignored:
        warnings.warn(
            f"{table}: labels without a prediction column are ignored: {', '.join(sorted(ignored))}", stacklevel=2
        )
    return LabelTable(path=table, ids=ids, label_names=list(label_names), values=np.asarray(values, dtype=np.float64))


def _shown(ids: Sequence[str]) -> str:
    """The first few ids, quoted, and how many more."""
    shown = ", ".join(repr(identifier) for identifier in ids[:SHOWN_IDS])
    return shown + (f" and {len(ids) - SHOWN_IDS} more" if len(ids) > SHOWN_IDS else "")


def matched_ids(
    truth_ids: Sequence[str],
    prediction_ids: Sequence[str],
    truth_path: Path,
    prediction_path: Path,
    require_every_truth: bool = True,
) -> list[str]:
    """The truth ids that have a prediction, in truth order, after checking how the two sets overlap.

    Predictions without truth are ignored with a warning naming the first few.

    Args:
        truth_ids: ids of the truth table.
        prediction_ids: ids of the prediction table.
        truth_path: the truth table, for messages.
        prediction_path: the prediction table, for messages.
        require_every_truth: True to raise when a truth image has no prediction; False to warn and leave it
            out of the returned ids.

    Returns:
        the ids present in both tables.

    Raises:
        ValueError: naming both files when no id is in both; naming the prediction file and the first few
            ids when a truth image has no prediction and ``require_every_truth`` is set.
    """
    predicted = set(prediction_ids)
    truth = set(truth_ids)
    common = [identifier for identifier in truth_ids if identifier in predicted]
    if not common:
        raise ValueError(
            f"no image of the truth {truth_path} is in the predictions {prediction_path} "
            f"(truth ids such as {_shown(list(truth_ids))}; prediction ids such as {_shown(list(prediction_ids))})"
        )
    missing = [identifier for identifier in truth_ids if identifier not in predicted]
    if missing:
        message = f"{prediction_path}: no prediction for {len(missing)} truth image(s): {_shown(missing)}"
        if require_every_truth:
            raise ValueError(message)
        warnings.warn(message, stacklevel=2)
    extra = [identifier for identifier in prediction_ids if identifier not in truth]
    if extra:
        warnings.warn(
            f"{prediction_path}: {len(extra)} predicted image(s) not in the truth {truth_path} are ignored: "
            f"{_shown(extra)}",
            stacklevel=2,
        )
    return common
