"""Benchmark of the lesion-level FROC: ``compute_heatmap_froc`` end to end against MONAI's per-image loop.

Builds random probability maps (smooth noise, one bright blob per lesion and a few false blobs) and masks
with about ten disc lesions each, then times

- ``weakloc_metrics.froc.compute_heatmap_froc`` from the maps and masks (detection, lesion labelling,
  counting, curve and score);
- the reference: a loop calling ``monai.metrics.froc.compute_fp_tp_probs`` per image on the same detections
  and lesions (prepared beforehand, outside the timing), then ``compute_froc_curve_data`` and
  ``compute_froc_score``;

and checks that both give the same score at the CAMELYON16 and the Retinopathy Online Challenge points.

Run: ``python bench/bench_froc.py [--num-images 50] [--size 1024] [--seed 0]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from monai.metrics.froc import compute_fp_tp_probs, compute_froc_curve_data, compute_froc_score
from scipy import ndimage
from weakloc_metrics.froc import FROC_PRESETS, compute_heatmap_froc, detect_heatmap_peaks, label_lesions

DETECTION_THRESHOLD = 0.5


def _add_blob(prob_map: np.ndarray, row: int, col: int, radius: float, peak: float) -> None:
    """Add a Gaussian blob in place, keeping the larger value."""
    size = prob_map.shape[0]
    reach = int(3 * radius)
    rows = slice(max(row - reach, 0), min(row + reach + 1, size))
    cols = slice(max(col - reach, 0), min(col + reach + 1, size))
    grid_r, grid_c = np.ogrid[rows, cols]
    blob = peak * np.exp(-((grid_r - row) ** 2 + (grid_c - col) ** 2) / (2 * radius**2))
    np.maximum(prob_map[rows, cols], blob.astype(np.float32), out=prob_map[rows, cols])


def make_case(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """One (size, size) float32 probability map and uint8 mask with about ten disc lesions."""
    noise = ndimage.gaussian_filter(rng.random((size // 4, size // 4), dtype=np.float32), sigma=2)
    noise = (noise - noise.min()) / (noise.max() - noise.min())
    prob_map = np.kron(0.55 * noise, np.ones((4, 4), dtype=np.float32))
    mask = np.zeros((size, size), dtype=np.uint8)
    for _ in range(rng.poisson(10)):
        row, col = rng.integers(0, size, size=2)
        radius = rng.uniform(4, 12)
        rows = slice(max(row - 12, 0), min(row + 13, size))
        cols = slice(max(col - 12, 0), min(col + 13, size))
        grid_r, grid_c = np.ogrid[rows, cols]
        mask[rows, cols] |= ((grid_r - row) ** 2 + (grid_c - col) ** 2 <= radius**2).astype(np.uint8)
        if rng.random() < 0.8:  # most lesions are seen, at a random confidence
            _add_blob(prob_map, int(row), int(col), radius / 2, rng.uniform(0.5, 1.0))
    for _ in range(rng.poisson(5)):  # false blobs
        row, col = rng.integers(0, size, size=2)
        _add_blob(prob_map, int(row), int(col), rng.uniform(2, 6), rng.uniform(0.5, 0.9))
    return prob_map, mask


def monai_loop(
    detections: list[tuple[np.ndarray, np.ndarray]], lesions: list[np.ndarray], eval_thresholds: tuple[float, ...]
) -> float:
    """FROC score with MONAI's functions called per image on prepared detections and labelled lesions."""
    fp_probs, tp_probs, num_targets = [], [], 0
    for (probs, coords), labels in zip(detections, lesions):
        fp, tp, num = compute_fp_tp_probs(probs, coords[:, 0], coords[:, 1], labels)
        fp_probs.extend(fp)
        tp_probs.extend(tp)
        num_targets += num
    fps, sensitivity = compute_froc_curve_data(np.array(fp_probs), np.array(tp_probs), num_targets, len(lesions))
    return float(compute_froc_score(fps, sensitivity, eval_thresholds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-images", type=int, default=50)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    cases = [make_case(rng, args.size) for _ in range(args.num_images)]
    maps = [prob_map for prob_map, _ in cases]
    masks = [mask for _, mask in cases]

    start = time.perf_counter()
    detections = [detect_heatmap_peaks(prob_map, DETECTION_THRESHOLD) for prob_map in maps]
    lesions = [label_lesions(mask)[0] for mask in masks]
    prepare_s = time.perf_counter() - start
    num_detections = sum(len(probs) for probs, _ in detections)
    num_lesions = sum(int(labels.max()) for labels in lesions)
    print(
        f"{args.num_images} maps of {args.size} x {args.size}: {num_lesions} lesions, {num_detections} detections "
        f"(threshold {DETECTION_THRESHOLD}); preparing detections and lesions for the loop: {prepare_s:.3f} s"
    )
    for preset, eval_thresholds in FROC_PRESETS.items():
        start = time.perf_counter()
        ours = compute_heatmap_froc(maps, masks, DETECTION_THRESHOLD, eval_thresholds=preset).score
        ours_s = time.perf_counter() - start
        start = time.perf_counter()
        reference = monai_loop(detections, lesions, eval_thresholds)
        reference_s = time.perf_counter() - start
        verdict = "equal" if ours == reference else f"DIFFERENT by {abs(ours - reference):.3g}"
        print(
            f"{preset:>10}: compute_heatmap_froc end to end {ours_s:.3f} s, score {ours:.6f} | "
            f"MONAI loop on prepared detections {reference_s:.3f} s, score {reference:.6f} | {verdict}"
        )
        if ours != reference:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
