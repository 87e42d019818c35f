"""The records of one split of a dataset, ready for training or inference: read, images checked, eyes paired.

A bundle needs the same three steps for every split it reads: the layout's reader (which checks the label
tables and that the files exist), :func:`~monai_weakloc.data.image_checks.check_images` (which decodes
every image, so that a corrupt, grayscale or too small file is named before training starts) and, for
methods that grade both eyes of a patient together, :func:`~monai_weakloc.data.pair_fellow_eyes`.
:func:`split_records` does the three with one problem log, so that ``on_error`` applies to all of them.
"""

from __future__ import annotations

import inspect
from pathlib import Path

from monai_weakloc.data.fellow_eyes import pair_fellow_eyes
from monai_weakloc.data.image_checks import check_images
from monai_weakloc.data.readers.dispatch import READERS, read_dataset
from monai_weakloc.data.records import ProblemLog

__all__ = ["split_records"]

SPLITS_OPTION = "splits"


def _reads_splits(layout: str) -> bool:
    """Whether the reader of ``layout`` selects splits itself (it has a ``splits`` option, as EyePACS)."""
    return layout in READERS and SPLITS_OPTION in inspect.signature(READERS[layout]).parameters


def split_records(
    layout: str,
    dataset_dir: str | Path,
    split: str | None = None,
    image_mode: str = "rgb",
    min_size: int | None = None,
    pair_eyes: bool = False,
    on_error: str = "raise",
    **reader_options: object,
) -> list[dict]:
    """Read one split of the dataset at ``dataset_dir``, check its images and pair fellow eyes if asked.

    Args:
        layout: a layout of :data:`monai_weakloc.data.READERS`, e.g. ``"eyepacs"``, ``"messidor"``.
        dataset_dir: the dataset folder in that layout.
        split: ``"train"``, ``"val"`` or ``"test"``; ``None`` for every record. A reader with a ``splits``
            option (EyePACS) reads only that split's label file; for the other layouts the records whose
            ``split`` is ``split`` are kept.
        image_mode: ``"rgb"``, ``"gray"`` or ``"any"``: the colour mode every image must have (see
            :func:`~monai_weakloc.data.image_checks.check_images`).
        min_size: smallest height and width in pixels every image must have (``None``: any size).
        pair_eyes: set each record's ``fellow`` to its fellow eye's image (records need ``eye_pair``, as
            EyePACS gives); a record whose fellow eye was left out by the checks stands in for it itself.
        on_error: ``"raise"`` raises ``ValueError`` at the first bad row or image, naming the file (and the
            row and image id); ``"skip"`` logs each problem and leaves the record out.
        reader_options: the layout's own reader options, e.g. ``task="grading"`` for IDRiD.

    Returns:
        the split's records whose images passed the checks, in the reader's order, with ``fellow`` when
        ``pair_eyes`` is set.

    Raises:
        ValueError: for an unknown layout or ``on_error``; when ``split`` is given for a layout whose records
            have no ``split``; and, with ``on_error="raise"``, for the first problem in the data.
    """
    log = ProblemLog(on_error)
    if split is not None and _reads_splits(layout):
        reader_options = {**reader_options, SPLITS_OPTION: split}
    records = read_dataset(layout, dataset_dir, problems=log, **reader_options)
    if split is not None and not _reads_splits(layout):
        without_split = [record["id"] for record in records if "split" not in record]
        if without_split:
            raise ValueError(
                f"split_records: {layout} records have no split (e.g. {without_split[0]!r} in {dataset_dir}); "
                f"leave split=None to read the whole {layout} dataset"
            )
        records = [record for record in records if record["split"] == split]
    records = check_images(records, keys=("image",), mode=image_mode, min_size=min_size or 1, problems=log)
    return pair_fellow_eyes(records) if pair_eyes else records
