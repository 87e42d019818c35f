"""The multi-attention bundle's ablation table in the paper's form, over training seeds, with the quick settings.

Models: BSL (``ablation_bsl.json``: SE-free ResNet, no space attention, no hard examples), BSL+FAM
(``ablation_bsl_fam.json``: + feature attention), BSL+FAM+SAM (``ablation_bsl_fam_sam.json``: + space attention)
and MA (``train.json`` alone: + the hard-example stage). For each model and seed, in a bundle root of its own: quick
training, inference and evaluation (tasks labels, boxes, pointing). The ablation override goes after ``quick.json``
(whose ``backbone`` would otherwise replace it), then any ``--config`` extras.

The table: one row per label with each model's AUC (mean over the seeds, with the standard deviation when there are
several), the mean AUC row, the pooled pointing accuracy (``metrics.json``'s ``pointing.pooled``: hits over every
(image, label) pair with a box) beside its no-knowledge baselines, and the rare labels (the ``--rare`` labels with
the fewest positives in the training split) with and without the hard-example stage (BSL+FAM+SAM against MA).
Paper (ChestX-ray14 test set, mean AUC): BSL 0.7474, BSL+FAM 0.7636, BSL+FAM+SAM 0.7758, MA 0.7941.

``python bench/bench_multi_attention_ablation.py [--seeds 0 1 2] [--rare 4] [--config NAME ...]
[--out runs/multi_attention_ablation]``; it writes ``ablation.json`` and ``ablation.md`` to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

CONFIGS = Path("bundles/multi_attention/configs")
MODELS: dict[str, list[str]] = {
    "BSL": ["ablation_bsl"],
    "BSL+FAM": ["ablation_bsl_fam"],
    "BSL+FAM+SAM": ["ablation_bsl_fam_sam"],
    "MA": [],
}
WITHOUT_HARD_EXAMPLES, WITH_HARD_EXAMPLES = "BSL+FAM+SAM", "MA"
PAPER_MEAN_AUC = {"BSL": 0.7474, "BSL+FAM": 0.7636, "BSL+FAM+SAM": 0.7758, "MA": 0.7941}
BASELINES = ("image_centre", "most_frequent_lesion_position")


def config_list(stage: str | None, model_configs: list[str], extra: list[str]) -> list[str]:
    """train.json, the stage's config, quick.json, the model's ablation override, then ``extra``."""
    names = ["train", *([stage] if stage else []), "quick", *model_configs, *extra]
    return [str(CONFIGS / f"{name}.json") for name in names]


def bundle_root_of(root: Path, model: str, seed: int) -> Path:
    return root / f"{model.replace('+', '_')}_seed{seed}"


def number(value: Any) -> float:
    """A metric as a float; NaN for a missing or undefined one (``metrics.json`` may hold null or "NaN")."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def run_model(model: str, seed: int, extra: list[str], root: Path) -> dict[str, Any]:
    """Train, infer and evaluate one model with one seed; its figures and seconds."""
    bundle_root = bundle_root_of(root, model, seed)
    log_path = bundle_root.with_suffix(".log")
    common = ["--bundle_root", str(bundle_root), "--seed", str(seed)]
    start = time.perf_counter()
    for stage in (None, "inference", "evaluate"):
        files = config_list(stage, MODELS[model], extra)
        arguments = (["training"] if stage is None else []) + ["--config_file", repr(files)]
        with open(log_path, "a", encoding="utf-8") as log:
            done = subprocess.run(
                [sys.executable, "-m", "monai.bundle", "run", *arguments, *common],
                stdout=log,
                stderr=subprocess.STDOUT,
                check=False,
            )
        if done.returncode != 0:
            raise RuntimeError(f"{model}, seed {seed}: bundle run failed, see {log_path}")
    metrics = json.loads((bundle_root / "outputs" / "metrics.json").read_text(encoding="utf-8"))
    pooled = metrics["pointing"]["pooled"]
    return {
        "model": model,
        "seed": seed,
        "seconds": time.perf_counter() - start,
        "auc_per_label": {label: number(auc) for label, auc in metrics["labels"]["auc_per_label"].items()},
        "auc_mean": number(metrics["labels"]["auc_mean"]),
        "test_positives_per_label": metrics["labels"].get("positives_per_label"),
        "pointing_pairs": pooled.get("num_pairs"),
        "pointing_accuracy": number(pooled.get("pointing_accuracy")),
        "pointing_baselines": {
            name: number(pooled.get("baselines", {}).get(name, {}).get("pointing_accuracy")) for name in BASELINES
        },
    }


