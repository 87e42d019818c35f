"""Bad input to the self_transfer bundle's training: each problem is named with its file, or skipped and logged.

The datasets are small synthetic TB chest X-ray sets in the distributed layout (``CXR_png/<SOURCE>_<n>_<label>.png``,
the label the last digit of the name) with one image damaged:

- missing: the image is a link to a file that is gone (a dataset assembled from links whose originals were moved);
- truncated: the PNG is cut to half its bytes (an interrupted download);
- random bytes: the file holds noise;
- small: the image is 200 x 180 px, under quick.json's ``image_size`` of 256 px (the paper's 500 px for train.json);
- no label digit / label 7: the file name does not end in ``_0`` or ``_1``.

Colour: the bundle reads with ``image_mode='any'`` and loads gray (``LoadImage2Dd(mode='gray')``). The Montgomery and
Shenzhen sets are gray PNGs, but some of their files and many re-distributions are stored as RGB (three equal
channels) or RGBA (an opaque alpha): those are the same radiograph, so the bundle converts them (alpha dropped,
luminance ``0.299 R + 0.587 G + 0.114 B``) instead of refusing them. The tests check that such images are kept and
load as the gray image they hold.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from monai.bundle import ConfigParser, ConfigWorkflow
from PIL import Image

from monai_weakloc.data.synthetic import synthesize

REPO = Path(__file__).resolve().parents[3]
CONFIGS = REPO / "bundles" / "self_transfer" / "configs"
TRAINING_CONFIGS = [str(CONFIGS / "train.json"), str(CONFIGS / "quick.json")]
NUM_IMAGES = 20
IMAGE_SIZE = 256  # quick.json's image_size: the synthetic images are exactly as large as the network input
TINY = {"max_epochs": 1, "batch_size": 4}


def images(root: Path) -> list[Path]:
    return sorted((root / "CXR_png").glob("*.png"))


def truncate(path: Path) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def fill_with_noise(path: Path) -> Path:
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    return path


def shrink(path: Path) -> Path:
    Image.open(path).resize((200, 180)).save(path)
    return path


def link_to_missing(path: Path) -> Path:
    target = path.with_name("moved_away.png.orig")
    path.rename(target)
    path.symlink_to(target)
    target.unlink()
    return path


def rename_to(stem: str) -> Callable[[Path], Path]:
    def rename(path: Path) -> Path:
        return path.rename(path.with_name(f"{stem}.png"))
    return rename


# problem -> (damage, regular expression of the message after the file name)
PROBLEMS: dict[str, tuple[Callable[[Path], Path], str]] = {
    "missing": (link_to_missing, r"image file does not exist \(a link to a missing file\)"),
    "truncated": (truncate, r"corrupt or unreadable image \(OSError: "),
    "random bytes": (fill_with_noise, r"corrupt or unreadable image \(UnidentifiedImageError: "),
    "small": (shrink, rf"image of 200 x 180 px is smaller than the {IMAGE_SIZE} x {IMAGE_SIZE} px the network needs"),
    "no label digit": (rename_to("CHNCXR_9999_tb"), r"file name does not end in _0 \(normal\) or _1 \(TB\)"),
    "label 7": (rename_to("CHNCXR_9999_7"), r"label digit 7 is not 0 \(normal\) or 1 \(TB\)"),
}


def damage(root: Path, problem: str, index: int = 2) -> tuple[str, str]:
    """Damage the ``index``-th image; returns its original id and the regular expression of the whole message."""
    image = images(root)[index]
    damage_file, message = PROBLEMS[problem]
    named = damage_file(image)
    return image.stem, rf"{re.escape(str(named))}: {message}"


@pytest.fixture(scope="module")
def pristine_tb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize("tb_cxr", tmp_path_factory.mktemp("pristine"), num_images=NUM_IMAGES, image_size=IMAGE_SIZE,
                      seed=0)


@pytest.fixture()
def tb(pristine_tb: Path, tmp_path: Path) -> Path:
    """A fresh copy of the synthetic set for the test to damage."""
    return Path(shutil.copytree(pristine_tb, tmp_path / "tb"))


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("WEAKLOC_CACHE_DIR", str(tmp_path / "cache"))


def workflow(dataset: Path, bundle_root: Path, on_bad_data: str) -> ConfigWorkflow:
    return ConfigWorkflow(
        config_file=TRAINING_CONFIGS, meta_file=str(CONFIGS / "metadata.json"), logging_file=False,
        workflow_type="train", dataset_dir=str(dataset), bundle_root=str(bundle_root), on_bad_data=on_bad_data,
        num_workers=0, **TINY,
    )


def messages(error: BaseException) -> str:
    """The messages of an exception and of every exception it was raised from, one a line."""
    lines = []
    while error is not None:
        lines.append(str(error))
        error = error.__cause__ or error.__context__
    return "\n".join(lines)


def test_the_quick_input_size_is_the_synthetic_image_size():
    parser = ConfigParser()
    parser.read_config(TRAINING_CONFIGS)
    assert parser["image_size"] == IMAGE_SIZE


@pytest.mark.parametrize("problem", PROBLEMS)
def test_training_stops_naming_the_file_and_the_problem(problem, tb, tmp_path):
    _, message = damage(tb, problem)
    bundle = workflow(tb, tmp_path / "bundle", on_bad_data="raise")
    bundle.initialize()
    with pytest.raises(Exception) as raised:
        bundle.run()
    assert re.search(rf"^{message}", messages(raised.value), flags=re.MULTILINE), messages(raised.value)
    assert not any((tmp_path / "bundle" / "models").glob("*.pt"))


@pytest.mark.parametrize("problem", PROBLEMS)
def test_skipping_leaves_out_the_bad_image_and_logs_it(problem, tb, tmp_path, caplog):
    all_ids = [path.stem for path in images(tb)]
    bad_id, message = damage(tb, problem)
    bundle = workflow(tb, tmp_path / "bundle", on_bad_data="skip")
    bundle.initialize()
    with caplog.at_level(logging.WARNING, logger="monai_weakloc.data"):
        records = bundle.parser.get_parsed_content("records")
    assert sorted(record["id"] for record in records) == sorted(set(all_ids) - {bad_id})
    assert re.search(rf"skipped: {message}", caplog.text)


@pytest.mark.parametrize("colour", ["RGB", "RGBA"])
def test_a_colour_x_ray_is_kept_and_loaded_as_its_gray_image(colour, tb, tmp_path):
    image = images(tb)[2]
    gray = np.asarray(Image.open(image))
    Image.open(image).convert(colour).save(image)
    assert Image.open(image).mode == colour
    bundle = workflow(tb, tmp_path / "bundle", on_bad_data="raise")
    bundle.initialize()
    records = bundle.parser.get_parsed_content("records")
    record = next(r for r in records if r["id"] == image.stem)
    loaded = bundle.parser.get_parsed_content("train#preprocessing")(dict(record))["image"]
    assert loaded.shape == (1, IMAGE_SIZE, IMAGE_SIZE)
    pristine = dict(record, image=str(tmp_path / "gray.png"))
    Image.fromarray(gray).save(pristine["image"])
    expected = bundle.parser.get_parsed_content("train#preprocessing")(pristine)["image"]
    torch.testing.assert_close(torch.as_tensor(loaded), torch.as_tensor(expected), atol=1e-2, rtol=0)


@pytest.mark.slow
def test_training_as_typed_skips_every_bad_file_and_trains(tb, tmp_path):
    expected = []
    for index, problem in enumerate(PROBLEMS):
        expected.append(damage(tb, problem, index=2 * index)[1])  # even indices: distinct images
    Image.open(images(tb)[1]).convert("RGBA").save(images(tb)[1])  # converted, not skipped
    tiny = tmp_path / "tiny.json"
    tiny.write_text(json.dumps(TINY))
    bundle_root = tmp_path / "bundle"
    command = [
        sys.executable, "-m", "monai.bundle", "run", "training",
        "--config_file", repr([*TRAINING_CONFIGS, str(tiny)]),
        "--bundle_root", str(bundle_root), "--dataset_dir", str(tb), "--on_bad_data", "skip",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    for message in expected:
        assert re.search(rf"skipped: {message}", log), message
    assert len(re.findall("skipped: ", log)) == len(PROBLEMS)
    assert (bundle_root / "models" / "model.pt").is_file()


@pytest.mark.slow
def test_training_as_typed_stops_on_a_small_image(tb, tmp_path):
    _, message = damage(tb, "small")
    command = [
        sys.executable, "-m", "monai.bundle", "run", "training", "--config_file", repr(TRAINING_CONFIGS),
        "--bundle_root", str(tmp_path / "bundle"), "--dataset_dir", str(tb),
    ]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert re.search(rf"ValueError: {message}", result.stderr), result.stderr[-3000:]
    assert "Epoch[1]" not in result.stdout + result.stderr
