"""``weakloc data synth``: write a synthetic dataset in an official layout."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import click

from monai_weakloc.data.synthetic import SYNTH_LAYOUTS, synthesize
from monai_weakloc.data.synthetic.files import MAX_IMAGE_SIZE, MIN_IMAGE_SIZE

_TABLE_SUFFIXES = {".csv", ".txt", ".xls"}


def describe_written_files(root: Path) -> list[str]:
    """Lines describing a dataset just written: label tables by path, images and masks counted per folder.

    Args:
        root: the dataset root.

    Returns:
        lines such as ``trainLabels.csv`` or ``train/: 24 .jpeg``, in path order.
    """
    lines: list[str] = []
    counts_by_folder: dict[str, Counter[str]] = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        if path.suffix.lower() in _TABLE_SUFFIXES:
            lines.append(path.relative_to(root).as_posix())
        else:
            counts_by_folder.setdefault(path.parent.relative_to(root).as_posix(), Counter())[path.suffix] += 1
    for folder, counts in counts_by_folder.items():
        summary = ", ".join(f"{count} {suffix}" for suffix, count in sorted(counts.items()))
        lines.append(f"{folder}/: {summary}")
    return lines


@click.command()
@click.argument("layout", type=click.Choice(list(SYNTH_LAYOUTS)))
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="New or empty directory to write the dataset into (created if missing).",
)
@click.option(
    "--num-images",
    default=40,
    show_default=True,
    type=click.IntRange(min=1),
    help="Number of images (EyePACS: rounded up to even; IDRiD: per part).",
)
@click.option(
    "--seed",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Random seed; the same arguments give identical files.",
)
@click.option(
    "--image-size",
    default=256,
    show_default=True,
    type=click.IntRange(MIN_IMAGE_SIZE, MAX_IMAGE_SIZE),
    help="Nominal image size in pixels (fundus widths vary around it).",
)
def synth(layout: str, out_dir: Path, num_images: int, seed: int, image_size: int) -> None:
    """Write a synthetic dataset in the official LAYOUT, with planted lesions and their labels."""
    try:
        root = synthesize(layout, out_dir, num_images=num_images, seed=seed, image_size=image_size)
    except ValueError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"wrote a synthetic {layout} dataset to {root}:")
    for line in describe_written_files(root):
        click.echo(f"  {line}")
