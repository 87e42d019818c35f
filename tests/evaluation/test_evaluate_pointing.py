"""``evaluate_pointing``: STL localization AP and pointing accuracy of heatmaps from files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from weakloc_metrics.pointing import compute_localization_ap, locate_activation_peak

from monai_weakloc.evaluation import evaluate_pointing
from monai_weakloc.evaluation.pointing import localization_precision_recall_curve, read_positive_probabilities
from monai_weakloc.report import write_heatmap_nifti, write_heatmap_png

IMAGE_SIZE = (48, 64)  # (H, W)
TRUTH_ROWS = [
    "p1,nodule,20,20,10,10",  # enlarged by 16 px: columns 4..46, so pixel column 45 (centre 45.5) is in, 46 is out
    "p2,nodule,20,20,10,10",
    "p3,nodule,5,5,8,8",
    "p3,mass,40,30,10,10",
]
PEAKS = {"p1": (25, 45), "p2": (25, 46), "p3": (35, 45), "n1": (25, 25), "n2": (10, 10)}  # (row, column)
PROBS = {"p1": 0.9, "n1": 0.8, "p2": 0.7, "p3": 0.6, "n2": 0.3}
# ranked: p1 hit, n1 negative, p2 missed, p3 hit, n2 negative -> AP = 1/3 * 1 + 1/3 * 2/4 = 1/2
EXPECTED_AP = 0.5


def write_csv(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def peak_map(peak: tuple[int, int], size: tuple[int, int] = IMAGE_SIZE) -> np.ndarray:
    heatmap = np.zeros(size, dtype=np.float32)
    heatmap[peak] = 1.0
    return heatmap


def write_inputs(folder: Path) -> tuple[Path, Path, Path]:
    """Truth, ``image,prob`` predictions and one map per image in three formats (``.npy``, PNG, NIfTI)."""
    truth = write_csv(folder / "truth.csv", "image,label,x,y,w,h", TRUTH_ROWS)
    pred = write_csv(folder / "pred.csv", "image,prob", [f"{name}.png,{prob}" for name, prob in PROBS.items()])
    heatmaps = folder / "heatmaps"
    heatmaps.mkdir()
    for name, peak in PEAKS.items():
        np.save(heatmaps / f"{name}.npy", peak_map(peak))
    (heatmaps / "p1.npy").unlink()
    write_heatmap_png(peak_map(PEAKS["p1"]), heatmaps / "p1_positive.png")
    (heatmaps / "p3.npy").unlink()
    write_heatmap_nifti(peak_map(PEAKS["p3"]), heatmaps / "p3_positive.nii.gz")
    return truth, pred, heatmaps


def test_ap_and_accuracy_equal_the_hand_computed_values_and_the_metric(tmp_path: Path) -> None:
    truth, pred, heatmaps = write_inputs(tmp_path)
    metrics = evaluate_pointing(truth, pred, heatmaps, out_dir=tmp_path / "out")
    reference = compute_localization_ap(
        np.array(list(PROBS.values())), np.array([1, 0, 0, 1, 0]), np.array([1, 0, 1, 1, 0])
    )
    assert metrics["localization_ap"] == pytest.approx(EXPECTED_AP) and reference == pytest.approx(EXPECTED_AP)
    assert metrics["pointing_accuracy"] == pytest.approx(2 / 3)
    assert metrics["points"] == {"p1": [25, 45], "p2": [25, 46], "p3": [35, 45]}
    assert metrics["missed_images"] == ["p2"]
    counts = ("num_images", "num_positive_images", "num_negative_images", "num_correct_points", "num_resized_heatmaps")
    assert [metrics[name] for name in counts] == [5, 3, 2, 2, 0]
    curve = metrics["precision_recall_curve"]
    assert np.allclose(curve["precision"], [1, 1 / 2, 1 / 3, 2 / 4, 2 / 5])
    assert np.allclose(curve["recall"], [1 / 3, 1 / 3, 1 / 3, 2 / 3, 2 / 3])
    saved = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert saved["localization_ap"] == pytest.approx(EXPECTED_AP) and saved["tolerance"] == 16.0
    assert (tmp_path / "out" / "pointing_pr.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("tolerance", "expected_ap", "expected_accuracy"),
    [(16.0, EXPECTED_AP, 2 / 3), (15.0, 1 / 3 * 1 / 4, 1 / 3), (16.5, 1 / 3 + 1 / 3 * 2 / 3 + 1 / 3 * 3 / 4, 1.0)],
)
def test_the_tolerance_decides_whether_a_peak_just_outside_a_box_counts(
    tmp_path: Path, tolerance: float, expected_ap: float, expected_accuracy: float
) -> None:
    truth, pred, heatmaps = write_inputs(tmp_path)
    metrics = evaluate_pointing(truth, pred, heatmaps, tolerance=tolerance)
    assert metrics["localization_ap"] == pytest.approx(expected_ap)
    assert metrics["pointing_accuracy"] == pytest.approx(expected_accuracy)


def test_grade_probability_layouts_give_the_positive_class_probability(tmp_path: Path) -> None:
    truth, _, heatmaps = write_inputs(tmp_path)
    binary = write_csv(
        tmp_path / "binary.csv",
        "image,level,prob_0,prob_1",
        [f"{name},{int(prob > 0.5)},{1 - prob:.2f},{prob}" for name, prob in PROBS.items()],
    )
    graded = write_csv(
        tmp_path / "graded.csv",
        "image,level,prob_0,prob_1,prob_2",
        [f"{name},0,{1 - prob:.2f},{prob / 2},{prob / 2}" for name, prob in PROBS.items()],
    )
    assert np.allclose(read_positive_probabilities(binary).probabilities, list(PROBS.values()))
    assert np.allclose(read_positive_probabilities(graded).probabilities, list(PROBS.values()))
    assert evaluate_pointing(truth, binary, heatmaps)["localization_ap"] == pytest.approx(EXPECTED_AP)


def test_summed_per_name_maps_point_where_their_sum_peaks(tmp_path: Path) -> None:
    truth = write_csv(tmp_path / "truth.csv", "image,label,x,y,w,h", ["a,MA,20,20,10,10"])
    pred = write_csv(tmp_path / "pred.csv", "image,prob", ["a,0.9", "b,0.2"])
    heatmaps = tmp_path / "heatmaps"
    heatmaps.mkdir()
    grade1, grade2 = np.zeros(IMAGE_SIZE), np.zeros(IMAGE_SIZE)
    grade1[25, 25], grade1[5, 60] = 0.6, 0.7  # alone, grade 1 peaks outside the box
    grade2[25, 25] = 0.6
    np.save(heatmaps / "a_grade1.npy", grade1)
    np.save(heatmaps / "a_grade2.npy", grade2)
    np.save(heatmaps / "b_grade1.npy", grade1)
    metrics = evaluate_pointing(truth, pred, heatmaps)
    assert metrics["points"] == {"a": [25, 25]}
    assert metrics["localization_ap"] == 1.0 and metrics["pointing_accuracy"] == 1.0


def test_small_maps_are_upsampled_bilinearly_to_the_given_image_sizes(tmp_path: Path) -> None:
    truth = write_csv(tmp_path / "truth.csv", "image,label,x,y,w,h", ["a,MA,40,16,6,6", "b,MA,0,0,6,6"])
    pred = write_csv(tmp_path / "pred.csv", "image,prob", ["a,0.9", "b,0.8"])
    heatmaps = tmp_path / "heatmaps"
    heatmaps.mkdir()
    small = peak_map((2, 5), (6, 8))  # stride 8 of a 48 x 64 image: the peak cell covers rows 16..23, columns 40..47
    np.save(heatmaps / "a.npy", small)
    np.save(heatmaps / "b.npy", small)
    sizes = {"a": IMAGE_SIZE, "b": IMAGE_SIZE}
    metrics = evaluate_pointing(truth, pred, heatmaps, tolerance=0.0, image_sizes=sizes)
    expected = list(locate_activation_peak(small, IMAGE_SIZE))
    assert metrics["points"] == {"a": expected, "b": expected} and expected == [19, 43]
    assert metrics["num_resized_heatmaps"] == 2
    assert metrics["missed_images"] == ["b"] and metrics["localization_ap"] == pytest.approx(1 / 2)
    with pytest.raises(ValueError, match=r"a\.npy: the 6 x 8 heatmap is smaller than the truth box \(40, 16, 6, 6\)"):
        evaluate_pointing(truth, pred, heatmaps)
    with pytest.raises(ValueError, match="no size for the annotated image 'b'"):
        evaluate_pointing(truth, pred, heatmaps, image_sizes={"a": IMAGE_SIZE})


def test_curve_step_area_equals_the_localization_ap_with_ties() -> None:
    generator = np.random.default_rng(3)
    probs = np.round(generator.uniform(size=40), 1)  # many ties
    positive = generator.uniform(size=40) < 0.5
    correct = positive & (generator.uniform(size=40) < 0.6)
    _, precision, recall = localization_precision_recall_curve(probs, correct, int(positive.sum()))
    area = float(np.sum(np.diff(np.r_[0.0, recall]) * precision))
    assert area == pytest.approx(compute_localization_ap(probs, correct, positive))
    assert recall[-1] == pytest.approx(correct.sum() / positive.sum())


@pytest.mark.parametrize(
    ("header", "rows", "message"),
    [
        ("image,score", ["p1,0.5"], r"bad\.csv: no positive-class probability: expected a column 'prob'"),
        ("image,prob", ["p1,0.5", "p2,high"], r"bad\.csv, row 3: prob 'high' is not a finite number"),
        ("image,prob", ["p1,1.5"], r"bad\.csv, row 2: prob '1\.5' is not in \[0, 1\]"),
        ("image,prob", ["p1,0.5", "p1.png,0.4"], r"bad\.csv, row 3: duplicate image 'p1'"),
        ("image,prob_0,prob_2", ["p1,0.5,0.5"], r"bad\.csv: class probability column\(s\) prob_1 missing"),
        ("image,prob", ["n1,0.5", "p1,0.5", "p2,0.5"], r"bad\.csv: no prediction for 1 annotated image\(s\).*'p3'"),
    ],
)
def test_bad_prediction_tables_name_the_file_and_row(
    tmp_path: Path, header: str, rows: list[str], message: str
) -> None:
    truth, _, heatmaps = write_inputs(tmp_path)
    bad = write_csv(tmp_path / "bad.csv", header, rows)
    with pytest.raises(ValueError, match=message):
        evaluate_pointing(truth, bad, heatmaps)


def test_missing_files_maps_and_bad_tolerance_are_named(tmp_path: Path) -> None:
    truth, pred, heatmaps = write_inputs(tmp_path)
    with pytest.raises(FileNotFoundError, match="gone.csv"):
        evaluate_pointing(truth, tmp_path / "gone.csv", heatmaps)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        evaluate_pointing(truth, pred, tmp_path / "nowhere")
    (heatmaps / "n2.npy").unlink()  # negatives need their map too
    with pytest.raises(ValueError, match=r"heatmaps: no heatmap for 1 image\(s\): n2\.\*"):
        evaluate_pointing(truth, pred, heatmaps)
    with pytest.raises(ValueError, match="tolerance must be a finite number of pixels >= 0"):
        evaluate_pointing(truth, pred, heatmaps, tolerance=-1.0)
