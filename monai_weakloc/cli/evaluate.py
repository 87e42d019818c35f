"""``weakloc evaluate``: metrics of saved predictions against truth, written as ``metrics.json`` and plots.

Each command calls the matching function of :mod:`monai_weakloc.evaluation`, prints a short table of the
main numbers and the files written. Bad input (a missing file or column, a non-numeric cell, duplicate or
unmatched ids) ends with exit status 1 and a message naming the file on stderr.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from monai_weakloc.cli.data_check import parse_options
from monai_weakloc.data.readers.dispatch import READERS
from monai_weakloc.evaluation import (
    EVALUATION_TASKS,
    dataset_truth,
    evaluate_boxes,
    evaluate_grades,
    evaluate_labels,
    evaluate_masks,
    evaluate_outputs,
    evaluate_pointing,
    headline_figures,
    read_image_sizes,
)
from monai_weakloc.evaluation.tables import read_box_table

DIRECTORY = click.Path(file_okay=False, path_type=Path)
CSV_FILE = click.Path(dir_okay=False, path_type=Path)
OVERLAP_THRESHOLD_SHOWN = 0.5
OVERLAP_NAMES = {"iobb": "IoBB", "iou": "IoU"}


@contextmanager
def input_errors_as_click_errors() -> Iterator[None]:
    """Turn the evaluation's errors about its input into ``click.ClickException`` (stderr, exit status 1)."""
    try:
        yield
    except (ValueError, OSError, ImportError) as error:
        raise click.ClickException(str(error)) from error


