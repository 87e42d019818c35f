"""The saliency-crop paper's comparison models on tiny tensors and images: the sliding-window reduction (its Listing
1), the sliding-window localizer, the plain network's localizer as plain.json builds it, and the evaluation of
outputs without a crop."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from monai.data import DataLoader, Dataset
from monai.transforms import Compose, Resized, ScaleIntensity, ScaleIntensityd
from PIL import Image
from weakloc_networks.saliency_crop import SaliencyCropNetwork
from weakloc_networks.saliency_crop_evaluation import evaluate_saliency_crops
from weakloc_networks.saliency_crop_sliding_window import (
    SlidingWindowLocalizer,
    reduce_probability_map,
    window_boxes,
)

from monai_weakloc import registry
from monai_weakloc.transforms import LoadImage2D, LoadImage2Dd


def _map(unhealthy: list[list[float]]) -> torch.Tensor:
    """A (1, 2, h, w) probability map from the unhealthy probabilities of its windows."""
    p = torch.tensor(unhealthy)[None]
    return torch.stack([1 - p, p], dim=1)


def test_vote_is_the_share_of_windows_deciding_each_class() -> None:
    probabilities = reduce_probability_map(_map([[0.9, 0.6], [0.2, 0.7]]))
    assert probabilities.tolist() == [[0.25, 0.75]]
    assert reduce_probability_map(_map([[0.9, 0.1], [0.2, 0.4]]))[0].tolist() == [0.75, 0.25]


def test_vote_tie_decides_healthy_and_mean_averages() -> None:
    tied = reduce_probability_map(_map([[0.9, 0.1]]))
    assert tied[0].tolist() == [0.5, 0.5] and int(tied.argmax(1)) == 0
    mean = reduce_probability_map(_map([[0.9, 0.6], [0.2, 0.7]]), "mean")
    assert mean[0].tolist() == pytest.approx([0.4, 0.6])
    batch = torch.cat([_map([[0.9, 0.6]]), _map([[0.1, 0.2]])])
    assert reduce_probability_map(batch).tolist() == [[0.0, 1.0], [1.0, 0.0]]


def test_reduction_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="reduction"):
        reduce_probability_map(_map([[0.5]]), "median")
    with pytest.raises(ValueError, match="B, K, h, w"):
        reduce_probability_map(torch.ones(1, 2, 3))


def test_window_boxes_step_by_the_stride_and_stay_inside() -> None:
    boxes = window_boxes((2, 3), stride=16, window=20, image_size=(40, 50))
    assert boxes.shape == (6, 4)
    assert boxes[:, 0].tolist() == [0, 16, 30, 0, 16, 30]  # the third column shifted inside: 50 - 20
    assert boxes[:, 1].tolist() == [0, 0, 0, 16, 16, 16]
    assert set(boxes[:, 2].tolist()) == set(boxes[:, 3].tolist()) == {20.0}


def _images(folder: Path, sizes: list[tuple[int, int]]) -> list[dict]:
    generator = np.random.default_rng(0)
    records = []
    for index, (height, width) in enumerate(sizes):
        path = folder / f"{index}_left.png"
        Image.fromarray(generator.integers(0, 255, (height, width, 3), dtype=np.uint8)).save(path)
        records.append({"id": f"{index}_left", "image": str(path), "label": index % 2, "grade": 2 * (index % 2)})
    return records


def _batch(records: list[dict], size: int = 32) -> dict:
    transform = Compose(
        [LoadImage2Dd(keys="image"), Resized("image", (size, size), mode="area"), ScaleIntensityd("image")]
    )
    return next(iter(DataLoader(Dataset(records, transform=transform), batch_size=len(records))))


def _network(input_size: int) -> SaliencyCropNetwork:
    torch.manual_seed(0)
    return SaliencyCropNetwork(input_size=input_size, channels=(4, 4, 4, 4, 4, 4)).eval()


def test_sliding_window_localizer_reduces_the_crop_networks_map(tmp_path: Path) -> None:
    records = _images(tmp_path, [(96, 128), (80, 80)])
    network = _network(32)  # stride 64, one cell per window; 96 x 128 -> a 2 x 2 map, 80 x 80 -> 2 x 2
    localizer = registry.create("localizer", "saliency_crop_sliding_window", crop_network=network)
    found = localizer(None, _batch(records))
    assert found.probabilities.shape == (2, 2)
    assert found.probabilities.sum(1).tolist() == pytest.approx([1.0, 1.0])
    assert found.heatmaps["sliding_window"].shape == (2, 32, 32)
    for index, record in enumerate(records):
        window_map, windows, size = localizer.probability_map(record["image"])
        assert window_map.shape == (2, 2, 2) and windows.shape == (4, 4)
        expected = (window_map.argmax(0) == 1).float().mean()
        assert float(found.probabilities[index, 1]) == pytest.approx(float(expected))
        best = int(window_map[1].flatten().argmax())
        scale = torch.tensor([32 / size[1], 32 / size[0]] * 2)
        assert found.boxes[index].coordinates[0].tolist() == pytest.approx((windows[best] * scale).tolist())
        assert found.boxes[index].labels == ["crop"] and found.points[index].labels == ["crop"]
        assert float(found.boxes[index].scores[0]) == pytest.approx(float(window_map[1].max()))
        heatmap = found.heatmaps["sliding_window"][index]
        assert float(heatmap.min()) >= 0 and float(heatmap.max()) <= float(window_map[1].max()) + 1e-6
    with pytest.raises(ValueError, match="needs the batch"):
        localizer(None)


def test_sliding_window_on_an_image_of_the_crop_size_is_the_crop_network(tmp_path: Path) -> None:
    records = _images(tmp_path, [(32, 32)])
    network = _network(32)
    found = SlidingWindowLocalizer(network, reduction="mean")(None, _batch(records))
    image = ScaleIntensity()(LoadImage2D(mode="rgb")(records[0]["image"]))
    with torch.no_grad():
        expected = torch.softmax(network(torch.as_tensor(image)[None].float()), dim=1)
    assert torch.allclose(found.probabilities, expected, atol=1e-5)
    assert found.boxes[0].coordinates[0].tolist() == [0.0, 0.0, 32.0, 32.0]


def test_sliding_window_names_an_image_smaller_than_one_window(tmp_path: Path) -> None:
    records = _images(tmp_path, [(40, 40)])
    network = _network(80)  # two cells: the smallest input is 65 px
    with pytest.raises(ValueError, match="0_left.png.*smaller"):
        SlidingWindowLocalizer(network)(None, _batch(records))
    with pytest.raises(ValueError, match="reduction"):
        SlidingWindowLocalizer(network, reduction="max")


def test_plain_localizer_gives_the_networks_probabilities_and_the_unhealthy_saliency(tmp_path: Path) -> None:
    network = _network(32)
    localizer = registry.create(  # as plain.json builds it
        "localizer",
        "guided_backprop",
        network=network,
        method="guided_backprop",
        target_class=1,
        absolute=False,
        probability_kind="single_label",
        class_names=["healthy", "unhealthy"],
        heatmap_name="saliency",
    )
    batch = _batch(_images(tmp_path, [(40, 48), (44, 40)]))
    with torch.no_grad():
        logits = network(batch["image"].as_tensor())
    found = localizer(logits, batch)
    assert torch.allclose(found.probabilities, torch.softmax(logits, 1))
    assert found.heatmaps["saliency"].shape == (2, 32, 32)
    assert found.boxes is None and [points.labels for points in found.points] == [["unhealthy"], ["unhealthy"]]


def test_evaluation_skips_the_crop_share_of_outputs_without_a_crop(tmp_path: Path) -> None:
    records = [
        {"id": f"{index}_left", "image": f"{index}_left.png", "label": int(grade >= 2), "grade": grade}
        for index, grade in enumerate([0, 1, 2, 3])
    ]
    with open(tmp_path / "predictions.csv", "w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["image", "level", "prob_0", "prob_1"])
        for record, p in zip(records, [0.2, 0.6, 0.7, 0.4]):
            writer.writerow([record["id"], int(p >= 0.5), f"{1 - p:.6f}", f"{p:.6f}"])
    lesions = tmp_path / "lesion_boxes.csv"
    lesions.write_text("image,label,x,y,w,h\n2_left,microaneurysm,1,1,2,2\n3_left,microaneurysm,1,1,2,2\n")
    metrics = evaluate_saliency_crops(tmp_path, records, lesions)
    assert "skipped" in metrics["boxes"] and "crop_lesion_share" not in metrics
    assert metrics["per_class_accuracy"] == {"healthy": 0.5, "unhealthy": 0.5}
    assert (tmp_path / "metrics.json").is_file()
