from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.engines import SupervisedEvaluator
from PIL import Image
from torch import nn

from monai_weakloc.engines.lesion_clusters import LesionClusterWriter
from monai_weakloc.localize.discovery import LESION_CLUSTERS_JSON, LESION_CLUSTERS_PNG, discover_lesion_clusters

TYPE_A, TYPE_B = torch.tensor([5.0, 5.0, 0.0, 0.0]), torch.tensor([0.0, 0.0, 5.0, 5.0])
# (image, grid y, grid x, kind): one hot spot per image and attention channel
HOT_SPOTS = [
    (0, 1, 1, TYPE_A), (0, 6, 2, TYPE_B), (1, 3, 4, TYPE_A), (1, 0, 6, TYPE_B), (2, 5, 5, TYPE_A), (2, 2, 7, TYPE_B)
]


def _planted(batch: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """Features (B, 4, 8, 8) with type-A / type-B vectors at the hot spots; attention (B, 2, 8, 8) peaks there."""
    features = 0.01 * torch.randn(batch, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    attention = torch.zeros(batch, 2, 8, 8)
    for b, y, x, kind in HOT_SPOTS:
        features[b, :, y, x] += kind
        attention[b, 0 if kind is TYPE_A else 1, y, x] = 1.0
    return features, attention


def _groups(clusters: dict) -> list[list[tuple[str, int, int]]]:
    return sorted(sorted((m["image"], m["grid_y"], m["grid_x"]) for m in members) for members in clusters.values())


def test_planted_lesion_kinds_form_two_clusters_with_boxes_in_original_pixels(tmp_path):
    features, attention = _planted()
    images = torch.rand(3, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    # image "b" was cropped to x 100..228, y 50..178 of its original before the resize to 64 px: scale 2
    crop_boxes = [(0, 0, 64, 64), (100, 50, 228, 178), (0, 0, 64, 64)]
    clusters = discover_lesion_clusters(
        features, attention, images, ["a", "b", "c"], crop_boxes, tmp_path, top_k=1, region_size=16, damping=0.7
    )
    assert _groups(clusters) == [
        [("a", 1, 1), ("b", 3, 4), ("c", 5, 5)],
        [("a", 6, 2), ("b", 0, 6), ("c", 2, 7)],
    ]
    written = json.loads((tmp_path / LESION_CLUSTERS_JSON).read_text())
    assert written["num_images"] == 3 and written["num_regions"] == 6 and written["top_k"] == 1
    members = {(m["image"], m["grid_y"], m["grid_x"]): m for cluster in written["clusters"].values() for m in cluster}
    # cell (3, 4) of image b: centre (36, 28) in input pixels, 16 px box (28, 20)..(44, 36), x2 plus the crop offset
    assert [members[("b", 3, 4)][key] for key in "xywh"] == [156.0, 90.0, 32.0, 32.0]
    assert [members[("a", 1, 1)][key] for key in "xywh"] == [4.0, 4.0, 16.0, 16.0]
    with Image.open(tmp_path / LESION_CLUSTERS_PNG) as montage:
        assert montage.size[0] >= 100 and montage.size[1] >= 100


def test_mismatched_ids_are_rejected(tmp_path):
    features, attention = _planted()
    with pytest.raises(ValueError, match="2 image ids"):
        discover_lesion_clusters(
            features, attention, torch.zeros(3, 3, 64, 64), ["a", "b"], [(0, 0, 64, 64)] * 3, tmp_path
        )


class _PlantedMaps(nn.Module):
    """Returns the planted features and attention of the images whose index is in their first pixel."""

    def __init__(self) -> None:
        super().__init__()
        self.features, self.attention = _planted()

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        index = image[:, 0, 0, 0].long()
        return {"features": self.features[index], "attention": self.attention[index]}


def test_writer_clusters_every_batch_of_an_evaluator(tmp_path):
    def batch(indices: list[int], ids: list[str], sizes: list[int]) -> dict:
        first_pixels = torch.tensor(indices, dtype=torch.float32)[:, None, None, None]
        image = MetaTensor(first_pixels.expand(-1, 3, 64, 64).clone())
        image.meta["original_size"] = torch.tensor([[size, size] for size in sizes])
        image.meta["crop_box"] = torch.tensor([[0, 0, size, size] for size in sizes])
        return {"image": image, "label": torch.zeros(len(ids)), "id": ids}

    loader = [batch([0, 1], ["a", "b"], [64, 128]), batch([2], ["c"], [64])]
    writer = LesionClusterWriter(
        tmp_path,
        maps=lambda engine: (engine.state.output["pred"]["features"], engine.state.output["pred"]["attention"]),
        region_size=16,
        affinity_options={"damping": 0.7},
    )
    evaluator = SupervisedEvaluator(
        device=torch.device("cpu"),
        val_data_loader=loader,
        network=_PlantedMaps(),
        decollate=False,
        val_handlers=[writer],
    )
    evaluator.run()
    written = json.loads((tmp_path / LESION_CLUSTERS_JSON).read_text())
    assert _groups(written["clusters"]) == [
        [("a", 1, 1), ("b", 3, 4), ("c", 5, 5)],
        [("a", 6, 2), ("b", 0, 6), ("c", 2, 7)],
    ]
    members = {(m["image"], m["grid_y"], m["grid_x"]): m for cluster in written["clusters"].values() for m in cluster}
    assert [members[("b", 3, 4)][key] for key in "xywh"] == [56.0, 40.0, 32.0, 32.0]  # uncropped 128 px original
    assert np.isclose(members[("c", 5, 5)]["w"], 16.0)
    assert (tmp_path / LESION_CLUSTERS_PNG).is_file()


def test_writer_names_a_batch_image_without_meta_data(tmp_path):
    writer = LesionClusterWriter(tmp_path, maps=lambda engine: (torch.zeros(1, 4, 8, 8), torch.zeros(1, 2, 8, 8)))
    loader = [{"image": torch.zeros(1, 3, 64, 64), "label": torch.zeros(1), "id": ["a"]}]
    evaluator = SupervisedEvaluator(
        device=torch.device("cpu"),
        val_data_loader=loader,
        network=nn.Identity(),
        decollate=False,
        val_handlers=[writer],
    )
    with pytest.raises(TypeError, match="batch\\['image'\\] must be a MetaTensor"):
        evaluator.run()


def _attach_in_a_two_process_group(rank: int, init_file: str, errors_dir: str) -> None:
    """One rank of a gloo group of two: attach a writer to an evaluator and keep the error it raises."""
    torch.distributed.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    try:
        writer = LesionClusterWriter(errors_dir, maps=lambda engine: (torch.zeros(1, 4, 8, 8), torch.zeros(1, 2, 8, 8)))
        evaluator = SupervisedEvaluator(device=torch.device("cpu"), val_data_loader=[], network=nn.Identity())
        try:
            writer.attach(evaluator)
            message = ""
        except RuntimeError as err:
            message = str(err)
        (Path(errors_dir) / f"rank{rank}.txt").write_text(message)
    finally:
        torch.distributed.destroy_process_group()


def test_writer_refuses_to_cluster_each_process_share_under_torchrun(tmp_path):
    torch.multiprocessing.spawn(
        _attach_in_a_two_process_group, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True
    )
    for rank in (0, 1):
        assert "run lesion discovery without torchrun" in (tmp_path / f"rank{rank}.txt").read_text()
