"""The microaneurysm segmentation localizer: maps to probabilities, points at component centroids, masks."""

from __future__ import annotations

import pytest
import torch

from monai_weakloc.localize import Localization
from monai_weakloc.registry import REGISTRY
from weakloc_networks.ma_segmentation_localizer import MASegmentationLocalizer


def two_blob_maps() -> dict[str, torch.Tensor]:
    """One image (1, 1, 10, 12): a 2 x 3 blob inside the field of view, a brighter 2 x 2 blob outside it."""
    final = torch.zeros(1, 1, 10, 12)
    final[0, 0, 2:4, 3:6] = torch.tensor([[0.6, 0.7, 0.6], [0.55, 0.8, 0.6]])
    final[0, 0, 7:9, 9:11] = 0.95
    return {
        "hgn_1x": torch.full_like(final, 0.1),
        "hgn_05x": torch.full_like(final, 0.2),
        "fused": torch.full_like(final, 0.3),
        "final": final,
    }


def left_field_of_view() -> torch.Tensor:
    field_of_view = torch.zeros(1, 1, 10, 12)
    field_of_view[..., :, :8] = 1.0
    return field_of_view


def test_one_point_at_the_inside_blob_centroid_scored_by_its_maximum():
    result = MASegmentationLocalizer(threshold=0.5)(two_blob_maps(), {"fov": left_field_of_view()})
    assert isinstance(result, Localization)
    (points,) = result.points
    # pixels rows 2..3, columns 3..5: centroid (row 2.5, column 4) -> pixel-centre coordinates (4.5, 3.0)
    torch.testing.assert_close(points.coordinates, torch.tensor([[4.5, 3.0]]))
    assert list(points.labels) == ["MA"]
    torch.testing.assert_close(points.scores, torch.tensor([0.8]))


def test_probabilities_are_the_maximum_inside_the_field_of_view():
    maps = two_blob_maps()
    inside = MASegmentationLocalizer()(maps, {"fov": left_field_of_view()})
    torch.testing.assert_close(inside.probabilities, torch.tensor([[0.2, 0.8]]))
    everywhere = MASegmentationLocalizer()(maps, {})
    torch.testing.assert_close(everywhere.probabilities, torch.tensor([[0.05, 0.95]]))
    assert inside.probability_kind == "single_label"
    assert list(inside.class_names) == ["healthy", "microaneurysm"]


def test_without_a_field_of_view_every_blob_is_a_point_highest_first():
    (points,) = MASegmentationLocalizer()(two_blob_maps(), None).points
    torch.testing.assert_close(points.coordinates, torch.tensor([[10.0, 8.0], [4.5, 3.0]]))
    torch.testing.assert_close(points.scores, torch.tensor([0.95, 0.8]))


def test_maps_pass_through_and_the_mask_is_the_final_map_inside_the_field_of_view():
    maps = two_blob_maps()
    field_of_view = left_field_of_view()
    result = MASegmentationLocalizer()(maps, {"fov": field_of_view})
    assert set(result.heatmaps) == {"hgn_1x", "hgn_05x", "fused", "final"}
    for name, values in maps.items():
        torch.testing.assert_close(result.heatmaps[name], values[:, 0])
    torch.testing.assert_close(result.masks["MA"], (maps["final"] * field_of_view)[:, 0])
    torch.testing.assert_close(result.overlay_map, maps["final"][:, 0])
    unbounded = MASegmentationLocalizer()(maps, None)
    torch.testing.assert_close(unbounded.masks["MA"], maps["final"][:, 0])


def test_fused_is_final_without_the_refinement_stage():
    maps = two_blob_maps()
    maps["fused"] = maps.pop("final")
    result = MASegmentationLocalizer()(maps, {"fov": left_field_of_view()})
    assert set(result.heatmaps) == {"hgn_1x", "hgn_05x", "fused"}
    torch.testing.assert_close(result.overlay_map, maps["fused"][:, 0])
    assert result.points[0].coordinates.shape == (1, 2)


def test_batch_of_images_without_lesions_has_no_points():
    maps = {key: torch.full((3, 1, 8, 8), 0.2) for key in ("hgn_1x", "hgn_05x", "fused", "final")}
    result = MASegmentationLocalizer()(maps, {"fov": torch.ones(3, 1, 8, 8)})
    assert [points.coordinates.shape[0] for points in result.points] == [0, 0, 0]
    torch.testing.assert_close(result.probabilities, torch.tensor([[0.8, 0.2]] * 3))


def test_a_centroid_outside_the_field_of_view_moves_to_the_component_peak():
    final = torch.zeros(1, 1, 9, 9)
    final[0, 0, 1, 1:8] = 0.6  # an arc around a hole in the field of view
    final[0, 0, 1:6, 1] = 0.6
    final[0, 0, 1:6, 7] = 0.6
    final[0, 0, 5, 7] = 0.9
    field_of_view = torch.ones(1, 1, 9, 9)
    field_of_view[..., 2:8, 2:7] = 0.0
    maps = {"hgn_1x": final, "hgn_05x": final, "fused": final, "final": final}
    (points,) = MASegmentationLocalizer()(maps, {"fov": field_of_view}).points
    torch.testing.assert_close(points.coordinates, torch.tensor([[7.5, 5.5]]))


def test_bad_inputs_raise_naming_them():
    maps = two_blob_maps()
    with pytest.raises(ValueError, match=r"lacks the maps \['hgn_05x'\]"):
        MASegmentationLocalizer()({key: value for key, value in maps.items() if key != "hgn_05x"}, None)
    with pytest.raises(ValueError, match="map 'final' must be"):
        MASegmentationLocalizer()({**maps, "final": maps["final"][:, 0]}, None)
    with pytest.raises(ValueError, match="threshold"):
        MASegmentationLocalizer(threshold=0.0)
    with pytest.raises(ValueError, match="field_of_view holds 2 masks"):
        MASegmentationLocalizer()(maps, {"fov": torch.ones(2, 1, 10, 12)})


def test_registered_as_ma_segmentation():
    localizer = REGISTRY.create("localizer", "ma_segmentation", threshold=0.7)
    assert isinstance(localizer, MASegmentationLocalizer) and localizer.threshold == 0.7
