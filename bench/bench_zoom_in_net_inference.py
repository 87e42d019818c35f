"""Inference speed of the quick Zoom-in-Net: the whole stage against the network's forward alone.

Builds the quick inference stage from the bundle's own configs (``train.json`` + ``inference.json`` +
``quick.json``) on the synthetic EyePACS test split, with a freshly initialised network saved as the
checkpoint (speed does not depend on the weights), and measures side by side in one run:

- **forward**: the network's forward alone over the same batches, already loaded and preprocessed in memory;
- **stage**: ``evaluator.run()`` of the inference config: data loading and preprocessing, forward, the
  localizer and the output writer (predictions, heatmaps PNG + NIfTI, boxes, overlays);
- **writing**: the seconds the stage spends inside the writer's handlers (per batch, and the end of the run
  with its tables), as a share of the stage.

The stage runs twice per repeat: with the image files written on the engine's thread
(``writer_threads=0``, writing on the compute path) and by one writer thread (``writer_threads=1``,
the default). Repeats alternate the measurements; the figures are the medians. Run on an otherwise idle machine:

``python bench/bench_zoom_in_net_inference.py [--repeats 3] [--images 32] [--threads 2] [--out FILE]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from ignite.engine import Events
from monai.bundle import ConfigParser

from monai_weakloc.engines.localization_outputs import LocalizationOutputWriter

MODES = ("compute_path", "background")
CONFIGS = [f"bundles/zoom_in_net/configs/{name}.json" for name in ("train", "inference", "quick")]


def build_stage(work_dir: Path, num_images: int, background: bool) -> ConfigParser:
    """The quick inference stage, its output in ``work_dir``, its checkpoint a fresh network."""
    parser = ConfigParser()
    parser.read_config(CONFIGS)
    parser["bundle_root"] = str(work_dir)
    parser["writer_threads"] = 1 if background else 0
    parser["device"] = "$torch.device('cpu')"
    parser["amp"] = False
    parser.parse()
    records = parser.get_parsed_content("infer_records")[:num_images]
    parser["infer_records"] = "$@bench_records"
    parser["bench_records"] = "$" + repr(records)
    parser.parse()
    network = parser.get_parsed_content("network_def")
    (work_dir / "models").mkdir(parents=True, exist_ok=True)
    torch.save(network.state_dict(), work_dir / "models" / "model.pt")
    parser.get_parsed_content("initialize")
    return parser


def writer_of(evaluator: Any) -> LocalizationOutputWriter:
    """The stage's output writer, found among the evaluator's handlers."""
    for handlers in evaluator._event_handlers.values():
        for handler, _, _ in handlers:
            owner = getattr(handler, "__self__", None)
            if isinstance(owner, LocalizationOutputWriter):
                return owner
    raise RuntimeError("the inference evaluator has no LocalizationOutputWriter")


def time_forward(network: torch.nn.Module, batches: list[dict], prepare_batch: Any) -> float:
    """Seconds of the network's forward over ``batches`` (eval mode, no gradients)."""
    network.eval()
    start = time.perf_counter()
    with torch.no_grad():
        for batch in batches:
            inputs, _, args, kwargs = prepare_batch(batch, torch.device("cpu"), False)
            network(inputs, *args, **kwargs)
    return time.perf_counter() - start


def time_stage(evaluator: Any, writer: LocalizationOutputWriter) -> tuple[float, float]:
    """Seconds of the whole stage, and of it the seconds inside the writer's handlers."""
    spent = {"writing": 0.0}

    def timed(method: Any) -> Any:
        def wrapper(engine: Any) -> None:
            start = time.perf_counter()
            method(engine)
            spent["writing"] += time.perf_counter() - start

        return wrapper

    evaluator.remove_event_handler(writer.write_batch, Events.ITERATION_COMPLETED)
    evaluator.remove_event_handler(writer.write_tables, Events.EPOCH_COMPLETED)
    batch_handler, table_handler = timed(writer.write_batch), timed(writer.write_tables)
    evaluator.add_event_handler(Events.ITERATION_COMPLETED, batch_handler)
    evaluator.add_event_handler(Events.EPOCH_COMPLETED, table_handler)
    start = time.perf_counter()
    evaluator.run()
    seconds = time.perf_counter() - start
    evaluator.remove_event_handler(batch_handler, Events.ITERATION_COMPLETED)
    evaluator.remove_event_handler(table_handler, Events.EPOCH_COMPLETED)
    evaluator.add_event_handler(Events.ITERATION_COMPLETED, writer.write_batch)
    evaluator.add_event_handler(Events.EPOCH_COMPLETED, writer.write_tables)
    return seconds, spent["writing"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=32, help="test images per pass")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="JSON file for the figures")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as work:
        stages = {mode: build_stage(Path(work) / mode, args.images, mode == "background") for mode in MODES}
        evaluators = {mode: stage.get_parsed_content("evaluator") for mode, stage in stages.items()}
        writers = {mode: writer_of(evaluator) for mode, evaluator in evaluators.items()}
        network = stages["background"].get_parsed_content("network_def")
        prepare_batch = stages["background"].get_parsed_content("prepare_batch")
        batches = list(stages["background"].get_parsed_content("dataloader"))
        images = sum(len(batch["id"]) for batch in batches)
        time_forward(network, batches[:1], prepare_batch)  # warm-up
        forward: list[float] = []
        whole: dict[str, list[float]] = {mode: [] for mode in MODES}
        writing: dict[str, list[float]] = {mode: [] for mode in MODES}
        for _ in range(args.repeats):
            forward.append(time_forward(network, batches, prepare_batch))
            for mode in MODES:
                seconds, written = time_stage(evaluators[mode], writers[mode])
                whole[mode].append(seconds)
                writing[mode].append(written)
    figures: dict[str, Any] = {
        "images": images,
        "repeats": args.repeats,
        "threads": args.threads,
        "forward_images_per_s": images / statistics.median(forward),
        "forward_seconds": forward,
    }
    for mode in MODES:
        figures[mode] = {
            "stage_images_per_s": images / statistics.median(whole[mode]),
            "stage_over_forward": statistics.median(forward) / statistics.median(whole[mode]),
            "writing_share_of_stage": statistics.median([w / t for w, t in zip(writing[mode], whole[mode])]),
            "stage_seconds": whole[mode],
            "writing_seconds": writing[mode],
        }
    figures["background_speed_up"] = statistics.median(whole["compute_path"]) / statistics.median(whole["background"])
    print(json.dumps(figures, indent=2))
    if args.out is not None:
        args.out.write_text(json.dumps(figures, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
