"""The full-resolution residual network (FRRN) of the microaneurysm segmentation method."""

from __future__ import annotations

import pytest
import torch

from monai_weakloc.registry import REGISTRY
from weakloc_networks.frrn import FRRN, FullResolutionResidualUnit

TINY = {"residual_channels": 4, "base_channels": 8, "encoder_units": (1, 1), "decoder_units": (1,), "residual_units": 1}


def frru_modules(network: FRRN) -> list[FullResolutionResidualUnit]:
    return [module for module in network.modules() if isinstance(module, FullResolutionResidualUnit)]


def test_logits_have_the_input_size():
    network = FRRN(out_channels=3, **TINY)
    logits = network(torch.randn(2, 3, 8, 12))
    assert logits.shape == (2, 3, 8, 12)
    assert network.features(torch.randn(2, 3, 8, 12)).shape == (2, 8, 8, 12)


def test_three_dimensional_volumes_keep_their_size():
    network = FRRN(spatial_dims=3, in_channels=1, **TINY)
    assert network(torch.randn(2, 1, 4, 8, 4)).shape == (2, 2, 4, 8, 4)


def test_gradients_reach_both_streams_of_every_frru():
    torch.manual_seed(0)
    network = FRRN(**{**TINY, "encoder_units": (2, 1), "decoder_units": (2,)})
    network(torch.randn(2, 3, 8, 8)).square().sum().backward()
    units = frru_modules(network)
    assert len(units) == 5
    for unit in units:
        # the pooling stream's convolutions and the projection back onto the residual stream both learn
        for parameter in (*unit.convs.parameters(), *unit.to_residual.parameters()):
            assert parameter.grad is not None and parameter.grad.abs().sum() > 0
    # the residual stream starts at the split and reaches the head
    assert network.split.weight.grad.abs().sum() > 0


def test_a_size_the_encoder_cannot_halve_raises_naming_it():
    network = FRRN(**TINY)
    with pytest.raises(ValueError, match=r"input size \(8, 10\) must be divisible by 4"):
        network(torch.randn(1, 3, 8, 10))


def test_bad_input_channels_and_configuration_raise():
    with pytest.raises(ValueError, match=r"x must have shape \(B, 3, S, S\)"):
        FRRN(**TINY)(torch.randn(1, 1, 8, 8))
    with pytest.raises(ValueError, match="decoder_units needs one stage fewer"):
        FRRN(encoder_units=(1, 1), decoder_units=(1, 1))
    with pytest.raises(ValueError, match="encoder_units"):
        FRRN(encoder_units=(1, 0), decoder_units=(1,))
    with pytest.raises(ValueError, match="spatial_dims"):
        FRRN(spatial_dims=1)


def test_default_is_frrn_a():
    network = FRRN()
    units = frru_modules(network)
    assert len(units) == 3 + 4 + 2 + 2 + 2 + 2 + 2
    pooling_widths = [unit.convs[0].conv.out_channels for unit in units]
    scales = [unit.scale for unit in units]
    assert pooling_widths == [96] * 3 + [192] * 4 + [384] * 4 + [192] * 4 + [96] * 2
    assert scales == [2] * 3 + [4] * 4 + [8] * 2 + [16] * 2 + [8] * 2 + [4] * 2 + [2] * 2
    assert all(unit.to_residual.out_channels == 32 for unit in units)
    assert len(network.stem_units) == len(network.head_units) == 3
    # Pohlen et al. report 17.7 M parameters for FRRN A
    assert round(sum(p.numel() for p in network.parameters()) / 1e6, 1) == 17.7


def test_registered_as_frrn():
    assert isinstance(REGISTRY.create("network", "frrn", **TINY), FRRN)
