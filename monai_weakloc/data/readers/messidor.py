"""Messidor as distributed: 12 bases, each a folder of TIFF images with its annotation workbook.

Layout::

    Base11/Annotation_Base11.xls   (or .csv: the same table exported)   Base11/<Image name>.tif
    ...
    Base34/Annotation_Base34.xls

The files may also lie directly in the root folder. Columns: ``Image name``, ``Ophthalmologic
department``, ``Retinopathy grade`` (0..3), ``Risk of macular edema `` (0..2; the trailing space of the
original is optional). When both ``.xls`` and ``.csv`` of one base are in a folder, the ``.xls`` is read.
"""

from __future__ import annotations

import re
from pathlib import Path

from monai_weakloc.data.readers.checks import IdRegistry, problem_log_for
from monai_weakloc.data.readers.files import absolute_root, index_files
from monai_weakloc.data.readers.grading_rows import GRADE, IMAGE_NAME, MACULAR_EDEMA, read_grading_row
from monai_weakloc.data.readers.tables import read_table
from monai_weakloc.data.records import ProblemLog

__all__ = ["read_messidor", "find_messidor_tables"]

ANNOTATION_FILE = re.compile(r"^Annotation_(?P<base>Base\w+)\.(?P<format>xls|csv)$", re.IGNORECASE)
DEPARTMENT = "Ophthalmologic department"
MAX_GRADE = 3


def find_messidor_tables(root: Path) -> list[tuple[str, Path]]:
    """The annotation tables in ``root`` and in its ``Base*`` folders, ``.xls`` preferred over ``.csv``.

    Returns:
        ``(base name, table path)`` pairs sorted by folder then base name, e.g.
        ``("Base11", Path(".../Annotation_Base11.xls"))``.
    """
    folders = [root, *sorted(path for path in root.glob("Base*") if path.is_dir())]
    found = []
    for folder in folders:
        by_base: dict[str, Path] = {}
        for path in sorted(folder.iterdir()):
            match = ANNOTATION_FILE.match(path.name)
            if match is None or not path.is_file():
                continue
            chosen = by_base.get(match["base"])
            if chosen is None or chosen.suffix.lower() == ".csv":
                by_base[match["base"]] = path
        found.extend(sorted(by_base.items()))
    return found


def read_messidor(root: str | Path, *, on_error: str = "raise", problems: ProblemLog | None = None) -> list[dict]:
    """Read Messidor: one record per image with its retinopathy grade (0..3).

    Args:
        root: the folder holding the ``BaseNN`` folders (or the tables and images themselves).
        on_error: ``"raise"`` or ``"skip"`` (log and skip bad rows), see :class:`ProblemLog`.
        problems: a log to report to instead of a new ``ProblemLog(on_error)``.

    Returns:
        Records with ``image``, ``id`` (image name without ``.tif``), ``label`` (retinopathy grade),
        ``macular_edema`` (int 0..2), ``department`` (str) and ``base`` (e.g. ``Base11``), in table order.

    Raises:
        ValueError: with ``on_error="raise"``, for the first problem in the data.
    """
    log = problem_log_for(on_error, problems)
    base_folder = absolute_root(root)
    tables = find_messidor_tables(base_folder) if base_folder.is_dir() else []
    if not tables:
        log.report(base_folder / "Annotation_Base11.xls", None, "label file not found: no Annotation_Base*.xls or .csv")
        return []
    ids = IdRegistry(log, "image")
    records = []
    for base, table in tables:
        rows = read_table(table, (IMAGE_NAME, DEPARTMENT, GRADE, MACULAR_EDEMA), log)
        if rows is None:
            continue
        images = index_files(table.parent, (".tif", ".tiff"))
        for row in rows:
            record = read_grading_row(row, table, images, table.parent, ".tif", MAX_GRADE, ids, log)
            if record is not None:
                records.append({**record, "department": row.values[DEPARTMENT], "base": base})
    return records
