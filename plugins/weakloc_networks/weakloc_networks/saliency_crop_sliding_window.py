"""The saliency-crop paper's sliding-window model (Grzeszczuk, its Listing 1): the crop network's fully convolutional
form over the whole full-resolution image, its map of window probabilities reduced to one decision.

The paper: the crop network "apply[ed] to the entire full-size image, resulting in a tensor representing the
probabilities of each class for overlapping areas of the image (as if a sliding convolutional window was applied)",
then ``probabilities := histogram(response)``, ``return prediction(histogram)`` (Listing 1, lines 20-23). The text
does not say what the histogram counts. What is done here (:func:`reduce_probability_map`, reduction ``vote``, the
default): each window votes for its arg-max class, the histogram of the votes over the classes, divided by the number
of windows, is the image's probability vector, and the decision is its arg-max (the majority of the windows; a tie
goes to the lower class, healthy). ``mean`` (the windows' probabilities averaged) is the other reading, available as
an option. No SVM threshold: Listing 1 has none.

:class:`SlidingWindowLocalizer` is that model as a localizer of the output contract: the probabilities; heatmap
``sliding_window`` (B, h, w) over the network input, each pixel the mean unhealthy probability of the windows that
cover it (0 where none does); the window of the highest unhealthy probability as one box labelled ``crop`` (scored by
that probability) and its centre as a point, so that the crop evaluation scores it as it scores the pipeline's crop.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from monai.transforms import ScaleIntensity
from monai.utils import CommonKeys, convert_to_tensor

from monai_weakloc.localize.localization import Detections, Localization
from monai_weakloc.transforms.load_2d import LoadImage2D
from weakloc_networks.saliency_crop import SaliencyCropNetwork
from weakloc_networks.saliency_crop_pipeline import UNHEALTHY_CLASS

__all__ = ["REDUCTIONS", "SlidingWindowLocalizer", "reduce_probability_map", "window_boxes"]

REDUCTIONS: tuple[str, ...] = ("vote", "mean")
"""How a map of window probabilities becomes the image's: the share of windows voting for each class (the reading
of Listing 1's histogram taken here), or the windows' mean probability."""
CROP_LABEL = "crop"


def reduce_probability_map(probability_map: torch.Tensor, reduction: str = "vote") -> torch.Tensor:
    """The image's class probabilities from its windows' (the paper's Listing 1, lines 22-23).

    Args:
        probability_map: (B, K, h, w) class probabilities of the windows (a softmax over dim 1).
        reduction: one of :data:`REDUCTIONS`. ``vote``: the histogram of the windows' arg-max classes divided by
            the number of windows (the share of windows voting for each class); ``mean``: the mean over windows.

    Returns:
        (B, K) probabilities, each row summing to 1; its arg-max is the decision.

    Raises:
        ValueError: on a bad shape or reduction.
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduce_probability_map: reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if probability_map.ndim != 4 or probability_map.shape[2] * probability_map.shape[3] == 0:
        raise ValueError(
            f"reduce_probability_map: the map must be (B, K, h, w) with windows, got {tuple(probability_map.shape)}"
        )
    windows = probability_map.flatten(2)  # (B, K, n)
    if reduction == "mean":
        return windows.mean(dim=2)
    votes = torch.nn.functional.one_hot(windows.argmax(dim=1), probability_map.shape[1])  # (B, n, K)
    return votes.to(probability_map.dtype).mean(dim=1)


def window_boxes(map_size: Sequence[int], stride: int, window: int, image_size: Sequence[int]) -> torch.Tensor:
    """The full-resolution windows of a fully convolutional map: cell ``(i, j)`` reads the ``window``-pixel square
    from ``(j * stride, i * stride)``, shifted to stay inside the image.

    Args:
        map_size: (h, w) of the map.
        stride: input pixels between neighbouring cells (``2 ** reductions`` of the network).
        window: the window's side, the network's training input size.
        image_size: (H, W) of the image, each at least ``window``.

    Returns:
        (h * w, 4) boxes ``x, y, w, h`` in the image's pixels, in the map's row-major order.
    """
    height, width = int(image_size[0]), int(image_size[1])
    rows = torch.arange(int(map_size[0])) * stride
    cols = torch.arange(int(map_size[1])) * stride
    top = rows.clamp(max=max(height - window, 0))
    left = cols.clamp(max=max(width - window, 0))
    y, x = torch.meshgrid(top, left, indexing="ij")
    side = torch.full_like(x, window)
    return torch.stack([x, y, side, side], dim=-1).reshape(-1, 4).to(torch.float32)


def _coverage_mean(values: torch.Tensor, boxes: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """A (h, w) map: each pixel the mean of ``values`` over the ``boxes`` (``x, y, w, h`` in its pixels) that cover
    it, 0 where none does."""
    total = torch.zeros(int(size[0]), int(size[1]))
    count = torch.zeros_like(total)
    for value, (x, y, w, h) in zip(values.tolist(), boxes.tolist()):
        x0, y0 = max(math.floor(x), 0), max(math.floor(y), 0)
        x1, y1 = min(math.ceil(x + w), total.shape[1]), min(math.ceil(y + h), total.shape[0])
        total[y0:y1, x0:x1] += value
        count[y0:y1, x0:x1] += 1
    return torch.where(count > 0, total / count.clamp(min=1), torch.zeros_like(total))


class SlidingWindowLocalizer:
    """The sliding-window model: the crop network's fully convolutional form over each full-resolution image.

    Each image named by the batch (``filename_or_obj`` of its meta) is read again at full resolution, histogram
    stretched to [0, 1] as a whole (the crop network saw each crop stretched alone), and run through
    :meth:`~weakloc_networks.saliency_crop.SaliencyCropNetwork.fully_convolutional_form` (made anew from the current
    weights at each call, in eval mode): a softmax map of window probabilities, reduced by
    :func:`reduce_probability_map`.

    Args:
        crop_network: the network trained on the crops (input ``input_size``, the crop size).
        reduction: one of :data:`REDUCTIONS`.
        class_names: the two class names.
        unhealthy_class: the class of the heatmap and of the box.
        image_key: the batch key of the (B, C, h, w) network input, a ``MetaTensor`` naming its files.
        heatmap_name: the map's name in the outputs.

    Raises:
        ValueError: on a bad reduction or class names.
    """

    def __init__(
        self,
        crop_network: SaliencyCropNetwork,
        reduction: str = "vote",
        class_names: Sequence[str] = ("healthy", "unhealthy"),
        unhealthy_class: int = UNHEALTHY_CLASS,
        image_key: str = CommonKeys.IMAGE,
        heatmap_name: str = "sliding_window",
    ) -> None:
        if reduction not in REDUCTIONS:
            raise ValueError(f"SlidingWindowLocalizer: reduction must be one of {REDUCTIONS}, got {reduction!r}")
        if len(class_names) != 2:
            raise ValueError(f"SlidingWindowLocalizer: needs two class names, got {list(class_names)}")
        self.crop_network = crop_network
        self.reduction = reduction
        self.class_names = [str(name) for name in class_names]
        self.unhealthy_class = unhealthy_class
        self.image_key = image_key
        self.heatmap_name = heatmap_name
        self.loader = LoadImage2D(mode="rgb")
        self.stretch = ScaleIntensity()

    def probability_map(self, path: str) -> tuple[torch.Tensor, torch.Tensor, tuple[int, int]]:
        """The window probabilities of one image file.

        Returns:
            the (K, h, w) softmax map, its (h * w, 4) windows in full-resolution pixels, and the image's (H, W).

        Raises:
            ValueError: naming the file, when the image is smaller than one window.
        """
        form = self.crop_network.fully_convolutional_form().eval()
        image = convert_to_tensor(self.stretch(self.loader(path)), track_meta=False).float()
        size = (int(image.shape[-2]), int(image.shape[-1]))
        if min(size) < form.min_input_size:
            raise ValueError(
                f"{path}: the image of (H, W) = {size} is smaller than the sliding window's smallest input "
                f"({form.min_input_size} px)"
            )
        parameter = next(form.parameters())
        with torch.no_grad():
            logits = form(image[None].to(parameter.device))
        probabilities = torch.softmax(logits.float(), dim=1)[0].cpu()
        stride = 2**self.crop_network.backbone.reductions
        boxes = window_boxes(probabilities.shape[-2:], stride, self.crop_network.input_size, size)
        return probabilities, boxes, size

    def __call__(self, pred: Any, batch: Mapping[str, Any] | None = None) -> Localization:
        """Args:
            pred: the evaluator's output for the batch (not read: the probabilities are the crop network's).
            batch: ``image_key`` (B, C, h, w) whose meta names the files.

        Returns:
            the batch's :class:`Localization` in network-input pixels.

        Raises:
            ValueError: without a batch, or for an image smaller than one window (naming it).
            KeyError: when the batch has no images.
        """
        if batch is None:
            raise ValueError("SlidingWindowLocalizer: needs the batch (its probabilities come from the whole image)")
        if self.image_key not in batch:
            raise KeyError(f"SlidingWindowLocalizer: the batch has no {self.image_key!r} (keys: {sorted(batch)})")
        images = batch[self.image_key]
        input_size = tuple(images.shape[-2:])
        probabilities, heatmaps, boxes, points = [], [], [], []
        for path in images.meta["filename_or_obj"]:
            window_map, windows, size = self.probability_map(path)
            probabilities.append(reduce_probability_map(window_map[None], self.reduction)[0])
            scale = torch.tensor([input_size[1] / size[1], input_size[0] / size[0]] * 2)
            scaled = windows * scale
            unhealthy = window_map[self.unhealthy_class].flatten()
            heatmaps.append(_coverage_mean(unhealthy, scaled, input_size))
            best = int(unhealthy.argmax())
            box = scaled[best]
            score = unhealthy[best : best + 1]
            boxes.append(Detections(box[None], [CROP_LABEL], score))
            points.append(Detections((box[:2] + box[2:] / 2)[None], [CROP_LABEL], score))
        return Localization(
            torch.stack(probabilities),
            "single_label",
            self.class_names,
            heatmaps={self.heatmap_name: torch.stack(heatmaps)},
            boxes=boxes,
            points=points,
        )
