from __future__ import annotations

import pytest
import torch
from monai.transforms import Compose, FlipD

from monai_weakloc.data import read_idrid
from monai_weakloc.data.ma_patches import (
    CentredPatchDataset,
    CropCentredPatchd,
    crop_centred_patch,
    healthy_patch_centres,
    lesion_patch_centres,
)
from monai_weakloc.data.synthetic import synthesize
from monai_weakloc.transforms import FundusFieldOfView, LoadImage2D

PATCH = 9


@pytest.fixture(scope="module")
def idrid(tmp_path_factory) -> tuple[list[dict], list[dict]]:
    """Segmentation and grade-0 grading records of a tiny synthetic IDRiD (154 x 102 images)."""
    root = synthesize("idrid", tmp_path_factory.mktemp("idrid"), num_images=8, seed=0, image_size=128)
    segmentation = read_idrid(root, task="segmentation", lesion="MA")
    healthy = [record for record in read_idrid(root, task="grading") if record["label"] == 0]
    assert healthy and any(record["mask"] is None for record in segmentation)
    return segmentation, healthy


def test_lesion_centres_are_the_microaneurysm_mask_pixels(idrid):
    segmentation, _ = idrid
    centres = lesion_patch_centres(segmentation)
    loader = LoadImage2D(mode="gray")
    for record in segmentation:
        mine = {centre["centre"] for centre in centres if centre["id"] == record["id"]}
        if record["mask"] is None:
            assert not mine
            continue
        mask = loader(record["mask"])[0] > 0
        assert mine == {tuple(pixel) for pixel in torch.nonzero(mask).tolist()}
    assert {centre["label"] for centre in centres} == {1}
    assert all(set(centre) == {"image", "id", "centre", "label"} for centre in centres)


def test_lesion_centres_sampled_per_image_are_seeded_mask_pixels(idrid):
    segmentation, _ = idrid
    every = {(centre["id"], centre["centre"]) for centre in lesion_patch_centres(segmentation)}
    sampled = lesion_patch_centres(segmentation, max_per_image=3, seed=5)
    assert sampled == lesion_patch_centres(segmentation, max_per_image=3, seed=5)
    assert sampled != lesion_patch_centres(segmentation, max_per_image=3, seed=6)
    assert {(centre["id"], centre["centre"]) for centre in sampled} <= every
    counts = {}
    for centre in sampled:
        counts[centre["id"]] = counts.get(centre["id"], 0) + 1
    assert max(counts.values()) == 3


def test_healthy_centres_lie_in_the_field_of_view_of_grade_0_images(idrid):
    _, healthy = idrid
    centres = healthy_patch_centres(healthy, per_image=50, seed=1)
    assert len(centres) == 50 * len(healthy)
    assert {centre["label"] for centre in centres} == {0}
    assert {centre["image"] for centre in centres} == {record["image"] for record in healthy}
    loader, finder = LoadImage2D(mode="rgb"), FundusFieldOfView()
    for record in healthy:
        mask = finder.compute_mask(loader(record["image"]))[0]
        mine = [centre["centre"] for centre in centres if centre["image"] == record["image"]]
        assert len(set(mine)) == 50  # drawn without replacement
        assert all(mask[row, col] for row, col in mine)
        assert not mask.all()  # the field of view excludes something: the test means something
    assert centres == healthy_patch_centres(healthy, per_image=50, seed=1)
    assert centres != healthy_patch_centres(healthy, per_image=50, seed=2)


def test_healthy_centres_refuse_a_record_of_another_grade(idrid):
    _, healthy = idrid
    graded = {**healthy[0], "label": 2}
    with pytest.raises(ValueError, match=rf"\({graded['id']}\) has retinopathy grade 2"):
        healthy_patch_centres([*healthy, graded], per_image=5)


def test_crop_equals_the_image_window_and_pads_with_zeros_at_a_border():
    image = torch.arange(2 * 12 * 15, dtype=torch.float32).reshape(2, 12, 15) + 1
    inside = crop_centred_patch(image, (6, 7), 5)
    assert torch.equal(inside, image[:, 4:9, 5:10])
    corner = crop_centred_patch(image, (1, 14), 5)
    expected = torch.zeros(2, 5, 5)
    expected[:, 1:, :3] = image[:, 0:4, 12:15]
    assert torch.equal(torch.as_tensor(corner), expected)
    with pytest.raises(ValueError, match="patch_size must be odd"):
        crop_centred_patch(image, (1, 1), 4)
    with pytest.raises(ValueError, match=r"centre \(row, col\) = \(12, 0\) is not a pixel"):
        crop_centred_patch(image, (12, 0), 5)


def test_dataset_patches_equal_the_hand_indexed_window_with_padding(idrid):
    segmentation, healthy = idrid
    image_path = healthy[0]["image"]
    image = LoadImage2D(mode="rgb")(image_path)
    height, width = image.shape[1:]
    centres = [
        {"image": image_path, "id": "h", "centre": (50, 60), "label": 0},
        {"image": image_path, "id": "h", "centre": (height - 2, 1), "label": 0},  # bottom-left corner
        *lesion_patch_centres(segmentation, max_per_image=2)[:2],
    ]
    dataset = CentredPatchDataset(centres, PATCH)
    assert len(dataset) == 4 and len(dataset.images) == 2  # each image decoded once
    first = dataset[0]
    assert first["image"].shape == (3, PATCH, PATCH) and first["image"].dtype == torch.float32
    assert torch.equal(first["image"].as_tensor(), image[:, 46:55, 56:65].as_tensor())
    assert first["label"] == 0 and first["centre"] == (50, 60)
    corner = dataset[1]["image"].as_tensor()
    expected = torch.zeros(3, PATCH, PATCH)
    expected[:, :6, 3:] = image[:, height - 6 :, 0:6]
    assert torch.equal(corner, expected)
    first["image"].fill_(-1)  # an item is a copy: the cache stays intact
    assert torch.equal(dataset[0]["image"].as_tensor(), image[:, 46:55, 56:65].as_tensor())


def test_dataset_applies_its_transform_after_cropping(idrid):
    _, healthy = idrid
    centres = healthy_patch_centres(healthy[:1], per_image=2)
    plain = CentredPatchDataset(centres, PATCH)
    flipped = CentredPatchDataset(centres, PATCH, transform=Compose([FlipD(keys="image", spatial_axis=1)]))
    assert torch.equal(flipped[0]["image"].as_tensor(), plain[0]["image"].as_tensor().flip(-1))


def test_crop_transform_needs_its_centre_key():
    crop = CropCentredPatchd(keys="image", patch_size=3)
    with pytest.raises(ValueError, match="no centre key 'centre'"):
        crop({"image": torch.zeros(1, 5, 5)})
