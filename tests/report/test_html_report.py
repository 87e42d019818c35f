"""``weakloc report``: the page of an evaluated run, of a run without evaluation, and of every evaluation task."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from urllib.parse import unquote

import pytest
from click.testing import CliRunner
from PIL import Image
from report_runs import GRADED_ORDER, build_mask_run, build_multi_label_run

from monai_weakloc.cli.report import report
from monai_weakloc.report import write_report


def gallery(page: str) -> list[tuple[str, str]]:
    """(image, status) of the gallery's figures, in page order."""
    return re.findall(r'<figure class="item \w+" data-image="([^"]*)"[^>]*data-status="(\w+)"', page)


def image_sources(page: str) -> list[str]:
    return re.findall(r'<img src="([^"]*)"', page)


def test_evaluated_run_is_ordered_worst_first_with_truth_drawn(graded_run: Path) -> None:
    path = write_report(graded_run)
    page = path.read_text(encoding="utf-8")
    assert path == graded_run / "report.html"
    assert [image for image, _ in gallery(page)] == GRADED_ORDER
    assert [status for _, status in gallery(page)] == ["missed", "wrong", "wrong", "correct", "correct"]
    assert "boxes: 1 of 1 lesion(s) missed at IoM 0.3" in page and "pointing: missed the lesions" in page
    for task in ("grades", "boxes", "pointing"):
        assert f"<h3>{task}</h3>" in page
    assert "(majority class 3)" in page and "(random boxes)" in page and "(image centre)" in page
    for plot in ("confusion_matrix.png", "iom_recall.png", "pointing_pr.png", "roc.png"):
        assert f'src="outputs/{plot}"' in page
    # The truth (magenta) is drawn on copies of the overlays of the images with lesions, not on the overlay itself.
    drawn = Image.open(graded_run / "report_files" / "03_left.png").convert("RGB")
    assert drawn.getpixel((8, 15)) == (255, 0, 255)
    assert Image.open(graded_run / "outputs" / "overlays" / "03_left.png").convert("RGB").getpixel((8, 15)) != (
        255,
        0,
        255,
    )
    assert 'src="outputs/overlays/01_left.png"' in page


def test_page_is_self_contained(graded_run: Path) -> None:
    page = write_report(graded_run).read_text(encoding="utf-8")
    assert not re.search(r"(https?:|ftp:|//[a-z])", page, flags=re.IGNORECASE)
    assert "<link" not in page and "<script src" not in page
    sources = image_sources(page)
    assert len(sources) == 4 + len(GRADED_ORDER)
    for source in sources:
        assert (graded_run / unquote(source)).is_file(), source


def test_output_folder_without_evaluation_is_sorted_by_severity_and_escapes_text(tmp_path: Path) -> None:
    rows = [['<i>&"q', 1, "0.300000", "0.700000"], ["b", 0, "0.900000", "0.100000"], ["c", 1, "0.050000", "0.950000"]]
    with (tmp_path / "predictions.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows([["image", "label", "prob_0", "prob_1"], *rows])
    page = write_report(tmp_path).read_text(encoding="utf-8")
    assert [image for image, _ in gallery(page)] == ["c", "&lt;i&gt;&amp;&quot;q", "b"]
    assert "<i>&" not in page
    assert "Not evaluated" in page and "no overlay in the outputs" in page
    assert "By predicted severity" in page


def test_multi_label_run_orders_missed_pointing_then_wrong_labels(tmp_path: Path) -> None:
    page = write_report(build_multi_label_run(tmp_path)).read_text(encoding="utf-8")
    assert gallery(page) == [("00000001_000", "missed"), ("00000003_000", "wrong"), ("00000002_000", "correct")]
    assert "<h3>labels</h3>" in page and "<h3>pointing</h3>" in page
    assert "pointing accuracy Effusion (1 positives)" in page and "pointing: missed Effusion" in page
    assert 'src="pointing/Mass/pointing_pr.png"' in page
    assert '<option value="No Finding">' in page


def test_mask_run_orders_by_missed_lesion_pixels(tmp_path: Path) -> None:
    run = build_mask_run(tmp_path)
    page = write_report(run).read_text(encoding="utf-8")
    assert gallery(page) == [("IDRiD_02", "missed"), ("IDRiD_01", "correct")]
    assert "masks: 50% of the MA pixels missed at 0.5" in page and "<h3>masks</h3>" in page
    assert (run / "report_files" / "IDRiD_02.png").is_file()


def test_command_writes_the_page_and_names_a_folder_without_outputs(graded_run: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(report, [str(graded_run), "--max-images", "2"])
    assert result.exit_code == 0, result.output
    page = (graded_run / "report.html").read_text(encoding="utf-8")
    assert [image for image, _ in gallery(page)] == GRADED_ORDER[:2]
    assert "the 2 worst of 5 images" in page
    result = CliRunner().invoke(report, [str(tmp_path)])
    assert result.exit_code == 1
    assert "predictions.csv" in result.output and "not a run folder" in result.output


@pytest.mark.parametrize("broken", ["{", '{"grades": {}}'])
def test_bad_metrics_file_is_named(tmp_path: Path, broken: str) -> None:
    (tmp_path / "predictions.csv").write_text("image,level,prob_0,prob_1\na,0,0.9,0.1\n")
    (tmp_path / "metrics.json").write_text(broken)
    with pytest.raises(ValueError, match="metrics.json"):
        write_report(tmp_path)
