"""Ignite handlers of the classification and box metrics on a tiny Engine run, and registry construction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from ignite.engine import Engine

from monai_weakloc.registry import Registry
from weakloc_metrics.box_accuracy import BoxAccuracyMetric, compute_box_accuracy
from weakloc_metrics.grading import (
    ClassConfusionMatrixMetric,
    QuadraticWeightedKappaMetric,
    SingleLabelAccuracyMetric,
    WithinOneGradeAccuracyMetric,
    compute_accuracy,
    compute_class_confusion_matrix,
    compute_quadratic_weighted_kappa,
    compute_within_one_grade_accuracy,
)
from weakloc_metrics.handlers import (
    BoxAccuracy,
    ClassConfusionMatrix,
    IoMRecall,
    MaxBoxAccuracy,
    PerClassROCAUC,
    QuadraticWeightedKappa,
    ReferableROCAUC,
    SensitivityAtSpecificity,
    SingleLabelAccuracy,
    WithinOneGradeAccuracy,
)
from weakloc_metrics.iom_recall import IoMRecallMetric, compute_iom_recall
from weakloc_metrics.maxboxacc import MaxBoxAccuracyMetric, compute_max_box_accuracy
from weakloc_metrics.roc import (
    PerClassROCAUCMetric,
    ReferableROCAUCMetric,
    SensitivityAtSpecificityMetric,
    compute_mean_roc_auc,
    compute_referable_roc_auc,
    compute_sensitivity_at_specificity,
)

RNG = np.random.default_rng(2024)
PROBABILITIES = torch.as_tensor(RNG.dirichlet(np.ones(5), size=24))
GRADES = torch.as_tensor(RNG.integers(0, 5, size=24))
BINARY_SCORES = PROBABILITIES[:, 2:].sum(dim=1)
BINARY_LABELS = (GRADES >= 2).long()


def _box_batches(columns: int) -> tuple[list[list[torch.Tensor]], list[list[torch.Tensor]]]:
    """Three batches of two images each; per image a few random boxes (and a class column if columns == 5)."""
    predicted, truth = [], []
    for _ in range(3):
        batch_predicted, batch_truth = [], []
        for _ in range(2):
            for target, count in ((batch_predicted, RNG.integers(0, 4)), (batch_truth, RNG.integers(1, 3))):
                boxes = np.column_stack([RNG.integers(0, 40, (count, 2)), RNG.integers(4, 24, (count, 2))])
                if columns == 5:
                    boxes = np.column_stack([RNG.integers(0, 2, count), boxes])
                target.append(torch.as_tensor(boxes, dtype=torch.float32))
        predicted.append(batch_predicted)
        truth.append(batch_truth)
    return predicted, truth


def _heatmap_batches() -> tuple[list[torch.Tensor], list[list[torch.Tensor]]]:
    heatmaps, truth = [], []
    for _ in range(2):
        maps = torch.zeros(2, 1, 32, 32)
        boxes = []
        for i in range(2):
            x, y = (int(v) for v in RNG.integers(0, 20, 2))
            maps[i, 0, y : y + 10, x : x + 10] = 1.0
            maps[i, 0] += torch.as_tensor(RNG.random((32, 32)) * 0.5, dtype=torch.float32)
            boxes.append(torch.tensor([[x + 3.0, y, 10, 10]]))
        heatmaps.append(maps)
        truth.append(boxes)
    return heatmaps, truth


def _split(values: torch.Tensor) -> list[torch.Tensor]:
    return list(values.split(10))


BOX_PREDICTED, BOX_TRUTH = _box_batches(4)
LABELLED_PREDICTED, LABELLED_TRUTH = _box_batches(5)
HEATMAPS, HEATMAP_TRUTH = _heatmap_batches()


def _flat(batches: list[list[torch.Tensor]]) -> list[torch.Tensor]:
    return [item for batch in batches for item in batch]


CASES: list[tuple[Any, list, list, Callable[[], Any]]] = [
    (
        QuadraticWeightedKappa(num_classes=5),
        _split(PROBABILITIES),
        _split(GRADES),
        lambda: compute_quadratic_weighted_kappa(PROBABILITIES, GRADES, 5),
    ),
    (SingleLabelAccuracy(), _split(PROBABILITIES), _split(GRADES), lambda: compute_accuracy(PROBABILITIES, GRADES)),
    (
        WithinOneGradeAccuracy(),
        _split(PROBABILITIES),
        _split(GRADES),
        lambda: compute_within_one_grade_accuracy(PROBABILITIES, GRADES),
    ),
    (
        ClassConfusionMatrix(num_classes=5),
        _split(PROBABILITIES),
        _split(GRADES),
        lambda: compute_class_confusion_matrix(PROBABILITIES, GRADES, 5),
    ),
    (PerClassROCAUC(), _split(PROBABILITIES), _split(GRADES), lambda: compute_mean_roc_auc(PROBABILITIES, GRADES)),
    (
        SensitivityAtSpecificity(specificity=0.5),
        _split(BINARY_SCORES),
        _split(BINARY_LABELS),
        lambda: compute_sensitivity_at_specificity(BINARY_SCORES, BINARY_LABELS, 0.5),
    ),
    (
        ReferableROCAUC(min_grade=2),
        _split(PROBABILITIES),
        _split(GRADES),
        lambda: compute_referable_roc_auc(PROBABILITIES, GRADES, 2),
    ),
    (
        IoMRecall(threshold=0.3, recall="person"),
        BOX_PREDICTED,
        BOX_TRUTH,
        lambda: compute_iom_recall(_flat(BOX_PREDICTED), _flat(BOX_TRUTH), 0.3)[1],
    ),
    (
        BoxAccuracy(num_classes=2, overlap="iobb", threshold=0.25),
        LABELLED_PREDICTED,
        LABELLED_TRUTH,
        lambda: np.nanmean(
            compute_box_accuracy(_flat(LABELLED_PREDICTED), _flat(LABELLED_TRUTH), 2, "iobb").accuracy[:, 1]
        ),
    ),
    (
        MaxBoxAccuracy(version=2),
        HEATMAPS,
        HEATMAP_TRUTH,
        lambda: compute_max_box_accuracy(torch.cat(HEATMAPS), _flat(HEATMAP_TRUTH), version=2),
    ),
]


@pytest.mark.parametrize(("handler", "predictions", "truths", "expected"), CASES, ids=lambda c: type(c).__name__)
def test_handler_on_engine_run_equals_function(handler, predictions: list, truths: list, expected) -> None:
    engine = Engine(lambda _engine, batch: batch)
    handler.attach(engine, "metric")
    engine.run(list(zip(predictions, truths)), max_epochs=1)
    np.testing.assert_allclose(engine.state.metrics["metric"], expected())


@pytest.mark.parametrize(
    ("name", "kwargs", "cls"),
    [
        ("quadratic_weighted_kappa", {"num_classes": 5}, QuadraticWeightedKappaMetric),
        ("accuracy", {}, SingleLabelAccuracyMetric),
        ("within_one_grade_accuracy", {}, WithinOneGradeAccuracyMetric),
        ("confusion_matrix", {"num_classes": 5}, ClassConfusionMatrixMetric),
        ("roc_auc", {"average": "none"}, PerClassROCAUCMetric),
        ("sensitivity_at_specificity", {"specificity": 0.5}, SensitivityAtSpecificityMetric),
        ("referable_roc_auc", {"min_grade": 1}, ReferableROCAUCMetric),
        ("iom_recall", {"threshold": 0.3}, IoMRecallMetric),
        ("box_accuracy", {"num_classes": 14}, BoxAccuracyMetric),
        ("max_box_accuracy", {"version": 1}, MaxBoxAccuracyMetric),
        ("quadratic_weighted_kappa_handler", {"num_classes": 5}, QuadraticWeightedKappa),
        ("accuracy_handler", {}, SingleLabelAccuracy),
    ],
)
def test_registry_builds_each_metric_by_name(name: str, kwargs: dict, cls: type) -> None:
    registry = Registry()
    metric = registry.create("metric", name, **kwargs)
    assert isinstance(metric, cls)
    assert registry.owner("metric", name) == "weakloc_metrics"
