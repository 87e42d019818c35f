"""The saliency_crop bundle's three models in the paper's form (its tables 2 and 3), over training seeds.

Models: the saliency-map pipeline (train.json, the paper's Listing 2), the plain residual network on whole images
(plain.json) and the sliding window (sliding_window.json, the paper's Listing 1). For each seed, in a bundle root
of its own: one quick training of the pipeline's four stages; then inference and evaluation of each model. The plain
network is the pipeline's first stage (plain.json trains that stage alone, with the same settings and seed), and
the sliding window runs the pipeline's crop network, so all three read the networks of one training. Columns:
accuracy of the healthy and the unhealthy class, ROC AUC of the unhealthy class, and, for the models with a crop, the
share of unhealthy test images whose crop holds a whole lesion against random crops of the same size. Extra
override configs go after ``quick.json`` with ``--config``; single ids with ``--arg ID=VALUE``. Each run needs an
``--out`` folder without an earlier run of the same seed.

``python bench/bench_saliency_crop_models.py [--seeds 0 1 2] [--config NAME ...] [--arg ID=VALUE ...]
[--out runs/saliency_crop_models]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

CONFIGS = Path("bundles/saliency_crop/configs")
MODELS: dict[str, tuple[list[str], str]] = {
    "saliency map": ([], "outputs"),
    "plain network": (["plain"], "outputs_plain"),
    "sliding window": (["sliding_window"], "outputs_sliding_window"),
}
"""Model -> its override configs (after the stage's config) and its output folder under the bundle root."""
PAPER = {
    "plain network": (91.1, 41.2, 0.71),
    "sliding window": (58.5, 56.6, 0.56),
    "saliency map": (69.5, 82.8, 0.77),
}
"""The paper's tables 2 and 3 (EyePACS): accuracy healthy and unhealthy in %, AUC."""


def config_list(stage: str | None, model_configs: list[str], extra: list[str]) -> str:
    """The ``--config_file`` argument: train.json, the stage's config, the model's, quick.json, then ``extra``."""
    names = ["train", *([stage] if stage else []), *model_configs, "quick", *extra]
    return repr([str(CONFIGS / f"{name}.json") for name in names])


def bundle_run(arguments: list[str], log_path: Path, what: str) -> None:
    """One ``python -m monai.bundle run`` appending to ``log_path``."""
    with open(log_path, "a", encoding="utf-8") as log:
        done = subprocess.run(
            [sys.executable, "-m", "monai.bundle", "run", *arguments], stdout=log, stderr=subprocess.STDOUT, check=False
        )
    if done.returncode != 0:
        raise RuntimeError(f"{what}: bundle run failed, see {log_path}")


def headline(metrics: dict[str, Any]) -> dict[str, Any]:
    """The table's figures from a ``metrics.json``."""
    share = metrics.get("crop_lesion_share")
    return {
        "healthy": metrics["per_class_accuracy"]["healthy"],
        "unhealthy": metrics["per_class_accuracy"]["unhealthy"],
        "auc": metrics["grades"]["auc_per_class"]["1"],
        "crop_share": None if share is None else share["share"],
        "random_share": None if share is None else share["random_share"],
        "num_unhealthy": None if share is None else share["num_images"],
        "num_images": metrics["grades"]["num_images"],
        "grade_confusion": metrics["grade_confusion"]["counts"],
    }


def run_seed(seed: int, extra: list[str], overrides: list[str], root: Path) -> list[dict[str, Any]]:
    """Train once with ``seed``, then infer and evaluate the three models; their figures and seconds."""
    bundle_root = root / f"seed{seed}"
    if bundle_root.exists():
        raise FileExistsError(f"{bundle_root} holds an earlier run: give another --out")
    log_path = root / f"seed{seed}.log"
    log_path.unlink(missing_ok=True)
    common = ["--bundle_root", str(bundle_root), "--seed", str(seed), *overrides]
    start = time.perf_counter()
    bundle_run(["training", "--config_file", config_list(None, [], extra), *common], log_path, f"seed {seed}: training")
    training_seconds = time.perf_counter() - start
    results = []
    for model, (model_configs, output_folder) in MODELS.items():
        start = time.perf_counter()
        for stage in ("inference", "evaluate"):
            arguments = ["--config_file", config_list(stage, model_configs, extra), *common]
            bundle_run(arguments, log_path, f"{model}, seed {seed}: {stage}")
        metrics = json.loads((bundle_root / output_folder / "metrics.json").read_text(encoding="utf-8"))
        results.append(
            {
                "model": model,
                "seed": seed,
                "training_seconds": training_seconds,
                "seconds": time.perf_counter() - start,
                **headline(metrics),
            }
        )
    return results


def _figure(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def table(results: list[dict[str, Any]]) -> list[str]:
    """The markdown table: one row per model and seed, then the mean over seeds of each model."""
    lines = [
        "| model | seed | accuracy healthy | accuracy unhealthy | AUC | crops holding a lesion | random crops |",
        "|---|---|---|---|---|---|---|",
    ]
    keys = ("healthy", "unhealthy", "auc", "crop_share", "random_share")
    for model in MODELS:
        rows = [r for r in results if r["model"] == model]
        for r in rows:
            lines.append(f"| {model} | {r['seed']} | " + " | ".join(_figure(r[key]) for key in keys) + " |")
        if len(rows) > 1:
            means = [
                None if any(r[key] is None for r in rows) else statistics.mean(r[key] for r in rows) for key in keys
            ]
            lines.append(f"| {model} | mean | " + " | ".join(_figure(value) for value in means) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--config", nargs="*", default=[], help="extra override configs of the bundle, by name")
    parser.add_argument("--arg", nargs="*", default=[], metavar="ID=VALUE", help="config ids to override")
    parser.add_argument("--out", type=Path, default=Path("runs/saliency_crop_models"))
    options = parser.parse_args()
    options.out.mkdir(parents=True, exist_ok=True)
    overrides = []
    for item in options.arg:
        key, sep, value = item.partition("=")
        if not sep or not key:
            parser.error(f"--arg {item!r} is not ID=VALUE")
        overrides += [f"--{key}", value]
    results = []
    for seed in options.seeds:
        results += run_seed(seed, options.config, overrides, options.out)
        (options.out / "saliency_crop_models.json").write_text(json.dumps(results, indent=2))
        print(f"seed {seed} done: training {results[-1]['training_seconds']:.0f} s", flush=True)
    lines = table(results)
    lines += ["", "The paper (EyePACS): accuracy healthy / unhealthy in %, AUC"]
    lines += [f"- {model}: {h} / {u}, {auc}" for model, (h, u, auc) in PAPER.items()]
    text = "\n".join(lines)
    print(text)
    (options.out / "saliency_crop_models.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
