"""Multi-attention network: SE-ResNet-101 structure (ImageNet keys), space attention, pooling before/after,
local pretrained weights, receptive-field geometry, and the multi-label loss."""

from __future__ import annotations

import logging

import pytest
import torch
import torch.nn.functional as F
from monai.networks.blocks import ChannelSELayer
from monai.networks.nets import ResNet, SEResNet101
from torch import nn
from weakloc_networks.multi_attention import MultiAttentionNetwork
from weakloc_networks.multi_label_loss import MultiLabelMapLoss

from monai_weakloc.registry import REGISTRY

TINY = {"layers": (1, 1, 1, 1), "width": 8}


def shapes(state: dict[str, torch.Tensor]) -> dict[str, tuple[int, ...]]:
    return {key: tuple(value.shape) for key, value in state.items()}


def test_tiny_network_gives_logits_and_maps_at_stride_32():
    network = MultiAttentionNetwork(**TINY).eval()
    with torch.no_grad():
        outputs = network(torch.rand(2, 3, 128, 128))
    assert set(outputs) == {"logits", "maps"}
    assert outputs["logits"].shape == (2, 14)
    assert outputs["maps"].shape == (2, 14, 4, 4)


@pytest.mark.parametrize("feature_attention", [True, False])
def test_last_stride_one_doubles_the_maps_and_keeps_the_weights(feature_attention):
    network = MultiAttentionNetwork(feature_attention=feature_attention, last_stride=1, **TINY).eval()
    reference = MultiAttentionNetwork(feature_attention=feature_attention, **TINY)
    assert shapes(network.state_dict()) == shapes(reference.state_dict())
    with torch.no_grad():
        outputs = network(torch.rand(2, 3, 128, 128))
    assert outputs["logits"].shape == (2, 14) and outputs["maps"].shape == (2, 14, 8, 8)


def test_default_feature_extractor_is_monai_se_resnet101_so_imagenet_weights_load():
    network = MultiAttentionNetwork().eval()
    reference = SEResNet101(spatial_dims=2, in_channels=3, num_classes=1000).state_dict()
    head = {key: value for key, value in reference.items() if not key.startswith("last_linear.")}
    assert shapes(network.backbone.state_dict()) == shapes(head)
    assert network.classifier.in_channels == 2 * 2048 and network.classifier.out_channels == 14
    with torch.no_grad():
        outputs = network(torch.rand(1, 3, 64, 64))
    assert outputs["logits"].shape == (1, 14) and outputs["maps"].shape == (1, 14, 2, 2)


def test_without_feature_attention_it_is_monai_imagenet_resnet_without_se_layers():
    network = MultiAttentionNetwork(feature_attention=False, **TINY)
    assert not any(isinstance(module, ChannelSELayer) for module in network.modules())
    assert any(isinstance(module, ChannelSELayer) for module in MultiAttentionNetwork(**TINY).modules())
    resnet = ResNet(
        "bottleneck",
        [1, 1, 1, 1],
        [8, 16, 32, 64],
        spatial_dims=2,
        conv1_t_stride=2,
        feed_forward=False,
        bias_downsample=False,
    )
    assert shapes(network.backbone.state_dict()) == shapes(resnet.state_dict())


def test_space_attention_doubles_the_classifier_input_with_a_half_constant_over_positions():
    network = MultiAttentionNetwork(**TINY).eval()
    assert network.classifier.in_channels == 2 * network.feature_channels
    assert MultiAttentionNetwork(space_attention=False, **TINY).classifier.in_channels == network.feature_channels
    seen = []
    network.classifier.register_forward_pre_hook(lambda module, inputs: seen.append(inputs[0]))
    with torch.no_grad():
        network(torch.rand(2, 3, 128, 128))
        features = network.features(torch.rand(2, 3, 128, 128))
    classifier_input = seen[0]
    assert classifier_input.shape == (2, 2 * network.feature_channels, 4, 4)
    attended = classifier_input[:, network.feature_channels :]
    assert torch.allclose(attended, attended[:, :, :1, :1].expand_as(attended))
    assert not torch.allclose(classifier_input[:, : network.feature_channels], attended)
    concatenated = network.attended(features)
    assert torch.allclose(concatenated[:, network.feature_channels :, 2, 3], features.mean(dim=(2, 3)))


def test_pooling_before_and_after_the_linear_classifier_give_the_same_logits():
    torch.manual_seed(0)
    after = MultiAttentionNetwork(pooling="after", **TINY).eval()
    before = MultiAttentionNetwork(pooling="before", **TINY).eval()
    before.load_state_dict(after.state_dict())
    x = torch.rand(2, 3, 128, 128)
    with torch.no_grad():
        outputs_after, outputs_before = after(x), before(x)
    assert torch.allclose(outputs_after["logits"], outputs_before["logits"], atol=1e-5)
    assert torch.allclose(outputs_after["maps"], outputs_before["maps"])
    assert torch.allclose(outputs_after["logits"], outputs_after["maps"].mean(dim=(2, 3)))


def test_local_pretrained_weights_load_and_report_ignored_keys(tmp_path, caplog):
    source = MultiAttentionNetwork(**TINY)
    state = {**source.backbone.state_dict(), "last_linear.weight": torch.zeros(1000, 256)}
    path = tmp_path / "se_resnet_imagenet.pt"
    torch.save(state, path)
    with caplog.at_level(logging.INFO, logger="weakloc_networks.multi_attention"):
        loaded = MultiAttentionNetwork(pretrained_weights=str(path), **TINY)
    for key, value in source.backbone.state_dict().items():
        assert torch.equal(loaded.backbone.state_dict()[key], value), key
    assert "last_linear.weight" in caplog.text and "ignored" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="weakloc_networks.multi_attention"):
        MultiAttentionNetwork(**TINY)
    assert "from scratch" in caplog.text