def format_value(value: Any) -> str:
    """A table cell: floats with 4 decimals, NaN/None as ``n/a``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def echo_table(rows: Sequence[tuple[str, Any]], out_dir: Path) -> None:
    """Print ``name  value`` rows with the names padded to one width, then where the results went."""
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        click.echo(f"{name.ljust(width)}  {format_value(value)}")
    click.echo(f"wrote {out_dir / 'metrics.json'} and plots to {out_dir}")


def mean_accuracy_at(overlap_table: dict[str, Any], threshold: float) -> float:
    """Mean box accuracy at ``threshold`` over the labels that have images, from ``box_accuracy[overlap]``."""
    column = [round(float(t), 6) for t in overlap_table["thresholds"]].index(threshold)
    values = [
        float(accuracy[column])
        for label, accuracy in overlap_table["accuracy"].items()
        if overlap_table["num_images"][label] > 0
    ]
    return sum(values) / len(values) if values else float("nan")


@click.group()
def evaluate() -> None:
    """Evaluate saved predictions: a folder of the output contract by task, or grades, boxes and heatmaps,
    segmentation maps, multi-label scores and pointing one table at a time."""


@evaluate.command()
@click.option("--truth", required=True, type=CSV_FILE, help="Truth CSV: image,level.")
@click.option("--pred", required=True, type=CSV_FILE, help="Prediction CSV: image,level[,prob_0..prob_{K-1}].")
@click.option(
    "--num-classes", type=click.IntRange(min=2), default=None, help="Number of grades K (default: from the tables)."
)
@click.option("--out", "out_dir", required=True, type=DIRECTORY, help="Folder for metrics.json and the plots.")
def grades(truth: Path, pred: Path, num_classes: int | None, out_dir: Path) -> None:
    """Kappa, accuracy, confusion matrix and (with probabilities) AUCs of predicted grades."""
    with input_errors_as_click_errors():
        metrics = evaluate_grades(truth, pred, out_dir=out_dir, num_classes=num_classes)
    rows: list[tuple[str, Any]] = [
        ("images", metrics["num_images"]),
        ("grades", metrics["num_classes"]),
        ("quadratic weighted kappa", metrics["quadratic_weighted_kappa"]),
        ("accuracy", metrics["accuracy"]),
        ("within-one accuracy", metrics["within_one_accuracy"]),
    ]
    if "auc_mean" in metrics:
        rows.append(("mean one-vs-rest AUC", metrics["auc_mean"]))
        for task in ("normal", "referable"):
            if f"{task}_auc" in metrics:
                rows.append((f"{task} AUC", metrics[f"{task}_auc"]))
                name = f"{task} sensitivity at specificity {metrics['specificity']}"
                rows.append((name, metrics[f"{task}_sensitivity_at_specificity"]))
    echo_table(rows, out_dir)


@evaluate.command()
@click.option("--truth", required=True, type=CSV_FILE, help="Truth lesion boxes CSV: image,label,x,y,w,h.")
@click.option("--pred", required=True, type=CSV_FILE, help="Predicted boxes CSV: image,label,x,y,w,h[,score].")
@click.option(
    "--heatmaps",
    type=DIRECTORY,
    default=None,
    help="Folder of heatmaps <image>.png or <image>_<name>.png/.nii.gz/.npy, for MaxBoxAcc.",
)
@click.option(
    "--num-boxes",
    type=click.IntRange(min=1),
    default=None,
    help="Keep the top N predicted boxes per image by score (default: all).",
)
@click.option(
    "--iom-threshold",
    type=click.FloatRange(0.0, 1.0, min_open=True),
    default=0.3,
    show_default=True,
    help="IoM threshold of the reported recalls.",
)
@click.option(
    "--images",
    type=DIRECTORY,
    default=None,
    help="Image folder, to read image sizes for the random baseline (headers only).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random baseline.")
@click.option(
    "--random-draws",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Random-box draws the baseline is averaged over.",
)
@click.option("--out", "out_dir", required=True, type=DIRECTORY, help="Folder for metrics.json and the plots.")
def boxes(
    truth: Path,
    pred: Path,
    heatmaps: Path | None,
    num_boxes: int | None,
    iom_threshold: float,
    images: Path | None,
    seed: int,
    random_draws: int,
    out_dir: Path,
) -> None:
    """IoM recall for box and person, box accuracy at IoBB/IoU thresholds, MaxBoxAcc of heatmaps."""
    with input_errors_as_click_errors():
        image_sizes = None
        if images is not None:
            image_sizes = read_image_sizes(images, read_box_table(truth, "truth").boxes)
        metrics = evaluate_boxes(
            truth,
            pred,
            out_dir=out_dir,
            heatmaps_dir=heatmaps,
            num_boxes=num_boxes,
            iom_threshold=iom_threshold,
            image_sizes=image_sizes,
            random_seed=seed,
            random_draws=random_draws,
        )
    threshold = metrics["iom_threshold"]
    rows: list[tuple[str, Any]] = [
        ("images", metrics["num_images"]),
        ("truth boxes", metrics["num_truth_boxes"]),
        ("predicted boxes", metrics["num_predicted_boxes"]),
        (f"recall for box at IoM {threshold}", metrics["box_recall"]),
        (f"recall for person at IoM {threshold}", metrics["person_recall"]),
    ]
    if "random_baseline" in metrics:
        rows.append((f"random baseline, box at IoM {threshold}", metrics["random_baseline"]["box_recall"]))
        rows.append((f"random baseline, person at IoM {threshold}", metrics["random_baseline"]["person_recall"]))
    for overlap, name in OVERLAP_NAMES.items():
        accuracy = mean_accuracy_at(metrics["box_accuracy"][overlap], OVERLAP_THRESHOLD_SHOWN)
        rows.append((f"accuracy at {name} {OVERLAP_THRESHOLD_SHOWN} (mean over labels)", accuracy))
    if "max_box_accuracy_v1" in metrics:
        rows.append(("MaxBoxAcc v1", metrics["max_box_accuracy_v1"]))
        rows.append(("MaxBoxAcc v2", metrics["max_box_accuracy_v2"]))
    echo_table(rows, out_dir)


@evaluate.command()
@click.option("--truth", required=True, type=DIRECTORY, help="Folder of truth masks (any channel > 0 is lesion).")
@click.option(
    "--pred",
    required=True,
    type=DIRECTORY,
    help="Folder of probability maps named as the masks (8-bit PNG/TIFF, NIfTI, .npy).",
)
@click.option(
    "--threshold",
    type=click.FloatRange(0.0, 1.0),
    default=0.5,
    show_default=True,
    help="Pixel threshold of F1, precision and recall.",
)
@click.option(
    "--pooling",
    type=click.Choice(["all", "mean"]),
    default="all",
    show_default=True,
    help="Pool all pixels, or average per-image values.",
)
@click.option(
    "--eval-thresholds",
    type=click.Choice(["roc", "camelyon16"]),
    default="roc",
    show_default=True,
    help="FROC operating points of the FROC score.",
)
@click.option(
    "--detection-threshold",
    type=click.FloatRange(0.0, 1.0, min_open=True),
    default=0.5,
    show_default=True,
    help="Map pixels at or above it form FROC detections.",
)
@click.option("--out", "out_dir", required=True, type=DIRECTORY, help="Folder for metrics.json and the plots.")
def masks(
    truth: Path,
    pred: Path,
    threshold: float,
    pooling: str,
    eval_thresholds: str,
    detection_threshold: float,
    out_dir: Path,
) -> None:
    """Pixel precision-recall (AP, AUC-PR, F1) and lesion FROC of segmentation probability maps."""
    with input_errors_as_click_errors():
        metrics = evaluate_masks(
            truth,
            pred,
            out_dir=out_dir,
            threshold=threshold,
            pooling=pooling,
            eval_thresholds=eval_thresholds,
            detection_threshold=detection_threshold,
        )
    echo_table(
        [
            ("images", metrics["num_images"]),
            ("lesions", metrics["num_lesions"]),
            (f"average precision ({pooling})", metrics["average_precision"]),
            (f"AUC-PR trapezoid ({pooling})", metrics["auc_pr"]),
            (f"F1 at {threshold}", metrics["f1"]),
            (f"precision at {threshold}", metrics["precision"]),
            (f"recall at {threshold}", metrics["recall"]),
            ("FROC score, CAMELYON16 points", metrics["froc_camelyon16"]),
            ("FROC score, ROC points", metrics["froc_roc"]),
        ],
        out_dir,
    )


@evaluate.command()
@click.option(
    "--truth", required=True, type=CSV_FILE, help="Truth CSV: Image Index,Finding Labels or image,<label1>,... of 0/1."
)
@click.option("--pred", required=True, type=CSV_FILE, help="Prediction CSV: image,<label1>,... of scores.")
@click.option("--out", "out_dir", required=True, type=DIRECTORY, help="Folder for metrics.json and the plot.")
def labels(truth: Path, pred: Path, out_dir: Path) -> None:
    """Per-label and mean ROC AUC of multi-label scores."""
    with input_errors_as_click_errors():
        metrics = evaluate_labels(truth, pred, out_dir=out_dir)
    rows: list[tuple[str, Any]] = [("images", metrics["num_images"])]
    rows += [(f"AUC {label}", auc) for label, auc in metrics["auc_per_label"].items()]
    rows.append(("mean AUC", metrics["auc_mean"]))
    echo_table(rows, out_dir)


@evaluate.command()
@click.option(
    "--truth", required=True, type=CSV_FILE, help="Truth lesion boxes CSV: image,label,x,y,w,h (images are positive)."
)
@click.option(
    "--pred",
    required=True,
    type=CSV_FILE,
    help="Prediction CSV of every image: image,prob or image,level,prob_0,prob_1 (images without boxes are negative).",
)
@click.option(
    "--heatmaps",
    required=True,
    type=DIRECTORY,
    help="Folder of positive-class heatmaps <image>.png or <image>_<name>.png/.nii.gz/.npy (summed).",
)
@click.option(
    "--tolerance",
    type=click.FloatRange(min=0.0),
    default=16.0,
    show_default=True,
    help="Enlargement of the truth boxes in pixels.",
)
@click.option(
    "--images",
    type=DIRECTORY,
    default=None,
    help="Image folder, to read image sizes (headers only) and upsample the heatmaps bilinearly to them.",
)
@click.option("--out", "out_dir", required=True, type=DIRECTORY, help="Folder for metrics.json and the plot.")
def pointing(truth: Path, pred: Path, heatmaps: Path, tolerance: float, images: Path | None, out_dir: Path) -> None:
    """STL localization AP and pointing accuracy: does each positive's heatmap peak in a truth box?"""
    with input_errors_as_click_errors():
        image_sizes = None
        if images is not None:
            image_sizes = read_image_sizes(images, read_box_table(truth, "truth").boxes)
        metrics = evaluate_pointing(
            truth, pred, heatmaps, out_dir=out_dir, tolerance=tolerance, image_sizes=image_sizes
        )
    echo_table(
        [
            ("images", metrics["num_images"]),
            ("positive images", metrics["num_positive_images"]),
            ("negative images", metrics["num_negative_images"]),
            ("correct points", metrics["num_correct_points"]),
            ("tolerance (px)", f"{metrics['tolerance']:g}"),
            ("localization AP", metrics["localization_ap"]),
            ("pointing accuracy", metrics["pointing_accuracy"]),
        ],
        out_dir,
    )


