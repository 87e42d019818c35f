"""Zoom-in-Net: outputs per phase and pairing, attention algebra, crops, phase freezing, scripting, registry."""

from __future__ import annotations

import math

import pytest
import torch
from weakloc_networks.zoom_in_a_net import ANet
from weakloc_networks.zoom_in_c_net import CNet
from weakloc_networks.zoom_in_m_net import MNet
from weakloc_networks.zoom_in_net import ZoomInNet
from weakloc_networks.zoom_in_net_loss import ZoomInNetLoss

from monai_weakloc.localize import Region, crop_box
from monai_weakloc.registry import Registry

LOW, HIGH = 64, 96
TINY = {
    "low_res": LOW,
    "high_res": HIGH,
    "region_size": 16,
    "num_regions": 3,
    "crop_size": 32,
    "m_width_multiplier": 1 / 16,
    "m_blocks_per_stage": (1, 1, 1),
    "attention_channels": 8,
    "c_width_multiplier": 1 / 16,
    "c_blocks_per_stage": (1, 0, 1),
    "padding": "same",
}


def tiny_net(**overrides) -> ZoomInNet:
    torch.manual_seed(0)
    return ZoomInNet(**{**TINY, **overrides})


def inputs(batch: int = 2) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return (
        torch.randn(batch, 3, LOW, LOW, generator=generator),
        torch.randn(batch, 3, HIGH, HIGH, generator=generator),
        torch.randn(batch, 3, LOW, LOW, generator=generator),
    )


@pytest.mark.parametrize("phase", [1, 2, 3])
@pytest.mark.parametrize("paired_eyes", [True, False])
def test_output_shapes_per_phase_and_pairing(phase, paired_eyes):
    net = tiny_net(paired_eyes=paired_eyes, phase=phase)
    low, high, fellow = inputs()
    outputs = net(low, high, fellow if paired_eyes else None)
    expected_keys = {"y_m", "y_a", "gated_maps", "attention", "feature_map", "regions", "region_map",
                     "region_scores"} | (
        {"y_c"} if phase == 3 else set()
    )
    assert set(outputs) == expected_keys
    with torch.no_grad():  # in eval mode the feature map is the image's own, whatever the fellow eye
        assert torch.allclose(net.eval()(low, high, fellow if paired_eyes else None)["feature_map"], net.features(low),
                              atol=1e-5)
    assert outputs["y_m"].shape == outputs["y_a"].shape == (2, 5)
    assert outputs["gated_maps"].shape == outputs["attention"].shape == (2, 5, 2, 2)
    assert outputs["regions"].shape == (2, 3, 4)
    assert outputs["region_map"].shape == (2, 2, 2) and outputs["region_scores"].shape == (2, 3)
    if phase == 3:
        assert outputs["y_c"].shape == (2, 5)
    assert "y_c" not in net(low, None, fellow if paired_eyes else None)
    assert net.features(low).shape == (2, 64, 2, 2)


def test_attention_is_a_spatial_softmax_and_y_a_the_spatial_sum_of_the_gated_maps():
    net = tiny_net(phase=2)
    low, high, fellow = inputs()
    outputs = net(low, high, fellow)
    attention_sums = outputs["attention"].sum(dim=(2, 3))
    assert torch.allclose(attention_sums, torch.ones_like(attention_sums), atol=1e-6)
    assert torch.allclose(outputs["y_a"], outputs["gated_maps"].sum(dim=(2, 3)), atol=1e-6)
    a_net_outputs = net.a_net(net.features(low))
    assert torch.allclose(outputs["gated_maps"], a_net_outputs["score_maps"] * a_net_outputs["attention"], atol=1e-6)


