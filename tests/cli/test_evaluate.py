"""``weakloc evaluate``: each command prints its table and writes its files; bad input exits 1 naming the file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result
from PIL import Image

from monai_weakloc.cli.main import cli

BOX_ROWS = ["img1,MA,10,12,8,6", "img1,HE,40,30,12,10", "img2,MA,20,5,6,6"]


def write_csv(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def invoke(arguments: list[str]) -> Result:
    return CliRunner().invoke(cli, ["evaluate", *arguments])


def table_value(output: str, name: str) -> str:
    """The value printed after ``name`` in the table (the name padded with spaces)."""
    values = [line[len(name) :].strip() for line in output.splitlines() if line.startswith(name + "  ")]
    assert len(values) == 1, output
    return values[0]


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("grades", ["--truth", "--pred", "--num-classes", "--out"]),
        ("boxes", ["--heatmaps", "--num-boxes", "--iom-threshold", "--images", "--out"]),
        ("masks", ["--threshold", "--pooling", "--eval-thresholds", "--out"]),
        ("labels", ["--truth", "--pred", "--out"]),
    ],
)
def test_help_lists_the_options(command: str, options: list[str]) -> None:
    result = invoke([command, "--help"])
    assert result.exit_code == 0
    for option in options:
        assert option in result.output


def test_grades_prints_the_table_and_writes_the_files(tmp_path: Path) -> None:
    truth = write_csv(tmp_path / "truth.csv", "image,level", ["a,0", "b,1", "c,2", "d,0"])
    pred = write_csv(
        tmp_path / "pred.csv",
        "image,level,prob_0,prob_1,prob_2",
        ["a,0,0.8,0.1,0.1", "b,1,0.2,0.6,0.2", "c,1,0.1,0.5,0.4", "d,0,0.6,0.3,0.1"],
    )
    result = invoke(["grades", "--truth", str(truth), "--pred", str(pred), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert table_value(result.output, "accuracy") == "0.7500"
    assert "quadratic weighted kappa" in result.output and "referable AUC" in result.output
    table = [line for line in lines if not line.startswith("wrote")]
    assert len({len(line) - len(line.split()[-1]) for line in table}) == 1  # values start in one column
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["accuracy"] == 0.75
    assert (tmp_path / "out" / "roc.png").stat().st_size > 0


def test_grades_bad_input_exits_1_naming_the_file(tmp_path: Path) -> None:
    truth = write_csv(tmp_path / "truth.csv", "image,level", ["a,0", "b,1"])
    bad = write_csv(tmp_path / "bad_pred.csv", "image,level", ["a,0", "b,one"])
    result = invoke(["grades", "--truth", str(truth), "--pred", str(bad), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "bad_pred.csv, row 3 (b): level 'one' is not an integer" in result.stderr
    missing = invoke(["grades", "--truth", str(tmp_path / "gone.csv"), "--pred", str(bad), "--out", str(tmp_path)])
    assert missing.exit_code == 1 and "gone.csv" in missing.stderr


def test_boxes_with_images_heatmaps_and_baseline(tmp_path: Path) -> None:
    truth = write_csv(tmp_path / "truth.csv", "image,label,x,y,w,h", BOX_ROWS)
    pred = write_csv(tmp_path / "pred.csv", "image,label,x,y,w,h,score", [f"{row},0.5" for row in BOX_ROWS])
    images, heatmaps = tmp_path / "images", tmp_path / "heatmaps"
    images.mkdir()
    heatmaps.mkdir()
    for name in ("img1", "img2"):
        Image.fromarray(np.zeros((48, 64, 3), dtype=np.uint8)).save(images / f"{name}.jpeg")
        heatmap = np.zeros((48, 64), dtype=np.uint8)
        heatmap[12:18, 10:18] = 255
        Image.fromarray(heatmap).save(heatmaps / f"{name}.png")
    arguments = ["boxes", "--truth", str(truth), "--pred", str(pred), "--out", str(tmp_path / "out")]
    arguments += ["--images", str(images), "--heatmaps", str(heatmaps), "--num-boxes", "4", "--iom-threshold", "0.5"]
    result = invoke(arguments)
    assert result.exit_code == 0, result.output
    assert table_value(result.output, "recall for box at IoM 0.5") == "1.0000"
    assert "random baseline, person at IoM 0.5" in result.output and "MaxBoxAcc v2" in result.output
    saved = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert saved["num_boxes"] == 4 and "random_baseline" in saved
    assert (tmp_path / "out" / "iom_recall.png").stat().st_size > 0


def test_boxes_bad_input_exits_1_naming_the_file(tmp_path: Path) -> None:
    truth = write_csv(tmp_path / "truth.csv", "image,label,x,y,w,h", BOX_ROWS)
    pred = write_csv(tmp_path / "pred.csv", "image,label,x,y,w", ["img1,MA,1,1,4"])
    result = invoke(["boxes", "--truth", str(truth), "--pred", str(pred), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "pred.csv" in result.stderr and "'h'" in result.stderr
    images = tmp_path / "images"
    images.mkdir()
    arguments = ["boxes", "--truth", str(truth), "--pred", str(truth), "--images", str(images), "--out", str(tmp_path)]
    result = invoke(arguments)
    assert result.exit_code == 1 and "no image file for 2 image(s)" in result.stderr


def test_masks_prints_the_table(tmp_path: Path) -> None:
    truth_dir, pred_dir = tmp_path / "truth", tmp_path / "pred"
    truth_dir.mkdir()
    pred_dir.mkdir()
    mask = np.zeros((32, 32), dtype=np.uint8)
    mask[5:9, 5:9] = 255
    Image.fromarray(mask).save(truth_dir / "IDRiD_01.png")
    np.save(pred_dir / "IDRiD_01.npy", mask.astype(np.float32) / 255)
    arguments = ["masks", "--truth", str(truth_dir), "--pred", str(pred_dir), "--out", str(tmp_path / "out")]
    result = invoke([*arguments, "--pooling", "mean"])
    assert result.exit_code == 0, result.output
    assert table_value(result.output, "average precision (mean)") == "1.0000"
    assert "FROC score, ROC points" in result.output
    assert (tmp_path / "out" / "froc.png").stat().st_size > 0
    np.save(pred_dir / "IDRiD_02.npy", mask.astype(np.float32))
    result = invoke(arguments)
    assert result.exit_code == 1 and "IDRiD_02.npy" in result.stderr


def test_labels_prints_per_label_auc(tmp_path: Path) -> None:
    truth_rows = ["a.png,Mass", "b.png,No Finding", "c.png,Mass|Nodule", "d.png,Nodule"]
    truth = write_csv(tmp_path / "truth.csv", "Image Index,Finding Labels", truth_rows)
    pred = write_csv(tmp_path / "pred.csv", "image,Mass,Nodule", ["a,0.9,0.2", "b,0.1,0.1", "c,0.8,0.7", "d,0.3,0.9"])
    result = invoke(["labels", "--truth", str(truth), "--pred", str(pred), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert table_value(result.output, "AUC Mass") == "1.0000"
    assert "mean AUC" in result.output
    duplicate = write_csv(tmp_path / "dup.csv", "image,Mass,Nodule", ["a,0.9,0.2", "a,0.1,0.1"])
    result = invoke(["labels", "--truth", str(truth), "--pred", str(duplicate), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1 and "dup.csv, row 3: duplicate image 'a'" in result.stderr
