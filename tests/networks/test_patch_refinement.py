"""The patch refinement network (PRN) of the microaneurysm segmentation method."""

from __future__ import annotations

import pytest
import torch
from monai.networks.nets import ResNet

from monai_weakloc.registry import REGISTRY
from weakloc_networks.patch_refinement import PatchRefinementLogits, PatchRefinementNetwork

TINY = {"layers": (1, 1, 1, 1), "block_inplanes": (4, 8, 8, 16)}


def last_feature_map(resnet: ResNet, x: torch.Tensor) -> torch.Tensor:
    """The output of a MONAI ResNet's ``layer4``, through a forward hook."""
    captured = []
    handle = resnet.layer4.register_forward_hook(lambda module, inputs, output: captured.append(output))
    resnet(x)
    handle.remove()
    return captured[0]


def test_outputs_logits_and_embedding():
    network = PatchRefinementNetwork(num_classes=2, **TINY)
    output = network(torch.randn(3, 3, 25, 25))
    assert set(output) == {"logits", "embedding"}
    assert output["logits"].shape == (3, 2)
    assert output["embedding"].shape == (3, 64) and network.embedding_size == 64


def test_embedding_is_the_global_average_of_the_last_features():
    network = PatchRefinementNetwork(**TINY).eval()
    captured = []
    network.get_submodule(network.cam_target_layer).register_forward_hook(
        lambda module, inputs, output: captured.append(output)
    )
    patches = torch.randn(2, 3, 25, 25)
    output = network(patches)
    last_features = captured[0]
    assert last_features.shape == (2, 64, 2, 2)
    torch.testing.assert_close(output["embedding"], last_features.mean(dim=(2, 3)))
    torch.testing.assert_close(output["logits"], network.resnet.fc(last_features.mean(dim=(2, 3))))
    torch.testing.assert_close(network.features(patches), last_features)


def test_one_downsampling_step_fewer_than_he_et_al_resnet50():
    """He et al.'s ResNet-50 has a stride-2 first convolution (total stride 32); the PRN drops that stride.

    MONAI's ``ResNet`` defaults to ``conv1_t_stride=1`` already, so the PRN's last map equals the default's.
    """
    patches = torch.randn(1, 3, 64, 64)
    common = {"block": "bottleneck", "layers": [1, 1, 1, 1], "block_inplanes": [4, 8, 8, 16], "spatial_dims": 2}
    original = ResNet(**common, conv1_t_stride=2).eval()
    monai_default = ResNet(**common).eval()
    network = PatchRefinementNetwork(**TINY).eval()
    assert last_feature_map(original, patches).shape[-2:] == (2, 2)
    assert network.features(patches).shape[-2:] == (4, 4) == last_feature_map(monai_default, patches).shape[-2:]


def test_default_is_resnet50_with_a_2048_embedding_and_trains_on_25_pixel_patches():
    network = PatchRefinementNetwork()
    assert [len(getattr(network.resnet, f"layer{i}")) for i in range(1, 5)] == [3, 4, 6, 3]
    output = network(torch.randn(2, 3, 25, 25))
    assert output["embedding"].shape == (2, 2048)
    output["logits"].sum().backward()
    assert network.resnet.conv1.weight.grad is not None


def test_smallest_patch_runs_in_eval_mode():
    network = PatchRefinementNetwork(**TINY).eval()
    assert network(torch.randn(1, 3, 1, 1))["logits"].shape == (1, 2)


def test_logits_view_shares_the_weights():
    network = PatchRefinementNetwork(**TINY).eval()
    view = PatchRefinementLogits(network)
    patches = torch.randn(2, 3, 9, 9)
    torch.testing.assert_close(view(patches), network(patches)["logits"])
    assert list(view.parameters()) == list(network.parameters())
    with pytest.raises(TypeError, match="PatchRefinementNetwork"):
        PatchRefinementLogits(torch.nn.Identity())


def test_bad_depth_raises_naming_it():
    with pytest.raises(ValueError, match="layers must be four positive integers"):
        PatchRefinementNetwork(layers=(3, 4, 6))


def test_registered():
    assert isinstance(REGISTRY.create("network", "patch_refinement", **TINY), PatchRefinementNetwork)
    network = PatchRefinementNetwork(**TINY)
    assert isinstance(REGISTRY.create("network", "patch_refinement_logits", network=network), PatchRefinementLogits)
