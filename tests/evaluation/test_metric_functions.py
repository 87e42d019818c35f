"""Evaluation looks its metric functions up in the registry: a plugin replaces one by name, a missing one is named."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from monai_weakloc import registry as registry_module
from monai_weakloc.evaluation import evaluate_grades
from monai_weakloc.evaluation.metric_functions import metric_function
from monai_weakloc.registry import Registry
from weakloc_metrics.grading import compute_quadratic_weighted_kappa
from weakloc_metrics.plugin import register as register_weakloc_metrics

TRUTH_GRADES = [0, 1, 2, 2, 4, 0]
PREDICTED_GRADES = [0, 1, 1, 2, 4, 1]
PLUGIN_GROUP = "tests.metric_functions.plugins"


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> Registry:
    """A fresh registry that finds no plugin by entry points, in place of the global one the evaluation uses."""
    fresh = Registry(entry_point_group="no.such.group")
    monkeypatch.setattr(registry_module, "REGISTRY", fresh)
    return fresh


def write_grade_tables(folder: Path) -> tuple[Path, Path]:
    ids = [f"{index}_left" for index in range(len(TRUTH_GRADES))]
    truth = folder / "truth.csv"
    truth.write_text("image,level\n" + "".join(f"{i},{g}\n" for i, g in zip(ids, TRUTH_GRADES)), encoding="utf-8")
    pred = folder / "pred.csv"
    pred.write_text("image,level\n" + "".join(f"{i},{g}\n" for i, g in zip(ids, PREDICTED_GRADES)), encoding="utf-8")
    return truth, pred


def test_the_installed_plugin_provides_the_functions() -> None:
    assert metric_function("compute_quadratic_weighted_kappa") is compute_quadratic_weighted_kappa
    assert registry_module.REGISTRY.owner("metric", "compute_quadratic_weighted_kappa") == "weakloc_metrics"


def test_a_plugin_replaces_a_metric_by_name(registry: Registry, tmp_path: Path) -> None:
    calls: list[tuple[Any, Any, int]] = []

    def constant_kappa(y_pred: Any, y: Any, num_classes: int) -> float:
        calls.append((y_pred, y, num_classes))
        return 0.25

    def register_third_party(target: Registry) -> None:
        target.unregister("metric", "compute_quadratic_weighted_kappa")
        target.register("metric", "compute_quadratic_weighted_kappa", constant_kappa)

    register_weakloc_metrics(registry)
    register_third_party(registry)
    metrics = evaluate_grades(*write_grade_tables(tmp_path), num_classes=5)
    assert metrics["quadratic_weighted_kappa"] == 0.25
    [(y_pred, y, num_classes)] = calls
    np.testing.assert_array_equal(y_pred, PREDICTED_GRADES)
    np.testing.assert_array_equal(y, TRUTH_GRADES)
    assert num_classes == 5
    assert metrics["accuracy"] == pytest.approx(np.mean(np.equal(PREDICTED_GRADES, TRUTH_GRADES)))  # still the plugin's


def test_a_missing_metric_names_the_metric_and_the_plugin(registry: Registry, tmp_path: Path) -> None:
    expected = (
        r"metric 'compute_quadratic_weighted_kappa'.*metrics plugin 'weakloc_metrics'"
        r".*pip install -e plugins/weakloc_metrics"
    )
    with pytest.raises(ImportError, match=expected):
        metric_function("compute_quadratic_weighted_kappa")
    register_weakloc_metrics(registry)
    registry.unregister("metric", "compute_quadratic_weighted_kappa")
    with pytest.raises(ImportError, match=expected):
        evaluate_grades(*write_grade_tables(tmp_path), num_classes=5)


def test_a_plugin_that_failed_to_load_points_at_the_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = importlib.metadata.EntryPoint("weakloc_metrics", "no_such_module_of_weakloc:register", PLUGIN_GROUP)
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: [broken] if group == PLUGIN_GROUP else [])
    monkeypatch.setattr(registry_module, "REGISTRY", Registry(entry_point_group=PLUGIN_GROUP))
    with pytest.raises(ImportError, match="metric 'compute_accuracy'") as raised:
        metric_function("compute_accuracy")
    message = str(raised.value)
    assert "failed to load: weakloc_metrics (ModuleNotFoundError" in message
    assert "weakloc plugins list --traceback" in message
    assert "pip install" not in message
