"""``evaluate_boxes`` and ``random_boxes_like``: IoM recall, box accuracy, MaxBoxAcc from files."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from weakloc_metrics.iom_recall import compute_iom_recall
from weakloc_metrics.maxboxacc import compute_max_box_accuracy

from monai_weakloc.evaluation import evaluate_boxes, random_boxes_like
from monai_weakloc.report import write_heatmap_nifti, write_heatmap_png

IMAGE_SIZE = (64, 96)  # (H, W)
TRUTH_ROWS = [
    "img1,MA,10,12,8,6",
    "img1,HE,40,30,12,10",
    "img2,MA,60,5,6,6",
    "img3,EX,20,40,16,12",
]
TRUTH_BOXES = [np.array([[10, 12, 8, 6], [40, 30, 12, 10]]), np.array([[60, 5, 6, 6]]), np.array([[20, 40, 16, 12]])]


def write_csv(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def write_truth(folder: Path) -> Path:
    return write_csv(folder / "truth.csv", "image,label,x,y,w,h", TRUTH_ROWS)


def test_perfect_prediction_has_recall_one_everywhere_and_beats_the_random_baseline(tmp_path: Path) -> None:
    truth = write_truth(tmp_path)
    pred = write_csv(tmp_path / "pred.csv", "image,label,x,y,w,h,score", [f"{row},0.9" for row in TRUTH_ROWS])
    sizes = {name: IMAGE_SIZE for name in ("img1", "img2", "img3")}
    metrics = evaluate_boxes(truth, pred, out_dir=tmp_path / "out", image_sizes=sizes)
    assert np.allclose(metrics["iom_recall_curve"]["box"], 1.0)
    assert np.allclose(metrics["iom_recall_curve"]["person"], 1.0)
    assert metrics["iom_recall_curve"]["thresholds"][-1] == pytest.approx(1.0)
    assert metrics["box_recall"] == 1.0 and metrics["person_recall"] == 1.0
    baseline = metrics["random_baseline"]
    assert np.all(np.asarray(baseline["box"]) <= 1.0)
    assert np.mean(baseline["box"]) < 0.9 and baseline["box"][-1] < 1.0
    for overlap in ("iobb", "iou"):
        table = metrics["box_accuracy"][overlap]
        assert all(np.allclose(values, 1.0) for values in table["accuracy"].values())
        assert all(np.allclose(values, 0.0) for values in table["average_false_positives"].values())
    assert metrics["box_accuracy"]["labels"] == ["EX", "HE", "MA"]
    saved = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert saved["random_baseline"]["seed"] == 0 and len(saved["random_baseline"]["box"]) == 20
    assert (tmp_path / "out" / "iom_recall.png").read_bytes()[:4] == b"\x89PNG"


def test_random_baseline_is_the_mean_of_independent_draws(tmp_path: Path) -> None:
    truth = write_truth(tmp_path)
    pred_rows = ["img1,MA,0,0,30,30,0.9", "img1,MA,50,20,30,30,0.8", "img2,MA,10,10,30,30,0.7", "img3,EX,0,0,40,40,0.6"]
    pred = write_csv(tmp_path / "pred.csv", "image,label,x,y,w,h,score", pred_rows)
    sizes = {name: IMAGE_SIZE for name in ("img1", "img2", "img3")}
    predicted = {
        "img1": np.array([[0, 0, 30, 30], [50, 20, 30, 30]], dtype=float),
        "img2": np.array([[10, 10, 30, 30]], dtype=float),
        "img3": np.array([[0, 0, 40, 40]], dtype=float),
    }
    per_draw = []
    for seed in range(7, 7 + 20):
        placed = random_boxes_like(predicted, sizes, seed)
        per_draw.append(compute_iom_recall([placed[name] for name in ("img1", "img2", "img3")], TRUTH_BOXES, 0.3))
    baseline = evaluate_boxes(truth, pred, image_sizes=sizes, random_seed=7, random_draws=20)["random_baseline"]
    assert baseline["draws"] == 20 and baseline["seed"] == 7
    assert baseline["box_recall"] == pytest.approx(np.mean([box for box, _ in per_draw]))
    assert baseline["person_recall"] == pytest.approx(np.mean([person for _, person in per_draw]))
    assert baseline["box_recall_std"] == pytest.approx(np.std([box for box, _ in per_draw]))
    assert baseline["box"][5] == pytest.approx(baseline["box_recall"])  # threshold 0.30 on the grid
    single = evaluate_boxes(truth, pred, image_sizes=sizes, random_seed=7, random_draws=1)["random_baseline"]
    assert single["box_recall"] == pytest.approx(per_draw[0][0]) and single["box_recall_std"] == 0.0
    with pytest.raises(ValueError, match="random_draws"):
        evaluate_boxes(truth, pred, image_sizes=sizes, random_draws=0)


def test_top_boxes_by_score_equal_the_metric_on_those_boxes(tmp_path: Path) -> None:
    truth = write_truth(tmp_path)
    pred_rows = [
        "img1,MA,0,0,5,5,0.2",  # low score, misses
        "img1,MA,11,13,4,4,0.8",  # inside the MA box: IoM 1
        "img2,MA,58,4,6,6,0.4",  # partial overlap
        "img2,MA,0,50,5,5,0.9",  # high score, misses
        "extra,MA,0,0,5,5,0.5",
    ]
    pred = write_csv(tmp_path / "pred.csv", "image,label,x,y,w,h,score", pred_rows)
    with pytest.warns(UserWarning) as caught:
        metrics = evaluate_boxes(truth, pred, num_boxes=1, iom_threshold=0.5)
    messages = " ".join(str(w.message) for w in caught)
    assert "'img3'" in messages and "'extra'" in messages  # truth without prediction, prediction without truth
    kept = [np.array([[11, 13, 4, 4]]), np.array([[0, 50, 5, 5]]), np.zeros((0, 4))]
    expected = compute_iom_recall(kept, TRUTH_BOXES, 0.5)
    assert (metrics["box_recall"], metrics["person_recall"]) == pytest.approx(expected)
    assert metrics["box_recall"] == pytest.approx(1 / 4) and metrics["person_recall"] == pytest.approx(1 / 3)
    assert metrics["num_predicted_boxes"] == 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        all_boxes = evaluate_boxes(truth, pred, iom_threshold=0.5)
    assert all_boxes["person_recall"] == pytest.approx(2 / 3)  # img2's partial box counts with all boxes


def test_random_boxes_keep_sizes_stay_inside_and_follow_the_seed() -> None:
    boxes = {"b": np.array([[1.0, 2.0, 10.0, 20.0], [0.0, 0.0, 200.0, 5.0]]), "a": np.zeros((0, 4))}
    sizes = {"a": (50, 60), "b": (40, 100)}
    first = random_boxes_like(boxes, sizes, seed=3)
    assert list(first) == ["b", "a"] and first["a"].shape == (0, 4)
    assert np.allclose(first["b"][:, 2:], [[10, 20], [100, 5]])  # width clipped to the image
    assert np.all(first["b"][:, 0] >= 0) and np.all(first["b"][:, 0] + first["b"][:, 2] <= 100)
    assert np.all(first["b"][:, 1] >= 0) and np.all(first["b"][:, 1] + first["b"][:, 3] <= 40)
    assert np.array_equal(first["b"], random_boxes_like(boxes, sizes, seed=3)["b"])
    assert not np.array_equal(first["b"], random_boxes_like(boxes, sizes, seed=4)["b"])
    with pytest.raises(ValueError, match="no image size for image 'b'"):
        random_boxes_like(boxes, {"a": (50, 60)})


def box_heatmap(box: tuple[int, int, int, int]) -> np.ndarray:
    heatmap = np.zeros(IMAGE_SIZE, dtype=np.uint8)
    x, y, w, h = box
    heatmap[y : y + h, x : x + w] = 255
    return heatmap


def test_max_box_accuracy_of_heatmap_files_equals_the_metric(tmp_path: Path) -> None:
    truth = write_truth(tmp_path)
    pred = write_csv(tmp_path / "pred.csv", "image,label,x,y,w,h", ["img1,MA,10,12,8,6", "img2,MA,60,5,6,6"])
    heatmaps = tmp_path / "heatmaps"
    heatmaps.mkdir()
    # img1: one map per class, summed; img2: one map per image as .npy; img3: a map that misses
    Image.fromarray(box_heatmap((10, 12, 8, 6))).save(heatmaps / "img1_grade1.png")
    Image.fromarray(box_heatmap((40, 30, 12, 10))).save(heatmaps / "img1_grade2.png")
    np.save(heatmaps / "img2.npy", box_heatmap((60, 5, 6, 6)).astype(np.float32) / 255)
    Image.fromarray(box_heatmap((70, 50, 10, 10))).save(heatmaps / "img3_grade1.png")
    with pytest.warns(UserWarning, match="'img3'"):
        metrics = evaluate_boxes(truth, pred, heatmaps_dir=heatmaps)
    summed = box_heatmap((10, 12, 8, 6)).astype(np.float64) + box_heatmap((40, 30, 12, 10))
    maps = [summed, box_heatmap((60, 5, 6, 6)), box_heatmap((70, 50, 10, 10))]
    assert metrics["max_box_accuracy_v1"] == pytest.approx(compute_max_box_accuracy(maps, TRUTH_BOXES, version=1))
    assert metrics["max_box_accuracy_v2"] == pytest.approx(compute_max_box_accuracy(maps, TRUTH_BOXES, version=2))
    assert metrics["max_box_accuracy_v2"] == pytest.approx(2 / 3)


@pytest.mark.parametrize("keep", [".png", ".nii.gz"])
def test_heatmaps_as_the_bundles_write_them_keep_their_orientation(tmp_path: Path, keep: str) -> None:
    """Non-square maps written by the report writers, PNG and NIfTI side by side, ids sharing a prefix."""
    truth = write_csv(tmp_path / "truth.csv", "image,label,x,y,w,h", ["10,MA,70,4,20,10", "10_left,MA,2,40,12,20"])
    pred = write_csv(tmp_path / "pred.csv", "image,label,x,y,w,h", ["10,MA,70,4,20,10", "10_left,MA,2,40,12,20"])
    heatmaps = tmp_path / "heatmaps"
    for name, box in (("10", (70, 4, 20, 10)), ("10_left", (2, 40, 12, 20))):
        heatmap = box_heatmap(box).astype(np.float32) / 255
        if keep == ".png":
            write_heatmap_png(heatmap, heatmaps / f"{name}_grade1.png")
        else:  # both formats: the NIfTI map must be read, the PNG beside it points elsewhere
            write_heatmap_nifti(heatmap, heatmaps / f"{name}_grade1.nii.gz")
            write_heatmap_png(box_heatmap((40, 20, 8, 8)), heatmaps / f"{name}_grade1.png")
    metrics = evaluate_boxes(truth, pred, heatmaps_dir=heatmaps, image_sizes={"10": IMAGE_SIZE, "10_left": IMAGE_SIZE})
    assert metrics["max_box_accuracy_v1"] == pytest.approx(1.0)  # a transposed map would miss both boxes


def test_missing_heatmap_names_the_image_and_the_names_looked_for(tmp_path: Path) -> None:
    truth = write_truth(tmp_path)
    pred_rows = ["img1,MA,10,12,8,6", "img2,MA,1,1,5,5", "img3,EX,1,1,5,5"]
    pred = write_csv(tmp_path / "pred.csv", "image,label,x,y,w,h", pred_rows)
    heatmaps = tmp_path / "heatmaps"
    heatmaps.mkdir()
    np.save(heatmaps / "img1.npy", np.zeros(IMAGE_SIZE))
    np.save(heatmaps / "img2.npy", np.zeros(IMAGE_SIZE))
    with pytest.raises(ValueError, match=r"heatmaps: no heatmap for 1 image\(s\): img3\.\* or img3_<name>\.\*"):
        evaluate_boxes(truth, pred, heatmaps_dir=heatmaps)
    sizes = {name: (32, 32) for name in ("img1", "img2", "img3")}
    np.save(heatmaps / "img3.npy", np.zeros(IMAGE_SIZE))
    with pytest.raises(ValueError, match=r"img1\.npy: heatmap size \(64, 96\) differs from the image size \(32, 32\)"):
        evaluate_boxes(truth, pred, heatmaps_dir=heatmaps, image_sizes=sizes)


def test_disjoint_labels_warn_that_box_accuracy_counts_only_false_positives(tmp_path: Path) -> None:
    truth = write_truth(tmp_path)
    pred_rows = [",".join([row.split(",")[0], "lesion", *row.split(",")[2:]]) for row in TRUTH_ROWS]
    pred = write_csv(tmp_path / "pred.csv", "image,label,x,y,w,h", pred_rows)
    with pytest.warns(UserWarning, match=r"no predicted label \(lesion\) is a truth label \(EX, HE, MA\)"):
        metrics = evaluate_boxes(truth, pred)
    assert metrics["box_recall"] == 1.0  # IoM recall ignores labels
    assert np.allclose(metrics["box_accuracy"]["iou"]["accuracy"]["MA"], 0.0)


@pytest.mark.parametrize(
    ("pred_rows", "kwargs", "message"),
    [
        (["image,label,x,y,w,h", "img1,MA,1,1,0,5"], {}, r"pred\.csv, row 2 \(img1\): box w 0 must be positive"),
        (["image,label,x,y,w,h", "img1,MA,one,1,4,5"], {},
         r"pred\.csv, row 2 \(img1\): x 'one' is not a finite number"),
        (["image,label,x,y,w", "img1,MA,1,1,4"], {}, r"pred\.csv.*missing column\(s\) 'h'"),
        (
            ["image,label,x,y,w,h", "img1,MA,1,1,4,5"],
            {"num_boxes": 2},
            r"pred\.csv: keeping the top 2 boxes .* score column",
        ),
        (["image,label,x,y,w,h", "img1,,1,1,4,5"], {}, r"pred\.csv, row 2 \(img1\): label is empty"),
    ],
)
def test_bad_box_table_is_named(tmp_path: Path, pred_rows: list[str], kwargs: dict, message: str) -> None:
    truth = write_truth(tmp_path)
    pred = write_csv(tmp_path / "pred.csv", pred_rows[0], pred_rows[1:])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match=message):
            evaluate_boxes(truth, pred, **kwargs)
