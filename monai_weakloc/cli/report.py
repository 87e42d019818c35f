"""``weakloc report RUN_DIR``: a static HTML page of a run, its metrics, plots and overlays, worst first."""

from __future__ import annotations

from pathlib import Path

import click

from monai_weakloc.report.html_report import write_report


@click.command()
@click.argument("run_dir", metavar="RUN_DIR", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--truth",
    "truth_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="The evaluation's truth folder (default: <outputs>/truth, where the evaluation writes it).",
)
@click.option(
    "--max-images",
    type=click.IntRange(min=1),
    default=None,
    help="Show only the worst N images in the gallery (default: all).",
)
def report(run_dir: Path, truth_dir: Path | None, max_images: int | None) -> None:
    """Write RUN_DIR/report.html: the metrics beside their baselines, the plots and a gallery of overlays.

    RUN_DIR is a bundle root (--bundle-root of weakloc bundle run) or an output folder (docs/outputs.md). When
    the run was evaluated, the truth is drawn in a second colour and the gallery is sorted worst first: missed
    lesions, then wrong grades or labels; otherwise by predicted severity. The page opens from the file system,
    with no server and no network.
    """
    try:
        path = write_report(run_dir, truth_dir=truth_dir, max_images=max_images)
    except (ValueError, OSError, ImportError) as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"wrote {path}")
