"""The zoom_in_net localizer: a Zoom-in-Net forward as a Localization, and validation probabilities through it."""

from __future__ import annotations

import torch
from weakloc_networks.zoom_in_net import ZoomInNet

from monai_weakloc.engines.localizer_probabilities import LocalizerProbabilities
from monai_weakloc.localize import Localization
from monai_weakloc.registry import create

TINY = {
    "num_classes": 5,
    "paired_eyes": False,
    "low_res": 64,
    "high_res": 96,
    "region_size": 16,
    "num_regions": 3,
    "crop_size": 32,
    "m_width_multiplier": 0.0625,
    "m_blocks_per_stage": (1, 1, 1),
    "c_width_multiplier": 0.0625,
    "c_blocks_per_stage": (1, 1, 1),
    "attention_channels": 8,
    "padding": "same",
}


def _forward(phase: int) -> tuple[ZoomInNet, dict[str, torch.Tensor]]:
    torch.manual_seed(0)
    network = ZoomInNet(**TINY, phase=phase).eval()
    with torch.no_grad():
        pred = network(torch.rand(2, 3, 64, 64), image_high=torch.rand(2, 3, 96, 96))
    return network, pred


def test_the_registered_localizer_gives_probabilities_maps_and_scored_boxes():
    network, pred = _forward(phase=3)
    localizer = create("localizer", "zoom_in_net", network=network)
    result = localizer(pred, None)
    assert isinstance(result, Localization) and result.probability_kind == "single_label"
    assert torch.allclose(result.probabilities, ZoomInNet.predict_proba(pred, 3))
    assert sorted(result.heatmaps) == ["grade1", "grade2", "grade3", "grade4"]
    assert torch.equal(result.heatmaps["grade2"], pred["gated_maps"][:, 2])
    for image_index, detections in enumerate(result.boxes):
        assert detections.coordinates.shape == (3, 4) and list(detections.labels) == ["lesion"] * 3
        assert torch.equal(detections.scores, pred["region_scores"][image_index])
        expected = network.sample_lesion_regions(pred["region_map"])[image_index]
        assert torch.allclose(detections.scores, torch.tensor([region.score for region in expected]))
        # the greedy sampling takes the highest remaining peak first
        assert torch.equal(detections.scores, detections.scores.sort(descending=True).values)


def test_the_localizer_follows_the_phase_the_network_is_in_unless_given_one():
    network, pred = _forward(phase=3)
    following = create("localizer", "zoom_in_net", network=network)
    fixed = create("localizer", "zoom_in_net", network=network, phase=1)
    network.set_phase(2)
    assert torch.allclose(following(pred).probabilities, ZoomInNet.predict_proba(pred, 2))
    assert torch.allclose(fixed(pred).probabilities, torch.softmax(pred["y_m"], dim=1))


def test_validation_probabilities_come_through_the_localizer():
    network, pred = _forward(phase=3)
    labels = torch.tensor([0, 3])
    probabilities, read_labels = LocalizerProbabilities(create("localizer", "zoom_in_net", network=network))(
        {"image": torch.zeros(2), "label": labels, "pred": pred}
    )
    assert torch.allclose(probabilities, ZoomInNet.predict_proba(pred, 3)) and torch.equal(read_labels, labels)