def planted_gated_maps() -> torch.Tensor:
    """(1, 5, 64, 64) gated maps at image size with peaks planted in the lesion grades 1..4."""
    gated_maps = torch.zeros(1, 5, LOW, LOW)
    gated_maps[0, 0, 30, 30] = 100.0  # grade 0 (healthy) is not a lesion grade
    gated_maps[0, 2, 10, 12] = 5.0
    gated_maps[0, 4, 40, 50] = 4.0
    gated_maps[0, 1, 12, 14] = 3.5  # within 8 px of the first peak: masked with it
    gated_maps[0, 3, 60, 5] = 2.0
    return gated_maps


def planted_region_map(net: ZoomInNet) -> torch.Tensor:
    """(1, 64, 64) region map of :func:`planted_gated_maps` (the paper's sum over the lesion grades)."""
    return net.region_map(planted_gated_maps(), torch.zeros(1, 5, LOW, LOW))


def test_regions_are_the_planted_peaks_of_the_lesion_grades():
    net = tiny_net(num_regions=4, region_size=16)
    (regions,) = net.sample_lesion_regions(planted_region_map(net))
    assert [(r.x - 0.5, r.y - 0.5) for r in regions] == [(12, 10), (50, 40), (5, 60), (0, 0)]
    assert [r.score for r in regions[:3]] == pytest.approx([5.0, 4.0, 2.0])
    assert regions[0].box == (4.0, 2.0, 20.0, 18.0)


@pytest.mark.parametrize(("threshold", "found"), [(1.0, 3), (4.5, 1), (6.0, 0)])
def test_region_sampling_stops_below_the_threshold(threshold, found):
    net = tiny_net(num_regions=4, region_size=16, region_threshold=threshold)
    (regions,) = net.sample_lesion_regions(planted_region_map(net))
    assert len(regions) == found


def test_region_map_sums_or_maxes_the_lesion_grades_or_contrasts_their_scores_or_their_probability():
    gated_maps = torch.zeros(1, 5, 2, 2)
    gated_maps[0, 0, 0, 0] = 100.0
    gated_maps[0, 3, 1, 1] = 1.0
    gated_maps[0, 2, 1, 0] = -5.0
    gated_maps[0, 4, 1, 0] = 2.0
    score_maps = torch.zeros(1, 5, 2, 2)
    score_maps[0, 0, 0, 1] = 3.0  # healthy evidence
    score_maps[0, 1:, 1, 1] = torch.tensor([1.0, 2.0, 3.0, 6.0])  # lesion evidence, mean 3
    assert tiny_net().region_map(gated_maps, score_maps).tolist() == [[[0.0, 0.0], [-3.0, 1.0]]]
    gated_max = tiny_net(region_map_kind="gated_max").region_map(gated_maps, score_maps)
    assert gated_max.tolist() == [[[0.0, 0.0], [2.0, 1.0]]]
    contrast = tiny_net(region_map_kind="score_contrast").region_map(gated_maps, score_maps)
    assert contrast.tolist() == [[[0.0, -3.0], [0.0, 3.0]]]
    probability = tiny_net(region_map_kind="lesion_probability").region_map(gated_maps, score_maps)
    lesion_evidence = sum(math.exp(score) for score in (1.0, 2.0, 3.0, 6.0))
    healthy_share = [[1 / 5, math.exp(3) / (math.exp(3) + 4)], [1 / 5, 1 / (1 + lesion_evidence)]]
    expected = [[[1 - share for share in row] for row in healthy_share]]
    assert torch.allclose(probability, torch.tensor(expected), atol=1e-6)


def test_forward_regions_come_from_the_chosen_region_map():
    low, high, fellow = inputs()
    regions_by_kind = {}
    for kind in ("gated_sum", "score_contrast", "lesion_probability"):
        net = tiny_net(phase=3, region_map_kind=kind).eval()
        with torch.no_grad():
            outputs = net(low, high, fellow)
            attention_outputs = net.a_net(net.features(low))
        region_map = net.region_map(attention_outputs["gated_maps"], attention_outputs["score_maps"])
        assert torch.equal(outputs["region_map"], region_map)
        expected = net.sample_lesion_regions(region_map)
        for image_regions, boxes in zip(expected, outputs["regions"]):
            taken = [[*r.box[:2], r.box[2] - r.box[0], r.box[3] - r.box[1]] for r in image_regions]
            assert boxes[: len(taken)].tolist() == taken
        regions_by_kind[kind] = outputs["regions"]
    assert not torch.equal(regions_by_kind["gated_sum"], regions_by_kind["score_contrast"])


