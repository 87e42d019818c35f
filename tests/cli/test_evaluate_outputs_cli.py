"""``weakloc evaluate outputs``: a folder of the output contract scored by task, truth read from a dataset layout."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from monai_weakloc.cli.main import cli
from monai_weakloc.data.synthetic import synthesize
from monai_weakloc.evaluation.tables import read_box_table


def write_outputs(dataset: Path, outputs: Path) -> None:
    """Perfect predictions of the TB labels and a point at the centre of every image's first lesion box."""
    names = sorted(path.stem for path in (dataset / "CXR_png").glob("*.png"))
    truth = read_box_table(dataset / "lesion_boxes.csv", "truth")
    outputs.mkdir()
    rows = [f"{name},{name[-1]},{1 - int(name[-1])},{int(name[-1])}" for name in names]
    (outputs / "predictions.csv").write_text("image,label,prob_0,prob_1\n" + "\n".join(rows) + "\n")
    points = [
        f"{name},tb,{x + w / 2},{y + h / 2},1.0" for name, boxes in truth.boxes.items() for x, y, w, h in boxes[:1]
    ]
    (outputs / "points.csv").write_text("image,label,x,y,score\n" + "\n".join(points) + "\n")


def test_outputs_are_scored_by_task_and_the_figures_printed_beside_their_baselines(tmp_path):
    dataset = synthesize("tb_cxr", tmp_path / "tb", num_images=8, seed=1, image_size=64)
    outputs = tmp_path / "outputs"
    write_outputs(dataset, outputs)
    result = CliRunner().invoke(
        cli,
        [
            "evaluate",
            "outputs",
            str(outputs),
            "--layout",
            "tb_cxr",
            "--dataset",
            str(dataset),
            "--task",
            "grades",
            "--task",
            "pointing",
            "--tolerance",
            "0",
        ],
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads((outputs / "metrics.json").read_text())
    assert metrics["tasks"] == ["grades", "pointing"]
    assert metrics["grades"]["accuracy"] == 1.0
    assert metrics["pointing"]["pointing_accuracy"] == 1.0
    assert metrics["pointing"]["point_source"] == "points"
    assert "pointing: image_centre_pointing_accuracy (baseline)" in result.output
    assert "grades: majority_class_accuracy (baseline)" in result.output


def test_a_bad_split_or_missing_output_file_exits_1_naming_it(tmp_path):
    dataset = synthesize("tb_cxr", tmp_path / "tb", num_images=4, seed=1, image_size=64)
    outputs = tmp_path / "outputs"
    write_outputs(dataset, outputs)
    arguments = ["evaluate", "outputs", str(outputs), "--layout", "tb_cxr", "--dataset", str(dataset)]
    result = CliRunner().invoke(cli, [*arguments, "--task", "grades", "--split", "test"])
    assert result.exit_code == 1
    assert "no split" in result.output
    result = CliRunner().invoke(cli, [*arguments, "--task", "boxes"])
    assert result.exit_code == 1
    assert "boxes.csv" in result.output
