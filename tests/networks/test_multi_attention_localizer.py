"""Multi-attention localizer: ChestX-ray14's boxes at 60 and 180 of the 0..255 map, points at the maxima, the
field of view, probabilities alone, and a tiny network's output end to end."""

from __future__ import annotations

import pytest
import torch
from weakloc_networks.multi_attention import MultiAttentionNetwork
from weakloc_networks.multi_attention_localizer import MultiAttentionLocalizer

from monai_weakloc.data import CHESTXRAY14_LABELS
from monai_weakloc.engines.localizer_probabilities import LocalizerProbabilities
from monai_weakloc.localize.map_geometry import MapGeometry
from monai_weakloc.registry import REGISTRY

SIZE = 32
IMAGE = {"image": torch.zeros(1, 1, SIZE, SIZE)}


def two_blob_pred() -> dict[str, torch.Tensor]:
    """Label ``a``: a strong blob (255 after normalising) at x 3..7, y 2..5 and a weak one (127.5) at x 10..13,
    y 20..24; label ``b``: a single peak at x 20, y 10."""
    maps = torch.zeros(1, 2, SIZE, SIZE)
    maps[0, 0, 2:6, 3:8] = 1.0
    maps[0, 0, 20:25, 10:14] = 0.5
    maps[0, 1, 10, 20] = 3.0
    return {"logits": torch.tensor([[2.0, -1.0]]), "maps": maps}


def test_boxes_are_the_regions_above_60_and_180_of_the_normalised_map():
    localization = MultiAttentionLocalizer(["a", "b"])(two_blob_pred(), IMAGE)
    probability = torch.sigmoid(torch.tensor(2.0))
    boxes = localization.boxes[0]
    label_a = [index for index, label in enumerate(boxes.labels) if label == "a"]
    # at 60 both blobs, at 180 the strong one only; the strong blob ranks first
    assert boxes.coordinates[label_a].tolist() == [[3, 2, 5, 4], [3, 2, 5, 4], [10, 20, 4, 5]]
    assert torch.allclose(boxes.scores[label_a], probability * torch.tensor([1.0, 1.0, 0.5]))
    label_b = [index for index, label in enumerate(boxes.labels) if label == "b"]
    assert boxes.coordinates[label_b].tolist() == [[20, 10, 1, 1], [20, 10, 1, 1]]


def test_points_sit_at_each_labels_map_maximum_scored_by_its_probability():
    localization = MultiAttentionLocalizer(["a", "b"])(two_blob_pred(), IMAGE)
    points = localization.points[0]
    assert points.labels == ["a", "b"]
    assert points.coordinates.tolist() == [[3.5, 2.5], [20.5, 10.5]]
    assert torch.allclose(points.scores, torch.sigmoid(torch.tensor([2.0, -1.0])))
    assert localization.probability_kind == "multi_label"
    assert set(localization.heatmaps) == {"a", "b"}
    assert float(localization.heatmaps["a"].max()) == pytest.approx(float(torch.sigmoid(torch.tensor(2.0))))


def test_the_field_of_view_keeps_boxes_and_points_inside_it():
    field_of_view = torch.ones(1, 1, SIZE, SIZE)
    field_of_view[..., :10, :] = 0
    localization = MultiAttentionLocalizer(["a", "b"])(two_blob_pred(), {**IMAGE, "fov": field_of_view})
    boxes, points = localization.boxes[0], localization.points[0]
    label_a = [index for index, label in enumerate(boxes.labels) if label == "a"]
    # the weak blob is now the map's maximum inside the field of view: 255, so boxed at both thresholds
    assert boxes.coordinates[label_a].tolist() == [[10, 20, 4, 5], [10, 20, 4, 5]]
    assert points.coordinates[0].tolist() == [10.5, 20.5]
    assert float(localization.heatmaps["a"][0, :10].abs().max()) == 0.0


