"""The saliency-crop method's decision threshold, set by a two-class support vector machine (scikit-learn).

The paper sets "the final decision thresholds with the aid of a two-class support vector machine" on the crop
network's outputs. Here a linear ``sklearn.svm.SVC`` (classes weighted by their frequency, since healthy images
dominate EyePACS) is fitted to the logits of the validation images' unhealthy-class probabilities (an unbounded
feature: on the probabilities themselves, all within [0, 1], the margin term swamps the fit and the boundary lands at
an end); on one feature its decision boundary ``w * z + b = 0`` gives the threshold ``t = sigmoid(-b / w)``. The outputs keep the output contract's rule that the
predicted class is the arg-max: :func:`recalibrate` moves the unhealthy probability so that ``t`` becomes 0.5
(``sigmoid(logit(p) - logit(t))``, monotone, so the ROC curve is unchanged).

Under data-parallel training each process scores its share of the validation images (the validation loader's
``DistributedSampler``); the scores of every process are gathered, and the main process alone fits the SVM on all of
them and writes the threshold file while the others wait on a barrier.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ignite.engine import Engine, Events
from sklearn.svm import SVC

from monai_weakloc.engines.distributed import is_main_process
from weakloc_networks.saliency_crop_pipeline import OneEpochStage, wait_for_main_process

__all__ = ["fit_svm_threshold", "load_threshold", "recalibrate", "threshold_stage"]

logger = logging.getLogger(__name__)

PROBABILITY_EPSILON = 1e-6
"""Thresholds and probabilities are kept inside [eps, 1 - eps], where the logit is finite."""
FALLBACK_THRESHOLD = 0.5


def fit_svm_threshold(probabilities: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor) -> float:
    """The threshold on the unhealthy-class probability at a linear two-class SVM's decision boundary (on logits).

    Args:
        probabilities: (N,) unhealthy-class probabilities of the validation images.
        labels: (N,) their classes (1 unhealthy, 0 healthy).

    Returns:
        ``t`` in ``[eps, 1 - eps]``; when the SVM finds no boundary that rises with the probability (its weight is
        not positive) the threshold is 0.5 and a warning says so.

    Raises:
        ValueError: for shapes that differ, or labels that are not both classes.
    """
    scores = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    classes = np.asarray(labels).reshape(-1).astype(int)
    if scores.shape != classes.shape:
        raise ValueError(f"fit_svm_threshold: {scores.size} probabilities but {classes.size} labels")
    if set(classes.tolist()) != {0, 1}:
        raise ValueError(
            f"fit_svm_threshold: labels must hold both classes 0 and 1, got {sorted(set(classes.tolist()))}"
        )
    clipped = np.clip(scores, PROBABILITY_EPSILON, 1 - PROBABILITY_EPSILON)
    logits = np.log(clipped / (1 - clipped))
    svm = SVC(kernel="linear", class_weight="balanced").fit(logits[:, None], classes)
    weight, bias = float(svm.coef_[0, 0]), float(svm.intercept_[0])
    if weight <= 0:
        logger.warning("SVM threshold: weight %.4g is not positive, falling back to %.2f", weight, FALLBACK_THRESHOLD)
        return FALLBACK_THRESHOLD
    threshold = 1.0 / (1.0 + np.exp(bias / weight))
    return float(np.clip(threshold, PROBABILITY_EPSILON, 1 - PROBABILITY_EPSILON))


def recalibrate(probabilities: torch.Tensor, threshold: float, positive_class: int = 1) -> torch.Tensor:
    """Two-class probabilities moved so that the threshold becomes 0.5: ``q = sigmoid(logit(p) - logit(t))``.

    Args:
        probabilities: (B, 2) class probabilities.
        threshold: the threshold on the ``positive_class`` probability, in (0, 1).
        positive_class: the index of the class the threshold is on.

    Returns:
        (B, 2) probabilities whose arg-max is ``p >= t`` for the positive class.
    """
    if not 0 < threshold < 1:
        raise ValueError(f"recalibrate: threshold must lie in (0, 1), got {threshold!r}")
    positive = probabilities[:, positive_class].clamp(PROBABILITY_EPSILON, 1 - PROBABILITY_EPSILON)
    shifted = torch.sigmoid(torch.logit(positive) - float(np.log(threshold / (1 - threshold))))
    columns = [1 - shifted, shifted] if positive_class == 1 else [shifted, 1 - shifted]
    return torch.stack(columns, dim=1)


def load_threshold(path: str | Path) -> float:
    """The threshold written by :func:`threshold_stage` (``{"threshold": t, ...}``).

    Raises:
        ValueError: naming the file when it is missing or holds no threshold in (0, 1).
    """
    file = Path(path)
    if not file.is_file():
        raise ValueError(f"{file}: threshold file not found (run the training's threshold stage)")
    try:
        threshold = float(json.loads(file.read_text())["threshold"])
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{file}: no threshold in it ({error})") from error
    if not 0 < threshold < 1:
        raise ValueError(f"{file}: threshold must lie in (0, 1), got {threshold}")
    return threshold


def threshold_stage(
    probabilities_of: Callable[[Mapping[str, Any]], torch.Tensor],
    data_loader: Iterable[Mapping[str, Any]],
    threshold_file: str | Path,
    positive_class: int = 1,
) -> OneEpochStage:
    """An engine that runs the pipeline over the validation images and writes the SVM threshold at the end.

    Args:
        probabilities_of: batch -> (B, 2) class probabilities of the whole pipeline (saliency, crop, crop network),
            uncalibrated.
        data_loader: the validation batches, with ``label`` (B,) classes.
        threshold_file: the JSON file written: ``threshold``, ``num_images``.
        positive_class: the class the threshold is on.

    Returns:
        the engine; ``run()`` fits and writes the threshold.
    """

    def score_batch(engine: Engine, batch: Mapping[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        scores = probabilities_of(batch)[:, positive_class].detach().cpu()
        return scores, torch.as_tensor(batch["label"]).reshape(-1).cpu()

    engine = OneEpochStage(score_batch, data_loader)

    @engine.on(Events.EPOCH_STARTED)
    def _reset(engine: Engine) -> None:
        engine.state.scored = []

    @engine.on(Events.ITERATION_COMPLETED)
    def _collect(engine: Engine) -> None:
        engine.state.scored.append(engine.state.output)

    @engine.on(Events.EPOCH_COMPLETED)
    def _fit(engine: Engine) -> None:
        scored = _gathered(engine.state.scored)
        scores = torch.cat([scores for scores, _ in scored])
        labels = torch.cat([labels for _, labels in scored])
        if not is_main_process():  # data-parallel: the main process fits on every process's scores and writes
            wait_for_main_process()
            return
        threshold = fit_svm_threshold(scores, labels)
        target = Path(threshold_file)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".partial_{target.name}")
        partial.write_text(json.dumps({"threshold": threshold, "num_images": int(labels.numel())}, indent=1))
        os.replace(partial, target)
        logger.info("SVM threshold %.4f on %d validation images, written to %s", threshold, labels.numel(), target)
        wait_for_main_process()

    return engine


def _gathered(scored: list[tuple[torch.Tensor, torch.Tensor]]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The (scores, labels) batches of every process of the default process group, rank by rank; ``scored`` itself
    without one."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return scored
    every = [None] * torch.distributed.get_world_size()
    torch.distributed.all_gather_object(every, scored)
    return [batch for batches in every for batch in batches]
