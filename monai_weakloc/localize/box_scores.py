"""Score boxes by the map they were taken from: the map's maximum inside each box."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

__all__ = ["max_inside_boxes"]


def max_inside_boxes(heatmap: torch.Tensor, boxes: torch.Tensor, input_size: Sequence[int]) -> torch.Tensor:
    """The maximum of ``heatmap``, bilinearly resized to the input, inside each box.

    Args:
        heatmap: (h, w) map covering the network input.
        boxes: (n, 4) ``x, y, w, h`` in input pixels; a box covers the pixels it overlaps, at least one.
        input_size: (H_in, W_in).

    Returns:
        (n,) float32 scores.
    """
    resized = F.interpolate(
        heatmap.detach().float()[None, None], size=tuple(int(v) for v in input_size), mode="bilinear", align_corners=False
    )[0, 0]
    scores = []
    for x, y, w, h in boxes.detach().double().cpu().tolist():
        x0, y0 = max(int(x // 1), 0), max(int(y // 1), 0)
        x1, y1 = max(int(-(-(x + w) // 1)), x0 + 1), max(int(-(-(y + h) // 1)), y0 + 1)
        scores.append(resized[y0:y1, x0:x1].max())
    return torch.stack(scores).cpu() if scores else torch.zeros(0)
