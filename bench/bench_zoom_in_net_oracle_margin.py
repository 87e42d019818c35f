"""The localization margin a perfect lesion map would reach with Zoom-in-Net's region sampling.

For each test image of the quick configuration (``train.json`` + ``inference.json`` + ``quick.json``, the
same loader, border crop and sizes as the bundle's inference), builds an oracle map on the M-Net grid
(``low_res / 32`` cells a side): each cell holds the number of lesion boxes whose centre falls in it. The
regions are sampled from it exactly as the network samples them (bilinear resize to the input, greedy
arg-max with the ``region_size`` mask, N = ``num_regions``), mapped back to the original image, and scored
like ``evaluate.json``: recall for box at IoM 0.3 against random boxes of the same sizes, averaged over 100
draws. Rows: every lesion kind, then the map blind to each kind in turn. It bounds what any learned map
can reach with this sampling: the network's margin (the bundle README) is measured against these.

Run: ``python bench/bench_zoom_in_net_oracle_margin.py [--out runs/oracle_margin.json]``; about a minute
on 2 CPU cores once the synthetic dataset is generated.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from monai.bundle import ConfigParser

from monai_weakloc.data.synthetic.fundus import LESION_KINDS
from monai_weakloc.engines.localization_outputs import input_boxes_to_original
from monai_weakloc.evaluation.boxes import random_boxes_like
from monai_weakloc.evaluation.tables import read_box_table
from monai_weakloc.localize import sample_regions
from weakloc_metrics.iom_recall import compute_iom_recall

CONFIGS = Path(__file__).resolve().parents[1] / "bundles" / "zoom_in_net" / "configs"
FEATURE_STRIDE = 32


def oracle_boxes(parser: ConfigParser, lesions: dict, ignored_kind: str | None) -> tuple[dict, dict]:
    """Regions sampled from the oracle count map of every test image, in original pixels, and image sizes."""
    low_res, region_size = parser["low_res"], parser["region_size"]
    cells = low_res // FEATURE_STRIDE
    boxes, sizes = {}, {}
    for batch in parser.get_parsed_content("dataloader"):
        meta = batch["image"].meta
        for index, image_id in enumerate(batch["id"]):
            x0, y0, x1, y1 = (float(v) for v in meta["crop_box"][index])
            counts = torch.zeros(cells, cells)
            for kind, (x, y, w, h) in lesions.get(image_id, []):
                column = int((x + w / 2 - x0) / (x1 - x0) * cells)
                row = int((y + h / 2 - y0) / (y1 - y0) * cells)
                if kind != ignored_kind and 0 <= row < cells and 0 <= column < cells:
                    counts[row, column] += 1
            (regions,) = sample_regions(counts, parser["num_regions"], region_size, sampling_size=(low_res, low_res))
            input_boxes = np.array([[r.box[0], r.box[1], r.box[2] - r.box[0], r.box[3] - r.box[1]] for r in regions])
            boxes[image_id] = input_boxes_to_original(input_boxes, (low_res, low_res), (x0, y0, x1, y1))
            sizes[image_id] = tuple(int(v) for v in meta["original_size"][index])
    return boxes, sizes


def margin(boxes: dict, sizes: dict, truth: dict, draws: int) -> dict[str, float]:
    """Recall for box at IoM 0.3 of ``boxes`` and of random boxes of the same sizes (mean over draws)."""
    ids = sorted(image_id for image_id in boxes if image_id in truth)
    ground_truth = [truth[image_id] for image_id in ids]
    recall, _ = compute_iom_recall([boxes[image_id] for image_id in ids], ground_truth, 0.3)
    random_recalls = []
    for seed in range(draws):
        drawn = random_boxes_like({image_id: boxes[image_id] for image_id in ids}, sizes, seed)
        random_recalls.append(compute_iom_recall([drawn[image_id] for image_id in ids], ground_truth, 0.3)[0])
    random_recall = float(np.mean(random_recalls))
    return {"box_recall": float(recall), "random_box_recall": random_recall, "margin": float(recall) - random_recall}


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("--draws", type=int, default=100, help="random-box draws to average")
    arguments.add_argument("--out", type=Path, default=None, help="also write the table as JSON")
    args = arguments.parse_args()
    parser = ConfigParser()
    parser.read_config([str(CONFIGS / name) for name in ("train.json", "inference.json", "quick.json")])
    table = read_box_table(Path(parser.get_parsed_content("dataset_dir")) / "lesion_boxes.csv", "lesion boxes")
    lesions = {image_id: list(zip(table.labels[image_id], table.boxes[image_id])) for image_id in table.boxes}
    truth = {image_id: np.asarray(boxes) for image_id, boxes in table.boxes.items()}
    rows = {}
    print(f"{'oracle map':>28} {'recall':>7} {'random':>7} {'margin':>7}", flush=True)
    for ignored_kind in (None, *LESION_KINDS):
        name = "every lesion" if ignored_kind is None else f"blind to {ignored_kind}"
        boxes, sizes = oracle_boxes(parser, lesions, ignored_kind)
        rows[name] = margin(boxes, sizes, truth, args.draws)
        row = rows[name]
        print(f"{name:>28} {row['box_recall']:7.3f} {row['random_box_recall']:7.3f} {row['margin']:+7.3f}", flush=True)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rows, indent=2), encoding="utf-8")
        print(f"table written to {args.out}")


if __name__ == "__main__":
    main()
