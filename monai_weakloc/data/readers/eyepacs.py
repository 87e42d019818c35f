"""EyePACS (Kaggle Diabetic Retinopathy Detection) as distributed.

Layout::

    trainLabels.csv              image,level              -> split "train", images train/<image>.jpeg
    retinopathy_solution.csv     image,level,Usage        -> Usage Public: "val", Private: "test";
                                                             images test/<image>.jpeg

Either label file may be absent, not both. Image ids are ``<patient>_left`` / ``<patient>_right``; each
record names its fellow eye's image in ``eye_pair``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from monai_weakloc.data.fellow_eyes import EYEPACS_EYE_ID, fellow_eye_images
from monai_weakloc.data.readers.checks import IdRegistry, parse_int, problem_log_for
from monai_weakloc.data.readers.files import absolute_root, index_files
from monai_weakloc.data.readers.tables import read_csv_table
from monai_weakloc.data.records import ProblemLog

__all__ = ["read_eyepacs", "EYEPACS_SPLITS"]

EYEPACS_SPLITS = ("train", "val", "test")
MAX_GRADE = 4
TRAIN_LABELS = "trainLabels.csv"
TEST_LABELS = "retinopathy_solution.csv"
USAGE_SPLITS = {"Public": "val", "Private": "test"}


def _selected_splits(splits: str | Sequence[str] | None) -> tuple[str, ...]:
    """The splits asked for, checked against :data:`EYEPACS_SPLITS`."""
    if splits is None:
        return EYEPACS_SPLITS
    chosen = (splits,) if isinstance(splits, str) else tuple(splits)
    unknown = [split for split in chosen if split not in EYEPACS_SPLITS]
    if unknown or not chosen:
        raise ValueError(f"EyePACS splits must be a non-empty selection of {EYEPACS_SPLITS}, got {splits!r}")
    return chosen


def _read_label_file(
    table: Path, image_folder: Path, extension: str, wanted: tuple[str, ...], ids: IdRegistry, problems: ProblemLog
) -> list[dict]:
    """Records of one label file (train or test), fellow eyes resolved within the file."""
    with_usage = table.name == TEST_LABELS
    rows = read_csv_table(table, ("image", "level", "Usage") if with_usage else ("image", "level"), problems)
    if rows is None:
        return []
    if not image_folder.is_dir():
        problems.report(image_folder, None, f"image folder not found (needed by {table.name})")
        return []
    images = index_files(image_folder, (extension,))
    records = []
    for row in rows:
        image_id = row.values["image"]
        eye = EYEPACS_EYE_ID.match(image_id)
        if eye is None:
            problems.report(table, row.number, f"image {image_id!r} is not named <patient>_left or <patient>_right")
            continue
        if with_usage:
            if row.values["Usage"] not in USAGE_SPLITS:
                problems.report(table, row.number, f"Usage {row.values['Usage']!r} is not Public or Private", image_id)
                continue
            split = USAGE_SPLITS[row.values["Usage"]]
        else:
            split = "train"
        label = parse_int(
            row.values["level"], field="level", low=0, high=MAX_GRADE, file=table, row=row.number, problems=problems,
            image_id=image_id,
        )
        if label is None or not ids.add(image_id, table, row.number):
            continue
        image = images.get(image_id + extension)
        if image is None:
            missing = image_folder / (image_id + extension)
            problems.report(table, row.number, f"image file not found: {missing}", image_id)
            continue
        records.append(
            {
                "image": str(image),
                "id": image_id,
                "label": label,
                "split": split,
                "patient": eye["patient"],
                "eye": eye["eye"],
            }
        )
    for record, fellow in zip(records, fellow_eye_images(records)):
        record["eye_pair"] = fellow
    return [record for record in records if record["split"] in wanted]


def read_eyepacs(
    root: str | Path,
    *,
    on_error: str = "raise",
    problems: ProblemLog | None = None,
    splits: str | Sequence[str] | None = None,
    extension: str = ".jpeg",
) -> list[dict]:
    """Read EyePACS: one record per image with its grade (0..4), split and fellow eye.

    Args:
        root: the folder holding ``trainLabels.csv`` and/or ``retinopathy_solution.csv``.
        on_error: ``"raise"`` or ``"skip"`` (log and skip bad rows), see :class:`ProblemLog`.
        problems: a log to report to instead of a new ``ProblemLog(on_error)``.
        splits: ``"train"``, ``"val"``, ``"test"`` or a sequence of them (default all). A split asked for
            by name whose label file is absent is a problem.
        extension: image file suffix (``.jpeg`` as distributed; resized copies often use ``.png``).

    Returns:
        Records with ``image``, ``id`` (e.g. ``10_left``), ``label`` (int), ``split``, ``patient``,
        ``eye`` (``left``/``right``) and ``eye_pair`` (the fellow eye's image path, ``None`` if absent),
        in label-file order, training file first.

    Raises:
        ValueError: for an unknown split; and, with ``on_error="raise"``, for the first problem in the data.
    """
    log = problem_log_for(on_error, problems)
    base = absolute_root(root)
    wanted = _selected_splits(splits)
    sources = [(base / TRAIN_LABELS, base / "train", ("train",)), (base / TEST_LABELS, base / "test", ("val", "test"))]
    if splits is None:
        to_read = [source for source in sources if source[0].is_file()]
        if not to_read:
            log.report(base / TRAIN_LABELS, None, f"label file not found (nor {TEST_LABELS}): no EyePACS labels")
            return []
    else:
        to_read = [source for source in sources if set(source[2]) & set(wanted)]
    ids = IdRegistry(log, "image")
    records: list[dict] = []
    for table, image_folder, _ in to_read:
        records.extend(_read_label_file(table, image_folder, extension, wanted, ids, log))
    return records
