"""``evaluate_grades``: values equal scikit-learn's, files are written, bad tables are named."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score, confusion_matrix, roc_auc_score, roc_curve

from monai_weakloc.evaluation import evaluate_grades

TRUTH_GRADES = [0, 0, 1, 2, 4, 0, 2, 1]  # grade 3 is absent from both tables
PREDICTED_GRADES = [0, 1, 1, 2, 2, 0, 4, 0]
PROBABILITIES = np.array(
    [
        [0.70, 0.20, 0.05, 0.00, 0.05],
        [0.30, 0.50, 0.10, 0.05, 0.05],
        [0.20, 0.50, 0.20, 0.05, 0.05],
        [0.10, 0.20, 0.50, 0.10, 0.10],
        [0.05, 0.05, 0.40, 0.20, 0.30],
        [0.60, 0.30, 0.05, 0.05, 0.00],
        [0.10, 0.10, 0.30, 0.10, 0.40],
        [0.50, 0.30, 0.10, 0.05, 0.05],
    ]
)


def write_csv(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def write_tables(folder: Path, with_probabilities: bool = True) -> tuple[Path, Path]:
    ids = [f"{i}_left" for i in range(len(TRUTH_GRADES))]
    truth_rows = [f"train/{i}.jpeg,{g},Public" for i, g in zip(ids, TRUTH_GRADES)]
    truth = write_csv(folder / "truth.csv", "image,level,Usage", truth_rows)
    header = "image,level" + (",prob_0,prob_1,prob_2,prob_3,prob_4" if with_probabilities else "")
    rows = [
        f"{i},{g}" + ("," + ",".join(f"{p:g}" for p in probs) if with_probabilities else "")
        for i, g, probs in zip(ids, PREDICTED_GRADES, PROBABILITIES)
    ]
    return truth, write_csv(folder / "pred.csv", header, rows)


def test_values_equal_sklearn_with_all_grades(tmp_path: Path) -> None:
    truth, pred = write_tables(tmp_path)
    with pytest.warns(UserWarning, match="class 3"):
        metrics = evaluate_grades(truth, pred, num_classes=5)
    expected_kappa = cohen_kappa_score(TRUTH_GRADES, PREDICTED_GRADES, weights="quadratic", labels=list(range(5)))
    assert metrics["quadratic_weighted_kappa"] == pytest.approx(expected_kappa)
    # without all five labels the weights differ: the test would notice a missing labels argument
    assert expected_kappa != pytest.approx(cohen_kappa_score(TRUTH_GRADES, PREDICTED_GRADES, weights="quadratic"))
    truth_array, predicted_array = np.array(TRUTH_GRADES), np.array(PREDICTED_GRADES)
    assert metrics["accuracy"] == pytest.approx(np.mean(truth_array == predicted_array))
    assert metrics["within_one_accuracy"] == pytest.approx(np.mean(np.abs(truth_array - predicted_array) <= 1))
    assert metrics["confusion_matrix"] == confusion_matrix(TRUTH_GRADES, PREDICTED_GRADES, labels=range(5)).tolist()
    for grade in (0, 1, 2, 4):
        expected = roc_auc_score(truth_array == grade, PROBABILITIES[:, grade])
        assert metrics["auc_per_class"][str(grade)] == pytest.approx(expected)
    assert np.isnan(metrics["auc_per_class"]["3"])
    assert metrics["auc_mean"] == pytest.approx(np.mean([metrics["auc_per_class"][str(g)] for g in (0, 1, 2, 4)]))
    referable_scores = PROBABILITIES[:, 2:].sum(axis=1)
    assert metrics["referable_auc"] == pytest.approx(roc_auc_score(truth_array >= 2, referable_scores))
    assert metrics["normal_auc"] == pytest.approx(roc_auc_score(truth_array >= 1, PROBABILITIES[:, 1:].sum(axis=1)))
    false_positive_rate, true_positive_rate, _ = roc_curve(truth_array >= 2, referable_scores, drop_intermediate=False)
    expected_sensitivity = true_positive_rate[1 - false_positive_rate >= 0.5].max()
    assert metrics["referable_sensitivity_at_specificity"] == pytest.approx(expected_sensitivity)


def test_writes_metrics_json_with_null_for_nan_and_plots(tmp_path: Path) -> None:
    truth, pred = write_tables(tmp_path)
    with pytest.warns(UserWarning):
        metrics = evaluate_grades(truth, pred, out_dir=tmp_path / "out")
    saved = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert saved["auc_per_class"]["3"] is None
    assert saved["quadratic_weighted_kappa"] == pytest.approx(metrics["quadratic_weighted_kappa"])
    assert saved["num_classes"] == 5  # from the probability columns
    for name in ("confusion_matrix.png", "roc.png"):
        assert (tmp_path / "out" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_without_probabilities_reports_no_auc_and_draws_no_roc(tmp_path: Path) -> None:
    truth, pred = write_tables(tmp_path, with_probabilities=False)
    metrics = evaluate_grades(truth, pred, out_dir=tmp_path / "out")
    assert "auc_mean" not in metrics and "referable_auc" not in metrics
    assert metrics["num_classes"] == 5  # largest grade seen + 1
    assert (tmp_path / "out" / "confusion_matrix.png").stat().st_size > 0
    assert not (tmp_path / "out" / "roc.png").exists()


def test_missing_prediction_names_the_ids_and_the_file(tmp_path: Path) -> None:
    truth = write_csv(tmp_path / "truth.csv", "image,level", ["a,0", "b,1", "c,2"])
    pred = write_csv(tmp_path / "pred.csv", "image,level", ["a,0"])
    with pytest.raises(ValueError, match=r"pred\.csv: no prediction for 2 truth image\(s\): 'b', 'c'"):
        evaluate_grades(truth, pred)


def test_predictions_without_truth_are_ignored_with_a_warning(tmp_path: Path) -> None:
    truth = write_csv(tmp_path / "truth.csv", "image,level", ["a,0", "b,1", "c,2"])
    pred = write_csv(tmp_path / "pred.csv", "image,level", ["a,0", "b,1", "c,1", "extra,2"])
    with pytest.warns(UserWarning, match="'extra'"):
        metrics = evaluate_grades(truth, pred)
    assert metrics["num_images"] == 3
    assert metrics["accuracy"] == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    ("pred_rows", "message"),
    [
        (["image,level", "a,0", "b,x"], r"pred\.csv, row 3 \(b\): level 'x' is not an integer"),
        (["image,level", "a,0", "a,1"], r"pred\.csv, row 3: duplicate image 'a' \(first seen in row 2\)"),
        (["image,grade", "a,0"], r"pred\.csv.*missing column\(s\) 'level'"),
        (["image,level,prob_0,prob_1", "a,0,0.5,0.6"], r"pred\.csv, row 2 \(a\): grade probabilities sum to 1\.1"),
        (["image,level,prob_0,prob_1", "a,0,0.5,oops"],
         r"pred\.csv, row 2 \(a\): prob_1 'oops' is not a finite number"),
        (["image,level,prob_0,prob_2", "a,0,0.5,0.5"], r"pred\.csv: probability columns .* missing prob_1"),
        (["image,level"], r"pred\.csv: the prediction table has no data rows"),
    ],
)
def test_bad_prediction_table_is_named(tmp_path: Path, pred_rows: list[str], message: str) -> None:
    truth = write_csv(tmp_path / "truth.csv", "image,level", ["a,0", "b,1"])
    pred = write_csv(tmp_path / "pred.csv", pred_rows[0], pred_rows[1:])
    with pytest.raises(ValueError, match=message):
        evaluate_grades(truth, pred)


def test_missing_file_and_disjoint_ids_are_errors(tmp_path: Path) -> None:
    truth = write_csv(tmp_path / "truth.csv", "image,level", ["a,0", "b,1"])
    with pytest.raises(FileNotFoundError, match=r"prediction CSV not found: .*nowhere\.csv"):
        evaluate_grades(truth, tmp_path / "nowhere.csv")
    other = write_csv(tmp_path / "other.csv", "image,level", ["x,0", "y,1"])
    with pytest.raises(ValueError, match=r"no image of the truth .*truth\.csv is in the predictions .*other\.csv"):
        evaluate_grades(truth, other)


def test_grade_outside_num_classes_names_the_row(tmp_path: Path) -> None:
    truth = write_csv(tmp_path / "truth.csv", "image,level", ["a,0", "b,3"])
    pred = write_csv(tmp_path / "pred.csv", "image,level", ["a,0", "b,1"])
    with pytest.raises(ValueError, match=r"truth\.csv, row 3: level 3 is not a grade in 0\.\.2"):
        evaluate_grades(truth, pred, num_classes=3)
