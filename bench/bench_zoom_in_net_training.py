"""Training throughput and peak memory of Zoom-in-Net's joint phase at the paper's sizes.

Builds the network, loss, optimizer and batch preparation from the zoom_in_net bundle's ``train.json``
(paper settings: Inception-ResNet M-Net and C-Net at full width and depth, A-Net, paired eyes, 492 px
low-resolution and 1230 px high-resolution inputs, four 384 px crops per image) in training phase 3,
where all three networks train, and runs MONAI's ``SupervisedTrainer`` on random in-memory batches
(data loading and JPEG decoding are not part of the figure). Warm-up iterations run first and are not
timed. Every iteration takes an optimizer step (``accumulation_steps=1``; the bundle accumulates 12).

Prints images/s (the images of the batch, each with its fellow eye and high-resolution copy), seconds
per iteration and peak memory: on CPU the process's maximum resident set size (``resource.getrusage``,
network construction included), on CUDA ``torch.cuda.max_memory_allocated`` (and reserved) over the run.

Run by hand, not by CI::

    python bench/bench_zoom_in_net_training.py --out zoom_in_net_training_cpu.json
    python bench/bench_zoom_in_net_training.py --device cuda --amp --batch-size 2 --iterations 20 --warmup 3
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import time
from pathlib import Path

import ignite
import monai
import torch
from ignite.engine import Engine, Events
from monai.bundle import ConfigParser
from monai.engines import SupervisedTrainer

TRAIN_CONFIG = Path(__file__).resolve().parents[1] / "bundles" / "zoom_in_net" / "configs" / "train.json"
JOINT_PHASE = 3


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="cpu, cuda, cuda:1")
    parser.add_argument("--amp", action="store_true", help="automatic mixed precision (CUDA only)")
    parser.add_argument("--batch-size", type=int, default=1, help="images per iteration (each with its fellow eye)")
    parser.add_argument("--iterations", type=int, default=3, help="timed iterations")
    parser.add_argument("--warmup", type=int, default=1, help="untimed iterations before timing")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (CPU); default torch's")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="write the result as JSON here")
    args = parser.parse_args()
    for name in ("batch_size", "iterations"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.warmup < 0:
        parser.error("--warmup must be at least 0")
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be at least 1")
    if args.amp and torch.device(args.device).type != "cuda":
        parser.error(f"--amp needs a CUDA device, got --device {args.device}")
    if torch.device(args.device).type == "cuda" and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: CUDA is not available")
    return args


def bundle_parser(device: torch.device, amp: bool) -> ConfigParser:
    """train.json with the device, AMP and the joint training phase set."""
    parser = ConfigParser()
    parser.read_config(str(TRAIN_CONFIG))
    parser["device"] = f"$torch.device('{device}')"
    parser["amp"] = amp
    parser["network_def#phase"] = JOINT_PHASE
    parser["loss#phase"] = JOINT_PHASE
    return parser


def random_batch(parser: ConfigParser, batch_size: int, seed: int) -> dict[str, torch.Tensor]:
    """image and fellow (B, 3, low_res, low_res), image_high (B, 3, high_res, high_res) in [0, 1], label (B,)."""
    generator = torch.Generator().manual_seed(seed)
    low, high = parser.get_parsed_content("low_res"), parser.get_parsed_content("high_res")
    return {
        "image": torch.rand(batch_size, 3, low, low, generator=generator),
        "fellow": torch.rand(batch_size, 3, low, low, generator=generator),
        "image_high": torch.rand(batch_size, 3, high, high, generator=generator),
        "label": torch.randint(0, parser.get_parsed_content("num_classes"), (batch_size,), generator=generator),
    }


def iteration_end_times(engine: Engine, device: torch.device) -> list[float]:
    """Attach a recorder of ``time.perf_counter()`` at the start of the run and at the end of every iteration
    (after a CUDA synchronize, so that the time covers the queued kernels)."""
    times: list[float] = []

    def record(_: Engine) -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter())

    engine.add_event_handler(Events.STARTED, record)
    engine.add_event_handler(Events.ITERATION_COMPLETED, record)
    return times


def main() -> None:
    args = parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    parser = bundle_parser(device, args.amp)
    network = parser.get_parsed_content("network")
    batch = random_batch(parser, args.batch_size, args.seed)
    num_iterations = args.warmup + args.iterations
    trainer = SupervisedTrainer(
        device=device,
        max_epochs=1,
        train_data_loader=[batch] * num_iterations,
        epoch_length=num_iterations,
        network=network,
        optimizer=parser.get_parsed_content("optimizer"),
        loss_function=parser.get_parsed_content("loss"),
        prepare_batch=parser.get_parsed_content("prepare_batch"),
        amp=args.amp,
        decollate=False,
        optim_set_to_none=True,
    )
    times = iteration_end_times(trainer, device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    trainer.run()

    seconds_per_iteration = [end - start for start, end in zip(times[args.warmup : -1], times[args.warmup + 1 :])]
    timed_seconds = times[-1] - times[args.warmup]
    images_per_s = args.batch_size * args.iterations / timed_seconds
    memory = {"max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if device.type == "cuda":
        memory["cuda_max_allocated_mib"] = torch.cuda.max_memory_allocated(device) / 2**20
        memory["cuda_max_reserved_mib"] = torch.cuda.max_memory_reserved(device) / 2**20
    low, high = parser.get_parsed_content("low_res"), parser.get_parsed_content("high_res")
    parameters = sum(parameter.numel() for parameter in network.parameters())

    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"Zoom-in-Net phase {JOINT_PHASE}, {parameters / 1e6:.1f} M parameters, {low} px + {high} px, paired eyes")
    print(f"device {device} ({where}), amp {args.amp}, batch size {args.batch_size}")
    print(f"iterations: {', '.join(f'{s:.2f}' for s in seconds_per_iteration)} s (after {args.warmup} warm-up)")
    print(f"throughput: {images_per_s:.3f} images/s, median {statistics.median(seconds_per_iteration):.2f} s/iteration")
    print("peak memory: " + ", ".join(f"{name} {value:.0f}" for name, value in memory.items()))
    if args.out is not None:
        result = {
            "benchmark": "zoom_in_net_training",
            "phase": JOINT_PHASE,
            "config": str(TRAIN_CONFIG.relative_to(TRAIN_CONFIG.parents[3])),
            "low_res": low,
            "high_res": high,
            "paired_eyes": parser.get_parsed_content("paired_eyes"),
            "parameters": parameters,
            "device": str(device),
            "device_name": where,
            "amp": args.amp,
            "batch_size": args.batch_size,
            "warmup": args.warmup,
            "iterations": args.iterations,
            "seconds_per_iteration": seconds_per_iteration,
            "images_per_s": images_per_s,
            "peak_memory": memory,
            "versions": {"torch": torch.__version__, "monai": monai.__version__, "ignite": ignite.__version__},
            "machine": platform.platform(),
        }
        args.out.write_text(json.dumps(result, indent=2))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
