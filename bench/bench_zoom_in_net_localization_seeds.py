"""How much the quick Zoom-in-Net localization margin depends on the training seed.

Runs the README's quick job (``weakloc bundle run zoom_in_net --quick``: train, infer, evaluate on the
synthetic EyePACS data) once per seed and per region-map kind, each in its own bundle root, and prints per run
the test kappa, the recall for box at IoM 0.3 with N = 4 regions, the random-box baseline (mean of its
draws) and the margin between them, then the mean and range of the margin per kind. The table goes to
``<out>/localization_seeds.json`` as well. One run takes 2-4 minutes on 2 CPU cores.

Run: ``python bench/bench_zoom_in_net_localization_seeds.py [--seeds 0 1 2]
[--region-map-kinds gated_sum score_contrast] [--out runs/localization_seeds]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from weakloc_networks.zoom_in_net import REGION_MAP_KINDS


def run_quick_job(bundle_root: Path, seed: int, region_map_kind: str) -> dict[str, Any]:
    """Train, infer and evaluate with quick.json; the figures of ``metrics.json`` and the wall time.

    Raises:
        RuntimeError: naming the log file, when the job fails.
    """
    bundle_root.mkdir(parents=True, exist_ok=True)
    log_path = bundle_root / "log.txt"
    command = [
        sys.executable, "-m", "monai_weakloc.cli", "bundle", "run", "zoom_in_net", "--quick",
        "--bundle-root", str(bundle_root), "--arg", f"seed={seed}", "--arg", f"region_map_kind={region_map_kind}",
    ]
    start = time.perf_counter()
    with open(log_path, "w", encoding="utf-8") as log:
        completed = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=False)
    seconds = time.perf_counter() - start
    if completed.returncode != 0:
        raise RuntimeError(f"quick job for seed {seed}, {region_map_kind} failed: see {log_path}")
    metrics = json.loads((bundle_root / "outputs" / "metrics.json").read_text(encoding="utf-8"))
    localization = metrics["boxes"]
    baseline = localization["random_baseline"]
    return {
        "seed": seed,
        "region_map_kind": region_map_kind,
        "kappa": metrics["grades"]["quadratic_weighted_kappa"],
        "box_recall": localization["box_recall"],
        "random_box_recall": baseline["box_recall"],
        "random_draws": baseline["draws"],
        "margin": localization["box_recall"] - baseline["box_recall"],
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--region-map-kinds", nargs="+", choices=REGION_MAP_KINDS, default=["gated_sum"])
    parser.add_argument("--out", type=Path, default=Path("runs/localization_seeds"))
    args = parser.parse_args()
    runs = []
    print(f"{'kind':>15} {'seed':>4} {'kappa':>6} {'recall':>7} {'random':>7} {'margin':>7} {'seconds':>8}", flush=True)
    for kind in args.region_map_kinds:
        for seed in args.seeds:
            run = run_quick_job(args.out / f"{kind}_seed{seed}", seed, kind)
            runs.append(run)
            print(
                f"{kind:>15} {seed:>4} {run['kappa']:6.3f} {run['box_recall']:7.3f} {run['random_box_recall']:7.3f} "
                f"{run['margin']:+7.3f} {run['seconds']:8.0f}",
                flush=True,
            )
    summary = {}
    for kind in args.region_map_kinds:
        margins = [run["margin"] for run in runs if run["region_map_kind"] == kind]
        mean_margin = sum(margins) / len(margins)
        summary[kind] = {"mean_margin": mean_margin, "min_margin": min(margins), "max_margin": max(margins)}
        print(f"{kind}: margin mean {mean_margin:+.3f}, from {min(margins):+.3f} to {max(margins):+.3f}")
    args.out.mkdir(parents=True, exist_ok=True)
    table = args.out / "localization_seeds.json"
    table.write_text(json.dumps({"runs": runs, "summary": summary}, indent=2), encoding="utf-8")
    print(f"table written to {table}")


if __name__ == "__main__":
    main()
