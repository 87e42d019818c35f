"""Candidate-only patch refinement (``refine_candidates``) against a bare forward and against dense classification.

The microaneurysm method's patch refinement network (PRN) classifies a patch centred on each pixel that the
first stage proposes. This script measures, on random data and a small PRN (``--network patch_refinement``: the
bundle's PRN from the registry, MONAI ``ResNet`` with bottleneck blocks, at small widths and depths; or
``--network resnet``: a MONAI ``ResNet`` stand-in with a stride-2 stem), both returning ``{"logits",
"embedding"}``:

1. seconds per candidate of ``refine_candidates`` on a whole 4288 x 2848 image (finding the candidates, padding
   the image, gathering the patches, the forward, the softmax, the scatter) against a bare batched forward over
   the same patches extracted beforehand (target: at most 1.3 times the bare forward);
2. seconds per image at candidate fractions of the field of view (a disc), and the ratio to dense per-pixel
   patch classification over the whole field of view, estimated from the bare forward's seconds per patch on
   ``--dense-sample`` patches times the field-of-view pixels (a lower bound of the dense cost: it leaves out
   the gathering), target at least 50 times at 1 %.

    python bench/bench_ma_candidate_refinement.py --out ma_candidate_refinement.json
    python bench/bench_ma_candidate_refinement.py --network resnet --patch-size 65
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from monai.networks.nets import ResNet
from torch import nn

from monai_weakloc import registry
from monai_weakloc.localize.candidate_refinement import refine_candidates

IMAGE_HEIGHT, IMAGE_WIDTH = 2848, 4288
THRESHOLD = 0.5
EXTRACT_CHUNK = 4096


class ResNetStandIn(nn.Module):
    """A PRN stand-in: MONAI ``ResNet`` features (bottleneck blocks, stride-2 stem), a linear head, a dict output."""

    def __init__(self, layers: list[int], widths: list[int]) -> None:
        super().__init__()
        self.features = ResNet(
            block="bottleneck", layers=layers, block_inplanes=widths, spatial_dims=2, n_input_channels=3,
            conv1_t_size=7, conv1_t_stride=2, feed_forward=False,
        )
        self.head = nn.Linear(widths[-1] * 4, 2)  # the bottleneck block expands its width 4 times

    def forward(self, patches: torch.Tensor) -> dict[str, torch.Tensor]:
        embedding = self.features(patches)
        return {"logits": self.head(embedding), "embedding": embedding}


def build_network(name: str, layers: list[int], widths: list[int]) -> nn.Module:
    """The bundle's PRN from the registry (``patch_refinement``) or the ``resnet`` stand-in, in eval mode."""
    if name == "patch_refinement":
        network = registry.create("network", "patch_refinement", layers=tuple(layers), block_inplanes=tuple(widths))
    else:
        network = ResNetStandIn(layers, widths)
    return network.eval()


def disc_field_of_view(height: int, width: int) -> torch.Tensor:
    """(H, W) bool disc centred in the image, radius 1.03 H / 2: cut at the top and bottom, as IDRiD's retina."""
    rows = torch.arange(height, dtype=torch.float32)[:, None] - (height - 1) / 2
    cols = torch.arange(width, dtype=torch.float32)[None, :] - (width - 1) / 2
    return rows**2 + cols**2 <= (1.03 * height / 2) ** 2


