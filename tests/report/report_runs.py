"""Small evaluated runs for the report tests: output-contract files and truth written from synthetic data, then
scored by the real evaluation (no training).

``graded_run``: five 96 x 96 fundus-like images with grades 0..3 and lesion boxes (tasks grades, boxes,
pointing), built so that the gallery's order is known: ``03_left`` misses its lesion (box and heatmap peak far
from it), ``05_left`` is two grades off, ``02_left`` one grade off, ``04_left`` and ``01_left`` are right (the
first more severe). ``multi_label_run``: three chest-like images with three findings (tasks labels, pointing).
``mask_run``: two images with microaneurysm masks (task masks).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from monai_weakloc.evaluation import EvaluationTruth, evaluate_outputs
from monai_weakloc.report import write_overlay

SIZE = 96
GRADED_ORDER = ["03_left", "05_left", "02_left", "04_left", "01_left"]
"""The order the metrics of ``graded_run`` imply: missed lesion, two grades off, one grade off, right by severity."""
GRADED_IMAGES = {
    # image: (true grade, predicted grade, prob_0, truth box or None, predicted box and heat peak (x, y, w, h))
    "01_left": (0, 0, 0.7, None, (60, 60, 16, 16)),
    "02_left": (1, 2, 0.1, (40, 40, 16, 16), (40, 40, 16, 16)),
    "03_left": (2, 2, 0.1, (8, 8, 16, 16), (64, 64, 20, 20)),
    "04_left": (3, 3, 0.05, (20, 50, 16, 16), (20, 50, 16, 16)),
    "05_left": (3, 1, 0.2, (50, 20, 16, 16), (50, 20, 16, 16)),
}


def _write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _fundus(seed: int) -> np.ndarray:
    """(3, H, W) float image: a bright disc on black."""
    rows, columns = np.mgrid[0:SIZE, 0:SIZE]
    disc = ((rows - SIZE / 2) ** 2 + (columns - SIZE / 2) ** 2 < (SIZE / 2 - 2) ** 2).astype(np.float32)
    noise = np.random.default_rng(seed).uniform(0.0, 0.2, (3, SIZE, SIZE)).astype(np.float32)
    return disc[None] * (np.array([0.8, 0.4, 0.2], dtype=np.float32)[:, None, None] + noise)


def _heat(box: Sequence[float]) -> np.ndarray:
    """(H, W) map peaking at the centre of an ``x, y, w, h`` box."""
    rows, columns = np.mgrid[0:SIZE, 0:SIZE]
    x, y, width, height = box
    return np.exp(-((columns - x - width / 2) ** 2 + (rows - y - height / 2) ** 2) / 60.0).astype(np.float32)


def _write_map(path: Path, heat: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.round(255 * heat / heat.max()).astype(np.uint8)).save(path)


def _xyxy(box: Sequence[float]) -> list[float]:
    x, y, width, height = box
    return [x, y, x + width, y + height]


def build_graded_run(root: Path) -> Path:
    """Write and evaluate ``graded_run`` under ``root`` (a bundle root: ``root/outputs``); return ``root``."""
    outputs = root / "outputs"
    predictions, boxes, truth_grades, truth_boxes = [], [], [], []
    for seed, (image, (grade, predicted, prob_0, truth_box, box)) in enumerate(GRADED_IMAGES.items()):
        rest = (1.0 - prob_0) / 3
        probabilities = [prob_0, rest, rest, rest]
        probabilities[predicted] += 1e-3
        probabilities[0 if predicted else 1] -= 1e-3
        predictions.append([image, predicted, *(f"{value:.6f}" for value in probabilities)])
        boxes.append([image, "lesion", *box, "0.900000"])
        truth_grades.append([image, grade])
        if truth_box is not None:
            truth_boxes.append([image, "haemorrhage", *truth_box])
        heat = _heat(box)
        _write_map(outputs / "heatmaps" / f"{image}_grade1.png", heat)
        write_overlay(_fundus(seed), heat, outputs / "overlays" / f"{image}.png", boxes=[_xyxy(box)], labels=["lesion"])
    _write_csv(outputs / "predictions.csv", ["image", "level", "prob_0", "prob_1", "prob_2", "prob_3"], predictions)
    _write_csv(outputs / "boxes.csv", ["image", "label", "x", "y", "w", "h", "score"], boxes)
    truth = EvaluationTruth(
        image_ids=list(GRADED_IMAGES),
        grades_csv=_write_csv(outputs / "truth" / "grades.csv", ["image", "level"], truth_grades),
        lesion_boxes_csv=_write_csv(
            outputs / "truth" / "lesion_boxes.csv", ["image", "label", "x", "y", "w", "h"], truth_boxes
        ),
        image_sizes={image: (SIZE, SIZE) for image in GRADED_IMAGES},
    )
    evaluate_outputs(outputs, truth, ["grades", "boxes", "pointing"], random_draws=3)
    return root


FINDINGS = ["Atelectasis", "Effusion", "Mass"]
MULTI_LABEL_IMAGES = {
    # image: (true findings, predicted probabilities, truth boxes by finding, heat peak box)
    "00000001_000": (["Effusion"], [0.1, 0.8, 0.2], {"Effusion": (10, 10, 20, 20)}, (60, 60, 16, 16)),
    "00000002_000": (["Mass"], [0.1, 0.2, 0.9], {"Mass": (40, 40, 20, 20)}, (40, 40, 20, 20)),
    "00000003_000": ([], [0.6, 0.1, 0.1], {}, (30, 30, 16, 16)),
}
"""``00000001_000`` is pointed wrongly (missed), ``00000003_000`` has a wrong label, ``00000002_000`` is right."""


def build_multi_label_run(root: Path) -> Path:
    """Write and evaluate the multi-label run under ``root`` (an output folder); return ``root``."""
    predictions, truth_rows, truth_boxes = [], [], []
    for seed, (image, (findings, probabilities, boxes, peak)) in enumerate(MULTI_LABEL_IMAGES.items()):
        predicted = [name for name, value in zip(FINDINGS, probabilities) if value >= 0.5] or ["No Finding"]
        predictions.append([image, "|".join(predicted), *(f"{value:.6f}" for value in probabilities)])
        truth_rows.append([image, *(int(name in findings) for name in FINDINGS)])
        truth_boxes += [[image, name, *box] for name, box in boxes.items()]
        for name in FINDINGS:
            _write_map(root / "heatmaps" / f"{image}_{name}.png", _heat(peak))
        grey = _fundus(seed)[:1]
        write_overlay(grey, _heat(peak), root / "overlays" / f"{image}.png")
    _write_csv(root / "predictions.csv", ["image", "labels", *FINDINGS], predictions)
    truth = EvaluationTruth(
        image_ids=list(MULTI_LABEL_IMAGES),
        labels_csv=_write_csv(root / "truth" / "labels.csv", ["image", *FINDINGS], truth_rows),
        lesion_boxes_csv=_write_csv(
            root / "truth" / "lesion_boxes.csv", ["image", "label", "x", "y", "w", "h"], truth_boxes
        ),
        image_sizes={image: (SIZE, SIZE) for image in MULTI_LABEL_IMAGES},
    )
    evaluate_outputs(root, truth, ["labels", "pointing"])
    return root


def build_mask_run(root: Path) -> Path:
    """Write and evaluate a run of predicted microaneurysm masks under ``root`` (an output folder): ``IDRiD_02``
    finds half of its lesion pixels, ``IDRiD_01`` all; return ``root``."""
    predictions = []
    for seed, (image, found) in enumerate((("IDRiD_01", 1.0), ("IDRiD_02", 0.5))):
        truth = np.zeros((SIZE, SIZE), dtype=np.uint8)
        truth[20:30, 20:30] = 255
        predicted = np.zeros((SIZE, SIZE), dtype=np.float32)
        predicted[20 : 20 + round(10 * found), 20:30] = 0.9
        (root / "truth" / "masks").mkdir(parents=True, exist_ok=True)
        Image.fromarray(truth).save(root / "truth" / "masks" / f"{image}_MA.png")
        _write_map(root / "masks" / f"{image}_MA.png", predicted)
        write_overlay(_fundus(seed), predicted, root / "overlays" / f"{image}.png")
        predictions.append([image, 1, "0.200000", "0.800000"])
    _write_csv(root / "predictions.csv", ["image", "label", "prob_0", "prob_1"], predictions)
    evaluate_outputs(root, EvaluationTruth(masks_dir=root / "truth" / "masks"), ["masks"])
    return root
