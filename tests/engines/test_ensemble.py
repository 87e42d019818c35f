from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from monai.engines import EnsembleEvaluator
from torch import nn

from monai_weakloc.engines.ensemble import MeanLocalizationEnsembled, networks_from_checkpoints
from monai_weakloc.evaluation.ensemble_predictions import average_prediction_files
from monai_weakloc.localize import Detections, Localization


class _TinyLocalizer(nn.Module):
    """Logits from a linear layer on the mean pixel; one 2 x 2 heatmap per class from a 1x1 conv."""

    def __init__(self) -> None:
        super().__init__()
        self.maps = nn.Conv2d(1, 3, 1)

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        maps = self.maps(image)
        return {"logits": maps.mean(dim=(2, 3)), "maps": maps}


def _localization(output: dict[str, torch.Tensor], batch: dict | None = None) -> Localization:
    boxes = [Detections(torch.tensor([[0.0, 0.0, 1.0, 1.0]]), ["lesion"], torch.ones(1)) for _ in output["logits"]]
    maps = output["maps"]
    return Localization(
        probabilities=torch.softmax(output["logits"], 1),
        heatmaps={f"class{k}": maps[:, k] for k in range(maps.shape[1])},
        boxes=boxes,
    )


def _as_is(localization: Localization, batch: dict | None = None) -> Localization:
    return localization


def _saved_members(tmp_path, count: int) -> list:
    paths = []
    for index in range(count):
        torch.manual_seed(index)
        path = tmp_path / f"model_{index}.pt"
        torch.save(_TinyLocalizer().state_dict(), path)
        paths.append(path)
    return paths


def test_ensemble_evaluator_with_mean_postprocessing_gives_the_hand_computed_mean(tmp_path):
    paths = _saved_members(tmp_path, 3)
    networks = networks_from_checkpoints(_TinyLocalizer(), paths)
    images = torch.randn(4, 1, 2, 2, generator=torch.Generator().manual_seed(0))
    keys = ["pred_0", "pred_1", "pred_2"]
    evaluator = EnsembleEvaluator(
        device=torch.device("cpu"),
        val_data_loader=[{"image": images, "label": torch.zeros(4)}],
        networks=networks,
        pred_keys=keys,
        postprocessing=MeanLocalizationEnsembled(keys=keys, localizer=_localization),
        decollate=False,
    )
    evaluator.run()
    result = evaluator.state.output["pred"]
    expected_probabilities, expected_maps = torch.zeros(4, 3), torch.zeros(4, 3, 2, 2)
    for path in paths:
        member = _TinyLocalizer()
        member.load_state_dict(torch.load(path, weights_only=True))
        with torch.no_grad():
            output = member(images)
        expected_probabilities += torch.softmax(output["logits"], 1) / 3
        expected_maps += output["maps"] / 3
    assert torch.allclose(result.probabilities, expected_probabilities, atol=1e-6)
    for k in range(3):
        assert torch.allclose(result.heatmaps[f"class{k}"], expected_maps[:, k], atol=1e-6)
    assert torch.allclose(result.probabilities.sum(1), torch.ones(4))
    assert len(result.boxes) == 4


def test_weighted_mean_and_a_single_member_repeated():
    probabilities = [torch.tensor([[0.2, 0.8]]), torch.tensor([[0.6, 0.4]])]
    data = {
        f"pred_{index}": Localization(p, heatmaps={"map": torch.full((1, 2, 2), float(index))},
                                      boxes=[Detections.empty(4)])
        for index, p in enumerate(probabilities)
    }
    weighted = MeanLocalizationEnsembled(["pred_0", "pred_1"], localizer=_as_is, weights=[3, 1])(data)
    assert torch.allclose(weighted["pred"].probabilities, torch.tensor([[0.3, 0.7]]))
    assert torch.allclose(weighted["pred"].heatmaps["map"], torch.full((1, 2, 2), 0.25))
    same = MeanLocalizationEnsembled(["pred_0", "pred_0"], localizer=_as_is)(data)
    assert torch.equal(same["pred"].probabilities, probabilities[0])


def test_mean_transform_rejects_missing_keys_and_bad_weights():
    with pytest.raises(ValueError, match="one weight per key"):
        MeanLocalizationEnsembled(["pred_0", "pred_1"], localizer=_as_is, weights=[1.0])
    with pytest.raises(ValueError, match="pred_1"):
        MeanLocalizationEnsembled(["pred_0", "pred_1"], localizer=_as_is)({"pred_0": None})


def test_networks_from_checkpoints_name_the_bad_file(tmp_path):
    with pytest.raises(ValueError, match="non-empty"):
        networks_from_checkpoints(_TinyLocalizer(), [])
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        networks_from_checkpoints(_TinyLocalizer(), [tmp_path / "missing.pt"])
    wrong = tmp_path / "wrong.pt"
    torch.save(nn.Linear(2, 2).state_dict(), wrong)
    with pytest.raises(ValueError, match="wrong.pt: the weights do not fit"):
        networks_from_checkpoints(_TinyLocalizer(), [wrong])


def _write_predictions(path, rows: list[tuple[str, list[float]]]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "level", "prob_0", "prob_1", "prob_2"])
        for image, probabilities in rows:
            writer.writerow([image, int(np.argmax(probabilities)), *probabilities])


def test_average_prediction_files_equals_the_hand_computed_mean(tmp_path):
    _write_predictions(tmp_path / "a.csv", [("1_left", [0.7, 0.2, 0.1]), ("1_right", [0.1, 0.1, 0.8])])
    _write_predictions(tmp_path / "b.csv", [("1_right", [0.1, 0.5, 0.4]), ("1_left", [0.1, 0.2, 0.7])])
    out = average_prediction_files([tmp_path / "a.csv", tmp_path / "b.csv"], tmp_path / "out" / "predictions.csv")
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["image"] for row in rows] == ["1_left", "1_right"]
    assert [float(rows[0][f"prob_{k}"]) for k in range(3)] == pytest.approx([0.4, 0.2, 0.4])
    assert [float(rows[1][f"prob_{k}"]) for k in range(3)] == pytest.approx([0.1, 0.3, 0.6])
    assert rows[0]["level"] == "0" and rows[1]["level"] == "2"


def test_average_prediction_files_names_a_file_with_other_images(tmp_path):
    _write_predictions(tmp_path / "a.csv", [("1_left", [0.7, 0.2, 0.1])])
    _write_predictions(tmp_path / "b.csv", [("2_left", [0.7, 0.2, 0.1])])
    with pytest.raises(ValueError, match=r"b\.csv: its images differ"):
        average_prediction_files([tmp_path / "a.csv", tmp_path / "b.csv"], tmp_path / "out.csv")
