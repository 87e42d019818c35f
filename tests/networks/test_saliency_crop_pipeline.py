"""The saliency-crop pipeline's steps on tiny tensors and images: crop centres, crops of the training set, the SVM
threshold and the inference localizer."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from monai.data import DataLoader, Dataset
from monai.transforms import Compose, Resized, ScaleIntensityd
from PIL import Image
from torch import nn
from weakloc_networks.saliency_crop import SaliencyCropNetwork
from weakloc_networks.saliency_crop_centres import (
    full_resolution_centre,
    random_centre,
    saliency_centres,
)
from weakloc_networks.saliency_crop_localizer import SaliencyCropLocalizer
from weakloc_networks.saliency_crop_pipeline import (
    CROPS_DONE_FILE,
    SaliencyCropper,
    crop_records,
    training_crop_stage,
    two_class_records,
)
from weakloc_networks.saliency_crop_threshold import (
    fit_svm_threshold,
    recalibrate,
    threshold_stage,
)

from monai_weakloc.transforms import LoadImage2Dd


class _WeightedRelu(nn.Module):
    """Logits (0, sum(weight * relu(x))): the unhealthy class's input gradient is ``weight`` where x > 0."""

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        self.relu = nn.ReLU()
        self.weight = nn.Parameter(weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        score = (self.weight * self.relu(x)).flatten(1).sum(1)
        return torch.stack([torch.zeros_like(score), score], dim=1)


def test_saliency_centre_is_the_maximum_inside_the_border() -> None:
    weight = torch.zeros(3, 10, 10)
    weight[:, 0, 9] = 5.0  # strongest, but in the border
    weight[:, 6, 3] = 2.0
    images = torch.ones(2, 3, 10, 10)
    found = saliency_centres(_WeightedRelu(weight), images, target_class=1, kappa=0.1)
    assert found.maps.shape == (2, 10, 10)
    assert found.centres.tolist() == [[3.5, 6.5], [3.5, 6.5]]
    assert found.scores.tolist() == pytest.approx([2.0, 2.0])
    unbordered = saliency_centres(_WeightedRelu(weight), images, target_class=1, kappa=0.0)
    assert unbordered.centres[0].tolist() == [9.5, 0.5]


def test_full_resolution_centre_scales_each_axis() -> None:
    assert full_resolution_centre((8.0, 4.0), (16, 32), (160, 640)) == (160.0, 40.0)


def test_random_centre_is_reproducible_and_keeps_the_crop_inside() -> None:
    centre = random_centre("10_left", (50, 80), 20, seed=3)
    assert centre == random_centre("10_left", (50, 80), 20, seed=3)
    assert 10 <= centre[0] <= 70 and 10 <= centre[1] <= 40
    with pytest.raises(ValueError, match="10_left"):
        random_centre("10_left", (10, 80), 20, seed=3)


def test_two_class_records_and_crop_records() -> None:
    records = two_class_records([{"id": f"{g}_left", "label": g} for g in range(5)])
    assert [r["label"] for r in records] == [0, 0, 1, 1, 1]
    assert [r["grade"] for r in records] == [0, 1, 2, 3, 4]
    crops = crop_records(records, "/crops")
    assert crops[2] == {"id": "2_left", "image": "/crops/2_left.png", "label": 1, "grade": 2}


def test_svm_threshold_separates_the_classes_and_recalibration_keeps_the_decision() -> None:
    scores = np.array([0.05, 0.1, 0.15, 0.2, 0.3, 0.35, 0.4, 0.45])
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    threshold = fit_svm_threshold(scores, labels)
    assert 0.2 < threshold < 0.3
    probabilities = torch.tensor([[1 - p, p] for p in scores], dtype=torch.float32)
    moved = recalibrate(probabilities, threshold)
    assert moved.sum(1).tolist() == pytest.approx([1.0] * 8)
    assert moved.argmax(1).tolist() == labels.tolist()
    assert recalibrate(probabilities, 0.5) == pytest.approx(probabilities, abs=1e-6)
    with pytest.raises(ValueError, match="both classes"):
        fit_svm_threshold(scores, np.zeros(8))


def _tiny_dataset(folder: Path) -> list[dict]:
    generator = np.random.default_rng(0)
    records = []
    for index, (height, width) in enumerate([(40, 48), (44, 40), (48, 56)]):
        path = folder / f"{index}_left.png"
        Image.fromarray(generator.integers(0, 255, (height, width, 3), dtype=np.uint8)).save(path)
        records.append({"id": f"{index}_left", "image": str(path), "label": index % 2, "grade": 2 * (index % 2)})
    return records


def _loader(records: list[dict]) -> DataLoader:
    transform = Compose(
        [
            LoadImage2Dd(keys="image"),
            Resized(keys="image", spatial_size=(32, 32), mode="area"),
            ScaleIntensityd("image"),
        ]
    )
    return DataLoader(Dataset(records, transform=transform), batch_size=2)


def _network(input_size: int) -> SaliencyCropNetwork:
    torch.manual_seed(0)
    return SaliencyCropNetwork(input_size=input_size, channels=(4, 4, 4, 4, 4, 4)).eval()


def test_training_crop_stage_writes_one_crop_per_image_and_reuses_them(tmp_path: Path) -> None:
    records = _tiny_dataset(tmp_path)
    crops_dir = tmp_path / "crops"
    cropper = SaliencyCropper(_network(32), crop_size=16, kappa=0.1)
    training_crop_stage(cropper, _loader(records), crops_dir, seed=0).run()
    for record in crop_records(records, crops_dir):
        assert Image.open(record["image"]).size == (16, 16)
    done = json.loads((crops_dir / CROPS_DONE_FILE).read_text())
    assert done["crops"] == ["0_left.png", "1_left.png", "2_left.png"]
    stamp = (crops_dir / "1_left.png").stat().st_mtime_ns
    training_crop_stage(cropper, _loader(records), crops_dir, seed=0, reuse=True).run()
    assert (crops_dir / "1_left.png").stat().st_mtime_ns == stamp


def test_localizer_gives_probabilities_the_crop_box_and_its_centre(tmp_path: Path) -> None:
    records = _tiny_dataset(tmp_path)
    localizer = SaliencyCropLocalizer(_network(32), _network(16), crop_size=16, kappa=0.1, threshold=0.3)
    batch = next(iter(_loader(records)))
    found = localizer(None, batch)
    assert found.probabilities.shape == (2, 2)
    assert found.probabilities.sum(1).tolist() == pytest.approx([1.0, 1.0])
    assert found.heatmaps["saliency"].shape == (2, 32, 32)
    for index, (height, width) in enumerate([(40, 48), (44, 40)]):
        x, y, w, h = found.boxes[index].coordinates[0].tolist()
        assert (w, h) == pytest.approx((16 * 32 / width, 16 * 32 / height))
        assert x >= 0 and y >= 0 and x + w <= 32 + 1e-4 and y + h <= 32 + 1e-4
        assert found.boxes[index].labels == ["crop"] and found.points[index].labels == ["crop"]
        cx, cy = found.points[index].coordinates[0].tolist()
        assert 3.2 <= cx <= 28.8 and 3.2 <= cy <= 28.8  # inside the border rule
    raw = localizer.run_pipeline(batch).probabilities
    assert found.probabilities.argmax(1).tolist() == (raw[:, 1] >= 0.3).long().tolist()
    with pytest.raises(ValueError, match="needs the batch"):
        localizer(None)


def test_threshold_stage_writes_the_svm_threshold(tmp_path: Path) -> None:
    batches = [
        {"scores": torch.tensor([0.1, 0.2]), "label": torch.tensor([0, 0])},
        {"scores": torch.tensor([0.6, 0.7]), "label": torch.tensor([1, 1])},
    ]
    target = tmp_path / "threshold.json"
    threshold_stage(lambda batch: torch.stack([1 - batch["scores"], batch["scores"]], 1), batches, target).run()
    written = json.loads(target.read_text())
    assert written["num_images"] == 4 and 0.2 < written["threshold"] < 0.6
