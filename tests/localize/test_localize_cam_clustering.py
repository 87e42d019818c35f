from __future__ import annotations

import pytest
import torch
from torch import nn

from monai_weakloc.localize import class_activation_maps, cluster_attention_regions, spatial_softmax


def test_cam_equals_hand_computation_and_a_1x1_conv():
    features = torch.tensor([[[[1.0, 2.0], [0.0, -1.0]], [[3.0, 0.0], [1.0, 1.0]]]])  # (1, 2, 2, 2)
    weight = torch.tensor([[1.0, 2.0], [-1.0, 0.5]])  # (K=2, C=2)
    bias = torch.tensor([0.5, -1.0])
    maps = class_activation_maps(features, weight, bias)
    expected_class0 = torch.tensor([[1 + 6 + 0.5, 2 + 0 + 0.5], [0 + 2 + 0.5, -1 + 2 + 0.5]])
    expected_class1 = torch.tensor([[-1 + 1.5 - 1, -2 + 0 - 1], [0 + 0.5 - 1, 1 + 0.5 - 1]])
    assert torch.allclose(maps[0, 0], expected_class0) and torch.allclose(maps[0, 1], expected_class1)
    conv = nn.Conv2d(2, 2, 1)
    with torch.no_grad():
        conv.weight.copy_(weight[:, :, None, None])
        conv.bias.copy_(bias)
        assert torch.allclose(class_activation_maps(features, conv.weight, conv.bias), conv(features))


def test_cam_spatial_mean_equals_linear_logits_after_global_average_pooling():
    features = torch.randn(3, 5, 4, 6, generator=torch.Generator().manual_seed(0))
    linear = nn.Linear(5, 4)
    with torch.no_grad():
        maps = class_activation_maps(features, linear.weight, linear.bias)
        assert torch.allclose(maps.mean(dim=(2, 3)), linear(features.mean(dim=(2, 3))), atol=1e-6)


def test_cam_rejects_mismatched_weights():
    with pytest.raises(ValueError, match="input channels"):
        class_activation_maps(torch.zeros(1, 3, 2, 2), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="bias"):
        class_activation_maps(torch.zeros(1, 3, 2, 2), torch.zeros(2, 3), torch.zeros(3))


def test_spatial_softmax_sums_to_one_per_channel_and_keeps_the_order():
    scores = torch.randn(2, 3, 5, 7, generator=torch.Generator().manual_seed(0))
    attention = spatial_softmax(scores)
    assert attention.shape == scores.shape
    assert torch.allclose(attention.sum(dim=(2, 3)), torch.ones(2, 3))
    assert torch.equal(attention.flatten(2).argmax(2), scores.flatten(2).argmax(2))


def _two_kinds_of_lesions() -> tuple[torch.Tensor, torch.Tensor]:
    """Features (2, 4, 8, 8) with type-A vectors at three hot spots and type-B vectors at two others."""
    generator = torch.Generator().manual_seed(0)
    features = 0.01 * torch.randn(2, 4, 8, 8, generator=generator)
    attention = torch.zeros(2, 2, 8, 8)
    type_a, type_b = torch.tensor([5.0, 5.0, 0.0, 0.0]), torch.tensor([0.0, 0.0, 5.0, 5.0])
    hot_spots = [(0, 1, 1, type_a), (0, 6, 2, type_b), (1, 3, 4, type_a), (1, 7, 7, type_a), (1, 0, 6, type_b)]
    for b, y, x, vector in hot_spots:
        features[b, :, y, x] += vector
    # each channel's top two responses; locations picked by both channels of an image count once
    attention[0, 0, 1, 1], attention[0, 0, 6, 2] = 3.0, 2.0
    attention[0, 1, 1, 1], attention[0, 1, 6, 2] = 2.0, 3.0
    attention[1, 0, 0, 6], attention[1, 0, 3, 4] = 3.0, 1.0
    attention[1, 1, 3, 4], attention[1, 1, 7, 7] = 3.0, 2.0
    return features, attention


def test_clustering_separates_two_kinds_of_features():
    features, attention = _two_kinds_of_lesions()
    clusters = cluster_attention_regions(features, attention, image_size=(64, 64), top_k=2, damping=0.7)
    groups = sorted(sorted((m.image_index, m.y, m.x) for m in members) for members in clusters.values())
    assert len(clusters) == 2
    assert sorted(clusters) == [0, 1]
    assert [(0, 1, 1), (1, 3, 4), (1, 7, 7)] in groups and [(0, 6, 2), (1, 0, 6)] in groups
    every_member = [m for members in clusters.values() for m in members]
    by_location = {(m.image_index, m.y, m.x): m.box for m in every_member}
    assert by_location[(0, 6, 2)] == (16, 48, 24, 56)  # the grid cell's area in the 64 x 64 image


def test_clustering_region_size_boxes_stay_inside_the_image():
    features, attention = _two_kinds_of_lesions()
    clusters = cluster_attention_regions(features, attention, (64, 64), top_k=2, region_size=20, damping=0.7)
    boxes = {(m.image_index, m.y, m.x): m.box for members in clusters.values() for m in members}
    assert boxes[(0, 1, 1)] == (2, 2, 22, 22)  # centred on the cell centre (12, 12)
    assert boxes[(1, 0, 6)] == (42, 0, 62, 20)  # shifted down from the top edge
    assert boxes[(1, 7, 7)] == (44, 44, 64, 64)  # shifted in from the corner
    assert boxes[(1, 3, 4)] == (26, 18, 46, 38)  # centred on the cell centre (36, 28)


def test_clustering_rejects_mismatched_grids():
    with pytest.raises(ValueError, match="grid"):
        cluster_attention_regions(torch.zeros(1, 4, 8, 8), torch.zeros(1, 2, 4, 4), (64, 64), top_k=2)
    with pytest.raises(ValueError, match="top_k"):
        cluster_attention_regions(torch.zeros(1, 4, 2, 2), torch.zeros(1, 2, 2, 2), (64, 64), top_k=5)
