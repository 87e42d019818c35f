"""Whole-image inference speed and peak memory of the microaneurysm method's HGNs with MONAI's sliding windows.

The HGN is FRRN-A (registry ``frrn``, 17.7 M parameters at the paper's widths and depths). The pipeline
(``MASegmentationPipeline``) runs HGN 1x over the whole image and HGN 0.5x over the image downsampled by 2 (area,
the half map upsampled bilinearly back), each with MONAI's ``SlidingWindowInferer`` (roi = the HGN patch size,
``sw_batch_size`` and ``overlap`` from the bundle, Gaussian blending). This script builds the pipeline as the
bundle does, from ``train.json`` + ``inference.json`` (``pipeline_def``, whose HGNs are ``network_def`` and
``network_05x_def``) without the PRN, and times on a random 3 x 2848 x 4288 image (IDRiD's size), in eval mode
without gradients (as MONAI's evaluator runs it):

- ``hgn_1x``: ``softmax(inferer(image, HGN 1x))`` over the full image;
- ``hgn_05x``: area downsampling by 2, ``softmax(inferer(half image, HGN 0.5x))``, bilinear upsampling back;
- ``both``: the pipeline's forward without the PRN (both maps and their fusion).

Estimated by default: FRRN-A on a whole image takes tens of minutes on a few CPU cores, so each network runs only
its first ``--windows`` windows (rounded up to whole ``sw_batch_size`` batches); the sliding-window inferer still
visits every window of the image, the others answered by zeros of the network's output shape, so the inferer's
own work (window cutting, Gaussian weighting, aggregation into the full-size map, normalisation) is measured
whole. Seconds per image = measured seconds - seconds in the network + (seconds in the network / windows run) x
windows of the image. ``--whole`` runs the network on every window (no estimate).

Peak memory: on CPU the process's maximum RSS (``resource.getrusage``; cumulative over the process, so the modes
run in the order 0.5x, 1x, both and each figure is the peak up to the end of that mode); on CUDA
``torch.cuda.max_memory_allocated`` (and reserved) per mode.

Run by hand, not by CI::

    python bench/bench_ma_hgn_sliding_window.py --windows 32 --out ma_hgn_sliding_window_cpu.json
    python bench/bench_ma_hgn_sliding_window.py --device cuda --amp --whole --repeats 3
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import monai
import torch
import torch.nn.functional as F
from monai.bundle import ConfigParser
from monai.networks import eval_mode
from torch import nn

BUNDLE_CONFIGS = Path(__file__).resolve().parents[1] / "bundles" / "ma_segmentation" / "configs"
CONFIG_FILES = [BUNDLE_CONFIGS / "train.json", BUNDLE_CONFIGS / "inference.json"]
IMAGE_HEIGHT, IMAGE_WIDTH = 2848, 4288
MODES = ("hgn_05x", "hgn_1x", "both")


class WindowBudget(nn.Module):
    """Runs ``network`` on the first ``budget`` windows of a run (whole batches) and answers the rest with zeros of
    the output's shape and dtype; counts the windows and the seconds spent in ``network``.

    Args:
        network: (N, C, h, w) -> (N, K, h, w).
        budget: windows to run through ``network`` per run; ``None``: every window.
        device: the device to synchronize before reading the clock (CUDA).
    """

    def __init__(self, network: nn.Module, budget: int | None, device: torch.device) -> None:
        super().__init__()
        self.network = network
        self.budget = budget
        self.device = device
        self.output_template: torch.Tensor | None = None
        self.reset()

    def reset(self) -> None:
        self.windows = 0
        self.windows_run = 0
        self.network_seconds = 0.0

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        first = self.windows
        self.windows += windows.shape[0]
        if self.budget is not None and first >= self.budget and self.output_template is not None:
            template = self.output_template
            return template.new_zeros((windows.shape[0], template.shape[1], *windows.shape[2:]))
        self._sync()
        start = time.perf_counter()
        output = self.network(windows)
        self._sync()
        self.network_seconds += time.perf_counter() - start
        self.windows_run += windows.shape[0]
        self.output_template = output[:1].detach()
        return output


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="cpu, cuda, cuda:1")
    parser.add_argument("--amp", action="store_true", help="automatic mixed precision (CUDA only)")
    parser.add_argument("--roi", type=int, default=None, help="window side; default the bundle's hgn#patch_size")
    parser.add_argument("--sw-batch-size", type=int, default=None, help="default the bundle's hgn#sw_batch_size")
    parser.add_argument("--windows", type=int, default=64, help="windows run through each network per image")
    parser.add_argument("--whole", action="store_true", help="run the network on every window (no estimate)")
    parser.add_argument("--repeats", type=int, default=1, help="timed runs per mode")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (CPU); default torch's")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="write the result as JSON here")
    args = parser.parse_args()
    for name in ("windows", "repeats", "threads", "roi", "sw_batch_size"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.amp and torch.device(args.device).type != "cuda":
        parser.error(f"--amp needs a CUDA device, got --device {args.device}")
    if torch.device(args.device).type == "cuda" and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: CUDA is not available")
    args.modes = [mode for mode in MODES if mode in args.modes]  # the RSS figures need this order
    return args


def bundle_pipeline(roi: int | None, sw_batch_size: int | None) -> tuple[ConfigParser, nn.Module]:
    """The bundle's ``pipeline_def`` (train.json + inference.json) without the PRN, with the overrides set."""
    parser = ConfigParser()
    parser.read_config([str(path) for path in CONFIG_FILES])
    parser["pipeline_def#prn"] = None
    if roi is not None:
        parser["hgn#patch_size"] = roi
    if sw_batch_size is not None:
        parser["hgn#sw_batch_size"] = sw_batch_size
    return parser, parser.get_parsed_content("pipeline_def")


