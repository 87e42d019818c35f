"""How much throughput MONAI's ``SupervisedTrainer`` costs against a bare PyTorch training loop.

Both loops train copies of the same network (same initial weights) with the same optimizer, loss and
in-memory batches for the same number of iterations; warm-up iterations are run first and not timed;
the repeats interleave bare and trainer runs (in alternating order) so that drifting machine load
hits both alike. Prints images/s for each (median and best over repeats), the ratio trainer / bare
(target >= 0.95) as the median of the per-repeat ratios (neighbouring runs see the same machine load,
so this holds up on a shared machine) and as the ratio of the best runs, and the trainer's extra
milliseconds per iteration.

Run by hand, not by CI::

    python bench/bench_trainer_overhead.py --out trainer_overhead.json
    python bench/bench_trainer_overhead.py --network tiny-densenet --iterations 100
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import ignite
import monai
import torch
from monai.engines import SupervisedTrainer
from monai.networks.nets import DenseNet, DenseNet121

NUM_CLASSES = 5
LEARNING_RATE = 1e-3
NETWORKS: dict[str, Callable[[], torch.nn.Module]] = {
    # about 0.27 s per iteration of 8 images of 64 px on 2 CPU cores
    "densenet121": lambda: DenseNet121(spatial_dims=2, in_channels=3, out_channels=NUM_CLASSES),
    # about 0.02 s per iteration: the trainer's per-iteration cost weighs about 13x more here
    "tiny-densenet": lambda: DenseNet(
        spatial_dims=2, in_channels=3, out_channels=NUM_CLASSES, init_features=16, growth_rate=8, block_config=(2, 4, 4)
    ),
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--network", choices=sorted(NETWORKS), default="densenet121")
    parser.add_argument("--iterations", type=int, default=10, help="timed iterations per repeat")
    parser.add_argument("--warmup", type=int, default=2, help="untimed iterations before timing, per loop")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--image-size", type=int, default=64, help="square images of this many pixels")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per loop")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--decollate", action="store_true", help="let the trainer decollate outputs (its default)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="write the result as JSON here")
    args = parser.parse_args()
    for name in ("iterations", "batch_size", "image_size", "repeats", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.warmup < 0:
        parser.error("--warmup must be at least 0")
    return args


def make_batches(iterations: int, batch_size: int, image_size: int, seed: int) -> list[dict[str, torch.Tensor]]:
    """``iterations`` in-memory batches: "image" (B, 3, S, S) float32, "label" (B,) int64 in [0, 5)."""
    generator = torch.Generator().manual_seed(seed)
    return [
        {
            "image": torch.rand(batch_size, 3, image_size, image_size, generator=generator),
            "label": torch.randint(0, NUM_CLASSES, (batch_size,), generator=generator),
        }
        for _ in range(iterations)
    ]


def bare_loop(
    network: torch.nn.Module, optimizer: torch.optim.Optimizer, batches: list[dict[str, torch.Tensor]]
) -> float:
    """Train one pass over ``batches`` with a plain PyTorch loop; return the seconds it took."""
    loss_function = torch.nn.CrossEntropyLoss()
    start = time.perf_counter()
    network.train()
    for batch in batches:
        optimizer.zero_grad(set_to_none=True)
        loss = loss_function(network(batch["image"]), batch["label"])
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def trainer_loop(
    network: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: list[dict[str, torch.Tensor]],
    decollate: bool,
) -> float:
    """Train one pass over ``batches`` with MONAI's ``SupervisedTrainer``; return the seconds ``run()`` took."""
    trainer = SupervisedTrainer(
        device=torch.device("cpu"),
        max_epochs=1,
        train_data_loader=batches,
        epoch_length=len(batches),
        network=network,
        optimizer=optimizer,
        loss_function=torch.nn.CrossEntropyLoss(),
        decollate=decollate,
        optim_set_to_none=True,
    )
    start = time.perf_counter()
    trainer.run()
    return time.perf_counter() - start


def time_repeats(
    loops: dict[str, Callable[[list[dict[str, torch.Tensor]]], float]],
    batches: list[dict[str, torch.Tensor]],
    repeats: int,
) -> dict[str, list[float]]:
    """Run every loop ``repeats`` times, reversing the loops' order every repeat so neither always goes first.

    Returns:
        the seconds of each run, per loop.
    """
    seconds: dict[str, list[float]] = {name: [] for name in loops}
    names = list(loops)
    for repeat in range(repeats):
        for name in names if repeat % 2 == 0 else reversed(names):
            seconds[name].append(loops[name](batches))
    return seconds


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    initial = NETWORKS[args.network]()
    networks = {"bare": copy.deepcopy(initial), "trainer": copy.deepcopy(initial)}
    optimizers = {name: torch.optim.Adam(net.parameters(), lr=LEARNING_RATE) for name, net in networks.items()}
    loops = {
        "bare": lambda batches: bare_loop(networks["bare"], optimizers["bare"], batches),
        "trainer": lambda batches: trainer_loop(networks["trainer"], optimizers["trainer"], batches, args.decollate),
    }
    batches = make_batches(args.iterations, args.batch_size, args.image_size, args.seed)
    if args.warmup > 0:
        time_repeats(loops, batches[: args.warmup], repeats=1)
    seconds = time_repeats(loops, batches, args.repeats)
    images = args.iterations * args.batch_size
    images_per_s = {name: [images / s for s in runs] for name, runs in seconds.items()}
    median = {name: statistics.median(values) for name, values in images_per_s.items()}
    best = {name: max(values) for name, values in images_per_s.items()}
    ratio_paired = statistics.median(t / b for t, b in zip(images_per_s["trainer"], images_per_s["bare"]))
    ratio_best = best["trainer"] / best["bare"]
    overhead_ms = 1000 * (min(seconds["trainer"]) - min(seconds["bare"])) / args.iterations
    for name in loops:
        runs = ", ".join(f"{v:.1f}" for v in images_per_s[name])
        print(f"{args.network} {name:>8}: median {median[name]:.1f}, best {best[name]:.1f} images/s ({runs})")
    print(
        f"ratio trainer / bare: {ratio_paired:.3f} (median of per-repeat ratios), "
        f"{ratio_best:.3f} (best-of); target >= 0.95"
    )
    print(f"trainer overhead: {overhead_ms:.2f} ms per iteration (best-of)")
    if args.out is not None:
        result = {
            "benchmark": "trainer_overhead",
            "network": args.network,
            "optimizer": f"Adam(lr={LEARNING_RATE})",
            "loss": "CrossEntropyLoss",
            "iterations": args.iterations,
            "warmup": args.warmup,
            "batch_size": args.batch_size,
            "image_size": args.image_size,
            "repeats": args.repeats,
            "threads": args.threads,
            "decollate": args.decollate,
            "images_per_s": images_per_s,
            "median_images_per_s": median,
            "best_images_per_s": best,
            "ratio_trainer_over_bare_best": ratio_best,
            "ratio_trainer_over_bare_paired_median": ratio_paired,
            "trainer_overhead_ms_per_iteration": overhead_ms,
            "versions": {"torch": torch.__version__, "monai": monai.__version__, "ignite": ignite.__version__},
            "machine": platform.platform(),
        }
        args.out.write_text(json.dumps(result, indent=2))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
