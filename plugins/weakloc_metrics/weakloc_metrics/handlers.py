"""Ignite handlers of the plugin's metrics: each only builds its metric class, as ``monai.handlers.ROCAUC`` does.

Attach one to an engine with ``handler.attach(engine, "name")``; after the run ``engine.state.metrics["name"]``
holds the metric's ``aggregate()`` value. ``output_transform`` maps ``engine.state.output`` to the
``(y_pred, y)`` pair the metric takes (e.g. ``monai.handlers.from_engine(["pred", "label"])``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from monai.handlers import IgniteMetricHandler

from weakloc_metrics.box_accuracy import BoxAccuracyMetric
from weakloc_metrics.froc import HeatmapFROCMetric
from weakloc_metrics.grading import (
    ClassConfusionMatrixMetric,
    QuadraticWeightedKappaMetric,
    SingleLabelAccuracyMetric,
    WithinOneGradeAccuracyMetric,
)
from weakloc_metrics.iom_recall import DEFAULT_IOM_THRESHOLDS, IoMRecallMetric
from weakloc_metrics.maxboxacc import DEFAULT_CAM_THRESHOLDS, MaxBoxAccuracyMetric
from weakloc_metrics.pointing import PointingLocalizationMetric
from weakloc_metrics.roc import PerClassROCAUCMetric, ReferableROCAUCMetric, SensitivityAtSpecificityMetric
from weakloc_metrics.segmentation_pr import PixelPRMetric

__all__ = [
    "QuadraticWeightedKappa",
    "SingleLabelAccuracy",
    "WithinOneGradeAccuracy",
    "ClassConfusionMatrix",
    "PerClassROCAUC",
    "SensitivityAtSpecificity",
    "ReferableROCAUC",
    "IoMRecall",
    "BoxAccuracy",
    "MaxBoxAccuracy",
    "HeatmapFROC",
    "PixelPR",
    "PointingLocalization",
]


def _identity(output: Any) -> Any:
    return output


class QuadraticWeightedKappa(IgniteMetricHandler):
    """Quadratic weighted kappa; see :class:`weakloc_metrics.grading.QuadraticWeightedKappaMetric`."""

    def __init__(self, num_classes: int, output_transform: Callable = _identity) -> None:
        metric_fn = QuadraticWeightedKappaMetric(num_classes=num_classes)
        super().__init__(metric_fn=metric_fn, output_transform=output_transform, save_details=False)


class SingleLabelAccuracy(IgniteMetricHandler):
    """Accuracy; see :class:`weakloc_metrics.grading.SingleLabelAccuracyMetric`."""

    def __init__(self, output_transform: Callable = _identity) -> None:
        super().__init__(metric_fn=SingleLabelAccuracyMetric(), output_transform=output_transform, save_details=False)


class WithinOneGradeAccuracy(IgniteMetricHandler):
    """Within-one-grade accuracy; see :class:`weakloc_metrics.grading.WithinOneGradeAccuracyMetric`."""

    def __init__(self, output_transform: Callable = _identity) -> None:
        metric_fn = WithinOneGradeAccuracyMetric()
        super().__init__(metric_fn=metric_fn, output_transform=output_transform, save_details=False)


class ClassConfusionMatrix(IgniteMetricHandler):
    """(K, K) confusion matrix; see :class:`weakloc_metrics.grading.ClassConfusionMatrixMetric`."""

    def __init__(self, num_classes: int, output_transform: Callable = _identity) -> None:
        metric_fn = ClassConfusionMatrixMetric(num_classes=num_classes)
        super().__init__(metric_fn=metric_fn, output_transform=output_transform, save_details=False)


class PerClassROCAUC(IgniteMetricHandler):
    """Mean or per-class ROC AUC; see :class:`weakloc_metrics.roc.PerClassROCAUCMetric`."""

    def __init__(self, average: str = "macro", output_transform: Callable = _identity) -> None:
        metric_fn = PerClassROCAUCMetric(average=average)
        super().__init__(metric_fn=metric_fn, output_transform=output_transform, save_details=False)


class SensitivityAtSpecificity(IgniteMetricHandler):
    """Sensitivity at a specificity; see :class:`weakloc_metrics.roc.SensitivityAtSpecificityMetric`."""

    def __init__(self, specificity: float = 0.5, output_transform: Callable = _identity) -> None:
        metric_fn = SensitivityAtSpecificityMetric(specificity=specificity)
        super().__init__(metric_fn=metric_fn, output_transform=output_transform, save_details=False)


class ReferableROCAUC(IgniteMetricHandler):
    """AUC of grade >= ``min_grade``; see :class:`weakloc_metrics.roc.ReferableROCAUCMetric`."""

    def __init__(self, min_grade: int = 2, output_transform: Callable = _identity) -> None:
        metric_fn = ReferableROCAUCMetric(min_grade=min_grade)
        super().__init__(metric_fn=metric_fn, output_transform=output_transform, save_details=False)


class IoMRecall(IgniteMetricHandler):
    """Zoom-in-Net recall for box or person; see :class:`weakloc_metrics.iom_recall.IoMRecallMetric`."""

    def __init__(
        self,
        threshold: float = 0.3,
        recall: str = "box",
        thresholds: Any = DEFAULT_IOM_THRESHOLDS,
        output_transform: Callable = _identity,
    ) -> None:
        metric_fn = IoMRecallMetric(threshold=threshold, recall=recall, thresholds=thresholds)
        super().__init__(metric_fn=metric_fn, output_transform=output_transform, save_details=False)


class BoxAccuracy(IgniteMetricHandler):
    """ChestX-ray14 mean box accuracy; see :class:`weakloc_metrics.box_accuracy.BoxAccuracyMetric`."""

    def __init__(
        self,
        num_classes: int,
        overlap: str = "iobb",
        thresholds: Any | None = None,
        threshold: float = 0.5,
        output_transform: Callable = _identity,
    ) -> None:
        metric_fn = BoxAccuracyMetric(
            num_classes=num_classes, overlap=overlap, thresholds=thresholds, threshold=threshold
        )
        super().__init__(metric_fn=metric_fn, output_transform=output_transform, save_details=False)


class MaxBoxAccuracy(IgniteMetricHandler):
    """MaxBoxAcc v1/v2; see :class:`weakloc_metrics.maxboxacc.MaxBoxAccuracyMetric`."""

    def __init__(
        self, version: int = 2, cam_thresholds: Any = DEFAULT_CAM_THRESHOLDS, output_transform: Callable = _identity
    ) -> None:
        metric_fn = MaxBoxAccuracyMetric(version=version, cam_thresholds=cam_thresholds)
        super().__init__(metric_fn=metric_fn, output_transform=output_transform, save_details=False)


class HeatmapFROC(IgniteMetricHandler):
    """Lesion-level FROC score of probability maps; see :class:`weakloc_metrics.froc.HeatmapFROCMetric`."""

    def __init__(
        self,
        detection_threshold: float = 0.5,
        eval_thresholds: str | Sequence[float] = "camelyon16",
        connectivity: int = 2,
        output_transform: Callable = _identity,
    ) -> None:
        metric_fn = HeatmapFROCMetric(
            detection_threshold=detection_threshold, eval_thresholds=eval_thresholds, connectivity=connectivity
        )
        super().__init__(metric_fn=metric_fn, output_transform=output_transform, save_details=False)


class PixelPR(IgniteMetricHandler):
    """Pixel-level AP, AUC-PR, F1, precision or recall; see :class:`weakloc_metrics.segmentation_pr.PixelPRMetric`."""

    def __init__(
        self,
        threshold: float = 0.5,
        pooling: str = "all",
        num_bins: int | None = 1000,
        metric_name: str = "average_precision",
        output_transform: Callable = _identity,
    ) -> None:
        metric_fn = PixelPRMetric(threshold=threshold, pooling=pooling, num_bins=num_bins, metric_name=metric_name)
        super().__init__(metric_fn=metric_fn, output_transform=output_transform, save_details=False)


class PointingLocalization(IgniteMetricHandler):
    """STL localization AP or pointing accuracy; see :class:`weakloc_metrics.pointing.PointingLocalizationMetric`.

    ``output_transform`` must give ``((positive_probs, activation_maps), masks)``.
    """

    def __init__(
        self, tolerance: float = 16.0, metric_name: str = "localization_ap", output_transform: Callable = _identity
    ) -> None:
        metric_fn = PointingLocalizationMetric(tolerance=tolerance, metric_name=metric_name)
        super().__init__(metric_fn=metric_fn, output_transform=output_transform, save_details=False)