def mode_runner(pipeline: nn.Module, mode: str) -> Callable[[torch.Tensor], object]:
    """What one mode computes on a (1, 3, H, W) image, as ``MASegmentationPipeline`` computes it."""
    inferer = pipeline.inferer

    def hgn_1x(image: torch.Tensor) -> torch.Tensor:
        return torch.softmax(inferer(image, pipeline.hgn_full), dim=1)[:, 1:2]

    def hgn_05x(image: torch.Tensor) -> torch.Tensor:
        half = torch.softmax(inferer(F.interpolate(image, scale_factor=0.5, mode="area"), pipeline.hgn_half), dim=1)
        return F.interpolate(half[:, 1:2], size=image.shape[-2:], mode="bilinear", align_corners=False)

    return {"hgn_1x": hgn_1x, "hgn_05x": hgn_05x, "both": pipeline}[mode]


def max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    args = parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    parser, pipeline = bundle_pipeline(args.roi, args.sw_batch_size)
    roi = parser.get_parsed_content("hgn#patch_size")
    sw_batch_size = parser.get_parsed_content("hgn#sw_batch_size")
    overlap = parser.get_parsed_content("hgn#overlap")
    budget = None if args.whole else -(-args.windows // sw_batch_size) * sw_batch_size
    pipeline.hgn_full = WindowBudget(pipeline.hgn_full, budget, device)
    pipeline.hgn_half = WindowBudget(pipeline.hgn_half, budget, device)
    pipeline = pipeline.to(device)
    networks = {"hgn_1x": [pipeline.hgn_full], "hgn_05x": [pipeline.hgn_half]}
    networks["both"] = networks["hgn_1x"] + networks["hgn_05x"]
    parameters = sum(parameter.numel() for parameter in pipeline.hgn_full.network.parameters())
    image = torch.rand(1, 3, IMAGE_HEIGHT, IMAGE_WIDTH, generator=torch.Generator().manual_seed(args.seed)).to(device)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(
        f"FRRN HGN ({parameters / 1e6:.1f} M parameters) x 2 scales, image 3 x {IMAGE_HEIGHT} x {IMAGE_WIDTH}, "
        f"roi {roi}, sw_batch_size {sw_batch_size}, overlap {overlap}, mode {pipeline.inferer.mode}"
    )
    print(f"device {device} ({where}), amp {args.amp}, "
          + ("every window run" if budget is None else f"{budget} windows per network run, the rest estimated"))
    with eval_mode(pipeline), torch.autocast(device.type, enabled=args.amp):
        warmup = torch.rand(sw_batch_size, 3, roi, roi, device=device)
        for network in networks["both"]:  # first-call costs (allocator, kernels) left out of the timing
            network.network(warmup)
        results = {}
        for mode in args.modes:
            run = mode_runner(pipeline, mode)
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            repeats = []
            for _ in range(args.repeats):
                for network in networks[mode]:
                    network.reset()
                sync()
                start = time.perf_counter()
                run(image)
                sync()
                seconds = time.perf_counter() - start
                in_networks = sum(network.network_seconds for network in networks[mode])
                estimate = seconds - in_networks + sum(
                    network.network_seconds / network.windows_run * network.windows for network in networks[mode]
                )
                repeats.append(
                    {
                        "measured_seconds": seconds,
                        "network_seconds": in_networks,
                        "windows": [network.windows for network in networks[mode]],
                        "windows_run": [network.windows_run for network in networks[mode]],
                        "seconds_per_window": [
                            network.network_seconds / network.windows_run for network in networks[mode]
                        ],
                        "seconds_per_image": estimate,
                    }
                )
            memory = {"max_rss_mib": max_rss_mib()}
            if device.type == "cuda":
                memory["cuda_max_allocated_mib"] = torch.cuda.max_memory_allocated(device) / 2**20
                memory["cuda_max_reserved_mib"] = torch.cuda.max_memory_reserved(device) / 2**20
            per_image = [repeat["seconds_per_image"] for repeat in repeats]
            median = statistics.median(per_image)
            results[mode] = {
                "repeats": repeats,
                "seconds_per_image_median": median,
                "seconds_per_image_best": min(per_image),
                "images_per_s_median": 1 / median,
                "peak_memory": memory,
            }
            last = repeats[-1]
            own = last["measured_seconds"] - last["network_seconds"]
            print(
                f"{mode}: windows {'+'.join(map(str, last['windows']))} "
                f"(run {'+'.join(map(str, last['windows_run']))}), "
                f"{'/'.join(f'{s:.3f}' for s in last['seconds_per_window'])} s per window, "
                f"outside the network {own:.2f} s; "
                f"{'measured' if budget is None else 'estimated'} {median:.1f} s per image "
                f"({1 / median:.5f} images/s; best {min(per_image):.1f} s), "
                "peak " + ", ".join(f"{name} {value:.0f}" for name, value in memory.items())
            )
    if args.out is not None:
        result = {
            "benchmark": "ma_hgn_sliding_window",
            "configs": [str(path.relative_to(BUNDLE_CONFIGS.parents[2])) for path in CONFIG_FILES],
            "image_size": [IMAGE_HEIGHT, IMAGE_WIDTH],
            "parameters_per_network": parameters,
            "roi": roi,
            "sw_batch_size": sw_batch_size,
            "overlap": overlap,
            "blend_mode": str(pipeline.inferer.mode),
            "windows_budget": budget,
            "estimated": budget is not None,
            "device": str(device),
            "device_name": where,
            "amp": args.amp,
            "repeats": args.repeats,
            "results": results,
            "versions": {"torch": torch.__version__, "monai": monai.__version__},
            "machine": platform.platform(),
        }
        args.out.write_text(json.dumps(result, indent=2))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
