"""The report's metric tables: per task of ``metrics.json``, each figure with the baselines that belong to it.

The sections are those :func:`~monai_weakloc.evaluation.evaluate_outputs` writes (``docs/outputs.md``, "Scoring a
folder"); a baseline that could not be placed (``{"missing": <why>}``) is shown with its reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["MetricRow", "task_rows"]

NO_SKILL = "no skill"
POINTING_BASELINE_NAMES = {
    "image_centre": "image centre",
    "most_frequent_lesion_position": "most frequent lesion position",
}


@dataclass(frozen=True)
class MetricRow:
    """One figure of a task.

    Attributes:
        name: what the figure is.
        value: its value (``None`` where undefined).
        baselines: ``(baseline name, its value or the reason it is missing)`` pairs.
    """

    name: str
    value: Any
    baselines: tuple[tuple[str, Any], ...] = ()


def _get(section: Any, *keys: str) -> Any:
    """``section[k0][k1]...``, ``None`` where a key is missing."""
    for key in keys:
        if not isinstance(section, Mapping) or key not in section:
            return None
        section = section[key]
    return section


def _grades(section: Mapping[str, Any]) -> list[MetricRow]:
    baselines = section.get("baselines", {})
    majority = f"majority class {baselines.get('majority_class')}"
    rows = [
        MetricRow("images", section["num_images"]),
        MetricRow(
            "quadratic weighted kappa",
            section["quadratic_weighted_kappa"],
            ((NO_SKILL, baselines.get("quadratic_weighted_kappa")),),
        ),
        MetricRow("accuracy", section["accuracy"], ((majority, baselines.get("majority_class_accuracy")),)),
        MetricRow("within-one accuracy", section["within_one_accuracy"]),
    ]
    auc_baseline = ((NO_SKILL, baselines.get("auc")),)
    for key, name in (
        ("auc_mean", "mean one-vs-rest AUC"),
        ("normal_auc", "normal AUC (grade >= 1)"),
        ("referable_auc", "referable AUC (grade >= 2)"),
    ):
        if key in section:
            rows.append(MetricRow(name, section[key], auc_baseline))
    return rows


def _labels(section: Mapping[str, Any]) -> list[MetricRow]:
    baseline = ((NO_SKILL, _get(section, "baselines", "auc")),)
    rows = [MetricRow("images", section["num_images"]), MetricRow("mean AUC", section["auc_mean"], baseline)]
    rows += [MetricRow(f"AUC {label}", value, baseline) for label, value in section.get("auc_per_label", {}).items()]
    return rows


def _boxes(section: Mapping[str, Any]) -> list[MetricRow]:
    threshold = section["iom_threshold"]
    rows = [
        MetricRow("images with lesion boxes", section["num_images"]),
        MetricRow("truth boxes", section["num_truth_boxes"]),
        MetricRow("predicted boxes", section["num_predicted_boxes"]),
    ]
    for key, name in (("box_recall", "recall for box"), ("person_recall", "recall for person")):
        baseline = (("random boxes", _get(section, "random_baseline", key)),) if "random_baseline" in section else ()
        rows.append(MetricRow(f"{name} at IoM {threshold:g}", section[key], baseline))
    for version in ("v1", "v2"):
        if f"max_box_accuracy_{version}" in section:
            rows.append(MetricRow(f"MaxBoxAcc {version}", section[f"max_box_accuracy_{version}"]))
    return rows


def _pointing_baselines(baselines: Mapping[str, Any], key: str) -> tuple[tuple[str, Any], ...]:
    """``(name, value of key)`` per pointing baseline, or ``(name, "missing: <why>")``."""
    pairs = []
    for baseline, values in baselines.items():
        value = f"missing: {values['missing']}" if "missing" in values else values.get(key)
        pairs.append((POINTING_BASELINE_NAMES.get(baseline, baseline), value))
    return tuple(pairs)


def _pointing(section: Mapping[str, Any]) -> list[MetricRow]:
    if "classes" not in section:
        baselines = section.get("baselines", {})
        return [
            MetricRow("positive images", section["num_positive_images"]),
            MetricRow("negative images", section["num_negative_images"]),
            MetricRow(
                f"pointing accuracy (tolerance {section['tolerance']:g} px)",
                section["pointing_accuracy"],
                _pointing_baselines(baselines, "pointing_accuracy"),
            ),
            MetricRow("localization AP", section["localization_ap"], _pointing_baselines(baselines, "localization_ap")),
        ]
    rows = [
        MetricRow("mean pointing accuracy over classes", section["mean_pointing_accuracy"]),
        MetricRow("mean localization AP over classes", section["mean_localization_ap"]),
    ]
    if "pooled" in section:
        pooled = section["pooled"]
        rows.append(
            MetricRow(
                f"pointing accuracy over {pooled['num_pairs']} (image, class) pairs",
                pooled["pointing_accuracy"],
                _pointing_baselines(pooled.get("baselines", {}), "pointing_accuracy"),
            )
        )
    for name, values in section["classes"].items():
        rows.append(
            MetricRow(
                f"pointing accuracy {name} ({values['num_positive_images']} positives)",
                values["pointing_accuracy"],
                _pointing_baselines(values.get("baselines", {}), "pointing_accuracy"),
            )
        )
    return rows


def _masks(section: Mapping[str, Any]) -> list[MetricRow]:
    pooling, threshold = section["pooling"], section["threshold"]
    no_skill = ((NO_SKILL, _get(section, "pixel_pr", pooling, "no_skill_average_precision")),)
    return [
        MetricRow("images", section["num_images"]),
        MetricRow(f"lesions ({section.get('mask_label', 'mask')})", section["num_lesions"]),
        MetricRow(f"pixel average precision ({pooling})", section["average_precision"], no_skill),
        MetricRow(f"pixel AUC-PR ({pooling})", section["auc_pr"]),
        MetricRow(f"F1 at {threshold:g}", section["f1"]),
        MetricRow(f"precision at {threshold:g}", section["precision"]),
        MetricRow(f"recall at {threshold:g}", section["recall"]),
        MetricRow("FROC score, CAMELYON16 points", section["froc_camelyon16"]),
        MetricRow("FROC score, ROC points", section["froc_roc"]),
    ]


TASK_ROWS: dict[str, Callable[[Mapping[str, Any]], list[MetricRow]]] = {
    "grades": _grades,
    "labels": _labels,
    "boxes": _boxes,
    "pointing": _pointing,
    "masks": _masks,
}


def task_rows(task: str, section: Mapping[str, Any]) -> list[MetricRow]:
    """The rows of one task's section of ``metrics.json``.

    Args:
        task: a task of :data:`~monai_weakloc.evaluation.EVALUATION_TASKS`.
        section: its section (a skipped task, ``{"skipped": <why>}``, has no rows).

    Returns:
        the figures, baselines beside them.

    Raises:
        ValueError: naming the task, for an unknown task or a section without the figures of its task.
    """
    if task not in TASK_ROWS:
        raise ValueError(f"metrics.json: unknown task {task!r} (known: {', '.join(TASK_ROWS)})")
    if "skipped" in section:
        return []
    try:
        return TASK_ROWS[task](section)
    except (KeyError, TypeError) as error:
        raise ValueError(
            f"metrics.json: the {task!r} section lacks {error}: not written by weakloc evaluate"
        ) from error
