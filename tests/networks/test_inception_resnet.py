"""The Inception-ResNet backbone: strides, widths, head, named ReLUs for saliency, scripting, bad knobs."""

from __future__ import annotations

import pytest
import torch
from monai.visualize import GuidedBackpropGrad, VanillaGrad
from torch import nn

from weakloc_networks.inception_resnet import InceptionResNet

TINY = {"width_multiplier": 1 / 16, "blocks_per_stage": (1, 1, 1)}


@pytest.mark.parametrize(
    ("padding", "side", "expected_side"),
    [("same", 64, 2), ("same", 100, 4), ("valid", 128, 2), ("valid", 75, 1)],
)
def test_feature_map_stride_and_channels(padding, side, expected_side):
    torch.manual_seed(0)
    net = InceptionResNet(in_channels=1, padding=padding, **TINY)
    feature_map = net.features(torch.randn(2, 1, side, side))
    assert feature_map.shape == (2, 64, expected_side, expected_side)
    assert net.out_channels == 64
    assert feature_map.min() >= 0


def test_forward_without_head_is_the_feature_map_and_with_head_gives_logits():
    torch.manual_seed(0)
    image = torch.randn(2, 3, 64, 64)
    backbone = InceptionResNet(padding="same", feature_channels=24, **TINY).eval()
    assert backbone(image).shape == (2, 24, 2, 2)
    classifier = InceptionResNet(num_classes=3, padding="same", **TINY).eval()
    logits = classifier(image)
    assert logits.shape == (2, 3)
    pooled = classifier.features(image).mean(dim=(2, 3))
    assert torch.allclose(logits, classifier.head[-1](pooled), atol=1e-6)


def test_depth_knob_sets_the_number_of_residual_blocks():
    net = InceptionResNet(width_multiplier=1 / 16, blocks_per_stage=(2, 3, 0), padding="same")
    assert (len(net.stage_a), len(net.stage_b), len(net.stage_c)) == (2, 3, 0)
    assert net.features(torch.randn(1, 3, 64, 64)).shape == (1, 64, 2, 2)


def test_activations_are_relu_modules_that_guided_backprop_replaces():
    torch.manual_seed(0)
    net = InceptionResNet(num_classes=2, padding="same", **TINY).eval()
    relu_names = [name for name, module in net.named_modules() if isinstance(module, nn.ReLU)]
    assert relu_names and all("relu" in name.rsplit(".", 1)[-1] for name in relu_names)
    image = torch.randn(1, 3, 64, 64)
    guided = GuidedBackpropGrad(net)(image.clone(), index=1)
    vanilla = VanillaGrad(net)(image.clone(), index=1)
    assert guided.shape == vanilla.shape == (1, 3, 64, 64)
    assert not torch.allclose(guided, vanilla)


def test_torchscript_gives_the_same_output():
    torch.manual_seed(0)
    net = InceptionResNet(num_classes=3, padding="same", **TINY).eval()
    image = torch.randn(2, 3, 64, 64)
    scripted = torch.jit.script(net)
    assert torch.allclose(scripted(image), net(image), atol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"spatial_dims": 3}, "spatial_dims"),
        ({"padding": "reflect"}, "padding"),
        ({"width_multiplier": 0}, "width_multiplier"),
        ({"blocks_per_stage": (1, 1)}, "blocks_per_stage"),
        ({"num_classes": 0}, "num_classes"),
    ],
)
def test_bad_knobs_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        InceptionResNet(**kwargs)
