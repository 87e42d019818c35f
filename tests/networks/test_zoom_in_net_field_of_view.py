"""Zoom-in-Net samples its regions inside the retina: the bundle's preprocessing gives the field of view
``fov``, the training augmentation turns it with the image, and no region peak or C-Net crop centre of an
untrained network lies outside it, even where the region map peaks in a black corner of the crop."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from monai.bundle import ConfigParser
from monai.data import DataLoader, Dataset
from monai.transforms import Compose
from monai.utils import set_determinism
from PIL import Image

import weakloc_networks.zoom_in_net as zoom_in_net_module
from monai_weakloc.data.synthetic.fundus import render_fundus, sample_retina_geometry
from monai_weakloc.localize.field_of_view import inside_field_of_view
from monai_weakloc.transforms import FundusFieldOfView
from weakloc_networks.zoom_in_net import ZoomInNet

TRAIN_CONFIG = Path(__file__).resolve().parents[2] / "bundles" / "zoom_in_net" / "configs" / "train.json"
TINY = {
    "region_map_kind": "gated_sum",
    "m_width_multiplier": 1 / 16,
    "m_blocks_per_stage": (1, 1, 1),
    "attention_channels": 8,
    "c_width_multiplier": 1 / 16,
    "c_blocks_per_stage": (1, 0, 1),
    "padding": "same",
}


def write_wide_disc_fundus(path: Path, seed: int) -> Path:
    """A 160 x 120 fundus PNG whose retina is cut by the top and bottom edges: the border crop keeps the
    full height, so the crop's corners are black border outside the retina."""
    rng = np.random.default_rng(seed)
    geometry = sample_retina_geometry(rng, 160, 120, "right", radius_range=(1.25, 1.25))
    pixels = render_fundus(rng, geometry, {"haemorrhage": 2, "microaneurysm": 3}).image
    pixels[:50, :60] = 0  # a black notch in the top-left: the field of view is not symmetric
    Image.fromarray(pixels).save(path)
    return path


def bundle_config(low_res: int, high_res: int) -> ConfigParser:
    parser = ConfigParser()
    parser.read_config(str(TRAIN_CONFIG))
    parser["low_res"], parser["high_res"] = low_res, high_res
    return parser


def preprocessed_batch(tmp_path: Path, parser: ConfigParser, seeds: tuple[int, ...], augment: bool = False) -> dict:
    """One batch of the bundle's ``load_transforms`` (and ``train#augmentation``) on wide-disc fundus images."""
    records = []
    for seed in seeds:
        image = write_wide_disc_fundus(tmp_path / f"eye{seed}.png", seed)
        records.append({"image": str(image), "fellow": str(image), "label": 0})
    transforms = parser.get_parsed_content("load_transforms")
    if augment:
        transforms = transforms + parser.get_parsed_content("train#augmentation")
    loader = DataLoader(Dataset(records, Compose(transforms)), batch_size=len(records))
    return next(iter(loader))


def tiny_net(low_res: int, high_res: int, seed: int = 0, **overrides) -> ZoomInNet:
    torch.manual_seed(seed)
    net = ZoomInNet(
        low_res=low_res, high_res=high_res, region_size=low_res // 4, num_regions=4, crop_size=high_res // 3,
        **{**TINY, **overrides},
    )
    return net.eval()


def run_network(
    net: ZoomInNet, parser: ConfigParser, batch: dict, with_fov: bool, monkeypatch
) -> tuple[dict, list, list]:
    """The forward through the bundle's ``prepare_batch``, the regions it sampled (low-res px) and the C-Net
    crop centres it asked for (high-res px), per image."""
    sampled: list = []
    centres: list = []
    sample_lesion_regions = net.sample_lesion_regions
    crop_around_batch = zoom_in_net_module.crop_around_batch

    def recording_sample_lesion_regions(region_map, field_of_view=None):
        regions = sample_lesion_regions(region_map, field_of_view)
        sampled.extend(regions)
        return regions

    def recording_crop_around_batch(image, batch_centres, size):
        centres.extend(batch_centres)
        return crop_around_batch(image, batch_centres, size)

    monkeypatch.setattr(net, "sample_lesion_regions", recording_sample_lesion_regions)
    monkeypatch.setattr(zoom_in_net_module, "crop_around_batch", recording_crop_around_batch)
    image, _, args, kwargs = parser.get_parsed_content("prepare_batch")(batch, torch.device("cpu"))
    if not with_fov:
        kwargs.pop("fov_low")
    with torch.no_grad():
        outputs = net(image, *args, **kwargs)
    return outputs, sampled, centres


def peaks_inside(regions: list, fov: torch.Tensor) -> list[list[bool]]:
    """Per image, whether each sampled region's peak lies in its field of view (low-resolution pixels)."""
    return [
        inside_field_of_view(torch.tensor([[r.x, r.y] for r in image_regions]), fov[index, 0]).tolist()
        for index, image_regions in enumerate(regions)
    ]


