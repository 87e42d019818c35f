"""Bad input to the multi_attention bundle's training: each problem is named with its file, or skipped and logged.

The datasets are small synthetic ChestX-ray14 sets in the distributed layout (``Data_Entry_2017.csv``,
``images/<patient>_<follow-up>.png``, the official split lists) with one image or row damaged:

- missing: the image named by its ``Data_Entry_2017.csv`` row is not in ``images/`` (deleted, or a link to a file
  that is gone): the row is named, with the file it looks for;
- truncated: the PNG is cut to half its bytes (an interrupted download);
- random bytes: the file holds noise;
- small: the image is 50 x 40 px, under the network input (the crop, 64 px here; 224 px in train.json);
- unknown label: ``Finding Labels`` holds a name that is not one of the 14 findings (the analogue of an
  out-of-range label in a table of names), or ``No Finding`` combined with a finding.

Colour: the bundle reads with ``image_mode='any'`` and loads RGB (``LoadImage2Dd(mode='rgb')``): the gray
radiographs are repeated to 3 channels for the ImageNet-style network, and the RGBA files that the real set holds
(the synthetic set has some too) have their alpha dropped. Both are kept, and an RGBA copy of a gray image loads as
exactly that gray image.
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
from monai.transforms import Compose
from PIL import Image

from monai_weakloc.data.synthetic import synthesize

REPO = Path(__file__).resolve().parents[3]
CONFIGS = REPO / "bundles" / "multi_attention" / "configs"
TRAINING_CONFIGS = [str(CONFIGS / "train.json"), str(CONFIGS / "quick.json")]
NUM_IMAGES = 40
IMAGE_SIZE = 72  # the synthetic images; the network input is the crop
CROP_SIZE = 64
# every setting that shapes the run, so that the test does not depend on quick.json's tuning
TINY = {
    "image_size": IMAGE_SIZE,
    "crop_size": CROP_SIZE,
    "max_translation": 4,
    "max_epochs": 1,
    "batch_size": 4,
    "num_workers": 0,
    "backbone": {
        "layers": [1, 1, 1, 1],
        "width": 4,
        "feature_attention": True,
        "space_attention": True,
        "pooling": "after",
        "pretrained_weights": None,
    },
    "hard_examples": {"enabled": False, "stage_two_epoch": 2, "threshold": 0.5},
}
ENTRY_FILE = "Data_Entry_2017.csv"


def images(root: Path) -> list[Path]:
    return sorted((root / "images").glob("*.png"))


def delete(path: Path) -> str:
    path.unlink()
    return missing_message(path)


def link_to_missing(path: Path) -> str:
    target = path.with_name("moved_away.png.orig")
    path.rename(target)
    path.symlink_to(target)
    target.unlink()
    return missing_message(path)


def entry_row(path: Path) -> int:
    """The 1-based row of the image's line in ``Data_Entry_2017.csv`` (the header is row 1)."""
    lines = (path.parent.parent / ENTRY_FILE).read_text().splitlines()
    return next(number for number, line in enumerate(lines, start=1) if line.startswith(f"{path.name},"))


def row_prefix(path: Path) -> str:
    return rf"{re.escape(str(path.parent.parent / ENTRY_FILE))}, row {entry_row(path)} \({path.stem}\): "


def missing_message(path: Path) -> str:
    return row_prefix(path) + rf"image file not found: {re.escape(path.name)} in images/ or images_NNN/images/"


def truncate(path: Path) -> str:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return rf"{re.escape(str(path))}: corrupt or unreadable image \(OSError: "


def fill_with_noise(path: Path) -> str:
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    return rf"{re.escape(str(path))}: corrupt or unreadable image \(UnidentifiedImageError: "


def shrink(path: Path) -> str:
    Image.open(path).resize((50, 40)).save(path)
    return rf"{re.escape(str(path))}: image of 50 x 40 px is smaller than the {CROP_SIZE} x {CROP_SIZE} px the network needs"