def test_lesion_probability_regions_are_ranked_by_its_log_odds_which_do_not_saturate():
    score_maps = torch.zeros(1, 5, 1, 3)
    score_maps[0, 1:, 0, 1] = 40.0  # the A-Net is sure of a lesion: p rounds to 1 in float32
    score_maps[0, 1:, 0, 2] = 30.0  # sure, but less so
    score_views = score_maps[None]
    probability = tiny_net(region_map_kind="lesion_probability").region_map_of_views(score_views, score_views)
    assert probability[0, 0, 1] == probability[0, 0, 2] == 1.0
    log_odds = ZoomInNet.lesion_log_odds(score_views)
    assert torch.allclose(log_odds, torch.log(torch.tensor([[[4.0, 4 * math.exp(40), 4 * math.exp(30)]]])))
    # over views, the log-odds of the mean probability
    two_views = torch.stack([score_maps, torch.zeros_like(score_maps)])
    mean_probability = (0.8 + torch.tensor([0.8, 1.0, 1.0])) / 2
    assert torch.allclose(ZoomInNet.lesion_log_odds(two_views)[0, 0], torch.log(mean_probability / (1 - mean_probability)))
    # each region reads the map at its peak pixel; regions not taken are NaN
    score_map = torch.arange(2 * LOW * LOW, dtype=torch.float32).reshape(2, LOW, LOW)
    peak = Region(x=2.5, y=1.5, box=(0.0, 0.0, 5.0, 3.0), score=1.0)
    scores = tiny_net(region_map_kind="lesion_probability").region_scores([[peak], []], score_map)
    assert scores[0, 0] == score_map[0, 1, 2] and torch.isnan(scores[0, 1:]).all() and torch.isnan(scores[1]).all()


def dihedral_view(image: torch.Tensor, rotations: int, mirrored: bool) -> torch.Tensor:
    """(B, C, H, W) image turned by ``rotations`` x 90 degrees, then mirrored left-right."""
    viewed = torch.rot90(image, rotations, dims=(2, 3))
    return viewed.flip(3) if mirrored else viewed


def test_eight_view_region_map_is_the_mean_of_the_views_maps_turned_back():
    net = tiny_net(phase=3, region_map_kind="score_contrast", region_map_views=8).eval()
    torch.nn.init.normal_(net.a_net.score.weight, std=10.0)  # an untrained net's maps are nearly flat
    low, high, fellow = inputs()
    with torch.no_grad():
        outputs = net(low, high, fellow)
        view_maps = []
        for rotations in range(4):
            for mirrored in (False, True):
                attention_outputs = net.a_net(net.features(dihedral_view(low, rotations, mirrored)))
                view_map = net.region_map(attention_outputs["gated_maps"], attention_outputs["score_maps"])
                view_maps.append(torch.rot90(view_map.flip(2) if mirrored else view_map, -rotations, dims=(1, 2)))
        single_view = net.region_map(*(net.a_net(net.features(low))[key] for key in ("gated_maps", "score_maps")))
    assert torch.allclose(outputs["region_map"], torch.stack(view_maps).mean(dim=0), atol=1e-6)
    assert not torch.allclose(outputs["region_map"], single_view, atol=1e-3)
    expected = net.sample_lesion_regions(outputs["region_map"])
    taken = [[*r.box[:2], r.box[2] - r.box[0], r.box[3] - r.box[1]] for r in expected[0]]
    assert outputs["regions"][0, : len(taken)].tolist() == taken


