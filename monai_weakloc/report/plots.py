"""Evaluation plots as PNG files: ROC, precision-recall, FROC, recall versus IoM, confusion matrix.

Each function draws on its own ``matplotlib.figure.Figure`` with the Agg canvas (no pyplot state, no
display needed), writes the PNG (parent folders are created) and returns its path. The curves come in
computed (by the metric functions or scikit-learn); nothing here computes a metric. A curve without
points (an undefined metric) is left out of the legend; a plot without any curve says so in its middle.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = [
    "plot_confusion_matrix",
    "plot_roc_curves",
    "plot_precision_recall_curves",
    "plot_froc_curve",
    "plot_iom_recall_curves",
]

FIGURE_SIZE = (5.5, 4.5)
DPI = 100
FROC_LEFT_EDGE = 1 / 16
"""Left edge of the FROC plot's log axis; curve points with fewer false positives per image are drawn on it."""


def _figure(title: str, x_label: str, y_label: str) -> tuple[Figure, Axes]:
    """A figure with one set of axes, titled and labelled."""
    figure = Figure(figsize=FIGURE_SIZE, dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    axes.set_title(title)
    axes.set_xlabel(x_label)
    axes.set_ylabel(y_label)
    return figure, axes


def _save(figure: Figure, path: str | Path) -> Path:
    output = Path(path)
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(output, format="png")
    return output


def _draw_curves(axes: Axes, curves: Mapping[str, tuple[np.ndarray, np.ndarray]], dashed: Collection[str] = ()) -> None:
    """Draw ``label -> (x, y)`` curves; a curve without a finite point is skipped; note when none is left."""
    drawn = 0
    for label, (x_values, y_values) in curves.items():
        x_array, y_array = np.asarray(x_values, dtype=np.float64), np.asarray(y_values, dtype=np.float64)
        finite = np.isfinite(x_array) & np.isfinite(y_array)
        if not finite.any():
            continue
        axes.plot(x_array[finite], y_array[finite], linestyle="--" if label in dashed else "-", label=label)
        drawn += 1
    if drawn:
        axes.legend(loc="best", fontsize="small")
    else:
        axes.text(0.5, 0.5, "no curve: the metric is undefined", ha="center", va="center", transform=axes.transAxes)


def plot_confusion_matrix(
    matrix: np.ndarray, class_names: Sequence[str], path: str | Path, title: str = "Confusion matrix"
) -> Path:
    """Draw a confusion matrix with its counts.

    Args:
        matrix: (K, K) counts, rows true class, columns predicted class.
        class_names: K tick labels.
        path: the PNG to write.
        title: the figure title.

    Returns:
        the path written.

    Raises:
        ValueError: when ``matrix`` is not square or ``class_names`` has another length.
    """
    counts = np.asarray(matrix)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.shape[0] != len(class_names):
        raise ValueError(
            f"confusion matrix must be (K, K) with K = {len(class_names)} class names, got shape {counts.shape}"
        )
    figure, axes = _figure(title, "predicted", "true")
    image = axes.imshow(counts, cmap="Blues")
    figure.colorbar(image, ax=axes)
    ticks = np.arange(len(class_names))
    axes.set_xticks(ticks, labels=list(class_names))
    axes.set_yticks(ticks, labels=list(class_names))
    middle = counts.max() / 2 if counts.size else 0
    for (row, column), count in np.ndenumerate(counts):
        axes.text(column, row, f"{count:g}", ha="center", va="center", color="white" if count > middle else "black")
    return _save(figure, path)


def plot_roc_curves(curves: Mapping[str, tuple[np.ndarray, np.ndarray]], path: str | Path, title: str = "ROC") -> Path:
    """Draw ROC curves with the chance diagonal.

    Args:
        curves: legend label (e.g. ``"referable (AUC 0.91)"``) -> ((P,) false-positive rates, (P,) true-positive rates).
        path: the PNG to write.
        title: the figure title.

    Returns:
        the path written.
    """
    figure, axes = _figure(title, "1 - specificity (false-positive rate)", "sensitivity (true-positive rate)")
    axes.plot([0, 1], [0, 1], color="grey", linewidth=0.8, linestyle=":")
    _draw_curves(axes, curves)
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.02)
    return _save(figure, path)


def plot_precision_recall_curves(
    curves: Mapping[str, tuple[np.ndarray, np.ndarray]], path: str | Path, title: str = "Precision-recall"
) -> Path:
    """Draw precision-recall curves.

    Args:
        curves: legend label -> ((P,) recall, (P,) precision).
        path: the PNG to write.
        title: the figure title.

    Returns:
        the path written.
    """
    figure, axes = _figure(title, "recall", "precision")
    _draw_curves(axes, curves)
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.02)
    return _save(figure, path)


def plot_froc_curve(
    fps_per_image: np.ndarray,
    sensitivity: np.ndarray,
    path: str | Path,
    operating_points: Mapping[str, tuple[Sequence[float], Sequence[float]]] | None = None,
    title: str = "FROC",
) -> Path:
    """Draw a FROC curve (log-scaled false positives per image) and marked operating points.

    The log axis starts at :data:`FROC_LEFT_EDGE`; points with fewer false positives per image (the curve
    ends at 0) are drawn on that edge.

    Args:
        fps_per_image: (T,) average false positives per image of the curve's points.
        sensitivity: (T,) lesion sensitivity of the curve's points.
        path: the PNG to write.
        operating_points: legend label -> ((P,) false positives per image, (P,) sensitivity there), drawn as markers.
        title: the figure title.

    Returns:
        the path written.
    """
    figure, axes = _figure(title, "average false positives per image", "lesion sensitivity")
    fps = np.maximum(np.asarray(fps_per_image, dtype=np.float64), FROC_LEFT_EDGE)
    _draw_curves(axes, {"FROC": (fps, np.asarray(sensitivity, dtype=np.float64))})
    markers = ("o", "s", "^", "D")
    for index, (label, (points, values)) in enumerate((operating_points or {}).items()):
        axes.plot(points, values, linestyle="none", marker=markers[index % len(markers)], fillstyle="none", label=label)
    if operating_points:
        axes.legend(loc="best", fontsize="small")
    axes.set_xscale("log")
    axes.set_xlim(left=FROC_LEFT_EDGE)
    axes.set_ylim(0, 1.02)
    return _save(figure, path)


def plot_iom_recall_curves(
    thresholds: np.ndarray,
    curves: Mapping[str, np.ndarray],
    path: str | Path,
    dashed: Collection[str] = (),
    title: str = "Recall versus IoM threshold",
) -> Path:
    """Draw recall curves over an IoM threshold grid (Zoom-in-Net recall for box and for person).

    Args:
        thresholds: (T,) IoM thresholds.
        curves: legend label -> (T,) recall at each threshold.
        path: the PNG to write.
        dashed: labels drawn dashed (a random baseline).
        title: the figure title.

    Returns:
        the path written.
    """
    figure, axes = _figure(title, "IoM threshold", "recall")
    grid = np.asarray(thresholds, dtype=np.float64)
    _draw_curves(axes, {label: (grid, np.asarray(values)) for label, values in curves.items()}, dashed)
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.02)
    return _save(figure, path)
