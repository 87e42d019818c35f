"""The headline figures of an evaluation by task, each beside the baseline that knows nothing.

:func:`~monai_weakloc.evaluation.evaluate_outputs` writes every figure to ``metrics.json``; a bundle's
evaluation and ``weakloc evaluate outputs`` print these few, so that a reader sees at once whether the method
beats its baselines.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["headline_figures"]


def _get(section: Mapping[str, Any], *keys: str) -> Any:
    """``section[k0][k1]...``, ``None`` where a key is missing (a baseline that could not be placed)."""
    value: Any = section
    for key in keys:
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


def _grades(section: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "quadratic_weighted_kappa": section["quadratic_weighted_kappa"],
        "accuracy": section["accuracy"],
        "majority_class_accuracy (baseline)": _get(section, "baselines", "majority_class_accuracy"),
        "auc_mean": section.get("auc_mean"),
        "referable_auc": section.get("referable_auc"),
    }


def _labels(section: Mapping[str, Any]) -> dict[str, Any]:
    return {"auc_mean": section["auc_mean"], "auc (baseline)": _get(section, "baselines", "auc")}


def _boxes(section: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "box_recall": section["box_recall"],
        "random_box_recall (baseline)": _get(section, "random_baseline", "box_recall"),
        "person_recall": section["person_recall"],
        "random_person_recall (baseline)": _get(section, "random_baseline", "person_recall"),
        "max_box_accuracy_v2": section.get("max_box_accuracy_v2"),
    }


def _pointing(section: Mapping[str, Any]) -> dict[str, Any]:
    if "classes" in section:
        return {
            "mean_pointing_accuracy": section["mean_pointing_accuracy"],
            "mean_localization_ap": section["mean_localization_ap"],
        }
    return {
        "pointing_accuracy": section["pointing_accuracy"],
        "image_centre_pointing_accuracy (baseline)": _get(section, "baselines", "image_centre", "pointing_accuracy"),
        "lesion_position_pointing_accuracy (baseline)": _get(
            section, "baselines", "most_frequent_lesion_position", "pointing_accuracy"
        ),
        "localization_ap": section["localization_ap"],
    }


def _masks(section: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "average_precision": section["average_precision"],
        "no_skill_average_precision (baseline)": _get(
            section, "pixel_pr", section["pooling"], "no_skill_average_precision"
        ),
        "f1": section["f1"],
        "froc_score": section["froc_score"],
    }


HEADLINES = {"grades": _grades, "labels": _labels, "boxes": _boxes, "pointing": _pointing, "masks": _masks}


def headline_figures(metrics: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The main figures of each task of ``metrics`` (as :func:`~monai_weakloc.evaluation.evaluate_outputs`
    returns them), baselines marked ``(baseline)``.

    Args:
        metrics: ``{"tasks": [...], <task>: <section>, ...}``.

    Returns:
        task -> figure name -> value (``None`` where undefined); a skipped task gives ``{"skipped": <why>}``.

    Raises:
        ValueError: when ``metrics`` has no ``tasks`` list.
    """
    if not isinstance(metrics.get("tasks"), list):
        raise ValueError("headline_figures: metrics has no 'tasks' list: not the result of evaluate_outputs")
    figures = {}
    for task in metrics["tasks"]:
        section = metrics[task]
        figures[task] = {"skipped": section["skipped"]} if "skipped" in section else HEADLINES[task](section)
    return figures
