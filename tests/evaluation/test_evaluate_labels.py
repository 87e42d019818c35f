"""``evaluate_labels``: per-label AUC from ChestX-ray14-style or wide truth equals scikit-learn's."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from monai_weakloc.evaluation import evaluate_labels

LABELS = ["Atelectasis", "Effusion", "Nodule"]
FINDINGS = ["Atelectasis|Effusion", "No Finding", "Nodule", "Effusion", "No Finding", "Atelectasis|Nodule"]
SCORES = np.array(
    [
        [0.9, 0.8, 0.1],
        [0.2, 0.1, 0.3],
        [0.3, 0.4, 0.7],
        [0.1, 0.6, 0.2],
        [0.4, 0.3, 0.6],
        [0.7, 0.2, 0.5],
    ]
)
NAMES = [f"{index:08d}_000.png" for index in range(len(FINDINGS))]


def write_csv(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def indicators() -> np.ndarray:
    return np.array([[float(label in findings.split("|")) for label in LABELS] for findings in FINDINGS])


def write_predictions(folder: Path) -> Path:
    rows = [f"{name[:-4]}," + ",".join(f"{s:g}" for s in scores) for name, scores in zip(NAMES, SCORES)]
    return write_csv(folder / "pred.csv", "image," + ",".join(LABELS), rows)


def test_chestxray14_and_wide_truth_give_sklearn_aucs(tmp_path: Path) -> None:
    pred = write_predictions(tmp_path)
    entry = write_csv(
        tmp_path / "Data_Entry_2017.csv",
        "Image Index,Finding Labels,Follow-up #,Patient ID",
        [f"{name},{findings},0,{index}" for index, (name, findings) in enumerate(zip(NAMES, FINDINGS))],
    )
    wide = write_csv(
        tmp_path / "wide.csv",
        "image," + ",".join(LABELS),
        [f"{name}," + ",".join(f"{v:g}" for v in row) for name, row in zip(NAMES, indicators())],
    )
    from_entry = evaluate_labels(entry, pred, out_dir=tmp_path / "out")
    from_wide = evaluate_labels(wide, pred)
    expected = [roc_auc_score(indicators()[:, k], SCORES[:, k]) for k in range(len(LABELS))]
    for metrics in (from_entry, from_wide):
        assert [metrics["auc_per_label"][label] for label in LABELS] == pytest.approx(expected)
        assert metrics["auc_mean"] == pytest.approx(np.mean(expected))
    assert from_entry["positives_per_label"] == {"Atelectasis": 2, "Effusion": 2, "Nodule": 2}
    saved = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert saved["auc_per_label"]["Nodule"] == pytest.approx(expected[2])
    assert (tmp_path / "out" / "roc.png").read_bytes()[:4] == b"\x89PNG"


def test_label_without_positives_is_null_and_left_out_of_the_mean(tmp_path: Path) -> None:
    pred = write_csv(tmp_path / "pred.csv", "image,Mass,Hernia", ["a,0.9,0.1", "b,0.2,0.3", "c,0.6,0.2"])
    truth_rows = ["a.png,Mass|Edema", "b.png,No Finding", "c.png,No Finding"]
    truth = write_csv(tmp_path / "truth.csv", "Image Index,Finding Labels", truth_rows)
    with pytest.warns(UserWarning) as caught:
        metrics = evaluate_labels(truth, pred, out_dir=tmp_path / "out")
    messages = " ".join(str(w.message) for w in caught)
    assert "Edema" in messages  # a finding without a prediction column is ignored, with a warning
    assert np.isnan(metrics["auc_per_label"]["Hernia"])
    assert metrics["auc_mean"] == pytest.approx(metrics["auc_per_label"]["Mass"]) == pytest.approx(1.0)
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["auc_per_label"]["Hernia"] is None


@pytest.mark.parametrize(
    ("header", "rows", "message"),
    [
        ("image,Mass,Hernia", ["a,1,0", "b,2,0"], r"truth\.csv, row 3 \(b\): Mass '2' is not 0 or 1"),
        ("image,Mass", ["a,1", "b,0"], r"truth\.csv: missing column\(s\) 'Hernia'"),
        ("Image Index,Finding Labels", ["a.png,Mass|No Finding"], r"truth\.csv, row 2 \(a\): .*combines 'No Finding'"),
        ("Finding Labels", ["Mass"], r"truth\.csv: missing column\(s\) 'Image Index'"),
    ],
)
def test_bad_truth_is_named(tmp_path: Path, header: str, rows: list[str], message: str) -> None:
    pred = write_csv(tmp_path / "pred.csv", "image,Mass,Hernia", ["a,0.9,0.1", "b,0.2,0.3"])
    truth = write_csv(tmp_path / "truth.csv", header, rows)
    with pytest.raises(ValueError, match=message):
        evaluate_labels(truth, pred)


def test_bad_prediction_is_named(tmp_path: Path) -> None:
    truth = write_csv(tmp_path / "truth.csv", "image,Mass", ["a,1", "b,0"])
    pred = write_csv(tmp_path / "pred.csv", "image,Mass", ["a,0.9", "b,high"])
    with pytest.raises(ValueError, match=r"pred\.csv, row 3 \(b\): Mass 'high' is not a finite number"):
        evaluate_labels(truth, pred)
    pred = write_csv(tmp_path / "pred.csv", "image", ["a", "b"])
    with pytest.raises(ValueError, match=r"pred\.csv: no label column besides 'image'"):
        evaluate_labels(truth, pred)