def training_positives(bundle_root: Path, extra: list[str]) -> dict[str, int]:
    """Positives per label in the bundle's training split (the same for every seed: the split has its own seed)."""
    import numpy as np
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(config_list(None, [], extra))
    parser["bundle_root"] = str(bundle_root)
    labels = np.stack([record["label"] for record in parser.get_parsed_content("train#records")])
    names = parser.get_parsed_content("class_names")
    return {name: int(count) for name, count in zip(names, labels.sum(axis=0))}


def summary(values: list[float]) -> dict[str, float]:
    """Mean and standard deviation over the seeds where the figure is defined (NaN when none is)."""
    defined = [value for value in values if not math.isnan(value)]
    return {
        "mean": statistics.fmean(defined) if defined else math.nan,
        "std": statistics.stdev(defined) if len(defined) > 1 else math.nan,
        "seeds": len(defined),
    }


def cell(figure: dict[str, float]) -> str:
    if math.isnan(figure["mean"]):
        return "n/a"
    return f"{figure['mean']:.3f}" + ("" if math.isnan(figure["std"]) else f" ± {figure['std']:.3f}")


def build_table(results: list[dict[str, Any]], positives: dict[str, int], rare: int) -> dict[str, Any]:
    """The table's figures: per label, mean, pooled pointing with baselines, rare labels; means over the seeds."""
    labels = list(results[0]["auc_per_label"])
    by_model = {model: [r for r in results if r["model"] == model] for model in MODELS}
    table: dict[str, Any] = {
        "seeds": sorted({r["seed"] for r in results}),
        "labels": {
            label: {model: summary([r["auc_per_label"][label] for r in runs]) for model, runs in by_model.items()}
            for label in labels
        },
        "mean_auc": {model: summary([r["auc_mean"] for r in runs]) for model, runs in by_model.items()},
        "paper_mean_auc": PAPER_MEAN_AUC,
        "pooled_pointing": {model: summary([r["pointing_accuracy"] for r in runs]) for model, runs in by_model.items()},
        "pointing_baselines": {
            name: {model: summary([r["pointing_baselines"][name] for r in runs]) for model, runs in by_model.items()}
            for name in BASELINES
        },
        "pointing_pairs": {model: runs[0]["pointing_pairs"] for model, runs in by_model.items()},
        "training_positives": positives,
    }
    # the rarest labels whose AUC the test split defines (positives and negatives) for both models
    defined = [
        label
        for label in labels
        if all(table["labels"][label][model]["seeds"] for model in (WITHOUT_HARD_EXAMPLES, WITH_HARD_EXAMPLES))
    ]
    rarest = sorted(defined, key=lambda label: (positives[label], label))[:rare]
    table["rare_labels_left_out"] = {
        label: positives[label]
        for label in sorted(set(labels) - set(defined), key=lambda label: (positives[label], label))
    }
    table["rare_labels"] = {
        label: {
            "training_positives": positives[label],
            "test_positives": results[0]["test_positives_per_label"].get(label)
            if results[0]["test_positives_per_label"]
            else None,
            "without_hard_examples": table["labels"][label][WITHOUT_HARD_EXAMPLES],
            "with_hard_examples": table["labels"][label][WITH_HARD_EXAMPLES],
        }
        for label in rarest
    }
    return table


