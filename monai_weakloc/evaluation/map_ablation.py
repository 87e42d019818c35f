"""Score several probability maps of one run against the same truth masks: a method's ablation table.

A segmentation method with stages (the microaneurysm method: HGN 1x, HGN 0.5x, their fusions, the refinement
networks) writes one heatmap per stage and image, ``heatmaps/<image>_<map>.nii.gz`` (the output contract).
:func:`evaluate_map_ablation` scores each named map with :func:`~monai_weakloc.evaluation.evaluate_masks`
and writes the table (``ablation.csv`` and ``ablation.md``, one row per map) and the precision-recall
curves of every row in one plot (``ablation_pr.png``).
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from monai_weakloc.evaluation.map_files import map_files_by_id
from monai_weakloc.evaluation.masks import evaluate_masks
from monai_weakloc.report.plots import plot_precision_recall_curves
from monai_weakloc.transforms.load_2d import file_suffix

__all__ = ["ABLATION_COLUMNS", "evaluate_map_ablation"]

ABLATION_COLUMNS: tuple[str, ...] = ("average_precision", "auc_pr", "f1", "precision", "recall", "froc_score")
"""The figures of each row, from :func:`~monai_weakloc.evaluation.evaluate_masks`."""


def _link_map(
    heatmaps_dir: Path, files: dict[str, Path], image_ids: Sequence[str], name: str, mask_label: str, folder: Path
) -> Path:
    """Link each image's ``<image>_<name>`` map into ``folder`` as ``<image>_<mask_label>``."""
    folder.mkdir(parents=True)
    missing = [identifier for identifier in image_ids if f"{identifier}_{name}" not in files]
    if missing:
        shown = ", ".join(f"{identifier}_{name}.*" for identifier in missing[:3])
        raise ValueError(f"{heatmaps_dir}: no {name!r} map of {len(missing)} evaluated image(s): {shown}")
    for identifier in image_ids:
        source = files[f"{identifier}_{name}"]
        (folder / f"{identifier}_{mask_label}{file_suffix(source)}").symlink_to(source)
    return folder


def _write_tables(rows: dict[str, dict[str, Any]], folder: Path, pooling: str, threshold: float) -> None:
    """``ablation.csv`` and ``ablation.md``: one row per map, the columns of :data:`ABLATION_COLUMNS`."""
    with open(folder / "ablation.csv", "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["map", *ABLATION_COLUMNS])
        writer.writerows([name, *(f"{row[column]:.4f}" for column in ABLATION_COLUMNS)] for name, row in rows.items())
    header = "| map | " + " | ".join(ABLATION_COLUMNS) + " |"
    lines = [
        f"Pixels pooled as `{pooling}`; F1, precision and recall at {threshold:g}; FROC: Retinopathy Online "
        "Challenge operating points (1/8 to 8 false positives per image).",
        "",
        header,
        "|" + "---|" * (len(ABLATION_COLUMNS) + 1),
        *(
            f"| {name} | " + " | ".join(f"{row[column]:.4f}" for column in ABLATION_COLUMNS) + " |"
            for name, row in rows.items()
        ),
    ]
    (folder / "ablation.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def evaluate_map_ablation(
    heatmaps_dir: str | Path,
    truth_masks_dir: str | Path,
    image_ids: Sequence[str],
    maps: Sequence[str],
    out_dir: str | Path,
    mask_label: str = "MA",
    threshold: float = 0.5,
    pooling: str = "all",
) -> dict[str, dict[str, Any]]:
    """Score each of ``maps`` against the truth masks and write the ablation table and its PR plot.

    Args:
        heatmaps_dir: the run's ``heatmaps/`` (``<image>_<map>.<ext>``; the most precise format of each is read).
        truth_masks_dir: truth masks ``<image>_<mask_label>.<ext>`` of exactly the evaluated images.
        image_ids: the evaluated images.
        maps: the map names, in the order of the table's rows.
        out_dir: where ``ablation.csv``, ``ablation.md`` and ``ablation_pr.png`` go.
        mask_label: the lesion of the truth masks.
        threshold: probability at and above which a pixel is lesion, for F1, precision and recall.
        pooling: ``all`` or ``mean`` (see :func:`~monai_weakloc.evaluation.evaluate_masks`).

    Returns:
        map name -> its figures (:data:`ABLATION_COLUMNS`) and ``no_skill_average_precision``.

    Raises:
        ValueError: for no map, a repeated map, or an image without one of the maps (naming the files).
    """
    if not maps or len(set(maps)) != len(maps):
        raise ValueError(f"maps must be distinct map names, got {list(maps)}")
    heatmaps = Path(heatmaps_dir)
    files = map_files_by_id(heatmaps, "heatmap")
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    rows: dict[str, dict[str, Any]] = {}
    curves: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    with tempfile.TemporaryDirectory(prefix="weakloc_ablation_") as scratch:
        for name in maps:
            predicted = _link_map(heatmaps, files, image_ids, name, mask_label, Path(scratch) / name)
            metrics = evaluate_masks(truth_masks_dir, predicted, threshold=threshold, pooling=pooling)
            rows[name] = {column: metrics[column] for column in ABLATION_COLUMNS}
            rows[name]["no_skill_average_precision"] = metrics["pixel_pr"][pooling]["no_skill_average_precision"]
            curves[f"{name} (AP {metrics['average_precision']:.3f})"] = (
                metrics["pr_curve"]["recall"],
                metrics["pr_curve"]["precision"],
            )
    no_skill = next(iter(rows.values()))["no_skill_average_precision"]
    curves[f"no skill (AP {no_skill:.3f})"] = (np.array([0.0, 1.0]), np.full(2, no_skill))
    _write_tables(rows, folder, pooling, threshold)
    plot_precision_recall_curves(curves, folder / "ablation_pr.png", title="Pixel precision-recall of each map")
    return rows
