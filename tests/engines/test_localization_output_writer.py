"""LocalizationOutputWriter: boxes are scored on (and overlays show) the map the boxes were taken from."""

from __future__ import annotations

import csv
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from monai.data import MetaTensor
from monai.utils import CommonKeys
from PIL import Image

from monai_weakloc.engines.localization_outputs import LocalizationBatch, LocalizationOutputWriter

SIZE = 32  # the original image and the network input: no resize, no crop


def write_one_batch(tmp_path: Path, region_map: torch.Tensor | None) -> list[dict[str, str]]:
    """Run the writer on one image whose heatmaps peak top-left; returns the rows of boxes.csv."""
    original = tmp_path / "eye.png"
    Image.fromarray(np.full((SIZE, SIZE, 3), 128, dtype=np.uint8)).save(original)
    image = MetaTensor(
        torch.zeros(1, 3, SIZE, SIZE),
        meta={"original_size": torch.tensor([[SIZE, SIZE]]), "filename_or_obj": [str(original)]},
    )
    heatmaps = torch.zeros(1, 2, 4, 4)
    heatmaps[0, 0, 0, 0] = 3.0
    heatmaps[0, 1, 0, 0] = 1.0
    result = LocalizationBatch(
        probabilities=torch.tensor([[0.25, 0.75]]),
        heatmaps=heatmaps,
        boxes=[torch.tensor([[0.0, 0.0, 8.0, 8.0], [24.0, 24.0, 8.0, 8.0]])],
        region_map=region_map,
    )
    writer = LocalizationOutputWriter(tmp_path / "out", extract=lambda pred: pred, heatmap_names=["a", "b"],
                                      write_nifti=False)
    engine = SimpleNamespace(state=SimpleNamespace(batch={CommonKeys.IMAGE: image, "id": ["eye"]},
                                                   output={CommonKeys.PRED: result}))
    writer.write_batch(engine)
    writer.write_tables()
    assert (tmp_path / "out" / "overlays" / "eye.png").is_file()
    with open(tmp_path / "out" / "boxes.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_boxes_are_scored_on_the_heatmaps_sum_without_a_region_map(tmp_path):
    rows = write_one_batch(tmp_path, region_map=None)
    assert [float(row["score"]) for row in rows] == [4.0, 0.0]


def test_boxes_are_scored_on_the_region_map_when_given(tmp_path):
    region_map = torch.zeros(1, 4, 4)
    region_map[0, 3, 3] = 0.5  # bottom-right, where the heatmaps are zero
    rows = write_one_batch(tmp_path, region_map=region_map)
    assert [float(row["score"]) for row in rows] == [0.0, 0.5]
    assert [(float(row["x"]), float(row["y"])) for row in rows] == [(0.0, 0.0), (24.0, 24.0)]
