"""Lesion boxes for any dataset: a CSV ``image,label,x,y,w,h[,score]``, one row per box.

The boxes are in pixels of the original image, origin at the top-left corner; ``label`` names the
lesion (e.g. ``MA``); ``score`` (optional) is a detection's confidence, for predicted boxes. ``image``
is an image file (relative to the image folder, or absolute) or an image id without a suffix, matched
to the one file of that name in the image folder (e.g. ``10_left`` for ``10_left.jpeg``).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path, PurePath

import numpy as np

from monai_weakloc.data.readers.checks import parse_box, parse_float, problem_log_for
from monai_weakloc.data.readers.files import absolute_root
from monai_weakloc.data.readers.tables import TableRow, read_csv_table
from monai_weakloc.data.records import ProblemLog

__all__ = ["read_lesion_boxes"]

BOX_COLUMNS = ("x", "y", "w", "h")


def _image_id(name: str) -> str:
    """The id of the image an ``image`` cell names: the cell without its suffix."""
    return PurePath(name).with_suffix("").as_posix()


def _files_by_stem(folder: Path) -> dict[str, list[Path]]:
    """File stem -> the files of ``folder`` with that stem (to resolve ids given without a suffix)."""
    stems: dict[str, list[Path]] = defaultdict(list)
    if folder.is_dir():
        for path in sorted(folder.iterdir()):
            if path.is_file():
                stems[path.stem].append(path)
    return stems


def _resolve_image(name: str, image_folder: Path, stems: dict[str, list[Path]]) -> tuple[Path | None, str]:
    """The image file a cell names, and why not when it names none or several."""
    if PurePath(name).suffix:
        path = absolute_root(image_folder / name)
        return (path, "") if path.is_file() else (None, f"image file not found: {path}")
    matches = stems.get(name, [])
    if len(matches) == 1:
        return matches[0], ""
    if not matches:
        return None, f"image file not found: no {name}.* in {image_folder}"
    return None, f"image {name!r} is ambiguous: {', '.join(path.name for path in matches)} in {image_folder}"


def _parse_row(
    row: TableRow, table: Path, with_scores: bool, log: ProblemLog
) -> tuple[str, str, np.ndarray, float | None] | None:
    """``(image cell, lesion label, float32 (4,) box, score or None)`` of one row; ``None`` after a problem."""
    name, lesion = row.values["image"], row.values["label"]
    if not name:
        log.report(table, row.number, "image is empty")
        return None
    image_id = _image_id(name)
    if not lesion:
        log.report(table, row.number, "label is empty", image_id)
        return None
    cells = [row.values[column] for column in BOX_COLUMNS]
    box = parse_box(cells, fields=BOX_COLUMNS, file=table, row=row.number, problems=log, image_id=image_id)
    if box is None:
        return None
    if not with_scores:
        return name, lesion, box, None
    score = parse_float(
        row.values["score"], field="score", file=table, row=row.number, problems=log, image_id=image_id
    )
    return None if score is None else (name, lesion, box, score)


def read_lesion_boxes(
    root: str | Path,
    *,
    on_error: str = "raise",
    problems: ProblemLog | None = None,
    image_dir: str | Path | None = None,
) -> list[dict]:
    """Read a lesion-box CSV: one record per image, gathering its boxes.

    Args:
        root: the CSV file.
        on_error: ``"raise"`` or ``"skip"`` (log and skip bad rows), see :class:`ProblemLog`.
        problems: a log to report to instead of a new ``ProblemLog(on_error)``.
        image_dir: the folder the ``image`` cells refer to (default: the CSV's folder).

    Returns:
        Records with ``image``, ``id`` (the ``image`` cell without its suffix), ``boxes`` (float32 (N, 4),
        ``x, y, w, h``), ``box_labels`` (N str) and, when the CSV has a ``score`` column, ``scores``
        (float32 (N,)), in order of each image's first row.

    Raises:
        ValueError: with ``on_error="raise"``, for the first problem in the data.
    """
    log = problem_log_for(on_error, problems)
    table = absolute_root(root)
    rows = read_csv_table(table, ("image", "label", *BOX_COLUMNS), log)
    if rows is None:
        return []
    image_folder = absolute_root(image_dir) if image_dir is not None else table.parent
    stems = _files_by_stem(image_folder)
    with_scores = bool(rows) and "score" in rows[0].values
    gathered: dict[str, dict] = {}
    for row in rows:
        parsed = _parse_row(row, table, with_scores, log)
        if parsed is None:
            continue
        name, lesion, box, score = parsed
        image_id = _image_id(name)
        if image_id not in gathered:
            image, why_not = _resolve_image(name, image_folder, stems)
            if image is None:
                log.report(table, row.number, why_not, image_id)
                continue
            gathered[image_id] = {"image": str(image), "id": image_id, "boxes": [], "box_labels": [], "scores": []}
        gathered[image_id]["boxes"].append(box)
        gathered[image_id]["box_labels"].append(lesion)
        gathered[image_id]["scores"].append(score)
    records = []
    for record in gathered.values():
        record["boxes"] = np.stack(record["boxes"])
        scores = record.pop("scores")
        if with_scores:
            record["scores"] = np.asarray(scores, dtype=np.float32)
        records.append(record)
    return records
