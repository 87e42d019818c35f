"""LocalizationOutputWriter: every kind of Localization, through a border crop, gives the contract's files."""

from __future__ import annotations

import csv
from pathlib import Path
from types import SimpleNamespace

import nibabel as nib
import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.utils import CommonKeys
from PIL import Image

from monai_weakloc.engines.localization_outputs import LocalizationOutputWriter
from monai_weakloc.localize import Detections, Localization

HEIGHT, WIDTH = 40, 60  # the original images
CROP = (10, 0, 50, 40)  # x0, y0, x1, y1: the border crop keeps a 40 x 40 square
INPUT = 20  # the crop resized to the network input: one input pixel is 2 x 2 original pixels


def _batch(tmp_path: Path, ids: list[str]) -> dict:
    paths = []
    for image_id in ids:
        path = tmp_path / f"{image_id}.png"
        Image.fromarray(np.full((HEIGHT, WIDTH, 3), 90, dtype=np.uint8)).save(path)
        paths.append(str(path))
    count = len(ids)
    image = MetaTensor(
        torch.zeros(count, 3, INPUT, INPUT),
        meta={
            "original_size": torch.tensor([[HEIGHT, WIDTH]] * count),
            "crop_box": torch.tensor([CROP] * count),
            "filename_or_obj": paths,
        },
    )
    return {CommonKeys.IMAGE: image, "id": ids}


def _write(tmp_path: Path, result: Localization, ids: list[str], **options) -> Path:
    out = tmp_path / "out"
    writer = LocalizationOutputWriter(out, localizer=lambda pred, batch: pred, **options)
    engine = SimpleNamespace(state=SimpleNamespace(batch=_batch(tmp_path, ids), output={CommonKeys.PRED: result}))
    writer.reset()
    writer.write_batch(engine)
    writer.write_tables()
    return out


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _nifti(path: Path) -> np.ndarray:
    return np.asarray(nib.load(str(path)).dataobj).T  # stored (W, H): back to (H, W)


@pytest.mark.parametrize("writer_threads", [0, 1])
def test_single_label_with_boxes_maps_boxes_and_heatmaps_back_through_the_crop(tmp_path, writer_threads):
    heatmap = torch.zeros(1, INPUT, INPUT)
    heatmap[0, 3:5, 2:6] = 0.8
    result = Localization(
        probabilities=torch.tensor([[0.1, 0.6, 0.3]]),
        heatmaps={"grade1": heatmap},
        boxes=[Detections(torch.tensor([[2.0, 3.0, 4.0, 2.0], [0.0, 0.0, 20.0, 20.0]]), ["lesion", "lesion"],
                          torch.tensor([0.9, 0.25]))],
    )
    out = _write(tmp_path, result, ["10_left"], write_nifti=True, writer_threads=writer_threads)
    assert _rows(out / "predictions.csv") == [
        {"image": "10_left", "level": "1", "prob_0": "0.100000", "prob_1": "0.600000", "prob_2": "0.300000"}
    ]
    boxes = _rows(out / "boxes.csv")
    assert [(b["label"], float(b["x"]), float(b["y"]), float(b["w"]), float(b["h"]), float(b["score"])) for b in boxes] == [
        ("lesion", 14.0, 6.0, 8.0, 4.0, 0.9), ("lesion", 10.0, 0.0, 40.0, 40.0, 0.25)
    ]
    values = _nifti(out / "heatmaps" / "10_left_grade1.nii.gz")
    assert values.shape == (HEIGHT, WIDTH) and values.dtype == np.float32
    assert np.all(values[:, :10] == 0) and np.all(values[:, 50:] == 0)  # outside the crop
    assert values[8, 18] == pytest.approx(0.8)  # input pixel (row 4, col 4) is original rows 8-9, cols 18-19
    png = np.asarray(Image.open(out / "heatmaps" / "10_left_grade1.png"))
    assert png.shape == (HEIGHT, WIDTH) and png.dtype == np.uint8 and png.max() == 255
    overlay = Image.open(out / "overlays" / "10_left.png")
    assert overlay.height == HEIGHT and overlay.width > WIDTH  # the image at its size, then the colour bar
    assert not (out / "points.csv").exists() and not (out / "masks").exists()


def test_multi_label_with_points_writes_class_columns_and_findings(tmp_path):
    names = ["Atelectasis", "Effusion", "Mass"]
    maps = torch.rand(2, 5, 5, generator=torch.Generator().manual_seed(0))
    result = Localization(
        probabilities=torch.tensor([[0.7, 0.2, 0.9], [0.1, 0.2, 0.3]]),
        probability_kind="multi_label",
        class_names=names,
        heatmaps={name: maps for name in names},
        points=[
            Detections(torch.tensor([[5.5, 7.5], [0.5, 19.5]]), ["Atelectasis", "Mass"], torch.tensor([0.7, 0.9])),
            Detections.empty(2),
        ],
    )
    out = _write(tmp_path, result, ["00000001_000", "00000002_000"], write_nifti=False, write_overlays=False)
    predictions = _rows(out / "predictions.csv")
    assert list(predictions[0]) == ["image", "labels", *names]
    assert [row["labels"] for row in predictions] == ["Atelectasis|Mass", "No Finding"]
    assert float(predictions[0]["Mass"]) == pytest.approx(0.9)
    points = _rows(out / "points.csv")
    assert [(p["image"], p["label"], float(p["x"]), float(p["y"]), float(p["score"])) for p in points] == [
        ("00000001_000", "Atelectasis", 21.0, 15.0, 0.7), ("00000001_000", "Mass", 11.0, 39.0, 0.9)
    ]
    for name in names:
        assert (out / "heatmaps" / f"00000002_000_{name}.png").is_file()
        assert not (out / "heatmaps" / f"00000002_000_{name}.nii.gz").exists()
    assert not (out / "boxes.csv").exists() and not (out / "overlays").exists()


