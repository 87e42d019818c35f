"""``weakloc data synth``: writes a dataset and says what it wrote; bad arguments fail with a clear message."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from monai_weakloc.cli.main import cli
from monai_weakloc.data.synthetic import SYNTH_LAYOUTS


def test_help_lists_every_layout_and_option() -> None:
    result = CliRunner().invoke(cli, ["data", "synth", "--help"])
    assert result.exit_code == 0
    for word in (*SYNTH_LAYOUTS, "--out", "--num-images", "--seed", "--image-size"):
        assert word in result.output


def test_writes_the_layout_and_reports_its_files(tmp_path: Path) -> None:
    out = tmp_path / "eyepacs"
    arguments = ["data", "synth", "eyepacs", "--out", str(out), "--num-images", "6", "--image-size", "48"]
    result = CliRunner().invoke(cli, arguments)
    assert result.exit_code == 0, result.output
    assert (out / "trainLabels.csv").is_file() and (out / "retinopathy_solution.csv").is_file()
    assert f"to {out}" in result.output
    assert "trainLabels.csv" in result.output and "lesion_boxes.csv" in result.output
    train_images = len(list((out / "train").glob("*.jpeg")))
    assert f"train/: {train_images} .jpeg" in result.output


def test_same_arguments_write_the_same_files(tmp_path: Path) -> None:
    runner = CliRunner()
    for name in ("a", "b"):
        arguments = ["data", "synth", "mias", "--out", str(tmp_path / name), "--num-images", "3", "--image-size", "48"]
        result = runner.invoke(cli, arguments)
        assert result.exit_code == 0, result.output
    assert (tmp_path / "a" / "Info.txt").read_bytes() == (tmp_path / "b" / "Info.txt").read_bytes()
    assert (tmp_path / "a" / "mdb002.pgm").read_bytes() == (tmp_path / "b" / "mdb002.pgm").read_bytes()


def test_non_empty_output_directory_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    arguments = ["data", "synth", "mias", "--out", str(tmp_path), "--num-images", "2", "--image-size", "48"]
    result = CliRunner().invoke(cli, arguments)
    assert result.exit_code == 1
    assert "not empty" in result.output and str(tmp_path) in result.output


def test_bad_layout_and_out_of_range_values_are_usage_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    unknown = runner.invoke(cli, ["data", "synth", "kaggle", "--out", str(tmp_path / "x")])
    assert unknown.exit_code == 2 and "'kaggle' is not one of" in unknown.output
    tiny = runner.invoke(cli, ["data", "synth", "mias", "--out", str(tmp_path / "y"), "--image-size", "8"])
    assert tiny.exit_code == 2 and "--image-size" in tiny.output
    missing = runner.invoke(cli, ["data", "synth", "mias"])
    assert missing.exit_code == 2 and "--out" in missing.output
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