@evaluate.command()
@click.argument("output_dir", metavar="OUTPUT_DIR", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--layout", required=True, type=click.Choice(list(READERS)), help="The dataset's layout.")
@click.option(
    "--dataset", "dataset_dir", required=True, type=click.Path(exists=True, path_type=Path), help="The dataset folder."
)
@click.option("--split", default=None, help="The evaluated split (train, val, test; default: every image).")
@click.option(
    "--task",
    "tasks",
    multiple=True,
    required=True,
    type=click.Choice(list(EVALUATION_TASKS)),
    help="A task to run; repeatable.",
)
@click.option(
    "--train-split", default=None, help="The training split, for the most frequent lesion position (pointing)."
)
@click.option(
    "--lesion-boxes", type=CSV_FILE, default=None, help="Lesion-box CSV image,label,x,y,w,h (default: the dataset's)."
)
@click.option(
    "--masks", "masks_dir", type=DIRECTORY, default=None, help="Folder of truth masks <image>[_<label>].<ext>."
)
@click.option("--mask-label", default="MA", show_default=True, help="The lesion of masks/<image>_<label> scored.")
@click.option(
    "-o",
    "--option",
    "pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="A reader option, e.g. task=grading; repeatable.",
)
@click.option(
    "--num-boxes", type=click.IntRange(min=1), default=None, help="Top boxes per image by score (default: all)."
)
@click.option(
    "--tolerance", type=click.FloatRange(min=0.0), default=16.0, show_default=True, help="Pointing tolerance (px)."
)
@click.option(
    "--out", "out_dir", type=DIRECTORY, default=None, help="Folder for metrics.json and plots (default: OUTPUT_DIR)."
)
def outputs(
    output_dir: Path,
    layout: str,
    dataset_dir: Path,
    split: str | None,
    tasks: tuple[str, ...],
    train_split: str | None,
    lesion_boxes: Path | None,
    masks_dir: Path | None,
    mask_label: str,
    pairs: tuple[str, ...],
    num_boxes: int | None,
    tolerance: float,
    out_dir: Path | None,
) -> None:
    """Score a folder of the output contract (docs/outputs.md) by task, the truth read with the dataset's reader.

    Writes one metrics.json (a section per task) and the plots, and prints each task's main figures beside
    their baselines.
    """
    options = parse_options(layout, pairs)
    folder = output_dir if out_dir is None else out_dir
    with input_errors_as_click_errors():
        truth = dataset_truth(
            layout,
            dataset_dir,
            work_dir=folder / "truth",
            split=split,
            train_split=train_split,
            lesion_boxes_csv=lesion_boxes,
            masks_dir=masks_dir,
            mask_label=mask_label,
            **options,
        )
        metrics = evaluate_outputs(
            output_dir,
            truth,
            list(dict.fromkeys(tasks)),
            out_dir=folder,
            num_boxes=num_boxes,
            tolerance=tolerance,
            mask_label=mask_label,
        )
    rows: list[tuple[str, Any]] = [
        (f"{task}: {name}", value)
        for task, figures in headline_figures(metrics).items()
        for name, value in figures.items()
    ]
    echo_table(rows, folder)