def test_masks_with_points_write_probabilities_and_the_binary_mask_at_the_threshold(tmp_path):
    probability = torch.zeros(1, INPUT, INPUT)
    probability[0, 10, 10] = 0.9  # input pixel (10, 10): original rows 20-21, columns 30-31
    probability[0, 0, 0] = 0.4  # below the threshold
    result = Localization(
        probabilities=torch.tensor([[0.2, 0.8]]),
        masks={"MA": probability},
        points=[Detections(torch.tensor([[10.5, 10.5]]), ["MA"], torch.tensor([0.9]))],
    )
    out = _write(tmp_path, result, ["IDRiD_01"], label_column="label", mask_threshold=0.5)
    assert list(_rows(out / "predictions.csv")[0]) == ["image", "label", "prob_0", "prob_1"]
    values = _nifti(out / "masks" / "IDRiD_01_MA.nii.gz")
    assert values.shape == (HEIGHT, WIDTH)
    assert np.all(values[:, :10] == 0) and np.all(values[:, 50:] == 0)
    binary = np.asarray(Image.open(out / "masks" / "IDRiD_01_MA.png"))
    assert set(np.unique(binary)) == {0, 255}
    rows, cols = np.nonzero(binary)
    assert rows.min() >= 19 and rows.max() <= 22 and cols.min() >= 29 and cols.max() <= 32
    assert binary[20, 30] == 255 and binary[0, 10] == 0  # 0.4 stays below 0.5
    assert [(float(p["x"]), float(p["y"])) for p in _rows(out / "points.csv")] == [(31.0, 21.0)]
    assert (out / "overlays" / "IDRiD_01.png").is_file()
    assert not (out / "boxes.csv").exists() and not (out / "heatmaps").exists()


def test_a_localizer_that_returns_something_else_is_named(tmp_path):
    writer = LocalizationOutputWriter(tmp_path, localizer=lambda pred, batch: {"probabilities": pred})
    engine = SimpleNamespace(state=SimpleNamespace(batch=_batch(tmp_path, ["a"]), output={CommonKeys.PRED: 1}))
    with pytest.raises(TypeError, match="expected a Localization"):
        writer.write_batch(engine)


def test_bad_localizations_are_refused_with_the_part_at_fault():
    with pytest.raises(ValueError, match="probability_kind"):
        Localization(torch.ones(1, 2), probability_kind="softmax")
    with pytest.raises(ValueError, match="heatmap 'a'"):
        Localization(torch.ones(2, 2), heatmaps={"a": torch.ones(1, 4, 4)})
    with pytest.raises(ValueError, match="2 class names for 3"):
        Localization(torch.ones(1, 3), class_names=["a", "b"])
    with pytest.raises(ValueError, match="1 labels and 2 scores"):
        Detections(torch.zeros(2, 4), ["lesion"], torch.zeros(2))


def test_overlays_draw_heat_and_points_only_inside_the_field_of_view(tmp_path):
    fov = torch.zeros(1, 1, INPUT, INPUT)
    fov[..., :, :10] = 1.0  # the left half of the crop: original columns 10-29
    result = Localization(
        probabilities=torch.tensor([[0.5, 0.5]]),
        heatmaps={"map": torch.linspace(0, 1, INPUT).repeat(1, INPUT, 1)},  # rising to the right
        points=[Detections(torch.tensor([[4.5, 10.5]]), ["lesion"], torch.tensor([0.5]))],
    )
    out = tmp_path / "out"
    writer = LocalizationOutputWriter(out, localizer=lambda pred, batch: pred, writer_threads=0)
    batch = {**_batch(tmp_path, ["eye"]), "fov": fov}
    writer.write_batch(SimpleNamespace(state=SimpleNamespace(batch=batch, output={CommonKeys.PRED: result})))
    writer.write_tables()
    pixels = np.asarray(Image.open(out / "overlays" / "eye.png").convert("RGB")).astype(int)
    # the constant image shows black; the heat tints the field of view only
    assert pixels[:20, 12:30].max() > 80
    assert pixels[:20, 31:WIDTH].max() == 0 and pixels[:, :10].max() == 0  # (caption on rows 22-30; colour bar from WIDTH)
    green = (pixels[..., 1] > 150) & (pixels[..., 0] < 100) & (pixels[..., 2] < 100)
    assert green[21, 19]  # the point (x 19, y 21 in original pixels) is drawn
    assert (out / "points.csv").is_file()
