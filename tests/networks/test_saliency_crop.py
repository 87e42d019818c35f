"""Saliency-crop network: the paper's layout, residual skips, and both derived forms equal to it at training size."""

from __future__ import annotations

import pytest
import torch
from monai.networks.blocks import Convolution
from weakloc_networks.saliency_crop import (
    ResidualSegment,
    SaliencyCropAdaptivePooling,
    SaliencyCropFullyConvolutional,
    SaliencyCropNetwork,
)

from monai_weakloc.localize.saliency import guided_backprop_saliency
from monai_weakloc.registry import REGISTRY

TINY = {"input_size": 64, "channels": (4, 4, 8, 8, 8, 8), "reduce": (False, True, True, False, True)}
"""64 px -> 16 after the input segment -> 16, 8, 4, 4, 2: a 2 x 2 classifier grid."""


def trained_like(network: torch.nn.Module) -> torch.nn.Module:
    """``network`` after a few training steps (batch norm statistics away from their initial values), in eval mode."""
    torch.manual_seed(1)
    optimizer = torch.optim.SGD(network.parameters(), lr=0.01)
    for _ in range(3):
        optimizer.zero_grad()
        logits = network(torch.rand(4, network.backbone.in_channels, 64, 64))
        torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1, 0, 1])).backward()
        optimizer.step()
    return network.eval()


def test_default_network_has_the_paper_layout_and_a_16_cell_grid_at_1024_px():
    network = SaliencyCropNetwork()
    assert network.classifier_grid == 16
    assert network.backbone.feature_size(512) == 8
    segments = list(network.backbone.segments)
    assert len(segments) == 5
    for segment in segments:
        convolutions = [module for module in segment.convolutions if isinstance(module, Convolution)]
        assert len(convolutions) == 3
        assert all(isinstance(conv.adn.N, torch.nn.BatchNorm2d) for conv in convolutions)
    assert [segment.convolutions[0].conv.stride for segment in segments] == [(1, 1)] + [(2, 2)] * 4
    assert network.fc.in_features == 512 and network.fc.out_features == 2


def test_network_gives_one_logit_vector_at_training_size_and_names_other_sizes():
    torch.manual_seed(0)
    network = SaliencyCropNetwork(num_classes=3, **TINY).eval()
    with torch.no_grad():
        assert network(torch.rand(2, 3, 64, 64)).shape == (2, 3)
        assert network.features(torch.rand(2, 3, 64, 64)).shape == (2, 8, 2, 2)
        with pytest.raises(ValueError, match=r"feature grid torch.Size\(\[3, 3\]\), the classifier reads 2 x 2 "):
            network(torch.rand(1, 3, 96, 96))


def test_skip_is_identity_or_max_pooling_and_a_1x1_convolution_only_where_channels_change():
    torch.manual_seed(0)
    same = ResidualSegment(4, 4, reduce=False).eval()
    assert len(same.skip) == 0
    x = torch.rand(1, 4, 7, 7)
    with torch.no_grad():
        torch.testing.assert_close(same(x), torch.relu(same.convolutions(x) + x))
    reducing = ResidualSegment(4, 4, reduce=True).eval()
    assert [type(layer) for layer in reducing.skip] == [torch.nn.MaxPool2d]
    with torch.no_grad():
        out = reducing(x)
        assert out.shape == (1, 4, 4, 4)  # an odd side halves rounding up in both branches
        torch.testing.assert_close(
            out, torch.relu(reducing.convolutions(x) + torch.nn.functional.max_pool2d(x, 2, ceil_mode=True))
        )
    widening = ResidualSegment(4, 8, reduce=True)
    assert [type(layer) for layer in widening.skip] == [torch.nn.MaxPool2d, Convolution]
    assert widening.skip[1].conv.kernel_size == (1, 1)


@pytest.mark.parametrize("pooling", ["avg", "max"])
def test_both_forms_equal_the_network_at_training_size(pooling):
    network = trained_like(SaliencyCropNetwork(pooling=pooling, dropout=0.3, **TINY))
    adaptive, convolutional = network.adaptive_pooling_form(), network.fully_convolutional_form()
    assert not adaptive.training and not convolutional.training
    x = torch.rand(3, 3, 64, 64)
    with torch.no_grad():
        expected = network(x)
        torch.testing.assert_close(adaptive(x), expected)
        logit_map = convolutional(x)
    assert logit_map.shape == (3, 2, 1, 1)
    torch.testing.assert_close(logit_map[:, :, 0, 0], expected)


