"""Class probabilities for Ignite metrics, read through the method's registered localizer.

Validation metrics (kappa, accuracy, AUC) take ``(y_pred, y)`` from an ``output_transform``; this one asks the
same localizer the output writer uses, so that a config never calls into a network's methods and validation
and inference read the network's output the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from monai.utils import CommonKeys

from monai_weakloc.localize.localization import Localizer

__all__ = ["LocalizerProbabilities"]


class LocalizerProbabilities:
    """``output_transform`` giving ``(probabilities (B, K), labels)`` from an evaluator's output.

    Args:
        localizer: ``localizer(pred, batch) -> Localization``, built by registry name.
        pred_key: key of the network output in ``engine.state.output``.
        label_key: key of the labels in ``engine.state.output``.
    """

    def __init__(self, localizer: Localizer, pred_key: str = CommonKeys.PRED, label_key: str = CommonKeys.LABEL) -> None:
        self.localizer = localizer
        self.pred_key = pred_key
        self.label_key = label_key

    def __call__(self, output: Mapping[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """Args:
            output: ``engine.state.output`` of an evaluator with ``decollate=False``.

        Returns:
            ``(probabilities, labels)``.

        Raises:
            KeyError: naming the missing key of ``output``.
        """
        for key in (self.pred_key, self.label_key):
            if key not in output:
                raise KeyError(f"LocalizerProbabilities: the engine output has no {key!r} (keys: {sorted(output)})")
        return self.localizer(output[self.pred_key], None).probabilities, output[self.label_key]
