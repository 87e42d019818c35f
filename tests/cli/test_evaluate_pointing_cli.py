"""``weakloc evaluate pointing``: prints the table, writes its files; bad input exits 1 naming the file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner, Result
from PIL import Image

from monai_weakloc.cli.main import cli

IMAGE_SIZE = (48, 64)  # (H, W)


def write_csv(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def invoke(arguments: list[str]) -> Result:
    return CliRunner().invoke(cli, ["evaluate", "pointing", *arguments])


def table_value(output: str, name: str) -> str:
    """The value printed after ``name`` in the table (the name padded with spaces)."""
    values = [line[len(name) :].strip() for line in output.splitlines() if line.startswith(name + "  ")]
    assert len(values) == 1, output
    return values[0]


def peak_map(peak: tuple[int, int], size: tuple[int, int] = IMAGE_SIZE) -> np.ndarray:
    heatmap = np.zeros(size)
    heatmap[peak] = 1.0
    return heatmap


def write_inputs(folder: Path) -> tuple[Path, Path, Path]:
    """Two positives (one pointed 15 px right of its box, one far off) and one negative, maps in image geometry."""
    truth = write_csv(folder / "truth.csv", "image,label,x,y,w,h", ["a,MA,20,20,10,10", "b,MA,20,20,10,10"])
    pred = write_csv(folder / "pred.csv", "image,level,prob_0,prob_1", ["a,1,0.1,0.9", "n,1,0.2,0.8", "b,1,0.3,0.7"])
    heatmaps = folder / "heatmaps"
    heatmaps.mkdir()
    for name, peak in {"a": (25, 45), "b": (5, 60), "n": (25, 25)}.items():
        np.save(heatmaps / f"{name}_abnormal.npy", peak_map(peak))
    return truth, pred, heatmaps


def test_help_lists_the_options() -> None:
    result = invoke(["--help"])
    assert result.exit_code == 0
    for option in ("--truth", "--pred", "--heatmaps", "--tolerance", "--images", "--out"):
        assert option in result.output


def test_pointing_prints_the_table_and_writes_the_files(tmp_path: Path) -> None:
    truth, pred, heatmaps = write_inputs(tmp_path)
    out = tmp_path / "out"
    arguments = ["--truth", str(truth), "--pred", str(pred), "--heatmaps", str(heatmaps), "--out", str(out)]
    result = invoke(arguments)
    assert result.exit_code == 0, result.output
    # ranked a (hit), n (negative), b (missed): AP = 1/2 * 1
    assert table_value(result.output, "localization AP") == "0.5000"
    assert table_value(result.output, "pointing accuracy") == "0.5000"
    assert table_value(result.output, "negative images") == "1"
    assert table_value(result.output, "tolerance (px)") == "16"
    assert json.loads((out / "metrics.json").read_text())["missed_images"] == ["b"]
    assert (out / "pointing_pr.png").stat().st_size > 0
    strict = invoke([*arguments, "--tolerance", "14"])
    assert strict.exit_code == 0 and table_value(strict.output, "localization AP") == "0.0000"


def test_images_folder_gives_the_sizes_to_upsample_small_maps(tmp_path: Path) -> None:
    truth, pred, heatmaps = write_inputs(tmp_path)
    # stride-8 maps of the 48 x 64 images: cell (3, 5) upsamples to pixel (27, 43), in a's enlarged box
    np.save(heatmaps / "a_abnormal.npy", peak_map((3, 5), (6, 8)))
    np.save(heatmaps / "b_abnormal.npy", peak_map((0, 7), (6, 8)))
    images = tmp_path / "images"
    images.mkdir()
    for name in ("a", "b"):
        Image.new("L", IMAGE_SIZE[::-1]).save(images / f"{name}.png")
    arguments = ["--truth", str(truth), "--pred", str(pred), "--heatmaps", str(heatmaps), "--out", str(tmp_path / "o")]
    without = invoke(arguments)
    assert without.exit_code == 1 and "a_abnormal.npy: the 6 x 8 heatmap is smaller than" in without.stderr
    result = invoke([*arguments, "--images", str(images)])
    assert result.exit_code == 0, result.output
    assert table_value(result.output, "localization AP") == "0.5000"
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert metrics["num_resized_heatmaps"] == 2 and metrics["points"]["a"] == [27, 43]


def test_bad_input_exits_1_naming_the_file(tmp_path: Path) -> None:
    truth, _, heatmaps = write_inputs(tmp_path)
    bad = write_csv(tmp_path / "bad_pred.csv", "image,prob", ["a,0.9", "b,likely"])
    result = invoke(["--truth", str(truth), "--pred", str(bad), "--heatmaps", str(heatmaps), "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "bad_pred.csv, row 3: prob 'likely' is not a finite number" in result.stderr
    missing = invoke(
        ["--truth", str(tmp_path / "gone.csv"), "--pred", str(bad), "--heatmaps", str(heatmaps), "--out", str(tmp_path)]
    )
    assert missing.exit_code == 1 and "gone.csv" in missing.stderr