def test_pretrained_weights_that_are_missing_or_of_other_shapes_are_rejected_by_name(tmp_path):
    missing = tmp_path / "absent.pt"
    with pytest.raises(FileNotFoundError, match="absent.pt"):
        MultiAttentionNetwork(pretrained_weights=str(missing), **TINY)
    wide = tmp_path / "wide.pt"
    torch.save(MultiAttentionNetwork(layers=(1, 1, 1, 1), width=16).backbone.state_dict(), wide)
    with pytest.raises(ValueError, match=r"wide.pt.*layer0.conv1.weight"):
        MultiAttentionNetwork(pretrained_weights=str(wide), **TINY)
    renamed = tmp_path / "renamed.pt"
    torch.save(
        {f"module.{key}": value for key, value in MultiAttentionNetwork(**TINY).backbone.state_dict().items()}, renamed
    )
    with pytest.raises(ValueError, match=r"renamed.pt' has no tensor named as the feature extractor's"):
        MultiAttentionNetwork(pretrained_weights=str(renamed), **TINY)


@pytest.mark.parametrize("feature_attention", [True, False])
@pytest.mark.parametrize("last_stride", [2, 1])
def test_map_geometry_is_the_cells_receptive_field_centres(feature_attention, last_stride):
    network = MultiAttentionNetwork(
        feature_attention=feature_attention, space_attention=False, last_stride=last_stride, **TINY
    ).eval()
    for module in network.modules():
        if hasattr(module, "se_layer"):
            module.se_layer = nn.Identity()  # its global pooling would make every pixel reach every cell
    geometry = network.map_geometry()
    assert geometry.stride == 16 * last_stride
    x = torch.rand(1, 3, 320, 320, requires_grad=True)
    features = network.features(x)
    for cell in (3, 4):
        x.grad = None
        features[0, :, cell, cell].sum().backward(retain_graph=True)
        reached = x.grad[0].abs().sum(dim=(0, 1)).nonzero().flatten()
        centre = (float(reached.min()) + float(reached.max()) + 1) / 2
        assert centre == geometry.first_centre + geometry.stride * cell


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"spatial_dims": 3}, ValueError, "spatial_dims must be 2"),
        ({"num_classes": 0}, ValueError, "num_classes must be a positive integer"),
        ({"layers": 3}, TypeError, "layers must be a sequence"),
        ({"layers": (1, 1, 1)}, ValueError, "layers must have four block counts"),
        ({"width": 2}, ValueError, "width must be at least 4 with feature_attention"),
        ({"pooling": "max"}, ValueError, "pooling must be one of"),
        ({"last_stride": 4}, ValueError, "last_stride must be 1 or 2"),
    ],
)
def test_bad_arguments_are_rejected_by_name(kwargs, error, match):
    with pytest.raises(error, match=match):
        MultiAttentionNetwork(**{**TINY, **kwargs})


def test_bad_input_is_rejected_by_name():
    with pytest.raises(ValueError, match=r"x must be \(B, 3, H, W\)"):
        MultiAttentionNetwork(**TINY)(torch.rand(1, 1, 64, 64))


def test_loss_is_binary_cross_entropy_on_the_logits_and_trains_the_network():
    torch.manual_seed(0)
    network = MultiAttentionNetwork(num_classes=3, **TINY)
    labels = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    outputs = network(torch.rand(2, 3, 128, 128))
    loss = MultiLabelMapLoss()(outputs, labels)
    assert torch.allclose(loss, F.binary_cross_entropy_with_logits(outputs["logits"], labels))
    loss.backward()
    assert network.classifier.weight.grad is not None
    weighted = MultiLabelMapLoss(pos_weight=[1.0, 1.0, 4.0])(outputs, labels)
    expected = F.binary_cross_entropy_with_logits(outputs["logits"], labels, pos_weight=torch.tensor([1.0, 1.0, 4.0]))
    assert torch.allclose(weighted, expected) and weighted > loss


@pytest.mark.parametrize(
    ("pred", "labels", "match"),
    [
        ({"maps": torch.zeros(1, 3, 2, 2)}, torch.zeros(1, 3), "y_pred lacks 'logits'"),
        ({"logits": torch.zeros(1, 3)}, torch.zeros(1, 2), r"labels must be \(1, 3\)"),
        ({"logits": torch.zeros(1, 3)}, torch.full((1, 3), 2.0), "labels must be 0 or 1"),
        ({"logits": torch.zeros(1, 2)}, torch.zeros(1, 2), "pos_weight has 3 weights for 2 labels"),
    ],
)
def test_loss_rejects_bad_inputs_by_name(pred, labels, match):
    with pytest.raises(ValueError, match=match):
        MultiLabelMapLoss(pos_weight=[1.0, 1.0, 1.0])(pred, labels)


def test_registered_as_multi_attention():
    assert isinstance(REGISTRY.create("network", "multi_attention", **TINY), MultiAttentionNetwork)
    assert isinstance(REGISTRY.create("loss", "multi_attention_loss"), MultiLabelMapLoss)
