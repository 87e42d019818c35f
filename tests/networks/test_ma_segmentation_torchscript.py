"""The microaneurysm segmentation networks compile with ``torch.jit.script`` and give the eager outputs."""

from __future__ import annotations

import pytest
import torch

from weakloc_networks.frrn import FRRN
from weakloc_networks.patch_refinement import PatchRefinementLogits, PatchRefinementNetwork

TINY_FRRN = {"residual_channels": 4, "base_channels": 4, "encoder_units": (1, 1), "decoder_units": (1,),
             "residual_units": 1}
TINY_PRN = {"layers": (1, 1, 1, 1), "block_inplanes": (4, 4, 8, 8)}


@pytest.mark.parametrize(("spatial_dims", "size"), [(2, (32, 48)), (3, (8, 12, 16))], ids=["2d", "3d"])
def test_scripted_frrn_equals_the_eager_one_at_any_allowed_size(spatial_dims, size):
    torch.manual_seed(0)
    network = FRRN(spatial_dims=spatial_dims, **TINY_FRRN).eval()
    scripted = torch.jit.script(network)
    for shape in (size, tuple(side * 2 for side in size)):
        x = torch.rand(2, 3, *shape)
        with torch.no_grad():
            torch.testing.assert_close(scripted(x), network(x))
            torch.testing.assert_close(scripted.features(x), network.features(x))


def test_scripted_frrn_rejects_bad_inputs_by_name():
    scripted = torch.jit.script(FRRN(**TINY_FRRN).eval())
    with pytest.raises(torch.jit.Error, match=r"FRRN: input size \[30, 32\] must be divisible by 4"):
        scripted(torch.rand(1, 3, 30, 32))
    with pytest.raises(torch.jit.Error, match=r"FRRN: x must have 4 dimensions and 3 channels, got \[1, 1, 32, 32\]"):
        scripted(torch.rand(1, 1, 32, 32))


def test_scripted_patch_refinement_network_returns_the_eager_logits_and_embedding():
    torch.manual_seed(0)
    network = PatchRefinementNetwork(**TINY_PRN).eval()
    scripted = torch.jit.script(network)
    scripted_logits = torch.jit.script(PatchRefinementLogits(network))
    patches = torch.rand(5, 3, 17, 17)
    with torch.no_grad():
        expected = network(patches)
        outputs = scripted(patches)
        assert set(outputs) == {"logits", "embedding"}
        torch.testing.assert_close(outputs["logits"], expected["logits"])
        torch.testing.assert_close(outputs["embedding"], expected["embedding"])
        torch.testing.assert_close(scripted_logits(patches), expected["logits"])
