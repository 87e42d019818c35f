"""``weakloc data check``: read a dataset in its official layout, decode its images, report what is wrong."""

from __future__ import annotations

import inspect
import logging
import re
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import click
import numpy as np

from monai_weakloc.data.readers import CHESTXRAY14_LABELS, READERS
from monai_weakloc.data.records import DataProblem, ProblemLog

PIL_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".pgm", ".ppm", ".pbm")
RESERVED_OPTIONS = ("on_error", "problems")
INTEGER = re.compile(r"^-?\d+$")


def layout_options(layout: str) -> list[str]:
    """The keyword options of a layout's reader, other than ``on_error`` and ``problems``."""
    parameters = inspect.signature(READERS[layout]).parameters.values()
    return [p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in RESERVED_OPTIONS]


def option_value(text: str) -> int | str | list[str]:
    """An option value from the command line: ``"a,b"`` -> ``["a", "b"]``, ``"12"`` -> ``12``, else the text."""
    if "," in text:
        return [part.strip() for part in text.split(",") if part.strip()]
    if INTEGER.match(text.strip()):
        return int(text)
    return text


def parse_options(layout: str, pairs: Sequence[str]) -> dict[str, int | str | list[str]]:
    """Reader keyword arguments from ``KEY=VALUE`` pairs (``-`` in a key read as ``_``).

    Raises:
        click.BadParameter: for a pair without ``=`` or a key the layout's reader does not take.
    """
    accepted = layout_options(layout)
    options: dict[str, int | str | list[str]] = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not separator or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--option")
        if key not in accepted:
            known = ", ".join(accepted) or "none"
            raise click.BadParameter(f"layout {layout} has no option {key!r} (options: {known})", param_hint="--option")
        options[key] = option_value(value)
    return options


@contextmanager
def problems_not_logged() -> Iterator[None]:
    """Silence the per-problem warnings of :class:`ProblemLog` while the check prints them itself."""
    problem_logger = logging.getLogger(ProblemLog.__module__)
    level = problem_logger.level
    problem_logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        problem_logger.setLevel(level)


def class_counts(records: Sequence[dict]) -> str:
    """``"label 0: 3, label 2: 1"``; for ChestX-ray14's multi-hot labels, positives per finding and ``No Finding``."""
    counts: Counter = Counter()
    for record in records:
        label = record.get("label")
        if isinstance(label, np.ndarray):
            positives = np.flatnonzero(label)
            counts.update((int(index), CHESTXRAY14_LABELS[index]) for index in positives)
            if not positives.size:
                counts[(-1, "No Finding")] += 1
        elif label is not None:
            counts[(label, f"label {label}")] += 1
    return ", ".join(f"{name}: {count}" for (_, name), count in sorted(counts.items()))


def summary_lines(layout: str, root: Path, records: Sequence[dict]) -> list[str]:
    """What was found: images per split with their classes, boxes and masks."""
    lines = [f"{layout} dataset at {root}: {len(records)} images"]
    splits = dict.fromkeys(record.get("split") or "all" for record in records)
    for split in splits:
        in_split = [record for record in records if (record.get("split") or "all") == split]
        classes = class_counts(in_split)
        lines.append(f"  {split}: {len(in_split)} images" + (f" ({classes})" if classes else ""))
    boxed = [record for record in records if len(record.get("boxes", ())) > 0]
    if any("boxes" in record for record in records):
        lines.append(f"  boxes: {sum(len(record['boxes']) for record in boxed)} on {len(boxed)} images")
    masked = [record for record in records if record.get("mask") or record.get("masks")]
    if any("mask" in record or "masks" in record for record in records):
        mask_files = {path for record in masked for path in record_mask_paths(record)}
        lines.append(f"  masks: {len(masked)} images with a mask ({len(mask_files)} mask files)")
    return lines


def record_mask_paths(record: dict) -> list[str]:
    """The mask files a record names (``mask`` and the values of ``masks``), without repeats."""
    paths = [record.get("mask"), *record.get("masks", {}).values()]
    return list(dict.fromkeys(path for path in paths if path))


def decode_problems(paths: Sequence[str]) -> list[DataProblem]:
    """Decode every file with MONAI's ``LoadImage``; one problem per file that fails.

    PNG, JPEG, TIFF, BMP and PGM go through ``PILReader(reverse_indexing=False)``, everything else (DICOM)
    through ``ITKReader``. PGM goes to PIL because the ITK wheels ship no PNM image IO. Progress goes to
    stderr.
    """
    # Imported here: MONAI's transforms take seconds to import, and every other weakloc command would pay.
    from monai.data import ITKReader, PILReader
    from monai.transforms import LoadImage

    pil_reader = PILReader(reverse_indexing=False)
    itk_reader = ITKReader()
    load = LoadImage(reader=itk_reader, image_only=True)
    problems = []
    with click.progressbar(paths, label="decoding images", file=sys.stderr) as progress:
        for path in progress:
            reader = pil_reader if Path(path).suffix.lower() in PIL_SUFFIXES else itk_reader
            try:
                load(path, reader=reader)
            except Exception as error:  # any failure to decode is what this check reports
                first_line = (str(error).strip().splitlines() or [""])[0]
                problems.append(DataProblem(path, None, f"cannot decode image: {type(error).__name__}: {first_line}"))
    return problems


def _options_help() -> str:
    lines = [f"{layout}: {', '.join(layout_options(layout)) or '(none)'}" for layout in READERS]
    return "Options by layout:\n\n\b\n" + "\n".join(lines)


@click.command(epilog=_options_help())
@click.argument("layout", type=click.Choice(list(READERS)))
@click.argument("root", metavar="DIR", type=click.Path(exists=True, path_type=Path))
@click.option(
    "-o",
    "--option",
    "pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="A reader option, e.g. task=grading; repeatable. Integers become int, a,b becomes a list.",
)
@click.option("--decode/--no-decode", default=True, show_default=True, help="Decode every image and mask file.")
def check(layout: str, root: Path, pairs: tuple[str, ...], decode: bool) -> None:
    """Check the dataset in DIR against LAYOUT and report what it holds.

    Reads the labels with every problem collected (not stopping at the first), decodes every image and
    mask with MONAI's readers, prints images per split and class, boxes and masks to stdout and every
    problem to stderr. Exits with status 1 when there is any problem. For the csv and lesion_boxes
    layouts DIR may be the CSV file.
    """
    options = parse_options(layout, pairs)
    log = ProblemLog("skip")
    try:
        with problems_not_logged():
            records = READERS[layout](root, problems=log, **options)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--option") from error
    for line in summary_lines(layout, root, records):
        click.echo(line)
    problems = list(log.problems)
    if decode:
        files = [path for record in records for path in (record["image"], *record_mask_paths(record))]
        files = list(dict.fromkeys(files))
        unreadable = decode_problems(files)
        click.echo(f"decoded {len(files) - len(unreadable)} of {len(files)} image and mask files")
        problems.extend(unreadable)
    if problems:
        click.echo(f"{len(problems)} problem(s):", err=True)
        for problem in problems:
            click.echo(f"  {problem}", err=True)
        raise SystemExit(1)
    click.echo("no problems found")
