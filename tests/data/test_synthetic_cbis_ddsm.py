"""Synthetic CBIS-DDSM: the distributed tables and DICOM folders, read back by the reader, the check and the loader."""

from __future__ import annotations

import csv
import hashlib
import re
from pathlib import Path

import numpy as np
import pydicom
import pytest
from click.testing import CliRunner

from monai_weakloc.cli.main import cli
from monai_weakloc.data import ProblemLog, read_cbis_ddsm
from monai_weakloc.data.cache import synthetic_dataset_dir
from monai_weakloc.data.synthetic import SYNTH_LAYOUTS, synthesize
from monai_weakloc.transforms import LoadImage2D

SIZE = 256
NUM_IMAGES = 16
SEED = 3
TABLES = [f"{kind}_case_description_{split}_set.csv" for kind in ("calc", "mass") for split in ("test", "train")]
MASS_HEADER = ["patient_id", "breast_density", "left or right breast", "image view", "abnormality id",
               "abnormality type", "mass shape", "mass margins", "assessment", "pathology", "subtlety",
               "image file path", "cropped image file path", "ROI mask file path"]
CALC_HEADER = ["patient_id", "breast density", "left or right breast", "image view", "abnormality id",
               "abnormality type", "calc type", "calc distribution", "assessment", "pathology", "subtlety",
               "image file path", "cropped image file path", "ROI mask file path"]
IMAGE_ID = re.compile(r"^(Mass|Calc)-(Training|Test)_(P_\d{5})_(LEFT|RIGHT)_(CC|MLO)$")
UID = r"[0-9]+(\.[0-9]+)+"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize("cbis_ddsm", tmp_path_factory.mktemp("cbis") / "ds", num_images=NUM_IMAGES, seed=SEED,
                      image_size=SIZE)


@pytest.fixture(scope="module")
def records(root: Path) -> list[dict]:
    log = ProblemLog("skip")
    found = read_cbis_ddsm(root, problems=log)
    assert not log.problems, [str(problem) for problem in log.problems]
    return found


def _rows(root: Path) -> dict[str, list[dict[str, str]]]:
    tables = {}
    for name in TABLES:
        with (root / name).open(newline="", encoding="utf-8") as handle:
            tables[name] = list(csv.DictReader(handle))
    return tables


def _digests(root: Path) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_registered_as_a_synth_layout() -> None:
    assert "cbis_ddsm" in SYNTH_LAYOUTS


def test_four_tables_with_the_distributed_headers_and_paths(root: Path) -> None:
    assert sorted(path.name for path in root.glob("*.csv")) == TABLES
    for name in TABLES:
        with (root / name).open(newline="", encoding="utf-8") as handle:
            header = next(csv.reader(handle))
        assert header == (MASS_HEADER if name.startswith("mass") else CALC_HEADER), name
    path_pattern = re.compile(rf"^(?P<folder>[A-Za-z_0-9-]+)/{UID}/{UID}/00000[01]\.dcm$")
    for name, rows in _rows(root).items():
        kind, split = name.split("_")[0], name.split("_")[3]
        for row in rows:
            assert row["abnormality type"] == {"mass": "mass", "calc": "calcification"}[kind]
            assert row["ROI mask file path"].endswith("\n"), "the distributed tables end the mask path in a newline"
            image, crop, mask = (row[column].strip() for column in MASS_HEADER[-3:])
            folders = [path_pattern.match(path)["folder"] for path in (image, crop, mask)]
            match = IMAGE_ID.match(folders[0])
            assert match is not None, folders[0]
            assert match.groups() == (kind.title(), {"train": "Training", "test": "Test"}[split], row["patient_id"],
                                      row["left or right breast"], row["image view"])
            assert folders[1] == folders[2] == f"{folders[0]}_{row['abnormality id']}"
            assert all((root / path).is_file() for path in (image, crop, mask))
            assert 1 <= int(row["subtlety"]) <= 5 and 1 <= int(row["assessment"]) <= 5


def test_both_types_and_pathologies_in_train_and_test(root: Path, records: list[dict]) -> None:
    tables = _rows(root)
    for kind in ("mass", "calc"):
        pathologies = {row["pathology"] for name, rows in tables.items() if name.startswith(kind) for row in rows}
        assert "MALIGNANT" in pathologies and pathologies & {"BENIGN", "BENIGN_WITHOUT_CALLBACK"}, kind
    assert len(records) == NUM_IMAGES
    assert {record["split"] for record in records} == {"train", "test"}
    assert {record["label"] for record in records} == {0, 1}
    for split in ("train", "test"):
        assert any(tables[f"{kind}_case_description_{split}_set.csv"] for kind in ("mass", "calc"))


def test_each_case_is_one_breast_in_two_views_in_one_split(root: Path) -> None:
    cases: dict[str, list[dict[str, str]]] = {}
    for name, rows in _rows(root).items():
        for row in rows:
            cases.setdefault(row["patient_id"], []).append(row | {"table": name})
    assert len(cases) == NUM_IMAGES // 2
    for patient, rows in cases.items():
        assert sorted(row["image view"] for row in rows) == ["CC", "MLO"], patient
        for column in ("table", "pathology", "left or right breast", "abnormality type"):
            assert len({row[column] for row in rows}) == 1, (patient, column)


def test_records_ids_labels_and_masks(records: list[dict]) -> None:
    for record in records:
        match = IMAGE_ID.match(record["id"])
        assert match is not None, record["id"]
        assert record["split"] == {"Training": "train", "Test": "test"}[match[2]]
        assert (record["patient"], record["laterality"], record["view"]) == match.group(3, 4, 5)
        assert list(record["masks"]) == ["1"] and record["mask"] == record["masks"]["1"]
        assert record["label"] == record["mask_labels"]["1"] in (0, 1)