def candidate_map(field_of_view: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    """A map below ``THRESHOLD`` everywhere except ``count`` random field-of-view pixels (and a few outside)."""
    probability_map = torch.rand(field_of_view.shape, generator=generator) * THRESHOLD
    inside = field_of_view.flatten().nonzero()[:, 0]
    chosen = inside[torch.randperm(inside.numel(), generator=generator)[:count]]
    probability_map.view(-1)[chosen] = 0.9
    outside = (~field_of_view).flatten().nonzero()[:, 0]
    probability_map.view(-1)[outside[:: max(1, outside.numel() // 100)]] = 0.9  # excluded by the field of view
    return probability_map


def bare_forward_seconds(network: nn.Module, image: torch.Tensor, probability_map: torch.Tensor,
                         field_of_view: torch.Tensor, arguments: argparse.Namespace) -> tuple[float, int]:
    """Seconds of the batched forward and softmax alone over the candidates' patches, and their number.

    The patches are cut one by one from the zero-padded image beforehand, ``EXTRACT_CHUNK`` at a time to bound
    the memory; only the forward over the patches in memory is timed.
    """
    radius = arguments.patch_size // 2
    padded = F.pad(image, (radius, radius, radius, radius))
    centres = ((probability_map > THRESHOLD) & field_of_view).nonzero().tolist()
    seconds = 0.0
    for first in range(0, len(centres), EXTRACT_CHUNK):
        patches = torch.stack([
            padded[:, row : row + arguments.patch_size, col : col + arguments.patch_size]
            for row, col in centres[first : first + EXTRACT_CHUNK]
        ])
        start = time.perf_counter()
        with torch.no_grad():
            for batch in patches.split(arguments.batch_size):
                torch.softmax(network(batch)["logits"], dim=1)
        seconds += time.perf_counter() - start
    return seconds, len(centres)


def zero_logits(patches: torch.Tensor) -> dict[str, torch.Tensor]:
    """A network stand-in that costs nothing, so that ``refine_candidates`` shows its own cost."""
    return {"logits": patches.new_zeros(patches.shape[0], 2)}


def refine_seconds(network: Callable, image: torch.Tensor, probability_map: torch.Tensor,
                   field_of_view: torch.Tensor, arguments: argparse.Namespace) -> tuple[float, int]:
    """Seconds of one ``refine_candidates`` call, and its number of candidates."""
    start = time.perf_counter()
    _, count = refine_candidates(
        network, image, probability_map, THRESHOLD, arguments.patch_size, arguments.batch_size,
        field_of_view=field_of_view, logits_key="logits",
    )
    return time.perf_counter() - start, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", choices=("patch_refinement", "resnet"), default="patch_refinement")
    parser.add_argument("--patch-size", type=int, default=33)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--layers", type=int, nargs=4, default=[1, 1, 1, 1], help="bottleneck blocks per stage")
    parser.add_argument("--widths", type=int, nargs=4, default=[4, 8, 16, 32], help="ResNet block_inplanes")
    parser.add_argument("--candidates", type=int, default=16384, help="candidates of the per-candidate comparison")
    parser.add_argument("--repeats", type=int, default=3, help="repeats of the per-candidate comparison")
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.001, 0.01, 0.05])
    parser.add_argument("--dense-sample", type=int, default=20000, help="patches timed for the dense estimate")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (see bench/README.md)")
    parser.add_argument("--out", help="write the figures to this JSON file")
    arguments = parser.parse_args()
    torch.set_num_threads(arguments.threads)
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    network = build_network(arguments.network, arguments.layers, arguments.widths)
    image = torch.rand(3, IMAGE_HEIGHT, IMAGE_WIDTH, generator=generator)
    field_of_view = disc_field_of_view(IMAGE_HEIGHT, IMAGE_WIDTH)
    field_pixels = int(field_of_view.sum())
    parameters = sum(parameter.numel() for parameter in network.parameters())
    print(f"image 3 x {IMAGE_HEIGHT} x {IMAGE_WIDTH}, field of view {field_pixels} px, patch {arguments.patch_size}, "
          f"batch {arguments.batch_size}, {arguments.network} layers {arguments.layers} widths {arguments.widths} "
          f"({parameters} parameters), {torch.get_num_threads()} threads")

    # 1. per candidate: refine_candidates against the bare forward on the same patches
    probability_map = candidate_map(field_of_view, arguments.candidates, generator)
    refine_seconds(network, image, probability_map, field_of_view, arguments)  # warm-up
    refine_times, bare_times, own_times = [], [], []
    for _ in range(arguments.repeats):
        refine_times.append(refine_seconds(network, image, probability_map, field_of_view, arguments)[0])
        bare_times.append(bare_forward_seconds(network, image, probability_map, field_of_view, arguments)[0])
        own_times.append(refine_seconds(zero_logits, image, probability_map, field_of_view, arguments)[0])
    refine_ms = 1e3 * statistics.median(refine_times) / arguments.candidates
    bare_ms = 1e3 * statistics.median(bare_times) / arguments.candidates
    own_seconds = statistics.median(own_times)
    print(f"\n1. {arguments.candidates} candidates, medians of {arguments.repeats} repeats")
    print(f"   refine_candidates {refine_ms:.4f} ms/candidate, bare forward {bare_ms:.4f} ms/patch: "
          f"ratio {refine_ms / bare_ms:.3f} (target <= 1.3)")
    print(f"   refine_candidates with a free network (its own cost: candidates, padding, gathering, scatter): "
          f"{own_seconds:.3f} s, {1e3 * own_seconds / arguments.candidates:.4f} ms/candidate")

    # dense estimate: the bare forward's seconds per patch over a sample, times the field-of-view pixels
    dense_map = candidate_map(field_of_view, arguments.dense_sample, generator)
    dense_patch_seconds, dense_count = bare_forward_seconds(network, image, dense_map, field_of_view, arguments)
    dense_seconds = dense_patch_seconds / dense_count * field_pixels
    print(f"\ndense per-pixel classification of the field of view: {dense_seconds:.0f} s per image "
          f"(bare forward over {dense_count} patches, {dense_patch_seconds:.2f} s, scaled)")

    # 2. seconds per image at candidate fractions of the field of view
    header = f"{'fraction':>8} | {'candidates':>10} | {'s / image':>9} | {'ms / candidate':>14} | {'dense / this':>12}"
    print(f"\n2. {header}")
    rows_out = []
    for fraction in arguments.fractions:
        fraction_map = candidate_map(field_of_view, round(fraction * field_pixels), generator)
        seconds, count = refine_seconds(network, image, fraction_map, field_of_view, arguments)
        rows_out.append({"fraction": fraction, "candidates": count, "seconds": seconds,
                         "speedup_over_dense": dense_seconds / seconds})
        print(f"   {100 * fraction:7.2f}% | {count:>10} | {seconds:9.2f} | {1e3 * seconds / count:14.4f} | "
              f"{dense_seconds / seconds:11.1f}x")

    if arguments.out:
        figures = {
            "arguments": vars(arguments), "field_of_view_pixels": field_pixels, "parameters": parameters,
            "per_candidate": {"refine_ms": refine_ms, "bare_forward_ms": bare_ms, "ratio": refine_ms / bare_ms,
                              "refine_with_free_network_seconds": own_seconds},
            "dense_seconds_estimate": dense_seconds, "fractions": rows_out,
        }
        with open(arguments.out, "w") as file:
            json.dump(figures, file, indent=2)


if __name__ == "__main__":
    main()
