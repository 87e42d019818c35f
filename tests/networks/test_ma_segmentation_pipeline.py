"""The microaneurysm pipeline at inference: HGN maps at two scales, their fusion, the PRN only at candidates."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from monai.inferers import SlidingWindowInferer

from monai_weakloc.localize.candidate_refinement import refine_candidates
from weakloc_networks.frrn import FRRN
from weakloc_networks.ma_segmentation_pipeline import MASegmentationPipeline
from weakloc_networks.patch_refinement import PatchRefinementNetwork

ROI, PATCH = 16, 9


def tiny_hgn(seed: int) -> FRRN:
    torch.manual_seed(seed)
    return FRRN(residual_channels=4, base_channels=8, encoder_units=(1, 1), decoder_units=(1,), residual_units=1).eval()


def tiny_prn(seed: int) -> PatchRefinementNetwork:
    torch.manual_seed(seed)
    return PatchRefinementNetwork(layers=(1, 1, 1, 1), block_inplanes=(4, 8, 8, 8)).eval()


@pytest.fixture
def pipeline_inputs():
    torch.manual_seed(0)
    image = torch.rand(1, 3, 32, 48)
    fov = torch.zeros(1, 1, 32, 48)
    fov[..., 2:30, 4:44] = 1
    return image, fov


def hgn_map(network, image):
    logits = SlidingWindowInferer(roi_size=(ROI, ROI), sw_batch_size=4, overlap=0.25, mode="gaussian")(image, network)
    return torch.softmax(logits, dim=1)[:, 1:2]


def test_maps_are_the_two_scales_their_fusion_and_the_prn_at_candidates_only(pipeline_inputs):
    image, fov = pipeline_inputs
    full_net, half_net, prn = tiny_hgn(1), tiny_hgn(2), tiny_prn(3)
    pipeline = MASegmentationPipeline(
        full_net, half_net, prn, roi_size=ROI, prn_patch_size=PATCH, candidate_threshold=0.45
    )
    with torch.no_grad():
        maps = pipeline(image, fov)
        full = hgn_map(full_net, image)
        half = F.interpolate(
            hgn_map(half_net, F.interpolate(image, scale_factor=0.5, mode="area")), size=(32, 48), mode="bilinear"
        )
    assert set(maps) == {"hgn_1x", "hgn_05x", "fused", "final"}
    assert all(value.shape == (1, 1, 32, 48) for value in maps.values())
    torch.testing.assert_close(maps["hgn_1x"], full)
    torch.testing.assert_close(maps["hgn_05x"], half)
    torch.testing.assert_close(maps["fused"], torch.sqrt(full * half))
    candidates = (maps["fused"] > 0.45) & (fov > 0.5)
    assert 0 < int(candidates.sum()) < candidates.numel()
    expected = refine_candidates(prn, image, maps["fused"], 0.45, PATCH, 256, fov, logits_key="logits").probabilities
    torch.testing.assert_close(maps["final"], expected)
    assert torch.all(maps["final"][~candidates] == 0)
    assert torch.all(maps["final"][candidates] > 0)


def test_ablation_maps_cover_every_row_of_the_paper_table(pipeline_inputs):
    image, fov = pipeline_inputs
    pipeline = MASegmentationPipeline(
        tiny_hgn(1),
        tiny_hgn(2),
        tiny_prn(3),
        roi_size=ROI,
        prn_patch_size=PATCH,
        fusion="arithmetic",
        candidate_threshold=0.45,
        cls_prn=tiny_prn(4),
        ablation_maps=True,
    )
    with torch.no_grad():
        maps = pipeline(image, fov)
    assert set(maps) == {
        "hgn_1x",
        "hgn_05x",
        "fused",
        "final",
        "hgn_arithmetic",
        "hgn_geometric",
        "prn_arithmetic",
        "prn_geometric",
        "cls_arithmetic",
        "cls_geometric",
    }
    torch.testing.assert_close(maps["hgn_arithmetic"], (maps["hgn_1x"] + maps["hgn_05x"]) / 2)
    torch.testing.assert_close(maps["fused"], maps["hgn_arithmetic"])
    assert torch.equal(maps["prn_arithmetic"], maps["final"])
    assert not torch.equal(maps["cls_arithmetic"], maps["prn_arithmetic"])


def test_without_prn_the_fused_map_is_the_last_and_bad_options_are_named(pipeline_inputs):
    image, _ = pipeline_inputs
    with torch.no_grad():
        maps = MASegmentationPipeline(tiny_hgn(1), tiny_hgn(2), None, roi_size=ROI, prn_patch_size=PATCH)(image)
    assert set(maps) == {"hgn_1x", "hgn_05x", "fused"}
    for options, field in (
        ({"fusion": "median"}, "fusion"),
        ({"candidate_threshold": 1.0}, "candidate_threshold"),
        ({"prn_patch_size": 8}, "prn_patch_size"),
    ):
        with pytest.raises(ValueError, match=field):
            MASegmentationPipeline(tiny_hgn(1), tiny_hgn(2), None, roi_size=ROI, **{"prn_patch_size": PATCH, **options})
    pipeline = MASegmentationPipeline(tiny_hgn(1), tiny_hgn(2), None, roi_size=ROI, prn_patch_size=PATCH)
    with torch.no_grad():
        odd = pipeline(image[..., :31, :47])
    assert all(value.shape == (1, 1, 31, 47) for value in odd.values())
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        pipeline(image[0])
