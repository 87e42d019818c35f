from __future__ import annotations

from collections import OrderedDict

import pytest
import torch
from monai.visualize import GuidedBackpropGrad, VanillaGrad
from torch import nn

from monai_weakloc.localize import gradient_saliency, guided_backprop_saliency, guided_relu_hooks, input_gradients


def _tiny_network(inplace: bool) -> nn.Module:
    torch.manual_seed(0)
    network = nn.Sequential(
        OrderedDict(
            conv1=nn.Conv2d(3, 6, 3, padding=1),
            norm1=nn.BatchNorm2d(6),
            relu1=nn.ReLU(inplace=inplace),
            conv2=nn.Conv2d(6, 8, 3, padding=1),
            relu2=nn.ReLU(inplace=inplace),
            pool=nn.AdaptiveAvgPool2d(1),
            flatten=nn.Flatten(),
            fc=nn.Linear(8, 3),
        )
    )
    with torch.no_grad():  # non-trivial batch-norm statistics, so eval mode matters
        network.norm1.running_mean.uniform_(-0.5, 0.5)
        network.norm1.running_var.uniform_(0.5, 2.0)
    return network


def _images(batch_size: int = 4) -> torch.Tensor:
    return torch.randn(batch_size, 3, 32, 32, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("inplace", [False, True])
def test_guided_backprop_matches_monai_per_image(inplace):
    network = _tiny_network(inplace)
    images = _images()
    targets = [0, 2, 1, 2]
    ours = guided_backprop_saliency(network, images, targets, absolute=False)
    ours_absolute = guided_backprop_saliency(network, images, targets)
    monai_guided = GuidedBackpropGrad(network)
    for index, target in enumerate(targets):
        raw = monai_guided(images[index : index + 1].clone(), index=target)  # (1, C, H, W) raw gradient
        assert torch.allclose(ours[index], raw[0].mean(0), atol=1e-6)
        assert torch.allclose(ours_absolute[index], raw[0].abs().mean(0), atol=1e-6)


def test_plain_gradient_matches_monai_vanilla_grad():
    network = _tiny_network(inplace=False)
    images = _images(2)
    ours = gradient_saliency(network, images, [1, 0], absolute=False)
    vanilla = VanillaGrad(network)
    for index, target in enumerate([1, 0]):
        raw = vanilla(images[index : index + 1].clone(), index=target)
        assert torch.allclose(ours[index], raw[0].mean(0), atol=1e-6)


def test_guided_differs_from_plain_gradient():
    network = _tiny_network(inplace=False)
    images = _images(2)
    guided = guided_backprop_saliency(network, images, 0, absolute=False)
    plain = gradient_saliency(network, images, 0, absolute=False)
    assert guided.shape == plain.shape == (2, 32, 32)
    assert not torch.allclose(guided, plain)


def test_batched_equals_per_image_and_default_target_is_each_arg_max():
    network = _tiny_network(inplace=True)
    images = _images(4)
    batched = guided_backprop_saliency(network, images)
    with torch.no_grad():
        arg_max = network.eval()(images).argmax(1)
    for index in range(4):
        single = guided_backprop_saliency(network, images[index : index + 1], int(arg_max[index]))
        assert torch.allclose(batched[index], single[0], atol=1e-6)


def test_hooks_and_modes_are_restored_even_after_an_error():
    network = _tiny_network(inplace=False).train()
    network.norm1.eval()  # a mixed state that must come back as it was
    images = _images(2)
    plain_before = gradient_saliency(network, images, 1)
    with pytest.raises(ValueError, match="out of range"):
        guided_backprop_saliency(network, images, [0, 7])
    with pytest.raises(RuntimeError, match="boom"):
        with guided_relu_hooks(network) as count:
            assert count == 2
            raise RuntimeError("boom")
    assert all(len(module._forward_hooks) == 0 for module in network.modules())
    assert network.training and network.conv1.training and not network.norm1.training
    assert torch.allclose(gradient_saliency(network, images, 1), plain_before)
    assert all(parameter.grad is None for parameter in network.parameters())


def test_network_without_relu_modules_is_rejected():
    network = nn.Sequential(nn.Conv2d(3, 2, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    with pytest.raises(ValueError, match="no torch.nn.ReLU module"):
        guided_backprop_saliency(network, _images(1))


def test_bad_targets_and_outputs_are_named():
    network = _tiny_network(inplace=False)
    with pytest.raises(ValueError, match="one per image"):
        input_gradients(network, _images(2), [0, 1, 2])
    with pytest.raises(ValueError, match=r"logits \(B, K\)"):
        input_gradients(nn.Sequential(nn.Conv2d(3, 2, 1), nn.ReLU()), _images(2))
