"""Self-transfer learning localizer: localizer probabilities, maps scaled to the probability, points at their
maxima inside the field of view, boxes around the thresholded blobs."""

from __future__ import annotations

import pytest
import torch
from weakloc_networks.self_transfer import SelfTransferNetwork
from weakloc_networks.self_transfer_localizer import SelfTransferLocalizer

from monai_weakloc.localize import Localization
from monai_weakloc.localize.field_of_view import inside_field_of_view
from monai_weakloc.localize.map_geometry import MapGeometry
from monai_weakloc.registry import REGISTRY

IMAGE = {"image": torch.zeros(1, 1, 50, 50)}
"""A 50 x 50 input: every cell of the 5 x 5 maps below covers 10 x 10 input pixels."""


def two_class_pred() -> dict[str, torch.Tensor]:
    """One image, classes (normal, tb): the tb map has a blob of 1 at cell (1, 1), one of 0.8 at cell (3, 3)."""
    maps = torch.zeros(1, 2, 5, 5)
    maps[0, 1, 1, 1] = 1.0
    maps[0, 1, 3, 3] = 0.8
    maps[0, 0, 4, 0] = 9.0
    return {"classifier": torch.tensor([[5.0, -5.0]]), "localizer": torch.tensor([[0.0, 2.0]]), "maps": maps}


def test_single_label_probabilities_come_from_the_localizer_softmax():
    result = SelfTransferLocalizer(["normal", "tb"])(two_class_pred(), IMAGE)
    assert isinstance(result, Localization)
    torch.testing.assert_close(result.probabilities, torch.softmax(torch.tensor([[0.0, 2.0]]), dim=1))
    assert result.probability_kind == "single_label"
    assert list(result.class_names) == ["normal", "tb"]


def test_single_label_heatmap_is_the_positive_class_map_scaled_from_0_to_its_probability():
    pred = two_class_pred()
    pred["maps"][0, 1] += 3.0  # min-max normalisation removes the offset
    result = SelfTransferLocalizer(["normal", "tb"], positive_class=1)(pred, IMAGE)
    assert list(result.heatmaps) == ["tb"]
    probability = result.probabilities[0, 1]
    heatmap = result.heatmaps["tb"]
    torch.testing.assert_close(heatmap, two_class_pred()["maps"][:, 1] * probability)
    assert heatmap.max() == pytest.approx(probability.item()) and heatmap.min() == 0.0
    torch.testing.assert_close(result.overlay_map, heatmap)


def test_single_label_point_at_the_maximum_scored_by_the_probability():
    result = SelfTransferLocalizer(["normal", "tb"])(two_class_pred(), IMAGE)
    (points,) = result.points
    # cell (1, 1) covers input pixels 10..19: its centre is (15, 15)
    torch.testing.assert_close(points.coordinates, torch.tensor([[15.0, 15.0]]))
    assert list(points.labels) == ["tb"]
    torch.testing.assert_close(points.scores, result.probabilities[:, 1])


def test_boxes_surround_the_blobs_above_the_threshold_highest_first():
    result = SelfTransferLocalizer(["normal", "tb"], box_threshold=0.5)(two_class_pred(), IMAGE)
    (boxes,) = result.boxes
    assert list(boxes.labels) == ["tb", "tb"]
    # the blob of 1 covers its whole cell at half its maximum; the blob of 0.8 a smaller square inside its cell
    torch.testing.assert_close(boxes.coordinates, torch.tensor([[10.0, 10.0, 10.0, 10.0], [31.0, 31.0, 8.0, 8.0]]))
    probability = result.probabilities[0, 1].item()
    assert boxes.scores[0] > boxes.scores[1] > 0.5 * probability and boxes.scores[0] <= probability
    (single,) = SelfTransferLocalizer(["normal", "tb"], box_threshold=0.9)(two_class_pred(), IMAGE).boxes
    assert single.coordinates.shape == (1, 4) and single.coordinates[0, 0] >= 10 and single.coordinates[0, 2] < 10


def test_the_point_moves_inside_the_field_of_view_and_no_heat_lies_outside():
    field_of_view = torch.ones(1, 1, 50, 50)
    field_of_view[..., :20, :20] = 0.0  # excludes cell (1, 1) and its blob
    batch = {**IMAGE, "fov": field_of_view}
    result = SelfTransferLocalizer(["normal", "tb"])(two_class_pred(), batch)
    (points,) = result.points
    torch.testing.assert_close(points.coordinates, torch.tensor([[35.0, 35.0]]))
    assert inside_field_of_view(points.coordinates, field_of_view[0, 0]).all()
    heatmap = result.heatmaps["tb"][0]
    probability = result.probabilities[0, 1].item()
    assert heatmap[:2, :2].abs().sum() == 0.0
    # normalised over the cells inside: the remaining blob now reaches the probability
    assert heatmap[3, 3].item() == pytest.approx(probability)
    (boxes,) = result.boxes
    torch.testing.assert_close(boxes.coordinates, torch.tensor([[30.0, 30.0, 10.0, 10.0]]))


