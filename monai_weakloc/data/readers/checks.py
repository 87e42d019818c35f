"""Value checks shared by the dataset readers: integers in range, boxes, unique ids.

Each check reports what is wrong through a :class:`~monai_weakloc.data.records.ProblemLog`, naming the
file, the row (and the image id, when the caller gives the row's), the field and the value, and returns
``None`` so that the reader skips the row (the log has already raised when the caller asked for
``on_error="raise"``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from monai_weakloc.data.records import ProblemLog

__all__ = ["problem_log_for", "parse_int", "parse_float", "parse_box", "IdRegistry", "empty_boxes"]


def problem_log_for(on_error: str, problems: ProblemLog | None) -> ProblemLog:
    """The log a reader reports to: ``problems`` when given (to collect across readers), else a new one.

    Args:
        on_error: ``"raise"`` or ``"skip"``, used only when ``problems`` is ``None``.
        problems: a log shared by the caller.
    """
    return problems if problems is not None else ProblemLog(on_error)


def parse_int(
    text: str,
    *,
    field: str,
    low: int | None,
    high: int | None,
    file: Path,
    row: int,
    problems: ProblemLog,
    image_id: str | None = None,
) -> int | None:
    """Parse an integer label or code; ``"2.0"`` counts as 2, ``"2.5"`` and ``"two"`` do not.

    Args:
        text: the cell's text.
        field: the column name, for the message.
        low: the smallest value allowed (``None``: no bound).
        high: the largest value allowed (``None``: no bound).
        file: the table the value comes from.
        row: 1-based row number in ``file``.
        problems: where to report a bad value.
        image_id: the id of the image the row describes, for the message.

    Returns:
        The integer, or ``None`` after reporting a value that is not an integer or out of range.
    """
    stripped = text.strip()
    try:
        number = float(stripped)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number != int(number):
        problems.report(file, row, f"{field} {stripped!r} is not an integer", image_id)
        return None
    value = int(number)
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"{low if low is not None else '-inf'}..{high if high is not None else 'inf'}"
        problems.report(file, row, f"{field} {value} is out of range {bounds}", image_id)
        return None
    return value


def parse_float(
    text: str, *, field: str, file: Path, row: int, problems: ProblemLog, image_id: str | None = None
) -> float | None:
    """Parse a finite float; report and return ``None`` for anything else (empty, ``nan``, words).

    Args:
        text: the cell's text.
        field: the column name, for the message.
        file: the table the value comes from.
        row: 1-based row number in ``file``.
        problems: where to report a bad value.
        image_id: the id of the image the row describes, for the message.
    """
    stripped = text.strip()
    try:
        value = float(stripped)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        problems.report(file, row, f"{field} {stripped!r} is not a finite number", image_id)
        return None
    return value


def parse_box(
    texts: Sequence[str],
    *,
    fields: Sequence[str],
    file: Path,
    row: int,
    problems: ProblemLog,
    image_id: str | None = None,
) -> np.ndarray | None:
    """Parse one ``x, y, w, h`` box in pixels; width and height must be positive.

    Args:
        texts: the four cells, in the order ``x, y, w, h``.
        fields: the four column names, for the messages.
        file: the table the box comes from.
        row: 1-based row number in ``file``.
        problems: where to report a bad box.
        image_id: the id of the image the row describes, for the message.

    Returns:
        float32 array of shape (4,), or ``None`` after reporting a non-numeric value or a width or
        height that is not positive.
    """
    values = []
    for text, field in zip(texts, fields):
        value = parse_float(text, field=field, file=file, row=row, problems=problems, image_id=image_id)
        if value is None:
            return None
        values.append(value)
    for value, field in zip(values[2:], fields[2:]):
        if value <= 0:
            problems.report(file, row, f"box {field} {value:g} must be positive", image_id)
            return None
    return np.asarray(values, dtype=np.float32)


def empty_boxes() -> np.ndarray:
    """float32 array of shape (0, 4): the ``boxes`` of an image without boxes."""
    return np.zeros((0, 4), dtype=np.float32)


class IdRegistry:
    """Remembers where each id was first seen so that a repeated id is reported with both places.

    Args:
        problems: where to report duplicates.
        what: what the ids name, for the message (``"id"``, ``"image"``).
    """

    def __init__(self, problems: ProblemLog, what: str = "id") -> None:
        self.problems = problems
        self.what = what
        self.first_seen: dict[str, tuple[Path, int | None]] = {}

    def add(self, key: str, file: Path, row: int | None) -> bool:
        """Record ``key`` seen in ``file`` at ``row``.

        Returns:
            True when the key is new; False after reporting a duplicate.
        """
        if key in self.first_seen:
            first_file, first_row = self.first_seen[key]
            if first_row is None:
                where = str(first_file)
            elif first_file == file:
                where = f"row {first_row}"
            else:
                where = f"{first_file}, row {first_row}"
            self.problems.report(file, row, f"duplicate {self.what} {key!r} (first seen in {where})")
            return False
        self.first_seen[key] = (file, row)
        return True
