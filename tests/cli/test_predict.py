"""``weakloc predict``: a trained bundle's own inference on a folder of mixed images, with a bad one."""

from __future__ import annotations

import csv
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from click.testing import CliRunner
from monai.bundle import ConfigParser, ReferenceResolver
from PIL import Image

from dicom_files import write_dicom
from monai_weakloc.cli.predict import inference_config_files, predict

REPO = Path(__file__).resolve().parents[2]
BUNDLES = REPO / "bundles"
INFERENCE_BUNDLES = ("zoom_in_net", "ma_segmentation", "self_transfer", "multi_attention", "saliency_crop")
# quick.json made smaller still: one epoch of phase 1 and one of phase 3 on 24 images
TINY = {"synthetic": {"num_images": 24, "image_size": 160, "seed": 0}, "phase_epochs": [1, 0, 1],
        "low_res": 96, "high_res": 128, "region_size": 40, "crop_size": 64, "batch_size": 4}
TINY_ARGS = [
    item for key in ("low_res", "high_res", "region_size", "crop_size") for item in ("--arg", f"{key}={TINY[key]}")
]
NUM_GRADE_MAPS = 4


@pytest.fixture(scope="module")
def trained_checkpoint(tmp_path_factory) -> Path:
    """The quick Zoom-in-Net trained once on the tiny settings: its model.pt."""
    root = tmp_path_factory.mktemp("zoom_in_net_tiny")
    tiny = root / "tiny.json"
    tiny.write_text(json.dumps(TINY))
    configs = BUNDLES / "zoom_in_net" / "configs"
    files = [str(configs / "train.json"), str(configs / "quick.json"), str(tiny)]
    env = {**os.environ, "WEAKLOC_CACHE_DIR": str(root / "cache")}
    command = [sys.executable, "-m", "monai.bundle", "run", "training", "--config_file", repr(files)]
    done = subprocess.run(
        [*command, "--bundle_root", str(root)], cwd=REPO, capture_output=True, text=True, timeout=300, env=env,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return root / "models" / "model.pt"


def fundus(height: int, width: int, seed: int) -> np.ndarray:
    """(H, W, 3) uint8: a bright disc with noise on a black border, the way a fundus photo looks."""
    rows, cols = np.mgrid[:height, :width]
    disc = (rows - height / 2) ** 2 + (cols - width / 2) ** 2 < (0.45 * min(height, width)) ** 2
    noise = np.random.default_rng(seed).integers(0, 60, (height, width, 3))
    return np.where(disc[..., None], 120 + noise, 0).astype(np.uint8)


@pytest.fixture
def mixed_images(tmp_path) -> tuple[dict[str, tuple[Path, tuple[int, int]]], Path, Path]:
    """A folder of images in five formats, colour and gray, of five sizes, a bad file, and one more image.

    Returns:
        id -> (file, (height, width)) of the good images, the folder, and the image given besides it.
    """
    folder = tmp_path / "to_predict"
    (folder / "nested").mkdir(parents=True)
    good = {
        "7_left": (folder / "7_left.png", (120, 150)),
        "7_right": (folder / "nested" / "7_right.jpeg", (140, 100)),
        "scan": (folder / "nested" / "scan.tiff", (200, 160)),
        "ct_slice": (folder / "ct_slice.nii.gz", (110, 130)),
        "xray": (folder / "xray.dcm", (128, 100)),
    }
    for seed, (path, (height, width)) in enumerate(good.values()):
        pixels = fundus(height, width, seed)
        if path.name.endswith(".nii.gz"):
            nib.save(nib.Nifti1Image(pixels[..., 0].T.astype(np.float32), np.eye(4)), path)
        elif path.suffix == ".dcm":
            write_dicom(path, pixels[..., 0])
        elif path.suffix == ".jpeg":
            Image.fromarray(pixels).convert("L").save(path)
        else:
            Image.fromarray(pixels).save(path)
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n an interrupted download")
    extra = tmp_path / "elsewhere" / "extra.jpg"
    extra.parent.mkdir()
    Image.fromarray(fundus(100, 180, 9)).save(extra)
    good["extra"] = (extra, (100, 180))
    return good, folder, extra


@pytest.fixture
def restore_root_logging() -> Iterator[None]:
    """Give the root logger its handlers back after a bundle's logging.conf replaced them."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.slow
def test_predict_writes_the_outputs_of_the_good_images_and_names_the_bad_one(
    trained_checkpoint, mixed_images, tmp_path, monkeypatch, restore_root_logging
):
    good, folder, extra = mixed_images
    out = tmp_path / "predictions"
    monkeypatch.setenv("WEAKLOC_CACHE_DIR", str(tmp_path / "cache"))
    result = CliRunner().invoke(predict, [
        "zoom_in_net", "--images", str(folder), str(extra), "--checkpoint", str(trained_checkpoint),
        "--out", str(out), "--quick", *TINY_ARGS, "--on-error", "skip",
    ])
    assert result.exit_code == 0, result.output
    assert f"skipped {folder / 'broken.png'}: corrupt or unreadable image" in result.stderr
    assert "6 image(s) predicted, 1 skipped" in result.stdout
    # 7_left and 7_right see each other as fellow eyes; the others stand in for their own
    assert "4 image(s) have no fellow eye and stand in for it themselves" in result.output
    with open(out / "predictions.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["image"] for row in rows] == sorted(good)
    assert all(abs(sum(float(row[f"prob_{k}"]) for k in range(5)) - 1) < 1e-4 for row in rows)
    for image_id, (_, (height, width)) in good.items():
        for grade in range(1, NUM_GRADE_MAPS + 1):
            assert (out / "heatmaps" / f"{image_id}_grade{grade}.png").is_file()
            # in the original image's geometry, whatever its format and size: stored (W, H)
            assert nib.load(out / "heatmaps" / f"{image_id}_grade{grade}.nii.gz").shape == (width, height)
        assert (out / "overlays" / f"{image_id}.png").is_file()
    with open(out / "boxes.csv", newline="") as handle:
        assert {row["image"] for row in csv.DictReader(handle)} <= set(good)
    assert not (tmp_path / "cache").exists()  # no synthetic dataset was made


@pytest.mark.slow
def test_predict_without_skip_stops_at_the_bad_image(trained_checkpoint, mixed_images, tmp_path, restore_root_logging):
    _, folder, _ = mixed_images
    out = tmp_path / "predictions"
    result = CliRunner().invoke(predict, [
        "zoom_in_net", "--images", str(folder), "--checkpoint", str(trained_checkpoint), "--out", str(out),
        "--quick", *TINY_ARGS,
    ])
    assert result.exit_code == 1
    assert f"Error: {folder / 'broken.png'}: corrupt or unreadable image" in result.stderr
    assert not (out / "predictions.csv").exists()


def test_a_checkpoint_file_for_a_bundle_with_several_asks_for_the_models_folder(tmp_path, restore_root_logging):
    weights = tmp_path / "model.pt"
    weights.write_bytes(b"")
    result = CliRunner().invoke(predict, [
        "saliency_crop", "--images", str(tmp_path), "--checkpoint", str(weights), "--out", str(tmp_path / "out"),
    ])
    assert result.exit_code == 1
    assert "crop_network_checkpoint, image_network_checkpoint" in result.stderr
    assert "give --checkpoint the models folder" in result.stderr


def _ids_evaluated(parser: ConfigParser, start: tuple[str, ...]) -> set[str]:
    """The ids that evaluating ``start`` refers to, directly or through others."""
    seen: set[str] = set()
    queue = list(start)
    while queue:
        item_id = queue.pop()
        if item_id in seen or item_id not in parser:
            continue
        seen.add(item_id)
        queue.extend(ReferenceResolver.find_refs_in_config(parser[item_id], item_id))
    return seen


@pytest.mark.parametrize("bundle", INFERENCE_BUNDLES)
def test_every_bundle_predicts_without_its_dataset(bundle):
    parser = ConfigParser()
    parser.read_config([str(file) for file in inference_config_files(BUNDLES / bundle, quick=True)])
    parser.resolve_macro_and_relative_ids()
    # what the image list is checked against: the bundle's own smallest input, and fellow eyes for Zoom-in-Net
    assert isinstance(parser.get_parsed_content("infer_min_size"), int)
    assert parser.get_parsed_content("infer_pair_eyes") is (bundle == "zoom_in_net")
    parser["infer_records"] = ()
    evaluated = _ids_evaluated(parser, ("initialize", "run", "finalize"))
    assert "infer_records" in evaluated
    assert not {"dataset_dir", "records", "synthetic"} & evaluated


def test_the_configs_are_composed_as_bundle_run_composes_them(tmp_path):
    configs = tmp_path / "demo" / "configs"
    configs.mkdir(parents=True)
    for name in ("train.json", "inference.json", "quick.json"):
        (configs / name).write_text("{}")
    assert [f.name for f in inference_config_files(tmp_path / "demo", quick=True)] == [
        "train.json", "inference.json", "quick.json"]
    with pytest.raises(ValueError, match="bundle demo has no multi_gpu_inference.json"):
        inference_config_files(tmp_path / "demo", world_size=2)
    (configs / "multi_gpu_inference.json").write_text("{}")
    assert [f.name for f in inference_config_files(tmp_path / "demo", quick=True, world_size=2)] == [
        "train.json", "inference.json", "multi_gpu_inference.json", "quick.json"]
    (configs / "inference.json").unlink()
    with pytest.raises(ValueError, match="bundle demo has no inference.json"):
        inference_config_files(tmp_path / "demo")
