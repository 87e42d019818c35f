"""The self-transfer bundle's table in the paper's form, over training seeds, with the quick settings.

Rows: MaxPool and AvePool (the localizer alone, ``localizer_only.json``), STL+MaxPool and STL+AvePool. For each
row and seed, in a bundle root of its own: quick training, inference and evaluation (tasks grades, boxes,
pointing). Columns: AUC, localization AP, pointing accuracy, and the pointing baselines (image centre, most
frequent lesion position). Extra override configs (a dataset's, e.g. ``mammography.json``) go after
``quick.json`` with ``--config``.

``python bench/bench_self_transfer_table.py [--seeds 0 1 2] [--config NAME ...] [--out runs/self_transfer_table]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

CONFIGS = Path("bundles/self_transfer/configs")
ROWS: dict[str, tuple[str, list[str]]] = {
    "MaxPool": ("max", ["localizer_only"]),
    "AvePool": ("avg", ["localizer_only"]),
    "STL+MaxPool": ("max", []),
    "STL+AvePool": ("avg", []),
}


def config_list(stage: str | None, extra: list[str]) -> str:
    """The ``--config_file`` argument: train.json, the stage's config, quick.json, then ``extra``."""
    names = ["train", *([stage] if stage else []), "quick", *extra]
    return repr([str(CONFIGS / f"{name}.json") for name in names])


def run_row(row: str, seed: int, extra: list[str], root: Path) -> dict[str, Any]:
    """Train, infer and evaluate one row with one seed; its headline figures and seconds."""
    pooling, row_configs = ROWS[row]
    bundle_root = root / f"{row.replace('+', '_')}_seed{seed}"
    log_path = bundle_root.with_suffix(".log")
    common = ["--bundle_root", str(bundle_root), "--seed", str(seed), "--pooling", pooling]
    start = time.perf_counter()
    for stage in (None, "inference", "evaluate"):
        arguments = (["training"] if stage is None else []) + ["--config_file", config_list(stage, row_configs + extra)]
        with open(log_path, "a", encoding="utf-8") as log:
            done = subprocess.run(
                [sys.executable, "-m", "monai.bundle", "run", *arguments, *common],
                stdout=log,
                stderr=subprocess.STDOUT,
                check=False,
            )
        if done.returncode != 0:
            raise RuntimeError(f"{row}, seed {seed}: bundle run failed, see {log_path}")
    metrics = json.loads((bundle_root / "outputs" / "metrics.json").read_text(encoding="utf-8"))
    pointing = metrics["pointing"]
    return {
        "row": row,
        "seed": seed,
        "seconds": time.perf_counter() - start,
        "auc": metrics["grades"]["auc_mean"] if "grades" in metrics else metrics["labels"]["auc_mean"],
        "localization_ap": pointing.get("localization_ap", pointing.get("mean_localization_ap")),
        "pointing_accuracy": pointing.get("pointing_accuracy", pointing.get("mean_pointing_accuracy")),
        "image_centre": pointing.get("baselines", {}).get("image_centre", {}).get("pointing_accuracy"),
        "most_frequent_position": pointing.get("baselines", {})
        .get("most_frequent_lesion_position", {})
        .get("pointing_accuracy"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--config", nargs="*", default=[], help="extra override configs of the bundle, by name")
    parser.add_argument("--out", type=Path, default=Path("runs/self_transfer_table"))
    options = parser.parse_args()
    options.out.mkdir(parents=True, exist_ok=True)
    results = [run_row(row, seed, options.config, options.out) for row in ROWS for seed in options.seeds]
    print("| row | seed | AUC | localization AP | pointing | image centre | most frequent position |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        figures = [
            r[key] for key in ("auc", "localization_ap", "pointing_accuracy", "image_centre", "most_frequent_position")
        ]
        print(f"| {r['row']} | {r['seed']} | " + " | ".join("n/a" if v is None else f"{v:.3f}" for v in figures) + " |")
    (options.out / "self_transfer_table.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