def test_training_samples_regions_from_the_image_as_is_even_with_eight_views():
    net = tiny_net(phase=3, paired_eyes=False, region_map_kind="score_contrast", region_map_views=8).train()
    low, high, _ = inputs()
    outputs = net(low, high)
    single_view = net.region_map(*(net.a_net(net.features(low))[key] for key in ("gated_maps", "score_maps")))
    assert torch.allclose(outputs["region_map"], single_view.detach(), atol=1e-6)


def test_c_net_sees_crops_centred_on_the_peaks_at_high_resolution():
    net = tiny_net(phase=3).eval()
    low, high, fellow = inputs()
    seen = []
    net.c_net.backbone.stem.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    with torch.no_grad():
        outputs = net(low, high, fellow)
        regions = net.sample_lesion_regions(outputs["region_map"])
    scale = HIGH / LOW
    expected = []
    for b, image_regions in enumerate(regions):
        for region in image_regions:
            x0, y0, x1, y1 = crop_box((region.x * scale, region.y * scale), 32, (HIGH, HIGH))
            expected.append(high[b, :, y0:y1, x0:x1])
    assert len(seen) == 1 and torch.equal(seen[0], torch.stack(expected))
    boxes = [[*r.box[:2], r.box[2] - r.box[0], r.box[3] - r.box[1]] for image_regions in regions for r in image_regions]
    assert outputs["regions"].reshape(-1, 4).tolist() == boxes


def test_early_stop_leaves_minus_one_regions_and_a_zero_crop_feature():
    net = tiny_net(region_threshold=1e9, phase=3).eval()
    low, high, fellow = inputs()
    with torch.no_grad():
        outputs = net(low, high, fellow)
        embedding = net.m_net.embed(*net.m_net.paired_features(low, fellow))
        no_crops = net.c_net.classifier(torch.cat([torch.zeros(2, net.c_net.feature_channels), embedding], dim=1))
    assert (outputs["regions"] == -1).all()
    assert torch.allclose(outputs["y_c"], no_crops, atol=1e-6)


def test_c_net_takes_the_element_wise_max_over_each_images_crops():
    torch.manual_seed(0)
    c_net = CNet(context_channels=4, width_multiplier=1 / 16, blocks_per_stage=(0, 0, 0), padding="same").eval()
    crops = torch.randn(3, 3, 32, 32)
    taken = torch.tensor([[True, False, True], [False, False, False], [True, False, False]])
    with torch.no_grad():
        pooled = c_net.backbone.features(crops).mean(dim=(2, 3))
        features = c_net.crop_features(crops, taken)
        expected = torch.stack([torch.maximum(pooled[0], pooled[1]), torch.zeros_like(pooled[0]), pooled[2]])
        assert torch.allclose(features, expected, atol=1e-6)
        context = torch.randn(3, 4)
        expected_logits = c_net.classifier(torch.cat([expected, context], dim=1))
        assert torch.allclose(c_net(crops, taken, context), expected_logits, atol=1e-5)
    with pytest.raises(ValueError, match="2 crops for 3 taken regions"):
        c_net(crops[:2], taken, context)


def test_fellow_eye_changes_y_m_only_and_is_checked():
    net = tiny_net().eval()
    low, high, fellow = inputs()
    with torch.no_grad():
        first = net(low, high, fellow)
        second = net(low, high, torch.flip(fellow, dims=(0,)))
    assert not torch.allclose(first["y_m"], second["y_m"])
    assert torch.allclose(first["y_a"], second["y_a"])
    with pytest.raises(ValueError, match="fellow"):
        net(low, high)
    with pytest.raises(ValueError, match="paired_eyes=False"):
        tiny_net(paired_eyes=False)(low, high, fellow)
    with pytest.raises(ValueError, match="image_high"):
        net(low, high[:, :, :64], fellow)
    with pytest.raises(ValueError, match="image_low"):
        net(high, None, fellow)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"phase": 4}, "phase"),
        ({"region_size": 65}, "region_size"),
        ({"crop_size": 97}, "crop_size"),
        ({"num_regions": 0}, "num_regions"),
        ({"region_map_kind": "mean"}, "region_map_kind"),
        ({"region_map_views": 4}, "region_map_views"),
        ({"num_classes": 1}, "num_classes"),
    ],
)
def test_bad_knobs_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        tiny_net(**kwargs)


