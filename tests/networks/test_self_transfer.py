"""Self-transfer learning network: the paper's 15 x 15 maps at 500 px, the three outputs, CAM layer, TorchScript."""

from __future__ import annotations

import pytest
import torch
from monai.networks.blocks import Convolution
from weakloc_networks.self_transfer import SelfTransferNetwork

from monai_weakloc.registry import REGISTRY

TINY = {"channels": (4, 8, 8, 8), "fc_channels": (16,), "classifier_grid": 2}


def test_paper_network_gives_15_by_15_maps_at_500_px():
    torch.manual_seed(0)
    network = SelfTransferNetwork(in_channels=1, num_classes=2).eval()
    with torch.no_grad():
        outputs = network(torch.rand(1, 1, 500, 500))
    assert set(outputs) == {"classifier", "localizer", "maps"}
    assert outputs["classifier"].shape == (1, 2)
    assert outputs["localizer"].shape == (1, 2)
    assert outputs["maps"].shape == (1, 2, 15, 15)
    convolutions = [module for module in network.shared if isinstance(module, Convolution)]
    assert len(convolutions) == 6
    assert [conv.conv.out_channels for conv in convolutions] == [96, 256, 384, 384, 256, 256]
    assert [conv.conv.kernel_size for conv in convolutions] == [(11, 11), (5, 5)] + [(3, 3)] * 4
    assert [conv.conv.stride for conv in convolutions] == [(4, 4)] + [(1, 1)] * 4 + [(2, 2)]
    assert [layer.out_features for layer in network.classifier if isinstance(layer, torch.nn.Linear)] == [4096, 4096, 2]


def test_global_stride_is_32_with_the_sixth_convolution_and_16_without():
    network = SelfTransferNetwork(**TINY)
    assert network.map_size(500) == 15
    assert network.map_size(500 + 32) == 16
    without = SelfTransferNetwork(channels=(4, 8, 8), sixth_conv=False, fc_channels=())
    assert without.map_size(500) == 30
    assert without.map_size(500 + 16) == 31


@pytest.mark.parametrize("pooling", ["max", "avg"])
def test_localizer_logits_are_the_globally_pooled_maps(pooling):
    torch.manual_seed(0)
    network = SelfTransferNetwork(num_classes=3, pooling=pooling, **TINY).eval()
    with torch.no_grad():
        outputs = network(torch.rand(2, 1, 128, 128))
    maps = outputs["maps"]
    assert maps.shape == (2, 3, 3, 3)
    expected = maps.amax(dim=(2, 3)) if pooling == "max" else maps.mean(dim=(2, 3))
    torch.testing.assert_close(outputs["localizer"], expected)
    assert outputs["classifier"].shape == (2, 3)


def test_features_are_the_output_of_the_cam_target_layer_and_feed_the_localizer():
    torch.manual_seed(0)
    network = SelfTransferNetwork(in_channels=3, **TINY).eval()
    hooked = []
    layer = dict(network.named_modules())[network.cam_target_layer]
    handle = layer.register_forward_hook(lambda module, args, output: hooked.append(output))
    x = torch.rand(2, 3, 128, 128)
    with torch.no_grad():
        features = network.features(x)
        outputs = network(x)
    handle.remove()
    assert features.shape == (2, 8, 3, 3)
    torch.testing.assert_close(hooked[-1], features)
    torch.testing.assert_close(outputs["maps"], network.localizer_conv(features))


def test_both_heads_train_the_shared_layers():
    torch.manual_seed(0)
    network = SelfTransferNetwork(**TINY)
    first_conv = network.shared[0].conv.weight
    for head in ("classifier", "localizer"):
        network.zero_grad()
        network(torch.rand(2, 1, 128, 128))[head].sum().backward()
        assert first_conv.grad is not None and first_conv.grad.abs().sum() > 0, head


def test_norm_adds_a_normalization_to_every_shared_convolution():
    network = SelfTransferNetwork(norm="batch", **TINY)
    assert sum(isinstance(module, torch.nn.BatchNorm2d) for module in network.modules()) == 4


def test_scripted_network_equals_the_eager_one():
    torch.manual_seed(0)
    network = SelfTransferNetwork(num_classes=3, pooling="max", norm="batch", **TINY).eval()
    scripted = torch.jit.script(network)
    for size in (128, 160):
        x = torch.rand(2, 1, size, size)
        with torch.no_grad():
            expected, outputs = network(x), scripted(x)
            assert set(outputs) == set(expected)
            for key in expected:
                torch.testing.assert_close(outputs[key], expected[key])
            torch.testing.assert_close(scripted.features(x), network.features(x))


def test_scripted_network_rejects_bad_inputs_by_name():
    scripted = torch.jit.script(SelfTransferNetwork(**TINY).eval())
    with pytest.raises(torch.jit.Error, match=r"SelfTransferNetwork: x must be \(B, 1, H, W\), got \[1, 3, 64, 64\]"):
        scripted(torch.rand(1, 3, 64, 64))
    with pytest.raises(torch.jit.Error, match=r"input size \[34, 64\] must be at least 35 on each side"):
        scripted(torch.rand(1, 1, 34, 64))


def test_bad_inputs_are_rejected_by_name():
    network = SelfTransferNetwork(**TINY)
    assert network.min_input_size == 35
    network(torch.rand(1, 1, 35, 35))
    with pytest.raises(TypeError, match="x must be a torch tensor"):
        network.features([[0.0]])
    with pytest.raises(ValueError, match=r"x must be \(B, 1, H, W\)"):
        network(torch.rand(1, 2, 64, 64))
    with pytest.raises(ValueError, match="must be at least 35 on each side"):
        network(torch.rand(1, 1, 64, 34))
    with pytest.raises(ValueError, match="input_size must be at least 35"):
        network.map_size(20)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"spatial_dims": 3}, ValueError, "spatial_dims must be 2"),
        ({"num_classes": 0}, ValueError, "num_classes must be a positive integer"),
        ({"channels": (4, 8, 8)}, ValueError, "channels needs at least 4 widths with sixth_conv=True"),
        ({"channels": (4, 8), "sixth_conv": False}, ValueError, "channels needs at least 3 widths"),
        ({"channels": (4, 0, 8, 8)}, ValueError, "every entry of channels must be a positive integer"),
        ({"channels": 8}, TypeError, "channels must be a sequence"),
        ({"fc_channels": (16, -1)}, ValueError, "every entry of fc_channels"),
        ({"dropout": 1.0}, ValueError, r"dropout must lie in \[0, 1\)"),
        ({"pooling": "lse"}, ValueError, "pooling must be one of"),
        ({"classifier_grid": 0}, ValueError, "classifier_grid must be a positive integer"),
    ],
)
def test_bad_arguments_are_rejected_by_name(kwargs, error, match):
    with pytest.raises(error, match=match):
        SelfTransferNetwork(**{**TINY, **kwargs})


def test_registered_as_self_transfer():
    assert isinstance(REGISTRY.create("network", "self_transfer", **TINY), SelfTransferNetwork)
