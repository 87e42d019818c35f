"""read_image_list: a user's images from folders, files and CSV lists, checked, fellow eyes paired by name."""

from __future__ import annotations

import logging
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from dicom_files import write_dicom
from monai_weakloc.data import ProblemLog, read_image_list
from monai_weakloc.data.readers.image_list import image_file_id


def write_image(path: Path, height: int = 40, width: int = 50, channels: int = 3) -> Path:
    """A noise image in the format of ``path``'s suffix (PNG, JPEG, TIFF, PGM, DICOM or NIfTI)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shape = (height, width) if channels == 1 else (height, width, channels)
    pixels = np.random.default_rng(len(path.name)).integers(0, 256, shape, dtype=np.uint8)
    if path.name.endswith(".nii.gz"):
        nib.save(nib.Nifti1Image(pixels.T.astype(np.float32), np.eye(4)), path)
    elif path.suffix == ".dcm":
        write_dicom(path, pixels)
    else:
        Image.fromarray(pixels).save(path)
    return path


def test_a_folder_is_searched_recursively_for_every_supported_format(tmp_path, caplog):
    write_image(tmp_path / "a_colour.png")
    write_image(tmp_path / "b_gray.jpg", channels=1)
    write_image(tmp_path / "nested" / "c.tiff")
    write_image(tmp_path / "nested" / "deeper" / "d.pgm", channels=1)
    write_image(tmp_path / "nested" / "e.dcm", channels=1)
    write_image(tmp_path / "f.nii.gz", channels=1)
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / ".hidden").mkdir()
    write_image(tmp_path / ".hidden" / "g.png")
    with caplog.at_level(logging.INFO):
        records = read_image_list([tmp_path])
    assert [r["id"] for r in records] == ["a_colour", "b_gray", "f", "c", "d", "e"]  # in path order
    assert records[2] == {"image": str(tmp_path / "f.nii.gz"), "id": "f"}
    assert all(Path(r["image"]).is_absolute() and Path(r["image"]).is_file() for r in records)
    assert "left aside 1 file(s)" in caplog.text


def test_files_and_csv_lists_keep_the_order_given(tmp_path, monkeypatch):
    first = write_image(tmp_path / "scans" / "first.png")
    write_image(tmp_path / "lists" / "images" / "listed.jpeg")
    elsewhere = write_image(tmp_path / "elsewhere" / "absolute.tif")
    table = tmp_path / "lists" / "to_predict.csv"
    table.write_text(f"image,comment\nimages/listed.jpeg,relative to the CSV\n{elsewhere},absolute\n")
    monkeypatch.chdir(tmp_path / "scans")
    records = read_image_list(["first.png", table, first])  # a file named twice is kept once
    assert [r["id"] for r in records] == ["first", "listed", "absolute"]
    assert records[1]["image"] == str(tmp_path / "lists" / "images" / "listed.jpeg")


def test_the_id_drops_the_whole_extension():
    assert image_file_id("/d/IDRiD_01.nii.gz") == "IDRiD_01"
    assert image_file_id("/d/10_left.JPEG") == "10_left"
    assert image_file_id("/d/scan.v2.dcm") == "scan.v2"


def test_two_files_with_the_same_id_are_named_together(tmp_path):
    png = write_image(tmp_path / "a" / "10_left.png")
    jpeg = write_image(tmp_path / "b" / "10_left.jpeg")
    with pytest.raises(ValueError, match="duplicate image id '10_left'") as raised:
        read_image_list([tmp_path])
    assert str(png) in str(raised.value) and str(jpeg) in str(raised.value)
    log = ProblemLog("skip")
    assert [r["image"] for r in read_image_list([tmp_path], problems=log)] == [str(png)]
    assert len(log.problems) == 1


def test_an_unusable_image_raises_naming_it_or_is_skipped_and_logged(tmp_path, caplog):
    write_image(tmp_path / "good.png", 64, 80)
    write_image(tmp_path / "small.png", 30, 80)
    jpeg = write_image(tmp_path / "truncated.jpg", 64, 80)
    jpeg.write_bytes(jpeg.read_bytes()[:400])  # an interrupted download
    with pytest.raises(ValueError, match=r"small\.png: image of 80 x 30 px is smaller than the 64 x 64 px"):
        read_image_list([tmp_path / "good.png", tmp_path / "small.png"], min_size=64)
    with pytest.raises(ValueError, match=r"truncated\.jpg: corrupt or unreadable image"):
        read_image_list([tmp_path / "good.png", jpeg], min_size=64)
    log = ProblemLog("skip")
    with caplog.at_level(logging.WARNING):
        records = read_image_list([tmp_path], min_size=64, problems=log)
    assert [r["id"] for r in records] == ["good"]
    assert sorted(Path(p.file).name for p in log.problems) == ["small.png", "truncated.jpg"]
    assert "skipped: " + str(tmp_path / "truncated.jpg") in caplog.text


def test_the_colour_mode_is_checked_when_asked(tmp_path):
    gray = write_image(tmp_path / "gray.png", channels=1)
    assert read_image_list([gray])[0]["id"] == "gray"  # any mode by default: the bundle's loader converts
    with pytest.raises(ValueError, match="grayscale image where RGB is expected"):
        read_image_list([gray], image_mode="rgb")


def test_paths_that_are_no_images_are_problems(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match=r"notes\.txt is not an image file of a supported type .*nor a CSV list"):
        read_image_list([tmp_path / "notes.txt"])
    with pytest.raises(ValueError, match="no such file or folder"):
        read_image_list([tmp_path / "missing"])
    table = tmp_path / "list.csv"
    table.write_text("image\nmissing.png\n")
    with pytest.raises(ValueError, match=r"list\.csv, row 2: image file not found: .*missing\.png"):
        read_image_list([table])
    table.write_text("path\nx.png\n")
    with pytest.raises(ValueError, match="image"):
        read_image_list([table])


def test_no_image_at_all_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no image files found in .*empty"):
        read_image_list([tmp_path / "empty"])
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="none of the images .* can be used"):
        read_image_list([tmp_path / "bad.png"], on_error="skip")


def test_eyepacs_names_pair_fellow_eyes_and_the_others_stand_in(tmp_path, caplog):
    left = write_image(tmp_path / "clinic_a" / "10_left.png")
    right = write_image(tmp_path / "clinic_b" / "10_right.jpeg")
    lonely = write_image(tmp_path / "11_left.png")
    other = write_image(tmp_path / "photo.png")
    with caplog.at_level(logging.WARNING):
        records = read_image_list([tmp_path], pair_eyes=True)
    fellows = {r["id"]: r["fellow"] for r in records}
    assert fellows == {"10_left": str(right), "10_right": str(left), "11_left": str(lonely), "photo": str(other)}
    assert "2 image(s) have no fellow eye and stand in for it themselves" in caplog.text
    assert all(set(r) == {"image", "id", "fellow"} for r in records)  # uniform keys: the batches collate
    assert all("fellow" not in r for r in read_image_list([tmp_path]))


def test_a_fellow_eye_left_out_as_bad_is_not_used(tmp_path):
    left = write_image(tmp_path / "10_left.png", 64, 64)
    write_image(tmp_path / "10_right.png", 20, 20)
    records = read_image_list([tmp_path], min_size=64, pair_eyes=True, on_error="skip")
    assert records == [{"image": str(left), "id": "10_left", "fellow": str(left)}]
