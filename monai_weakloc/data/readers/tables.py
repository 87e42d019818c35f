"""Label tables (CSV, Excel ``.xls``) read into numbered rows, with header quirks of the public datasets.

Python's ``csv`` and ``xlrd`` do the parsing; this module adds what the readers need on top: 1-based row
numbers for the messages (the header is row 1), column names compared without surrounding spaces
(IDRiD and Messidor spell ``Risk of macular edema `` with a trailing space), unnamed trailing columns
dropped (ChestX-ray14's lists end in empty columns), and bracketed headers split over several cells
(``OriginalImage[Width,Height]`` becomes ``OriginalImage[Width]`` and ``OriginalImage[Height]``).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import xlrd
import xlrd.compdoc

from monai_weakloc.data.records import ProblemLog

__all__ = ["TableRow", "header_names", "read_csv_table", "read_xls_table", "read_table"]


@dataclass(frozen=True)
class TableRow:
    """One data row of a label table.

    Attributes:
        number: 1-based row number in the file (the header is row 1; for CSV, the line the row starts on).
        values: column name -> cell text with surrounding whitespace removed (``""`` for a missing cell).
    """

    number: int
    values: dict[str, str]


def header_names(cells: Sequence[str]) -> list[str]:
    """Column names from a header row: stripped, bracketed groups split over cells joined back.

    Args:
        cells: the header cells as read, e.g. ``["Bbox [x", "y", "w", "h]", ""]``.

    Returns:
        One name per cell, e.g. ``["Bbox[x]", "Bbox[y]", "Bbox[w]", "Bbox[h]", ""]``.
    """
    names: list[str] = []
    prefix: str | None = None
    for cell in cells:
        name = cell.strip()
        if prefix is None and "[" in name and not name.endswith("]"):
            prefix, first = name.split("[", 1)
            prefix = prefix.strip()
            names.append(f"{prefix}[{first.strip()}]")
        elif prefix is not None:
            names.append(f"{prefix}[{name.rstrip(']').strip()}]")
            if name.endswith("]"):
                prefix = None
        else:
            names.append(name)
    return names


def _rows_with_columns(
    path: Path,
    numbered_cells: Iterable[tuple[int, list[str]]],
    required: Sequence[str],
    problems: ProblemLog,
) -> list[TableRow] | None:
    """Turn numbered raw rows (the first non-blank one the header) into :class:`TableRow`, checking the columns."""
    rows_iter = (numbered for numbered in numbered_cells if any(cell.strip() for cell in numbered[1]))
    header = next(rows_iter, None)
    if header is None:
        problems.report(path, None, "table is empty: no header row")
        return None
    names = header_names(header[1])
    missing = [column for column in required if column not in names]
    if missing:
        found = ", ".join(repr(name) for name in names if name)
        problems.report(
            path, header[0], f"missing column(s) {', '.join(repr(column) for column in missing)} (found {found})"
        )
        return None
    rows = []
    for number, cells in rows_iter:
        values = {name: "" for name in names if name}
        for name, cell in zip(names, cells):
            if name:
                values[name] = cell.strip()
        rows.append(TableRow(number, values))
    return rows


def read_csv_table(path: Path, required: Sequence[str], problems: ProblemLog) -> list[TableRow] | None:
    """Read a comma-separated table with a header row.

    Args:
        path: the CSV file.
        required: column names (without surrounding spaces) that must be present.
        problems: where to report a missing file, an empty file or missing columns.

    Returns:
        The non-blank data rows, or ``None`` after reporting a problem with the file as a whole.
    """
    if not path.is_file():
        problems.report(path, None, "label file not found")
        return None
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as handle:
        reader = csv.reader(handle)
        numbered: list[tuple[int, list[str]]] = []
        line_before = 0
        for cells in reader:
            numbered.append((line_before + 1, cells))
            line_before = reader.line_num
    return _rows_with_columns(path, numbered, required, problems)


def _xls_cell_text(cell: xlrd.sheet.Cell) -> str:
    """Cell text as a CSV export would write it: whole numbers without ``.0``."""
    if cell.ctype == xlrd.XL_CELL_NUMBER and float(cell.value).is_integer():
        return str(int(cell.value))
    return str(cell.value)


def read_xls_table(path: Path, required: Sequence[str], problems: ProblemLog) -> list[TableRow] | None:
    """Read the first sheet of an Excel 97-2003 ``.xls`` workbook (with ``xlrd``), header in its first row.

    Args:
        path: the ``.xls`` file.
        required: column names (without surrounding spaces) that must be present.
        problems: where to report a missing, unreadable or empty file, or missing columns.

    Returns:
        The non-blank data rows, or ``None`` after reporting a problem with the file as a whole.
    """
    if not path.is_file():
        problems.report(path, None, "label file not found")
        return None
    try:
        book = xlrd.open_workbook(str(path))
    except (xlrd.XLRDError, xlrd.compdoc.CompDocError) as error:
        problems.report(path, None, f"cannot read Excel workbook: {error}")
        return None
    sheet = book.sheet_by_index(0)
    numbered = [(index + 1, [_xls_cell_text(cell) for cell in sheet.row(index)]) for index in range(sheet.nrows)]
    return _rows_with_columns(path, numbered, required, problems)


def read_table(path: Path, required: Sequence[str], problems: ProblemLog) -> list[TableRow] | None:
    """Read ``path`` with :func:`read_xls_table` when it ends in ``.xls``, else with :func:`read_csv_table`."""
    if path.suffix.lower() == ".xls":
        return read_xls_table(path, required, problems)
    return read_csv_table(path, required, problems)
