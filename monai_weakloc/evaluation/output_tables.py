"""The ``predictions.csv`` of the output contract, told apart and handed to the per-task evaluations.

The contract has two layouts (``docs/outputs.md``):

- single-label: ``image,<label column>,prob_0..prob_{K-1}``, the label column ``level`` (graded datasets) or
  ``label``;
- multi-label: ``image,labels,<one probability column per class>``, ``labels`` the predicted classes joined
  by ``|``.

:func:`~monai_weakloc.evaluation.evaluate_grades` reads ``image,level,prob_*`` and
:func:`~monai_weakloc.evaluation.evaluate_labels` reads every column but ``image`` as a class, so the tables
they are given are working copies with the ``label`` column named ``level``, or without the ``labels``
column, row for row the same as the file (so that row numbers stay right). :func:`errors_name_file` makes the
errors and warnings about a copy name the file it was made from.
"""

from __future__ import annotations

import csv
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from monai_weakloc.data.readers.files import absolute_root
from monai_weakloc.data.readers.tables import header_names

__all__ = [
    "SINGLE_LABEL",
    "MULTI_LABEL",
    "PredictionTable",
    "read_prediction_table",
    "grade_table",
    "score_table",
    "errors_name_file",
]

SINGLE_LABEL = "single_label"
MULTI_LABEL = "multi_label"
IMAGE = "image"
GRADE_COLUMN = "level"
CLASS_COLUMN = "label"
LABELS_COLUMN = "labels"


@dataclass(frozen=True)
class PredictionTable:
    """What a ``predictions.csv`` holds.

    Attributes:
        path: the CSV file.
        kind: :data:`SINGLE_LABEL` or :data:`MULTI_LABEL`.
        label_column: ``level`` or ``label`` (single-label), ``labels`` (multi-label).
        class_columns: ``prob_0`` .. (single-label) or the class names (multi-label), in file order.
    """

    path: Path
    kind: str
    label_column: str
    class_columns: list[str]


def read_prediction_table(path: str | Path) -> PredictionTable:
    """Tell the layout of a ``predictions.csv`` from its header.

    Args:
        path: the CSV file.

    Returns:
        its layout.

    Raises:
        FileNotFoundError: when the file does not exist.
        ValueError: naming the file and the columns found, for an empty file, no ``image`` column, or neither
            a ``labels`` (multi-label) nor a ``level``/``label`` (single-label) column.
    """
    table = absolute_root(path)
    if not table.is_file():
        raise FileNotFoundError(f"prediction CSV not found: {table}")
    with table.open(newline="", encoding="utf-8-sig") as handle:
        header = next(csv.reader(handle), None)
    names = [name for name in header_names(header or []) if name]
    found = ", ".join(repr(name) for name in names) or "nothing"
    if IMAGE not in names:
        raise ValueError(f"{table}: no {IMAGE!r} column (found {found}); see docs/outputs.md")
    if LABELS_COLUMN in names:
        classes = [name for name in names if name not in (IMAGE, LABELS_COLUMN)]
        if not classes:
            raise ValueError(f"{table}: a multi-label table needs one probability column per class (found {found})")
        return PredictionTable(path=table, kind=MULTI_LABEL, label_column=LABELS_COLUMN, class_columns=classes)
    for column in (GRADE_COLUMN, CLASS_COLUMN):
        if column in names:
            classes = [name for name in names if name.startswith("prob_")]
            return PredictionTable(path=table, kind=SINGLE_LABEL, label_column=column, class_columns=classes)
    raise ValueError(
        f"{table}: neither single-label (image,level|label,prob_0,...) nor multi-label (image,labels,<class>,...) "
        f"predictions: found {found}"
    )


def _copy_rows(table: PredictionTable, target: Path, header_of: dict[str, str | None]) -> Path:
    """Copy ``table`` row for row, renaming (``name -> new``) or dropping (``name -> None``) columns."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with table.path.open(newline="", encoding="utf-8-sig") as source, target.open("w", newline="") as copy:
        reader = csv.reader(source)
        writer = csv.writer(copy, lineterminator="\n")
        header = next(reader)
        names = header_names(header)
        kept = [index for index, name in enumerate(names) if header_of.get(name, name) is not None]
        writer.writerow([header_of.get(names[index]) or header[index] for index in kept])
        for cells in reader:
            writer.writerow([cells[index] if index < len(cells) else "" for index in kept])
    return target


def grade_table(table: PredictionTable, work_dir: Path) -> Path:
    """The table :func:`~monai_weakloc.evaluation.evaluate_grades` reads: the file itself when its label
    column is ``level``, else a copy in ``work_dir`` with ``label`` named ``level``.

    Raises:
        ValueError: naming the file, for multi-label predictions.
    """
    if table.kind != SINGLE_LABEL:
        raise ValueError(
            f"{table.path}: grades need single-label predictions (image,level|label,prob_0,...); these are "
            "multi-label: use the labels task"
        )
    if table.label_column == GRADE_COLUMN:
        return table.path
    return _copy_rows(table, work_dir / "grade_predictions.csv", {CLASS_COLUMN: GRADE_COLUMN})


def score_table(table: PredictionTable, work_dir: Path) -> Path:
    """The table :func:`~monai_weakloc.evaluation.evaluate_labels` reads: a copy in ``work_dir`` without the
    ``labels`` column.

    Raises:
        ValueError: naming the file, for single-label predictions.
    """
    if table.kind != MULTI_LABEL:
        raise ValueError(
            f"{table.path}: labels need multi-label predictions (image,labels,<class>,...); these are "
            "single-label: use the grades task"
        )
    return _copy_rows(table, work_dir / "label_scores.csv", {LABELS_COLUMN: None})


@contextmanager
def errors_name_file(copy: Path, original: Path) -> Iterator[None]:
    """Within the block, ``ValueError`` messages and warnings that name ``copy`` name ``original`` instead.

    The copies of this module keep the rows of their file, so row numbers and image ids stay right.
    """
    if copy == original:
        yield
        return
    caught: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
    except ValueError as error:
        raise ValueError(str(error).replace(str(copy), str(original))) from error
    finally:
        for warning in caught:
            warnings.warn_explicit(
                str(warning.message).replace(str(copy), str(original)),
                warning.category,
                warning.filename,
                warning.lineno,
            )
