"""The microaneurysm bundle's quick ablation table over training seeds.

For each seed, in a bundle root of its own: the quick training of the three stages (``train.json`` +
``quick.json``), the PRN trained with cross-entropy only (``cls.json``), inference with every map of the paper's
ablation (``inference.json`` + ``ablation.json``) and the evaluation (``evaluate.json`` + ``ablation.json``).
The synthetic dataset is the same for every seed; only the training seed changes. Prints one table per seed
and the mean over seeds, and writes them as JSON.

``python bench/bench_ma_segmentation_seeds.py [--seeds 0 1 2] [--out runs/ma_segmentation_seeds]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

CONFIGS = Path("bundles/ma_segmentation/configs")
COLUMNS = ("average_precision", "auc_pr", "f1", "precision", "recall", "froc_score")


def config_list(*names: str) -> str:
    """The ``--config_file`` argument: the bundle's configs ``names``, in that order."""
    return repr([str(CONFIGS / f"{name}.json") for name in names])


def run_bundle(arguments: list[str], log_path: Path) -> None:
    """Run ``python -m monai.bundle run ...``; raise naming the log when it fails."""
    with open(log_path, "a", encoding="utf-8") as log:
        completed = subprocess.run(
            [sys.executable, "-m", "monai.bundle", "run", *arguments], stdout=log, stderr=subprocess.STDOUT, check=False
        )
    if completed.returncode != 0:
        raise RuntimeError(f"bundle run failed: see {log_path}")


def run_seed(seed: int, root: Path) -> dict[str, Any]:
    """Train, infer and evaluate one seed; its ablation rows and the seconds taken."""
    bundle_root = root / f"seed{seed}"
    log_path = root / f"seed{seed}.log"
    common = ["--bundle_root", str(bundle_root), "--seed", str(seed)]
    start = time.perf_counter()
    run_bundle(["training", "--config_file", config_list("train", "quick"), *common], log_path)
    run_bundle(["training", "--config_file", config_list("train", "quick", "cls"), *common], log_path)
    run_bundle(["--config_file", config_list("train", "inference", "quick", "ablation"), *common], log_path)
    run_bundle(["--config_file", config_list("train", "evaluate", "quick", "ablation"), *common], log_path)
    seconds = time.perf_counter() - start
    metrics = json.loads((bundle_root / "outputs" / "metrics.json").read_text(encoding="utf-8"))
    return {"seed": seed, "seconds": seconds, "rows": metrics["masks"]["ablation"]}


def print_table(title: str, rows: dict[str, dict[str, float]]) -> None:
    print(f"\n{title}\n| map | " + " | ".join(COLUMNS) + " |")
    for name, values in rows.items():
        print(f"| {name} | " + " | ".join(f"{values[column]:.4f}" for column in COLUMNS) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=Path("runs/ma_segmentation_seeds"))
    options = parser.parse_args()
    options.out.mkdir(parents=True, exist_ok=True)
    results = [run_seed(seed, options.out) for seed in options.seeds]
    for result in results:
        print_table(f"seed {result['seed']} ({result['seconds']:.0f} s)", result["rows"])
    names = list(results[0]["rows"])
    mean = {
        name: {column: sum(r["rows"][name][column] for r in results) / len(results) for column in COLUMNS}
        for name in names
    }
    print_table(f"mean over seeds {options.seeds}", mean)
    (options.out / "ma_segmentation_seeds.json").write_text(json.dumps({"seeds": results, "mean": mean}, indent=2))


if __name__ == "__main__":
    main()