def test_a_maximal_cell_whose_centre_lies_outside_gets_its_inside_pixel_nearest_the_centre():
    field_of_view = torch.ones(1, 1, 50, 50)
    field_of_view[..., :16, :16] = 0.0  # cell (1, 1) (pixels 10..19) stays partly inside, its centre (15, 15) not
    result = SelfTransferLocalizer(["normal", "tb"])(two_class_pred(), {**IMAGE, "fov": field_of_view})
    (points,) = result.points
    # the cell's inside pixels nearest its centre (15, 15) are at rows 14, 15 of column 16 and columns 14, 15 of
    # row 16 (1.5 and 0.5 away): the first of them in row-major order
    torch.testing.assert_close(points.coordinates, torch.tensor([[16.5, 14.5]]))
    assert inside_field_of_view(points.coordinates, field_of_view[0, 0]).all()
    assert result.heatmaps["tb"][0, 1, 1].item() == pytest.approx(result.probabilities[0, 1].item())


GEOMETRY = MapGeometry(first_centre=6.5, stride=9.0)
"""Cells of the 5 x 5 maps centred at 6.5, 15.5, 24.5, 33.5, 42.5 input pixels (an unpadded stack's offset)."""


def test_with_the_networks_geometry_the_point_sits_at_its_cells_receptive_field_centre():
    result = SelfTransferLocalizer(["normal", "tb"], map_geometry=GEOMETRY)(two_class_pred(), IMAGE)
    (points,) = result.points
    torch.testing.assert_close(points.coordinates, torch.tensor([[15.5, 15.5]]))
    heatmap = result.heatmaps["tb"]
    probability = result.probabilities[0, 1].item()
    # resampled onto the input: the maximum, the probability, at the centre pixel of cell (1, 1)
    assert heatmap.shape == (1, 50, 50)
    assert heatmap[0, 15, 15].item() == pytest.approx(probability, abs=1e-6)
    assert int(heatmap[0].argmax()) == 15 * 50 + 15
    (boxes,) = result.boxes
    # half the maximum is reached 4.5 px either side of the centre (bilinear between cells 9 px apart)
    torch.testing.assert_close(boxes.coordinates[0], torch.tensor([11.0, 11.0, 9.0, 9.0]))


def test_with_the_networks_geometry_a_cell_is_inside_the_field_of_view_when_its_centre_is():
    field_of_view = torch.ones(1, 1, 50, 50)
    field_of_view[..., :16, :16] = 0.0  # the centre pixel (15, 15) of cell (1, 1) is outside
    batch = {**IMAGE, "fov": field_of_view}
    result = SelfTransferLocalizer(["normal", "tb"], map_geometry=GEOMETRY)(two_class_pred(), batch)
    (points,) = result.points
    torch.testing.assert_close(points.coordinates, torch.tensor([[33.5, 33.5]]))
    heatmap = result.heatmaps["tb"][0]
    assert heatmap[:16, :16].abs().sum() == 0.0
    assert heatmap.max().item() == pytest.approx(result.probabilities[0, 1].item(), abs=1e-6)


def test_the_networks_geometry_places_points_on_the_network_output():
    torch.manual_seed(0)
    network = SelfTransferNetwork(channels=(4, 8, 8, 8), sixth_conv=False, fc_channels=(8,), classifier_grid=1)
    images = torch.rand(2, 1, 128, 128)
    with torch.no_grad():
        pred = network.eval()(images)
    result = SelfTransferLocalizer(["normal", "tb"], map_geometry=network.map_geometry())(pred, {"image": images})
    assert result.heatmaps["tb"].shape == (2, 128, 128)
    for index, points in enumerate(result.points):
        row, col = divmod(int(pred["maps"][index, 1].argmax()), pred["maps"].shape[-1])
        torch.testing.assert_close(points.coordinates, torch.tensor([[17.5 + 16.0 * col, 17.5 + 16.0 * row]]))