def test_adaptive_form_gives_one_vector_for_a_full_size_image():
    network = trained_like(SaliencyCropNetwork(**TINY))
    adaptive = network.adaptive_pooling_form()
    assert isinstance(adaptive, SaliencyCropAdaptivePooling)
    with torch.no_grad():
        assert adaptive(torch.rand(2, 3, 160, 224)).shape == (2, 2)


def test_fully_convolutional_form_gives_a_map_growing_with_the_input_one_logit_pair_per_window():
    network = trained_like(SaliencyCropNetwork(**TINY))
    convolutional = network.fully_convolutional_form()
    assert isinstance(convolutional, SaliencyCropFullyConvolutional)
    x = torch.rand(1, 3, 96, 160)  # feature grid 3 x 5, a 2 x 2 window: 2 x 4 windows
    with torch.no_grad():
        logit_map = convolutional(x)
        assert logit_map.shape == (1, 2, 2, 4)
        assert (convolutional.map_size(96), convolutional.map_size(160)) == (2, 4)
        features = network.features(x)
        window = features[:, :, 1:3, 2:4].mean(dim=(2, 3))
        torch.testing.assert_close(logit_map[:, :, 1, 2], network.fc(window))
    assert convolutional.min_input_size == 33
    with pytest.raises(ValueError, match="input size torch.Size\\(\\[32, 64\\]\\) must be at least 33"):
        convolutional(torch.rand(1, 3, 32, 64))
    with pytest.raises(ValueError, match="input_size must be at least 33, got 20"):
        convolutional.map_size(20)


def test_forms_are_copies_that_further_training_leaves_alone():
    network = trained_like(SaliencyCropNetwork(**TINY))
    adaptive = network.adaptive_pooling_form()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        before = adaptive(x)
        network.fc.weight.add_(1.0)
        torch.testing.assert_close(adaptive(x), before)


def test_cam_target_layer_gives_the_features_and_guided_backprop_runs_on_the_adaptive_form():
    network = trained_like(SaliencyCropNetwork(**TINY))
    adaptive = network.adaptive_pooling_form()
    hooked = []
    for module in (network, adaptive):
        layer = dict(module.named_modules())[module.cam_target_layer]
        handle = layer.register_forward_hook(lambda _module, _args, output: hooked.append(output))
        x = torch.rand(1, 3, 96, 96)
        with torch.no_grad():
            features = module.features(x)
        handle.remove()
        torch.testing.assert_close(hooked[-1], features)
    saliency = guided_backprop_saliency(adaptive, torch.rand(2, 3, 96, 128), target_classes=1)
    assert saliency.shape == (2, 96, 128) and saliency.abs().sum() > 0


def test_scripted_network_and_forms_equal_the_eager_ones():
    network = trained_like(SaliencyCropNetwork(**TINY))
    x = torch.rand(2, 3, 64, 64)
    for module in (network, network.adaptive_pooling_form(), network.fully_convolutional_form()):
        with torch.no_grad():
            torch.testing.assert_close(torch.jit.script(module)(x), module(x))


def test_bad_inputs_are_rejected_by_name():
    network = SaliencyCropNetwork(**TINY)
    with pytest.raises(TypeError, match="x must be a torch tensor"):
        network([[0.0]])
    with pytest.raises(ValueError, match=r"x must be \(B, 3, H, W\)"):
        network(torch.rand(1, 1, 64, 64))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"spatial_dims": 3}, ValueError, "spatial_dims must be 2"),
        ({"in_channels": 0}, ValueError, "in_channels must be a positive integer"),
        ({"num_classes": 1.5}, ValueError, "num_classes must be a positive integer"),
        ({"input_size": 0}, ValueError, "input_size must be a positive integer"),
        ({"channels": (4, 8, 8)}, ValueError, "channels needs 6 entries"),
        ({"channels": (4, 8, 8, 8, 0, 8)}, ValueError, "every entry of channels must be a positive integer"),
        ({"channels": 8}, TypeError, "channels must be a sequence"),
        ({"reduce": (True, True)}, ValueError, "reduce needs 5 entries"),
        ({"reduce": (1, 0, 1, 0, 1)}, ValueError, "every entry of reduce must be a bool"),
        ({"pooling": "lse"}, ValueError, "pooling must be one of"),
        ({"dropout": 1.0}, ValueError, r"dropout must lie in \[0, 1\)"),
    ],
)
def test_bad_arguments_are_rejected_by_name(kwargs, error, match):
    with pytest.raises(error, match=match):
        SaliencyCropNetwork(**{**TINY, **kwargs})


def test_registered_as_saliency_crop():
    assert isinstance(REGISTRY.create("network", "saliency_crop", **TINY), SaliencyCropNetwork)