def test_maps_are_placed_on_the_input_by_the_network_geometry():
    maps = torch.zeros(1, 1, 4, 4)
    maps[0, 0, 1, 2] = 1.0
    pred = {"logits": torch.zeros(1, 1), "maps": maps}
    localization = MultiAttentionLocalizer(["a"], map_geometry=MapGeometry(2.5, 32.0))(
        pred, {"image": torch.zeros(1, 3, 128, 128)}
    )
    assert localization.heatmaps["a"].shape == (1, 128, 128)
    assert localization.points[0].coordinates.tolist() == [[66.5, 34.5]]
    assert localization.heatmaps["a"][0, 34, 66] == localization.heatmaps["a"].max()


def test_probabilities_alone_without_a_batch():
    localizer = MultiAttentionLocalizer(["a", "b"])
    localization = localizer(two_blob_pred(), None)
    assert torch.allclose(localization.probabilities, torch.sigmoid(torch.tensor([[2.0, -1.0]])))
    assert localization.points is None and localization.boxes is None
    probabilities, labels = LocalizerProbabilities(localizer)({"pred": two_blob_pred(), "label": torch.ones(1, 2)})
    assert probabilities.shape == (1, 2) and labels.shape == (1, 2)


def test_a_tiny_network_localizes_all_fourteen_labels_on_its_input():
    network = MultiAttentionNetwork(layers=(1, 1, 1, 1), width=8).eval()
    batch = {"image": torch.rand(2, 3, 128, 128)}
    with torch.no_grad():
        pred = network(batch["image"])
    localization = MultiAttentionLocalizer(map_geometry=network.map_geometry())(pred, batch)
    assert tuple(localization.class_names) == CHESTXRAY14_LABELS
    assert all(heatmap.shape == (2, 128, 128) for heatmap in localization.heatmaps.values())
    assert localization.overlay_map.shape == (2, 128, 128)
    for boxes, points in zip(localization.boxes, localization.points):
        assert len(points.labels) == 14 and len(boxes.labels) >= 14
        assert bool((boxes.coordinates[:, :2] >= 0).all())
        assert bool((boxes.coordinates[:, :2] + boxes.coordinates[:, 2:] <= 128).all())


@pytest.mark.parametrize(
    ("pred", "batch", "error", "match"),
    [
        (torch.zeros(1, 2), IMAGE, TypeError, "pred must be the network's dict"),
        ({"logits": torch.zeros(1, 2)}, IMAGE, ValueError, r"pred lacks \['maps'\]"),
        ({"logits": torch.zeros(1, 3), "maps": torch.zeros(1, 3, 4, 4)}, IMAGE, ValueError, r"\(B, 2\) for 2"),
        ({"logits": torch.zeros(1, 2), "maps": torch.zeros(2, 2, 4, 4)}, IMAGE, ValueError, r"maps must be"),
        (None, {"label": torch.zeros(1)}, ValueError, "the batch has neither 'image' nor 'fov'"),
    ],
)
def test_bad_inputs_are_rejected_by_name(pred, batch, error, match):
    with pytest.raises(error, match=match):
        MultiAttentionLocalizer(["a", "b"])(two_blob_pred() if pred is None else pred, batch)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"class_names": "a"}, TypeError, "class_names must be a sequence of names"),
        ({"class_names": ["a", "a"]}, ValueError, "class_names must be distinct"),
        ({"box_thresholds": ()}, ValueError, r"box_thresholds must be one or more values in \(0, 255\]"),
        ({"box_thresholds": (60, 300)}, ValueError, r"box_thresholds must be one or more values in \(0, 255\]"),
        ({"box_thresholds": ("60",)}, TypeError, "box_thresholds must be numbers"),
    ],
)
def test_bad_arguments_are_rejected_by_name(kwargs, error, match):
    with pytest.raises(error, match=match):
        MultiAttentionLocalizer(**kwargs)


def test_registered_as_multi_attention():
    localizer = REGISTRY.create("localizer", "multi_attention", box_thresholds=[60, 180])
    assert isinstance(localizer, MultiAttentionLocalizer) and localizer.box_thresholds == (60.0, 180.0)