@pytest.mark.parametrize(
    ("phase", "frozen", "trained"),
    [(1, ("a_net", "c_net"), ("m_net",)), (2, ("m_net", "c_net"), ("a_net",)), (3, (), ("m_net", "a_net", "c_net"))],
)
def test_phase_freezes_sub_networks(phase, frozen, trained):
    net = tiny_net()
    net.set_phase(phase)
    net.train()
    low, high, fellow = inputs()
    bn_before = {name: [b.clone() for b in getattr(net, name).buffers()] for name in frozen}
    outputs = net(low, high, fellow)
    ZoomInNetLoss(phase=phase)(outputs, torch.tensor([0, 3])).backward()
    for name in frozen:
        module = getattr(net, name)
        assert not module.training
        assert all(not p.requires_grad and p.grad is None for p in module.parameters())
        assert all(torch.equal(a, b) for a, b in zip(bn_before[name], module.buffers()))
    for name in trained:
        module = getattr(net, name)
        assert module.training
        assert all(p.requires_grad for p in module.parameters())
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())


def test_predict_proba_combines_the_phase_outputs():
    torch.manual_seed(0)
    outputs = {key: torch.randn(3, 5) for key in ("y_m", "y_a", "y_c")}
    soft = {key: torch.softmax(value, dim=1) for key, value in outputs.items()}
    assert torch.allclose(ZoomInNet.predict_proba(outputs, phase=1), soft["y_m"])
    assert torch.allclose(ZoomInNet.predict_proba(outputs, phase=2), (soft["y_m"] + soft["y_a"]) / 2)
    assert torch.allclose(ZoomInNet.predict_proba(outputs, phase=3), (soft["y_m"] + soft["y_a"] + soft["y_c"]) / 3)
    with pytest.raises(ValueError, match="y_c"):
        ZoomInNet.predict_proba({"y_m": outputs["y_m"], "y_a": outputs["y_a"]}, phase=3)


@pytest.mark.filterwarnings("ignore:`torch.jit.trace")
def test_m_net_scripts_and_a_net_traces_to_equal_outputs():
    torch.manual_seed(0)
    m_net = MNet(width_multiplier=1 / 16, blocks_per_stage=(1, 1, 1), padding="same").eval()
    a_net = ANet(in_channels=m_net.feature_channels, attention_channels=8).eval()
    low, _, fellow = inputs()
    with torch.no_grad():
        assert torch.allclose(torch.jit.script(m_net)(low, fellow), m_net(low, fellow), atol=1e-6)
        feature_map = m_net.features(low)
        traced = torch.jit.trace(a_net, feature_map, strict=False)(feature_map * 2)
        eager = a_net(feature_map * 2)
    assert set(traced) == set(eager)
    for key in eager:
        assert torch.allclose(traced[key], eager[key], atol=1e-6)


def test_registry_builds_the_zoom_in_components():
    registry = Registry()
    assert {"inception_resnet", "zoom_in_net", "zoom_in_m_net", "zoom_in_a_net"} <= set(registry.names("network"))
    assert "zoom_in_net_loss" in registry.names("loss")
    net = registry.create("network", "zoom_in_net", **TINY, paired_eyes=False)
    assert isinstance(net, ZoomInNet) and registry.owner("network", "zoom_in_net") == "weakloc_networks"
    low, high, _ = inputs()
    assert net(low, high)["y_c"].shape == (2, 5)
    loss = registry.create("loss", "zoom_in_net_loss", phase=2)
    assert isinstance(loss, ZoomInNetLoss) and loss.phase == 2
