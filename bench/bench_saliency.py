"""Batched guided backpropagation versus per-image ``monai.visualize.GuidedBackpropGrad`` calls.

Times ``monai_weakloc.localize.guided_backprop_saliency`` on a batch (one forward, one backward) against one
``GuidedBackpropGrad`` call per image with the image's explicit class index, checks that the maps agree,
and prints the speed-up. Random weights and images; nothing is downloaded.

    python bench/bench_saliency.py --batch-size 16 --size 224 --network densenet121
"""

from __future__ import annotations

import argparse
import time

import torch
from monai.networks.nets import DenseNet121, resnet18
from monai.visualize import GuidedBackpropGrad
from torch import nn

from monai_weakloc.localize import guided_backprop_saliency


def build_network(name: str) -> nn.Module:
    """A 2-D, 3-channel, 2-class MONAI network with ``nn.ReLU`` modules."""
    if name == "densenet121":
        return DenseNet121(spatial_dims=2, in_channels=3, out_channels=2)
    if name == "resnet18":
        return resnet18(spatial_dims=2, n_input_channels=3, num_classes=2)
    raise ValueError(f"unknown network {name!r}; choose densenet121 or resnet18")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--network", default="densenet121", choices=("densenet121", "resnet18"))
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 keeps torch's default)")
    arguments = parser.parse_args()
    if arguments.threads:
        torch.set_num_threads(arguments.threads)

    torch.manual_seed(0)
    network = build_network(arguments.network).eval()
    images = torch.randn(arguments.batch_size, 3, arguments.size, arguments.size)
    with torch.no_grad():
        targets = network(images).argmax(1).tolist()
    monai_guided = GuidedBackpropGrad(network)

    guided_backprop_saliency(network, images[:1], targets[:1])  # warm-up
    monai_guided(images[:1].clone(), index=targets[0])

    start = time.perf_counter()
    batched = guided_backprop_saliency(network, images, targets, absolute=False)
    batched_seconds = time.perf_counter() - start

    start = time.perf_counter()
    per_image = [monai_guided(images[i : i + 1].clone(), index=targets[i])[0].mean(0) for i in range(len(targets))]
    per_image_seconds = time.perf_counter() - start

    difference = (batched - torch.stack(per_image)).abs().max().item()
    scale = batched.abs().max().item()
    print(f"network {arguments.network}, {arguments.batch_size} images of 3 x {arguments.size} x {arguments.size}, "
          f"{torch.get_num_threads()} threads")
    print(f"batched guided backprop (1 call):        {batched_seconds:8.2f} s")
    print(f"GuidedBackpropGrad ({len(targets)} single-image calls): {per_image_seconds:8.2f} s")
    print(f"speed-up: {per_image_seconds / batched_seconds:.2f}x")
    print(f"max |difference| of the maps: {difference:.3g} (max |map| {scale:.3g})")


if __name__ == "__main__":
    main()
