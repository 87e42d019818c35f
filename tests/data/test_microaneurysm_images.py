"""Whole images for microaneurysm segmentation training: lesion images with masks, healthy grade-0 images."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from monai_weakloc.data import read_idrid
from monai_weakloc.data.microaneurysm_images import microaneurysm_training_images
from monai_weakloc.data.synthetic import synthesize
from monai_weakloc.transforms import LoadImage2Dd, LoadLesionMaskd


@pytest.fixture(scope="module")
def idrid(tmp_path_factory):
    return synthesize("idrid", tmp_path_factory.mktemp("idrid"), num_images=12, seed=0, image_size=96)


def test_lesion_images_have_their_mask_and_healthy_images_are_grade_0(idrid):
    train = microaneurysm_training_images(idrid, "train", val_fraction=0.25)
    val = microaneurysm_training_images(idrid, "val", val_fraction=0.25)
    assert not {r["id"] for r in train} & {r["id"] for r in val}
    grades = {r["id"]: r["label"] for r in read_idrid(idrid, task="grading") if r["split"] == "train"}
    with_ma = {r["id"] for r in read_idrid(idrid, task="segmentation") if r["split"] == "train" and r["mask"]}
    for record in train + val:
        if record["healthy"]:
            assert record["label"] is None and grades[record["id"]] == 0
        else:
            assert record["id"] in with_ma and record["label"].endswith(f"{record['id']}_MA.tif")
    assert {r["id"] for r in train + val if not r["healthy"]} == with_ma
    assert {r["id"] for r in train + val if r["healthy"]} == {i for i, g in grades.items() if g == 0}


def test_bad_subset_is_named(idrid):
    with pytest.raises(ValueError, match="subset must be one of"):
        microaneurysm_training_images(idrid, "test")


def test_masks_load_binary_and_healthy_images_get_an_empty_label(idrid):
    lesion, *_ = microaneurysm_training_images(idrid)
    healthy = next(r for r in microaneurysm_training_images(idrid) if r["healthy"])
    transforms = [LoadImage2Dd(keys="image"), LoadLesionMaskd(keys="label")]
    for record in (lesion, healthy):
        data = dict(record)
        for transform in transforms:
            data = transform(data)
        assert data["label"].shape == (1, *data["image"].shape[1:])
        expected = (
            (np.asarray(Image.open(record["label"])) > 0) if record["label"] else np.zeros(data["image"].shape[1:])
        )
        assert torch.equal(data["label"][0], torch.as_tensor(expected, dtype=torch.float32))
        assert (data["label"].sum() > 0) == (not record["healthy"])
