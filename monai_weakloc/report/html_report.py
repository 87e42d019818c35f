"""``RUN_DIR/report.html``: a run's metrics beside their baselines, its plots and its overlays, worst first.

:func:`write_report` finds the run's files (:func:`~monai_weakloc.report.run_folder.locate_run`), reads the
truth its evaluation used (:func:`~monai_weakloc.report.run_truth.read_run_truth`), works out each image's
result (:func:`~monai_weakloc.report.image_results.image_results`) and the gallery's order
(:func:`~monai_weakloc.report.gallery_order.gallery_order`), draws the truth in a second colour on copies of
the overlays (``RUN_DIR/report_files/``, :func:`~monai_weakloc.report.truth_drawing.draw_truth`) and writes
the page (:func:`~monai_weakloc.report.html_page.render_page`). The page references the images by relative
URLs, so ``RUN_DIR`` can be moved or copied whole.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from urllib.parse import quote

from monai_weakloc.evaluation.map_files import read_mask
from monai_weakloc.evaluation.output_tables import MULTI_LABEL, read_prediction_table
from monai_weakloc.report.gallery_order import gallery_order, image_status
from monai_weakloc.report.html_page import GalleryItem, PlotFile, ReportPage, render_page
from monai_weakloc.report.image_results import ImageResult, image_results
from monai_weakloc.report.metric_rows import task_rows
from monai_weakloc.report.run_folder import RunFolder, locate_run
from monai_weakloc.report.run_truth import RunTruth, read_run_truth
from monai_weakloc.report.truth_drawing import draw_truth

__all__ = ["REPORT_FILE", "REPORT_FILES_FOLDER", "write_report"]

logger = logging.getLogger(__name__)

REPORT_FILE = "report.html"
REPORT_FILES_FOLDER = "report_files"
"""Where, in the run folder, the overlays with the truth drawn on them go (rewritten at every report)."""
OVERLAYS_FOLDER = "overlays"
PLOT_FOLDERS = (".", "pointing/*")
"""Where the evaluation writes its plots, relative to the output folder (per class for multi-label pointing)."""
ORDER_WITH_TRUTH = (
    "Worst first: the images whose lesions were missed (the largest share first), then wrong grades or labels "
    "(the farthest first), then the rest; each group by predicted severity."
)
ORDER_WITHOUT_TRUTH = "By predicted severity, most severe first (the run has no truth to score against)."


def _url(path: Path, root: Path) -> str:
    """The relative URL of ``path`` from a page in ``root``."""
    return quote(Path(os.path.relpath(path, root)).as_posix(), safe="/")


def _plots(run: RunFolder) -> list[PlotFile]:
    """The PNG plots the evaluation (and training) left in the output folder."""
    files = sorted(path for pattern in PLOT_FOLDERS for path in run.outputs.glob(f"{pattern}/*.png") if path.is_file())
    return [PlotFile(_url(path, run.root), path.relative_to(run.outputs).as_posix()) for path in files]


def _picture(result: ImageResult, run: RunFolder, truth: RunTruth, drawn_dir: Path) -> Path | None:
    """The image shown for ``result``: its overlay with the truth drawn on a copy, or as it is without truth."""
    overlay = run.outputs / OVERLAYS_FOLDER / f"{result.image}.png"
    if not overlay.is_file():
        return None
    boxes = None if truth.boxes is None else truth.boxes.boxes.get(result.image)
    mask_file = None if truth.masks is None else truth.masks.get(result.image)
    if boxes is None and mask_file is None:
        return overlay
    return draw_truth(
        overlay,
        drawn_dir / f"{result.image}.png",
        boxes=boxes,
        labels=None if boxes is None else truth.boxes.labels[result.image],
        mask=None if mask_file is None else read_mask(mask_file),
    )


def write_report(
    run_dir: str | Path,
    truth_dir: str | Path | None = None,
    max_images: int | None = None,
) -> Path:
    """Write ``RUN_DIR/report.html`` (and the overlays with truth in ``RUN_DIR/report_files/``).

    Args:
        run_dir: a bundle root (``outputs/`` in it) or an output folder of the contract.
        truth_dir: the evaluation's truth folder when not ``<outputs>/truth``.
        max_images: show only the worst ``max_images`` images; ``None`` shows all.

    Returns:
        the page written.

    Raises:
        FileNotFoundError: when ``run_dir`` holds no outputs, or ``truth_dir`` does not exist.
        ValueError: naming the file, for a bad table, truth file or ``metrics.json``, or a ``max_images``
            below 1.
        ImportError: when the metrics plugin (``weakloc_metrics``) that scores images per task is not installed.
    """
    if max_images is not None and max_images < 1:
        raise ValueError(f"max_images must be at least 1, got {max_images}")
    run = locate_run(run_dir, truth_dir)
    predictions = read_prediction_table(run.outputs / "predictions.csv")
    mask_label = None
    if run.metrics is not None and isinstance(run.metrics.get("masks"), dict):
        mask_label = run.metrics["masks"].get("mask_label")
    truth = read_run_truth(
        run.truth, predictions.class_columns if predictions.kind == MULTI_LABEL else None, mask_label
    )
    results = image_results(run.outputs, run.metrics, truth)
    ordered = gallery_order(results)[:max_images]
    drawn_dir = run.root / REPORT_FILES_FOLDER
    shutil.rmtree(drawn_dir, ignore_errors=True)
    notes = list(run.notes)
    items = []
    for result in ordered:
        picture = _picture(result, run, truth, drawn_dir)
        items.append(
            GalleryItem(
                image=result.image,
                url=None if picture is None else _url(picture, run.root),
                predicted=result.predicted,
                truth=result.truth,
                status=image_status(result),
                details=tuple(miss.text for miss in result.misses),
            )
        )
    without_overlay = [item.image for item in items if item.url is None]
    if without_overlay:
        notes.append(
            f"{len(without_overlay)} image(s) have no {OVERLAYS_FOLDER}/<image>.png, e.g. {without_overlay[0]}."
        )
    scored = any(result.wrong is not None or result.misses for result in results)
    tables = {} if run.metrics is None else {task: task_rows(task, run.metrics[task]) for task in run.metrics["tasks"]}
    page = ReportPage(
        title=f"weakloc report: {run.root.name}",
        location=str(run.root),
        notes=notes,
        metrics=run.metrics,
        tables=tables,
        plots=_plots(run),
        items=items,
        order=ORDER_WITH_TRUTH if scored else ORDER_WITHOUT_TRUTH,
        truth_drawn=truth.boxes is not None or truth.masks is not None,
        total=len(results),
    )
    path = run.root / REPORT_FILE
    path.write_text(render_page(page), encoding="utf-8")
    logger.info("wrote %s (%d of %d images)", path, len(items), len(results))
    return path