def force_corner_peak(module, args, output):
    """A-Net forward hook: the gated maps of the lesion grades peak in the top-left cell."""
    gated_maps = output["gated_maps"].clone()
    gated_maps[:, 1:, 0, 0] += 100.0
    return {**output, "gated_maps": gated_maps}


def test_the_bundle_preprocessing_gives_the_field_of_view_at_the_network_input(tmp_path):
    parser = bundle_config(64, 96)
    batch = preprocessed_batch(tmp_path, parser, seeds=(0, 1))
    fov = batch["fov"]
    assert fov.shape == (2, 1, 64, 64) and fov.dtype == torch.float32
    assert set(torch.unique(fov).tolist()) == {0.0, 1.0}
    assert (fov[:, 0, 0, 0] == 0).all() and (fov[:, 0, -1, -1] == 0).all()  # the crop's black corners
    assert parser.get_parsed_content("prepare_batch").extra_keys["fov_low"] == "fov"


def test_training_augmentation_turns_the_field_of_view_with_the_image(tmp_path):
    parser = bundle_config(64, 96)
    agreements = []
    for seed in range(6):
        set_determinism(seed=seed)
        batch = preprocessed_batch(tmp_path, parser, seeds=(0,), augment=True)
        found = FundusFieldOfView()(batch["image"][0])
        agreements.append(float((found == batch["fov"][0]).float().mean()))
    set_determinism(seed=None)
    assert min(agreements) > 0.97


def test_regions_of_a_map_peaking_in_a_black_corner_stay_inside_the_field_of_view(tmp_path, monkeypatch):
    low_res, high_res = 64, 96
    parser = bundle_config(low_res, high_res)
    batch = preprocessed_batch(tmp_path, parser, seeds=(0, 1, 2))
    fov = batch["fov"]
    net = tiny_net(low_res, high_res)
    net.a_net.register_forward_hook(force_corner_peak)

    _, regions, centres = run_network(net, parser, batch, with_fov=False, monkeypatch=monkeypatch)
    assert [(image_regions[0].x, image_regions[0].y) for image_regions in regions] == [(0.5, 0.5)] * 3
    assert all(not image_peaks[0] for image_peaks in peaks_inside(regions, fov))  # the black corner
    assert all(not inside_field_of_view(torch.tensor(c[:1]) * low_res / high_res, fov[i, 0]).any()
               for i, c in enumerate(centres))

    monkeypatch.undo()
    outputs, regions, centres = run_network(net, parser, batch, with_fov=True, monkeypatch=monkeypatch)
    assert all(image_peaks and all(image_peaks) for image_peaks in peaks_inside(regions, fov))
    for index, image_centres in enumerate(centres):
        assert image_centres  # the C-Net still zooms in, on the retina
        low_res_centres = torch.tensor(image_centres) * low_res / high_res
        assert inside_field_of_view(low_res_centres, fov[index, 0]).all()
    assert torch.isfinite(outputs["region_map"]).all()


@pytest.mark.parametrize("region_map_kind", ["gated_sum", "lesion_probability"])
def test_untrained_networks_sample_every_region_inside_the_field_of_view(tmp_path, monkeypatch, region_map_kind):
    low_res, high_res = 128, 192
    parser = bundle_config(low_res, high_res)
    batch = preprocessed_batch(tmp_path, parser, seeds=(0, 1))
    fov = batch["fov"]
    for seed in range(3):
        net = tiny_net(low_res, high_res, seed=seed, region_map_kind=region_map_kind)
        _, regions, centres = run_network(net, parser, batch, with_fov=True, monkeypatch=monkeypatch)
        assert all(image_peaks and all(image_peaks) for image_peaks in peaks_inside(regions, fov))
        for index, image_centres in enumerate(centres):
            assert inside_field_of_view(torch.tensor(image_centres) * low_res / high_res, fov[index, 0]).all()
        monkeypatch.undo()


def test_region_map_for_display_takes_the_minimum_inside_outside_the_field_of_view():
    region_map = torch.tensor([[[3.0, 9.0], [1.0, 5.0]]])
    fov = torch.zeros(1, 1, 8, 8)
    fov[0, 0, :4, :] = 1.0  # the top row of cells
    shown = ZoomInNet.region_map_for_display(region_map, fov)
    assert shown.tolist() == [[[3.0, 9.0], [3.0, 3.0]]]
    with pytest.raises(ValueError, match="batch positions \\[0\\]"):
        ZoomInNet.region_map_for_display(region_map, torch.zeros(1, 1, 8, 8))


def test_a_field_of_view_of_the_wrong_shape_is_refused():
    net = tiny_net(64, 96, paired_eyes=False)
    image = torch.rand(2, 3, 64, 64)
    with pytest.raises(ValueError, match="fov_low must have shape \\(2, 1, 64, 64\\)"):
        net(image, fov_low=torch.ones(2, 3, 64, 64))
    with pytest.raises(ValueError, match="fov_low must have shape"):
        net(image, fov_low=torch.ones(2, 1, 32, 32))