def set_findings(findings: str, message: str) -> Callable[[Path], str]:
    def relabel(path: Path) -> str:
        table = path.parent.parent / ENTRY_FILE
        lines = table.read_text().splitlines(keepends=True)
        number = entry_row(path)
        fields = lines[number - 1].split(",")
        fields[1] = findings
        lines[number - 1] = ",".join(fields)
        table.write_text("".join(lines))
        return row_prefix(path) + message

    return relabel


# problem -> damage, which returns the regular expression of the whole message
PROBLEMS: dict[str, Callable[[Path], str]] = {
    "deleted": delete,
    "link to a missing file": link_to_missing,
    "truncated": truncate,
    "random bytes": fill_with_noise,
    "small": shrink,
    "unknown label": set_findings(
        "Mass|Lung_Cancer", r"unknown finding label 'Lung_Cancer' in Finding Labels 'Mass\|Lung_Cancer'"
    ),
    "no finding with a finding": set_findings(
        "No Finding|Mass", r"Finding Labels 'No Finding\|Mass' combines 'No Finding' with findings"
    ),
}


def damage(root: Path, problem: str, index: int = 2) -> tuple[str, str]:
    """Damage the ``index``-th image (or its row); its id and the regular expression of the whole message."""
    image = images(root)[index]
    return image.stem, PROBLEMS[problem](image)


