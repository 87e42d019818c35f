"""Ensembles of trained networks: mean probabilities and mean heatmaps of several checkpoints.

Zoom-in-Net's best EyePACS result averages the probabilities of three trained models. Two ways to get
such an average:

- in one run, with MONAI's ``monai.engines.EnsembleEvaluator``: :func:`networks_from_checkpoints` builds
  one network per checkpoint, the evaluator stores each network's output under ``pred_0``, ``pred_1``,
  ...; its ``postprocessing`` :class:`MeanLocalizationEnsembled` turns each output into a
  :class:`~monai_weakloc.localize.Localization` and averages them with MONAI's
  ``MeanEnsemble``, so that the usual ``LocalizationOutputWriter`` writes the ensemble's files;
- from the ``predictions.csv`` files of separate inference runs, with
  :func:`monai_weakloc.evaluation.ensemble_predictions.average_prediction_files`.

MONAI's ``MeanEnsembled`` averages tensors stored under keys; a localizer's output is a structure
(probabilities, maps, boxes), hence the dictionary transform here, which applies ``MeanEnsemble`` to each
part that can be averaged.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path

import torch
from monai.config import KeysCollection
from monai.transforms import MapTransform, MeanEnsemble
from monai.utils import CommonKeys
from torch import nn

from monai_weakloc.localize.localization import Localization, Localizer

__all__ = ["MeanLocalizationEnsembled", "networks_from_checkpoints"]


def networks_from_checkpoints(
    network: nn.Module, checkpoints: Sequence[str | Path], map_location: str | torch.device = "cpu"
) -> list[nn.Module]:
    """One copy of ``network`` per checkpoint, each holding that checkpoint's weights.

    Args:
        network: the architecture (its own weights are left untouched; each copy is a ``copy.deepcopy``).
        checkpoints: files holding a plain ``state_dict`` of ``network`` (a bundle's ``model.pt``).
        map_location: device the weights are loaded to and the copies moved to.

    Returns:
        the networks, in checkpoint order, in eval mode.

    Raises:
        ValueError: when ``checkpoints`` is empty, or a file does not hold a state dict that fits
            ``network`` (the message names the file).
        FileNotFoundError: when a checkpoint file does not exist.
    """
    if isinstance(checkpoints, (str, Path)) or not checkpoints:
        raise ValueError(f"checkpoints must be a non-empty list of model files, got {checkpoints!r}")
    networks = []
    for path in checkpoints:
        file = Path(path)
        if not file.is_file():
            raise FileNotFoundError(f"ensemble checkpoint not found: {file}")
        state = torch.load(file, map_location=map_location, weights_only=True)
        if not isinstance(state, dict):
            raise ValueError(f"{file}: expected a state_dict (a dict of tensors), got a {type(state).__name__}")
        member = copy.deepcopy(network)
        try:
            member.load_state_dict(state)
        except RuntimeError as error:
            raise ValueError(f"{file}: the weights do not fit the network: {error}") from error
        networks.append(member.to(map_location).eval())
    return networks


class MeanLocalizationEnsembled(MapTransform):
    """Average the localization results of several networks' outputs, stored under ``keys``.

    For ``monai.engines.EnsembleEvaluator(..., decollate=False, postprocessing=...)``: each ``data[key]`` is
    one network's output for the batch; ``localizer`` turns it into a :class:`~monai_weakloc.localize.Localization`,
    and the result under ``output_key`` is a ``Localization`` holding

    - ``probabilities``: the (weighted) mean of the members' (B, K) probabilities;
    - ``heatmaps`` and ``masks``: per name, the (weighted) mean of the members' (B, h, w) maps (same names and
      shapes required);
    - ``boxes``, ``points`` and ``overlay_map``: the first member's (detections of different networks cannot
      be averaged).

    The output writer then takes the result as it is (``LocalizationOutputWriter(localizer=None)``).

    Args:
        keys: the keys of the members' outputs (``pred_0``, ``pred_1``, ... for ``EnsembleEvaluator``).
        localizer: ``localizer(output, None)`` -> ``Localization`` for one member's output.
        output_key: where the mean goes (``pred``: where ``LocalizationOutputWriter`` reads it).
        weights: one weight per member (see ``monai.transforms.MeanEnsemble``); ``None`` is the plain mean.
    """

    def __init__(
        self,
        keys: KeysCollection,
        localizer: Localizer,
        output_key: str = CommonKeys.PRED,
        weights: Sequence[float] | None = None,
    ) -> None:
        super().__init__(keys)
        if weights is not None and len(weights) != len(self.keys):
            raise ValueError(f"weights must give one weight per key: {len(weights)} weights for keys {self.keys}")
        self.localizer = localizer
        self.output_key = output_key
        self.mean = MeanEnsemble(weights=weights)

    def _mean_maps(self, members: list[Localization], what: str) -> dict[str, torch.Tensor] | None:
        maps = [getattr(member, what) for member in members]
        if maps[0] is None:
            return None
        layouts = {tuple((name, tuple(m.shape)) for name, m in (member_maps or {}).items()) for member_maps in maps}
        if len(layouts) != 1:
            raise ValueError(f"MeanLocalizationEnsembled: members' {what} differ in names or shapes: {sorted(layouts)} (keys {self.keys})")
        return {name: self.mean([member_maps[name].float() for member_maps in maps]) for name in maps[0]}

    def __call__(self, data: dict) -> dict:
        missing = [key for key in self.keys if key not in data]
        if missing:
            raise ValueError(f"MeanLocalizationEnsembled: no member output under {missing}; found keys {sorted(data)}")
        members = [self.localizer(data[key], None) for key in self.keys]
        first = members[0]
        result = dict(data)
        result[self.output_key] = Localization(
            probabilities=self.mean([member.probabilities.float() for member in members]),
            probability_kind=first.probability_kind,
            class_names=first.class_names,
            heatmaps=self._mean_maps(members, "heatmaps") or {},
            boxes=first.boxes,
            points=first.points,
            masks=self._mean_maps(members, "masks"),
            overlay_map=first.overlay_map,
        )
        return result