def test_multi_label_sigmoid_probabilities_and_one_map_and_point_per_label():
    maps = torch.zeros(2, 3, 5, 5)
    peaks = {(0, 0): (0, 4), (0, 1): (2, 2), (0, 2): (4, 1), (1, 0): (3, 0), (1, 1): (1, 3), (1, 2): (0, 0)}
    for (image, label), (row, col) in peaks.items():
        maps[image, label, row, col] = 2.0 + label
    logits = torch.tensor([[1.0, -1.0, 0.0], [-2.0, 0.5, 3.0]])
    names = ["effusion", "mass", "nodule"]
    result = SelfTransferLocalizer(names, multi_label=True)(
        {"classifier": torch.zeros(2, 3), "localizer": logits, "maps": maps}, {"image": torch.zeros(2, 1, 50, 50)}
    )
    probabilities = torch.sigmoid(logits)
    torch.testing.assert_close(result.probabilities, probabilities)
    assert result.probability_kind == "multi_label" and list(result.class_names) == names
    assert list(result.heatmaps) == names
    for label, name in enumerate(names):
        torch.testing.assert_close(result.heatmaps[name].amax(dim=(1, 2)), probabilities[:, label])
    torch.testing.assert_close(result.overlay_map, result.heatmaps["effusion"])
    for image, points in enumerate(result.points):
        assert list(points.labels) == names
        torch.testing.assert_close(points.scores, probabilities[image])
        expected = [[peaks[(image, label)][1] * 10 + 5.0, peaks[(image, label)][0] * 10 + 5.0] for label in range(3)]
        torch.testing.assert_close(points.coordinates, torch.tensor(expected))
        assert all(label in names for label in result.boxes[image].labels)


def test_a_flat_map_becomes_zero():
    pred = {"localizer": torch.tensor([[0.0, 0.0]]), "maps": torch.full((1, 2, 5, 5), 3.0)}
    result = SelfTransferLocalizer(["normal", "tb"])(pred, IMAGE)
    assert result.heatmaps["tb"].abs().sum() == 0.0


def test_without_a_batch_only_probabilities_and_maps_and_the_field_of_view_alone_gives_the_input_size():
    localizer = SelfTransferLocalizer(["normal", "tb"])
    bare = localizer(two_class_pred(), None)
    assert bare.points is None and bare.boxes is None
    torch.testing.assert_close(bare.probabilities, localizer(two_class_pred(), IMAGE).probabilities)
    from_mask = localizer(two_class_pred(), {"fov": torch.ones(1, 1, 50, 50)})
    torch.testing.assert_close(from_mask.points[0].coordinates, torch.tensor([[15.0, 15.0]]))


def test_works_on_the_network_output():
    torch.manual_seed(0)
    network = SelfTransferNetwork(channels=(4, 8, 8, 8), fc_channels=(8,), classifier_grid=1).eval()
    images = torch.rand(2, 1, 128, 128)
    with torch.no_grad():
        result = SelfTransferLocalizer(["normal", "tb"])(network(images), {"image": images})
    assert result.heatmaps["tb"].shape == (2, 3, 3)
    for points in result.points:
        assert points.coordinates.shape == (1, 2)
        assert ((points.coordinates > 0) & (points.coordinates < 128)).all()


@pytest.mark.parametrize(
    ("pred", "batch", "error", "match"),
    [
        (torch.zeros(1, 2), IMAGE, TypeError, "pred must be the network's dict"),
        ({"localizer": torch.zeros(1, 2)}, IMAGE, ValueError, r"pred lacks \['maps'\]"),
        ({"localizer": torch.zeros(1, 3), "maps": torch.zeros(1, 3, 5, 5)}, IMAGE, ValueError,
         r"localizer logits must be \(B, 2\) for 2 class names"),
        ({"localizer": torch.zeros(1, 2), "maps": torch.zeros(2, 2, 5, 5)}, IMAGE, ValueError,
         r"maps must be \(1, 2, h, w\)"),
        (None, {"label": torch.zeros(1)}, ValueError, "the batch has neither 'image' nor 'fov'"),
        (None, {**IMAGE, "fov": torch.ones(2, 1, 50, 50)}, ValueError, "field_of_view holds 2 masks for a batch of 1"),
    ],
)
def test_bad_inputs_are_rejected_by_name(pred, batch, error, match):
    with pytest.raises(error, match=match):
        SelfTransferLocalizer(["normal", "tb"])(two_class_pred() if pred is None else pred, batch)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"class_names": "tb"}, TypeError, "class_names must be a sequence of names"),
        ({"class_names": ["a", 1]}, TypeError, "class_names must be strings"),
        ({"class_names": ["a", "a"]}, ValueError, "class_names must be distinct"),
        ({"class_names": ["tb"]}, ValueError, "single-label needs two class names"),
        ({"positive_class": 2}, ValueError, r"positive_class must be a class index in \[0, 1\]"),
        ({"box_threshold": 0.0}, ValueError, r"box_threshold must lie in \(0, 1\]"),
    ],
)
def test_bad_arguments_are_rejected_by_name(kwargs, error, match):
    with pytest.raises(error, match=match):
        SelfTransferLocalizer(**{"class_names": ["normal", "tb"], **kwargs})


def test_registered_as_self_transfer():
    localizer = REGISTRY.create("localizer", "self_transfer", class_names=["a", "b", "c"], multi_label=True)
    assert isinstance(localizer, SelfTransferLocalizer) and localizer.multi_label