@pytest.fixture(scope="module")
def pristine_chestxray14(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize(
        "chestxray14", tmp_path_factory.mktemp("pristine"), num_images=NUM_IMAGES, image_size=IMAGE_SIZE, seed=0
    )


@pytest.fixture()
def cxr(pristine_chestxray14: Path, tmp_path: Path) -> Path:
    """A fresh copy of the synthetic set for the test to damage."""
    return Path(shutil.copytree(pristine_chestxray14, tmp_path / "cxr"))


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("WEAKLOC_CACHE_DIR", str(tmp_path / "cache"))


def workflow(dataset: Path, bundle_root: Path, on_bad_data: str) -> ConfigWorkflow:
    return ConfigWorkflow(
        config_file=TRAINING_CONFIGS,
        meta_file=str(CONFIGS / "metadata.json"),
        logging_file=False,
        workflow_type="train",
        dataset_dir=str(dataset),
        bundle_root=str(bundle_root),
        on_bad_data=on_bad_data,
        **TINY,
    )


def messages(error: BaseException) -> str:
    """The messages of an exception and of every exception it was raised from, one a line."""
    lines = []
    while error is not None:
        lines.append(str(error))
        error = error.__cause__ or error.__context__
    return "\n".join(lines)


def test_the_synthetic_set_has_gray_and_rgba_images_larger_than_the_network_input(pristine_chestxray14):
    modes = {Image.open(path).mode for path in images(pristine_chestxray14)}
    assert modes == {"L", "RGBA"}  # as the real set: 8-bit gray, a few RGBA
    assert all(Image.open(path).size == (IMAGE_SIZE, IMAGE_SIZE) for path in images(pristine_chestxray14))
    parser = ConfigParser()
    parser.read_config(TRAINING_CONFIGS)
    assert "min_size=@crop_size" in parser["read_records"] and "on_error=@on_bad_data" in parser["read_records"]
    assert parser["on_bad_data"] == "raise"


@pytest.mark.parametrize("problem", PROBLEMS)
def test_training_stops_naming_the_file_and_the_problem(problem, cxr, tmp_path):
    _, message = damage(cxr, problem)
    bundle = workflow(cxr, tmp_path / "bundle", on_bad_data="raise")
    bundle.initialize()
    with pytest.raises(Exception) as raised:
        bundle.run()
    assert re.search(rf"^{message}", messages(raised.value), flags=re.MULTILINE), messages(raised.value)
    assert not any((tmp_path / "bundle" / "models").glob("*.pt"))


@pytest.mark.parametrize("problem", PROBLEMS)
def test_skipping_leaves_out_the_bad_image_and_logs_it(problem, cxr, tmp_path, caplog):
    all_ids = [path.stem for path in images(cxr)]
    bad_id, message = damage(cxr, problem)
    bundle = workflow(cxr, tmp_path / "bundle", on_bad_data="skip")
    bundle.initialize()
    with caplog.at_level(logging.WARNING, logger="monai_weakloc.data"):
        records = bundle.parser.get_parsed_content("records")
    assert sorted(record["id"] for record in records) == sorted(set(all_ids) - {bad_id})
    assert re.search(rf"skipped: {message}", caplog.text), caplog.text


@pytest.mark.parametrize("colour", ["L", "RGB", "RGBA"])
def test_gray_rgb_and_rgba_x_rays_are_kept_and_load_as_the_gray_image(colour, cxr, tmp_path):
    image = next(path for path in images(cxr) if Image.open(path).mode == "L")
    gray = np.asarray(Image.open(image))
    Image.open(image).convert(colour).save(image)
    assert Image.open(image).mode == colour
    bundle = workflow(cxr, tmp_path / "bundle", on_bad_data="raise")
    bundle.initialize()
    records = bundle.parser.get_parsed_content("records")
    record = next(r for r in records if r["id"] == image.stem)
    load = Compose(bundle.parser.get_parsed_content("load_transforms"))
    pixels = torch.as_tensor(load(dict(record))["image"])
    assert pixels.shape == (3, IMAGE_SIZE, IMAGE_SIZE)  # three channels for the ImageNet-style network
    torch.testing.assert_close(pixels[1], pixels[0])
    torch.testing.assert_close(pixels[2], pixels[0])
    pristine = dict(record, image=str(tmp_path / "gray.png"))
    Image.fromarray(gray).save(pristine["image"])
    infer = Compose(bundle.parser.get_parsed_content("inference_transforms"))
    loaded = torch.as_tensor(infer(dict(record))["image"])
    assert loaded.shape == (3, CROP_SIZE, CROP_SIZE)
    torch.testing.assert_close(loaded, torch.as_tensor(infer(pristine)["image"]))


@pytest.mark.slow
def test_training_as_typed_skips_every_bad_file_and_trains(cxr, tmp_path):
    expected, relabelled = [], []
    for index, problem in enumerate(PROBLEMS):
        bad_id, message = damage(cxr, problem, index=2 * index + 1)  # odd indices: distinct images
        expected.append(message)
        if "label" in problem or "finding" in problem:
            relabelled.append(bad_id)
    gray = next(path for path in images(cxr)[::2] if Image.open(path).mode == "L")
    Image.open(gray).convert("RGBA").save(gray)  # converted, not skipped
    tiny = tmp_path / "tiny.json"
    tiny.write_text(json.dumps(TINY))
    bundle_root = tmp_path / "bundle"
    command = [
        sys.executable, "-m", "monai.bundle", "run", "training",
        "--config_file", repr([*TRAINING_CONFIGS, str(tiny)]),
        "--bundle_root", str(bundle_root), "--dataset_dir", str(cxr), "--on_bad_data", "skip",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    for message in expected:
        assert re.search(rf"skipped: {message}", log), message
    # a relabelled image's boxes are skipped too: their rows name an image whose entry row was left out (the
    # reader's words: "is not in Data_Entry_2017.csv")
    box_rows = re.compile(
        rf"skipped: {re.escape(str(cxr / 'BBox_List_2017.csv'))}, row \d+: image '({'|'.join(relabelled)})\.png' "
        rf"is not in {ENTRY_FILE}"
    )
    skipped = [line for line in log.splitlines() if "skipped: " in line]
    assert len(skipped) == len(PROBLEMS) + sum(bool(box_rows.search(line)) for line in skipped), skipped
    assert (bundle_root / "models" / "model.pt").is_file()


@pytest.mark.slow
def test_training_as_typed_stops_on_a_small_image(cxr, tmp_path):
    _, message = damage(cxr, "small")
    tiny = tmp_path / "tiny.json"
    tiny.write_text(json.dumps(TINY))
    command = [
        sys.executable, "-m", "monai.bundle", "run", "training", "--config_file", repr([*TRAINING_CONFIGS, str(tiny)]),
        "--bundle_root", str(tmp_path / "bundle"), "--dataset_dir", str(cxr),
    ]  # fmt: skip
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert re.search(rf"ValueError: {message}", result.stderr), result.stderr[-3000:]
    assert "Epoch[1]" not in result.stdout + result.stderr
