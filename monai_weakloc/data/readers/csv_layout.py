"""Generic ``image,label`` CSV, for datasets without a layout of their own.

Layout: a CSV with the columns ``image`` (path relative to the CSV's folder, or absolute) and ``label``
(integer class), and optionally ``split`` (``train``, ``val`` or ``test``).
"""

from __future__ import annotations

from pathlib import Path, PurePath

from monai_weakloc.data.readers.checks import IdRegistry, parse_int, problem_log_for
from monai_weakloc.data.readers.files import absolute_root
from monai_weakloc.data.readers.tables import read_csv_table
from monai_weakloc.data.records import ProblemLog

__all__ = ["read_csv", "CSV_LABEL_FILE", "CSV_SPLITS"]

CSV_LABEL_FILE = "labels.csv"
CSV_SPLITS = ("train", "val", "test")


def read_csv(
    root: str | Path,
    *,
    on_error: str = "raise",
    problems: ProblemLog | None = None,
    num_classes: int | None = None,
) -> list[dict]:
    """Read a generic ``image,label`` CSV: one record per row.

    Args:
        root: the CSV file, or a folder holding ``labels.csv``.
        on_error: ``"raise"`` or ``"skip"`` (log and skip bad rows), see :class:`ProblemLog`.
        problems: a log to report to instead of a new ``ProblemLog(on_error)``.
        num_classes: when given, labels must lie in ``0..num_classes - 1``; otherwise any label >= 0.

    Returns:
        Records with ``image``, ``id`` (the ``image`` cell without its suffix, e.g. ``left/img_001``) and
        ``label`` (int), plus ``split`` when the CSV has a ``split`` column, in row order.

    Raises:
        ValueError: for a ``num_classes`` below 1; and, with ``on_error="raise"``, for the first problem
            in the data.
    """
    if num_classes is not None and num_classes < 1:
        raise ValueError(f"num_classes must be at least 1, got {num_classes}")
    log = problem_log_for(on_error, problems)
    table = absolute_root(root)
    if table.is_dir():
        table = table / CSV_LABEL_FILE
    rows = read_csv_table(table, ("image", "label"), log)
    if rows is None:
        return []
    ids = IdRegistry(log, "image")
    high = num_classes - 1 if num_classes is not None else None
    records = []
    for row in rows:
        name = row.values["image"]
        if not name:
            log.report(table, row.number, "image is empty")
            continue
        image_id = PurePath(name).with_suffix("").as_posix()
        label = parse_int(
            row.values["label"], field="label", low=0, high=high, file=table, row=row.number, problems=log,
            image_id=image_id,
        )
        if label is None:
            continue
        split = row.values.get("split")
        if split is not None and split not in CSV_SPLITS:
            log.report(table, row.number, f"split {split!r} is not one of {CSV_SPLITS}", image_id)
            continue
        if not ids.add(name, table, row.number):
            continue
        image = absolute_root(table.parent / name)
        if not image.is_file():
            log.report(table, row.number, f"image file not found: {image}", image_id)
            continue
        record = {"image": str(image), "id": image_id, "label": label}
        if split is not None:
            record["split"] = split
        records.append(record)
    return records