def markdown(table: dict[str, Any]) -> str:
    models = list(MODELS)
    seeds = ", ".join(str(seed) for seed in table["seeds"])
    lines = [
        f"## Multi-attention ablation (quick settings, synthetic data unless --config says otherwise; seeds {seeds})",
        "",
        "AUC per label (mean ± standard deviation over the seeds):",
        "",
        "| label | " + " | ".join(models) + " |",
        "|---|" + "---|" * len(models),
    ]
    for label, figures in table["labels"].items():
        lines.append(f"| {label} | " + " | ".join(cell(figures[model]) for model in models) + " |")
    lines.append("| **mean AUC** | " + " | ".join(f"**{cell(table['mean_auc'][m])}**" for m in models) + " |")
    lines.append("| mean AUC, paper | " + " | ".join(f"{table['paper_mean_auc'][m]:.4f}" for m in models) + " |")
    lines.append("| pooled pointing | " + " | ".join(cell(table["pooled_pointing"][m]) for m in models) + " |")
    for name in BASELINES:
        figures = table["pointing_baselines"][name]
        lines.append(f"| pointing baseline: {name} | " + " | ".join(cell(figures[m]) for m in models) + " |")
    pairs = sorted({pairs for pairs in table["pointing_pairs"].values() if pairs is not None})
    lines += [
        "",
        f"Pooled pointing: hits over the {', '.join(map(str, pairs))} (image, label) pairs with a box in the test "
        "split.",
        "",
        f"Rare labels (fewest positives in the training split, of those whose test AUC is defined): AUC without "
        f"({WITHOUT_HARD_EXAMPLES}) and with ({WITH_HARD_EXAMPLES}) the hard-example stage:",
        "",
        f"| label | training positives | test positives | {WITHOUT_HARD_EXAMPLES} | {WITH_HARD_EXAMPLES} "
        "| difference |",
        "|---|---|---|---|---|---|",
    ]
    for label, row in table["rare_labels"].items():
        without, with_ = row["without_hard_examples"]["mean"], row["with_hard_examples"]["mean"]
        difference = "n/a" if math.isnan(without) or math.isnan(with_) else f"{with_ - without:+.3f}"
        test_positives = "n/a" if row["test_positives"] is None else str(row["test_positives"])
        lines.append(
            f"| {label} | {row['training_positives']} | {test_positives} | {cell(row['without_hard_examples'])} | "
            f"{cell(row['with_hard_examples'])} | {difference} |"
        )
    if table["rare_labels_left_out"]:
        left_out = ", ".join(f"{label} ({count})" for label, count in table["rare_labels_left_out"].items())
        lines += ["", f"Left out, AUC undefined on the test split (training positives): {left_out}."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--rare", type=int, default=4, help="how many of the rarest labels to compare")
    parser.add_argument("--config", nargs="*", default=[], help="extra override configs of the bundle, by name")
    parser.add_argument("--out", type=Path, default=Path("runs/multi_attention_ablation"))
    options = parser.parse_args()
    options.out.mkdir(parents=True, exist_ok=True)
    results = []
    for seed in options.seeds:
        for model in MODELS:
            result = run_model(model, seed, options.config, options.out)
            print(
                f"{model}, seed {seed}: mean AUC {result['auc_mean']:.3f}, pooled pointing "
                f"{result['pointing_accuracy']:.3f} ({result['seconds']:.0f} s)",
                flush=True,
            )
            results.append(result)
    positives = training_positives(bundle_root_of(options.out, "MA", options.seeds[0]), options.config)
    table = build_table(results, positives, options.rare)
    text = markdown(table)
    print(text)
    (options.out / "ablation.json").write_text(json.dumps({"runs": results, "table": table}, indent=2))
    (options.out / "ablation.md").write_text(text)


if __name__ == "__main__":
    main()