def test_data_check_finds_no_problem(root: Path) -> None:
    result = CliRunner().invoke(cli, ["data", "check", "cbis_ddsm", str(root)])
    assert result.exit_code == 0, result.output
    assert f"decoded {2 * NUM_IMAGES} of {2 * NUM_IMAGES} image and mask files" in result.stdout
    assert "no problems found" in result.stdout


def test_dicom_files_are_monochrome2_mammograms(root: Path, records: list[dict]) -> None:
    record = records[0]
    image = pydicom.dcmread(record["image"])
    mask = pydicom.dcmread(record["mask"])
    for dataset, bits in ((image, 16), (mask, 8)):
        assert dataset.PhotometricInterpretation == "MONOCHROME2" and dataset.SamplesPerPixel == 1
        assert (dataset.BitsAllocated, dataset.BitsStored, dataset.PixelRepresentation) == (bits, bits, 0)
        assert (dataset.Rows, dataset.Columns) == (SIZE, SIZE)
        assert dataset.Modality == "MG" and dataset.PatientID == Path(record["image"]).relative_to(root).parts[0]
        assert dataset.SOPInstanceUID == dataset.file_meta.MediaStorageSOPInstanceUID
    assert Path(record["image"]).parent.name == image.SeriesInstanceUID
    assert Path(record["image"]).parent.parent.name == image.StudyInstanceUID
    assert image.SeriesDescription == "full mammogram images" and mask.SeriesDescription == "ROI mask images"
    assert image.pixel_array.max() > 255, "16-bit intensities"


def test_images_and_masks_load_with_the_mask_on_a_visible_lesion(records: list[dict]) -> None:
    load = LoadImage2D(mode="gray")
    rows, cols = np.mgrid[:SIZE, :SIZE]
    for record in records:
        image = load(record["image"])[0].numpy()
        mask = load(record["mask"])[0].numpy()
        assert image.shape == mask.shape == (SIZE, SIZE), record["id"]
        assert set(np.unique(mask)) == {0.0, 255.0}, record["id"]
        inside = mask > 0
        # the breast is attached to the edge of its side: that half holds more tissue
        left, right = image[:, : SIZE // 2].mean(), image[:, SIZE // 2 :].mean()
        assert (left > right) == (record["laterality"] == "LEFT"), record["id"]
        # the lesion: the ROI's brightest pixels stand out from the typical tissue around it
        centre_row, centre_col = rows[inside].mean(), cols[inside].mean()
        radius = np.sqrt(inside.sum() / np.pi)
        distance = np.hypot(rows - centre_row, cols - centre_col)
        ring = (distance > 1.5 * radius) & (distance < 3.0 * radius) & (image > 0.2 * 65535)
        assert ring.sum() > 20, record["id"]
        assert np.percentile(image[inside], 95) > np.median(image[ring]) + 0.1 * 65535, record["id"]


def test_crops_hold_the_lesion(records: list[dict], root: Path) -> None:
    load = LoadImage2D(mode="gray")
    tables = _rows(root)
    crops = {row["image file path"]: row["cropped image file path"] for rows in tables.values() for row in rows}
    for record in records:
        crop = load(root / crops[Path(record["image"]).relative_to(root).as_posix()])[0].numpy()
        image = load(record["image"])[0].numpy()
        assert 6 <= crop.shape[0] < SIZE and 6 <= crop.shape[1] < SIZE
        assert crop.max() >= image[load(record["mask"])[0].numpy() > 0].max(), record["id"]


def test_same_seed_same_bytes_other_seed_differs(root: Path, tmp_path: Path) -> None:
    again = synthesize("cbis_ddsm", tmp_path / "again", num_images=NUM_IMAGES, seed=SEED, image_size=SIZE)
    other = synthesize("cbis_ddsm", tmp_path / "other", num_images=NUM_IMAGES, seed=SEED + 1, image_size=SIZE)
    assert _digests(again) == _digests(root)
    assert _digests(other) != _digests(root)


@pytest.mark.parametrize("num_images", [1, 5])
def test_odd_counts_leave_the_last_case_with_a_cc_view(tmp_path: Path, num_images: int) -> None:
    root = synthesize("cbis_ddsm", tmp_path / "ds", num_images=num_images, seed=0, image_size=48)
    records = read_cbis_ddsm(root)
    assert len(records) == num_images
    assert sorted(path.name for path in root.glob("*.csv")) == TABLES
    assert sum(record["view"] == "CC" for record in records) == (num_images + 1) // 2


def test_cli_and_cache_write_the_layout(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    arguments = ["data", "synth", "cbis_ddsm", "--out", str(out), "--num-images", "4", "--seed", "2",
                 "--image-size", "64"]
    result = CliRunner().invoke(cli, arguments)
    assert result.exit_code == 0, result.output
    assert "mass_case_description_train_set.csv" in result.output
    assert len(read_cbis_ddsm(out)) == 4
    arguments = {"cache_dir": tmp_path / "cache", "num_images": 4, "image_size": 64, "seed": 2}
    cached = synthetic_dataset_dir("cbis_ddsm", **arguments)
    assert Path(cached).name == "cbis_ddsm_n4_px64_seed2"
    assert _digests(Path(cached)) == _digests(out)
    assert synthetic_dataset_dir("cbis_ddsm", **arguments) == cached, "generated once, then read from the cache"
