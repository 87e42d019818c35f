"""Evaluation by task of a folder of the output contract: one metrics.json, a section per task, baselines beside."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sklearn.metrics import roc_auc_score

from monai_weakloc.evaluation import (
    EvaluationTruth,
    evaluate_boxes,
    evaluate_grades,
    evaluate_masks,
    evaluate_outputs,
    evaluate_pointing,
    headline_figures,
    records_truth,
)

SIZE = (40, 60)  # (H, W)


def write_csv(path: Path, header: str, rows: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def write_images(folder: Path, ids: list[str]) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for identifier in ids:
        path = folder / f"{identifier}.png"
        Image.fromarray(np.full(SIZE, 80, dtype=np.uint8)).save(path)
        paths[identifier] = str(path)
    return paths


def peak_map(row: int, column: int) -> np.ndarray:
    heatmap = np.zeros(SIZE, dtype=np.float32)
    heatmap[row, column] = 1.0
    return heatmap


@pytest.fixture
def single_label_run(tmp_path):
    """Four graded images, lesion boxes on two, outputs with predictions, boxes and heatmaps."""
    ids = ["a", "b", "c", "d"]
    images = write_images(tmp_path / "images", ids)
    records = [
        {"id": identifier, "image": images[identifier], "label": grade} for identifier, grade in zip(ids, (0, 2, 1, 0))
    ]
    truth_boxes = write_csv(
        tmp_path / "lesion_boxes.csv", "image,label,x,y,w,h", ["b,lesion,10,5,10,10", "c,lesion,40,20,8,8"]
    )
    outputs = tmp_path / "outputs"
    write_csv(
        outputs / "predictions.csv",
        "image,level,prob_0,prob_1,prob_2",
        ["a,0,0.8,0.1,0.1", "b,2,0.1,0.2,0.7", "c,0,0.5,0.3,0.2", "d,1,0.3,0.6,0.1"],
    )
    write_csv(
        outputs / "boxes.csv",
        "image,label,x,y,w,h,score",
        ["b,lesion,12,6,10,10,0.9", "c,lesion,0,0,6,6,0.8", "d,lesion,30,30,5,5,0.4"],
    )
    heatmaps = outputs / "heatmaps"
    heatmaps.mkdir()
    # b peaks inside its box, c far outside; a and d are negatives
    for identifier, (row, column) in {"a": (3, 3), "b": (10, 15), "c": (2, 2), "d": (30, 30)}.items():
        np.save(heatmaps / f"{identifier}_grade1.npy", peak_map(row, column))
    truth = records_truth(records, tmp_path / "truth", lesion_boxes_csv=truth_boxes, train_records=records)
    return outputs, truth


def test_single_label_tasks_equal_the_per_table_evaluations_in_one_metrics_file(single_label_run, tmp_path):
    outputs, truth = single_label_run
    metrics = evaluate_outputs(outputs, truth, ["pointing", "grades", "boxes"], random_draws=5)
    written = json.loads((outputs / "metrics.json").read_text())
    assert written["tasks"] == ["grades", "boxes", "pointing"]
    assert set(written) == {"tasks", "grades", "boxes", "pointing"}

    grades = evaluate_grades(truth.grades_csv, outputs / "predictions.csv")
    assert metrics["grades"]["quadratic_weighted_kappa"] == pytest.approx(grades["quadratic_weighted_kappa"])
    assert metrics["grades"]["confusion_matrix"] == grades["confusion_matrix"]
    assert metrics["grades"]["accuracy"] == pytest.approx(0.5)
    assert metrics["grades"]["baselines"]["majority_class_accuracy"] == pytest.approx(0.5)  # two of four are 0

    boxes = evaluate_boxes(
        truth.lesion_boxes_csv,
        outputs / "boxes.csv",
        heatmaps_dir=outputs / "heatmaps",
        image_sizes=truth.image_sizes,
        random_draws=5,
    )
    assert metrics["boxes"]["box_recall"] == pytest.approx(boxes["box_recall"]) == pytest.approx(0.5)
    assert metrics["boxes"]["random_baseline"]["box_recall"] == pytest.approx(boxes["random_baseline"]["box_recall"])
    assert metrics["boxes"]["max_box_accuracy_v2"] == pytest.approx(boxes["max_box_accuracy_v2"])

    pointing = evaluate_pointing(
        truth.lesion_boxes_csv,
        outputs / "predictions.csv",
        outputs / "heatmaps",
        tolerance=0.0,
        image_sizes=truth.image_sizes,
        lesion_position=truth.lesion_position.fractions,
    )
    ours = evaluate_outputs(outputs, truth, ["pointing"], out_dir=tmp_path / "tight", tolerance=0.0)["pointing"]
    assert ours["pointing_accuracy"] == pytest.approx(pointing["pointing_accuracy"]) == pytest.approx(0.5)
    assert ours["localization_ap"] == pytest.approx(pointing["localization_ap"])
    assert ours["num_negative_images"] == 2
    assert set(ours["baselines"]) == {"image_centre", "most_frequent_lesion_position"}
    assert "pointing_accuracy" in ours["baselines"]["most_frequent_lesion_position"]

    for plot in ("confusion_matrix.png", "roc.png", "iom_recall.png", "pointing_pr.png"):
        assert (outputs / plot).is_file(), plot
    figures = headline_figures(metrics)
    assert figures["boxes"]["random_box_recall (baseline)"] == metrics["boxes"]["random_baseline"]["box_recall"]
    assert figures["grades"]["majority_class_accuracy (baseline)"] == pytest.approx(0.5)


def test_multi_label_points_are_scored_per_class_and_labels_against_the_truth(tmp_path):
    ids = ["p1", "p2", "p3", "p4"]
    images = write_images(tmp_path / "images", ids)
    labels = {"p1": (1, 0), "p2": (0, 1), "p3": (0, 0), "p4": (1, 1)}
    records = [
        {"id": identifier, "image": images[identifier], "label": np.array(labels[identifier])} for identifier in ids
    ]
    boxes = write_csv(tmp_path / "boxes.csv", "image,label,x,y,w,h", ["p1,Mass,10,10,10,10", "p2,Nodule,30,5,6,6"])
    truth = records_truth(records, tmp_path / "truth", label_names=["Mass", "Nodule"], lesion_boxes_csv=boxes)
    outputs = tmp_path / "outputs"
    scores = {"p1": (0.9, 0.2), "p2": (0.3, 0.8), "p3": (0.1, 0.1), "p4": (0.6, 0.4)}
    write_csv(
        outputs / "predictions.csv",
        "image,labels,Mass,Nodule",
        [f"{i},x,{scores[i][0]},{scores[i][1]}" for i in ids],
    )
    # Mass of p1 pointed inside its box; Nodule of p2 pointed far from its box
    write_csv(outputs / "points.csv", "image,label,x,y,score", ["p1,Mass,15.5,15.5,0.9", "p2,Nodule,2.5,35.5,0.8"])
    metrics = evaluate_outputs(outputs, truth, ["labels", "pointing"], tolerance=0.0)

    mass, nodule = metrics["pointing"]["classes"]["Mass"], metrics["pointing"]["classes"]["Nodule"]
    assert mass["point_source"] == "points"
    assert mass["pointing_accuracy"] == 1.0 and nodule["pointing_accuracy"] == 0.0
    # the negatives of a class are the images whose label truth says it is absent: p2, p3 for Mass (p4 has it)
    assert mass["num_positive_images"] == 1 and mass["num_negative_images"] == 2
    assert metrics["pointing"]["mean_pointing_accuracy"] == pytest.approx(0.5)
    # pooled over the (image, label) pairs with a box: 1 hit of 2 pairs; the baselines pooled the same way
    pooled = metrics["pointing"]["pooled"]
    assert pooled["num_pairs"] == 2 and pooled["num_correct_points"] == 1 and pooled["pointing_accuracy"] == 0.5
    centre_hits = sum(c["baselines"]["image_centre"]["num_correct_points"] for c in (mass, nodule))
    assert pooled["baselines"]["image_centre"]["pointing_accuracy"] == centre_hits / 2
    assert "missing" in pooled["baselines"]["most_frequent_lesion_position"]  # no training records given
    truth_matrix = np.array([labels[i] for i in ids])
    score_matrix = np.array([scores[i] for i in ids])
    for column, name in enumerate(["Mass", "Nodule"]):
        assert metrics["labels"]["auc_per_label"][name] == pytest.approx(
            roc_auc_score(truth_matrix[:, column], score_matrix[:, column])
        )
    assert metrics["labels"]["baselines"]["auc"] == 0.5
    assert (outputs / "pointing" / "Mass" / "pointing_pr.png").is_file()


def test_masks_of_the_evaluated_label_are_scored_and_other_labels_ignored(tmp_path):
    ids = ["m1", "m2"]
    images = write_images(tmp_path / "images", ids)
    truth_masks = tmp_path / "truth_masks"
    truth_masks.mkdir()
    rng = np.random.default_rng(0)
    outputs = tmp_path / "outputs"
    (outputs / "masks").mkdir(parents=True)
    only_ma = tmp_path / "only_ma"
    only_ma.mkdir()
    for identifier in ids:
        mask = np.zeros(SIZE, dtype=np.uint8)
        mask[5:12, 8:20] = 255
        Image.fromarray(mask).save(truth_masks / f"{identifier}_MA.png")
        probabilities = np.clip(mask / 255.0 * 0.7 + rng.uniform(0, 0.4, SIZE), 0, 1).astype(np.float32)
        np.save(outputs / "masks" / f"{identifier}_MA.npy", probabilities)
        np.save(only_ma / f"{identifier}_MA.npy", probabilities)
        Image.fromarray(((probabilities >= 0.5) * 255).astype(np.uint8)).save(
            outputs / "masks" / f"{identifier}_MA.png"
        )
        np.save(outputs / "masks" / f"{identifier}_EX.npy", np.ones(SIZE, dtype=np.float32))
    records = [{"id": identifier, "image": images[identifier]} for identifier in ids]
    write_csv(outputs / "predictions.csv", "image,label,prob_0,prob_1", ["m1,1,0.2,0.8", "m2,1,0.1,0.9"])
    truth = records_truth(records, tmp_path / "truth", masks_dir=truth_masks)
    metrics = evaluate_outputs(outputs, truth, ["masks"])["masks"]
    reference = evaluate_masks(truth.masks_dir, only_ma)
    assert metrics["mask_label"] == "MA"
    assert metrics["average_precision"] == pytest.approx(reference["average_precision"])
    assert metrics["froc_score"] == pytest.approx(reference["froc_score"])
    assert metrics["pixel_pr"]["all"]["no_skill_average_precision"] == pytest.approx(7 * 12 / (40 * 60))
    assert metrics["average_precision"] > metrics["pixel_pr"]["all"]["no_skill_average_precision"]


def test_a_task_without_truth_is_named_or_skipped(single_label_run):
    outputs, truth = single_label_run
    without_boxes = EvaluationTruth(image_ids=truth.image_ids, grades_csv=truth.grades_csv)
    with pytest.raises(ValueError, match="task 'boxes'.*lesion_boxes_csv"):
        evaluate_outputs(outputs, without_boxes, ["grades", "boxes"])
    metrics = evaluate_outputs(outputs, without_boxes, ["grades", "boxes"], missing_truth="skip")
    assert "lesion_boxes_csv" in metrics["boxes"]["skipped"]
    assert headline_figures(metrics)["boxes"] == {"skipped": metrics["boxes"]["skipped"]}


def test_bad_tasks_and_predictions_of_the_wrong_kind_are_named(single_label_run):
    outputs, truth = single_label_run
    with pytest.raises(ValueError, match="tasks must be"):
        evaluate_outputs(outputs, truth, ["grade"])
    labelled = EvaluationTruth(labels_csv=truth.grades_csv)
    with pytest.raises(ValueError, match=r"predictions\.csv.*single-label"):
        evaluate_outputs(outputs, labelled, ["labels"])
    (outputs / "boxes.csv").unlink()
    with pytest.raises(FileNotFoundError, match="task 'boxes' needs .*boxes.csv"):
        evaluate_outputs(outputs, truth, ["boxes"])


def test_ablation_maps_are_scored_one_row_each_in_the_masks_section(tmp_path):
    ids = ["m1", "m2"]
    images = write_images(tmp_path / "images", ids)
    truth_masks, outputs = tmp_path / "truth_masks", tmp_path / "outputs"
    for folder in (truth_masks, outputs / "masks", outputs / "heatmaps", tmp_path / "good", tmp_path / "blind"):
        folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for identifier in ids:
        mask = np.zeros(SIZE, dtype=np.uint8)
        mask[20:26, 30:33] = 255
        Image.fromarray(mask).save(truth_masks / f"{identifier}_MA.png")
        good = np.clip(mask / 255.0 * 0.8 + rng.uniform(0, 0.3, SIZE), 0, 1).astype(np.float32)
        blind = rng.uniform(0, 1, SIZE).astype(np.float32)
        np.save(outputs / "masks" / f"{identifier}_MA.npy", good)
        for name, values in (("good", good), ("blind", blind)):
            np.save(outputs / "heatmaps" / f"{identifier}_{name}.npy", values)
            np.save(tmp_path / name / f"{identifier}_MA.npy", values)
    write_csv(outputs / "predictions.csv", "image,label,prob_0,prob_1", ["m1,1,0.2,0.8", "m2,1,0.1,0.9"])
    truth = records_truth([{"id": i, "image": images[i]} for i in ids], tmp_path / "truth", masks_dir=truth_masks)
    rows = evaluate_outputs(outputs, truth, ["masks"], ablation_maps=["good", "blind"])["masks"]["ablation"]
    assert list(rows) == ["good", "blind"]
    for name in rows:
        reference = evaluate_masks(truth.masks_dir, tmp_path / name)
        assert rows[name]["average_precision"] == pytest.approx(reference["average_precision"])
        assert rows[name]["froc_score"] == pytest.approx(reference["froc_score"])
    assert rows["good"]["average_precision"] > 0.9 > 0.1 > rows["blind"]["average_precision"]
    table = (outputs / "ablation.csv").read_text().splitlines()
    assert table[0].startswith("map,average_precision") and [line.split(",")[0] for line in table[1:]] == [
        "good",
        "blind",
    ]
    assert (outputs / "ablation_pr.png").is_file() and (outputs / "ablation.md").is_file()
    with pytest.raises(ValueError, match="no 'missing' map"):
        evaluate_outputs(outputs, truth, ["masks"], ablation_maps=["missing"])
