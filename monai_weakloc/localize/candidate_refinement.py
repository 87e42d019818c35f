"""Candidate refinement: classify the pixels a first-stage probability map proposes, each from a patch centred on it.

The patch refinement network (PRN) of the microaneurysm method (Sarhan et al. 2019) says whether a patch's
centre pixel is a lesion. At inference it runs only where the first stage's map exceeds a threshold (and
inside the field of view), never densely: :func:`refine_candidates` finds those pixels, gathers their
patches batch by batch and scatters the positive-class probabilities back into a map.

Why not MONAI's ``PatchInferer``: ``SlidingWindowSplitter`` visits every grid position of its window in a
Python loop and calls ``filter_fn`` once per position; a patch centred on every pixel needs a stride of one
(``overlap = patch_size - 1``), that is one Python call per pixel (12.2 million for a 4288 x 2848 IDRiD image)
just to reject the non-candidates. Pre-split patches would all have to be extracted beforehand (the 67k patches
of 3 x 65 x 65 float32 at 1 % of an IDRiD retina are 3.4 GB), and the merger aggregates the outputs one patch
at a time, expecting spatial outputs rather than a (B, 2) classification. Here the image is padded once and each
batch of candidates is gathered by one ``index_select`` on a strided view of it, so the Python work is per
batch, not per pixel.

This is localization code, not Ignite glue: it takes a callable and tensors and returns a map, so an
evaluator's iteration, a localizer or a script can call it alike; hence ``monai_weakloc.localize``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from numbers import Integral, Real
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from monai.config import NdarrayOrTensor
from monai.networks import eval_mode
from monai.utils import convert_to_tensor

from monai_weakloc.localize.field_of_view import field_of_view_batch

__all__ = ["CandidateRefinement", "candidate_mask", "refine_candidates"]

REFINED_FILL = 0.0


class CandidateRefinement(NamedTuple):
    """What :func:`refine_candidates` returns.

    Attributes:
        probabilities: float32 map of the positive-class probability at each candidate and ``REFINED_FILL``
            (0) elsewhere; (H, W) for an unbatched input, (B, 1, H, W) for a batched one; on the image's device.
        num_candidates: the number of candidate pixels (over the whole batch), that is of patches classified.
    """

    probabilities: torch.Tensor
    num_candidates: int


def _check_positive_integer(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _batched_inputs(image: torch.Tensor, probability_map: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Check the image and map and return them batched: image (B, C, H, W), map (B, H, W) on the image's device."""
    for name, value in (("image", image), ("probability_map", probability_map)):
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{name} must be a torch tensor, got {type(value).__name__}")
    image, probability_map = (convert_to_tensor(value, track_meta=False) for value in (image, probability_map))
    if image.ndim == 3:
        if probability_map.ndim != 2:
            raise ValueError(
                f"probability_map must have shape (H, W) for an image of shape (C, H, W) {tuple(image.shape)}, "
                f"got {tuple(probability_map.shape)}"
            )
        images, maps = image[None], probability_map[None]
    elif image.ndim == 4:
        if probability_map.ndim != 4 or probability_map.shape[1] != 1 or probability_map.shape[0] != image.shape[0]:
            raise ValueError(
                f"probability_map must have shape (B, 1, H, W) for an image batch of shape (B, C, H, W) "
                f"{tuple(image.shape)}, got {tuple(probability_map.shape)}"
            )
        images, maps = image, probability_map[:, 0]
    else:
        raise ValueError(f"image must have shape (C, H, W) or (B, C, H, W), got {tuple(image.shape)}")
    if images.numel() == 0:
        raise ValueError(f"image must not be empty, got shape {tuple(image.shape)}")
    if maps.shape[-2:] != images.shape[-2:]:
        raise ValueError(
            f"probability_map size {tuple(maps.shape[-2:])} differs from the image size (H, W) "
            f"{tuple(images.shape[-2:])}"
        )
    return images, maps.to(images.device)


def _batched_field_of_view(field_of_view: NdarrayOrTensor, images: torch.Tensor, batched: bool) -> torch.Tensor:
    """Check the mask against the (B, C, H, W) images and return it as (B, H, W) bool on their device."""
    if not isinstance(field_of_view, (np.ndarray, torch.Tensor)):
        raise TypeError(f"field_of_view must be a numpy array or a torch tensor, got {type(field_of_view).__name__}")
    if not batched:
        if field_of_view.ndim != 2:
            raise ValueError(
                f"field_of_view must have shape (H, W) for an unbatched image, got {tuple(field_of_view.shape)}"
            )
        field_of_view = field_of_view[None]
    masks = field_of_view_batch(field_of_view, images.shape[0])
    if masks.shape[-2:] != images.shape[-2:]:
        raise ValueError(
            f"field_of_view size {tuple(masks.shape[-2:])} differs from the image size (H, W) "
            f"{tuple(images.shape[-2:])}"
        )
    return masks.to(images.device)


def candidate_mask(
    probability_map: torch.Tensor, threshold: float, field_of_view: torch.Tensor | None = None
) -> torch.Tensor:
    """The candidate pixels: the map strictly above ``threshold``, inside the field of view when one is given.

    Args:
        probability_map: (..., H, W) tensor.
        threshold: the level; a pixel equal to it is no candidate (nor is a NaN).
        field_of_view: bool tensor broadcastable to ``probability_map``, true inside, or ``None``.

    Returns:
        bool tensor of ``probability_map``'s shape.
    """
    candidates = probability_map > threshold
    return candidates if field_of_view is None else candidates & field_of_view


def _positive_probability(
    outputs: torch.Tensor | Mapping[str, Any], logits_key: str | None, positive_class: int, num_patches: int
) -> torch.Tensor:
    """Softmax over the classes of one batch's logits; the positive class's column, (N,)."""
    if isinstance(outputs, Mapping):
        if logits_key is None:
            raise TypeError(
                f"the network returned a mapping with keys {sorted(outputs)}; pass logits_key to name the logits"
            )
        if logits_key not in outputs:
            raise ValueError(f"logits_key {logits_key!r} is not among the network's outputs {sorted(outputs)}")
        logits = outputs[logits_key]
    elif logits_key is not None:
        raise TypeError(f"logits_key {logits_key!r} was given but the network returned a {type(outputs).__name__}")
    else:
        logits = outputs
    if not isinstance(logits, torch.Tensor) or logits.ndim != 2 or logits.shape[0] != num_patches:
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ValueError(f"the network's logits must have shape (N, num_classes) = ({num_patches}, K), got {shape}")
    if not 0 <= positive_class < logits.shape[1]:
        raise ValueError(f"positive_class {positive_class} is out of range for {logits.shape[1]} classes")
    return torch.softmax(logits.float(), dim=1)[:, positive_class]


def _patch_windows(images: torch.Tensor, size: int) -> tuple[torch.Tensor, int, int]:
    """Every ``size`` x ``size`` window of the zero-padded images as one strided view, indexed by its start.

    The images are padded by ``size // 2`` on every side into one contiguous (B, C, Hp, Wp) tensor; window ``o``
    of the view is the (C, size, size) block whose first element is element ``o`` of that tensor, so the patch
    centred on pixel (row, col) of image b is window ``(b C Hp + row) Wp + col``. Windows starting in the
    right-hand margin wrap to the next row and are never asked for. ``index_select`` on this view copies a
    batch of patches in one call, several times faster than advanced indexing of an ``unfold`` view.

    Args:
        images: (B, C, H, W) tensor.
        size: odd patch side.

    Returns:
        The (L, C, size, size) view (no copy of the padded tensor), Hp and Wp.
    """
    radius = size // 2
    padded = F.pad(images, (radius, radius, radius, radius)).contiguous()
    channels, padded_height, padded_width = padded.shape[1:]
    plane = padded_height * padded_width
    num_windows = padded.numel() - (channels - 1) * plane - (size - 1) * padded_width - (size - 1)
    windows = padded.as_strided((num_windows, channels, size, size), (1, plane, padded_width, 1))
    return windows, padded_height, padded_width


def refine_candidates(
    network: Callable[[torch.Tensor], torch.Tensor | Mapping[str, Any]],
    image: torch.Tensor,
    probability_map: torch.Tensor,
    threshold: float,
    patch_size: int,
    batch_size: int,
    field_of_view: NdarrayOrTensor | None = None,
    logits_key: str | None = None,
    positive_class: int = 1,
) -> CandidateRefinement:
    """Classify the candidate pixels of a probability map from patches centred on them, in batches.

    Candidates are the pixels where ``probability_map > threshold`` and, when given, ``field_of_view`` is set;
    they are taken in row-major order (image by image). The image is zero-padded once by
    ``patch_size // 2`` on every side (zeros rather than a reflection: fundus images are black outside the
    retina, and :mod:`monai_weakloc.data.ma_patches` pads its training patches with zeros too), so a candidate
    at the border gets a full patch. Patches of ``batch_size`` candidates at a time are gathered by one indexing
    operation and passed to ``network`` in eval mode under ``torch.no_grad``; the softmax of its logits gives
    the ``positive_class`` probability, scattered back to the candidate's pixel. Everything runs on the
    image's device; the network must already be there.

    Args:
        network: a callable taking (N, C, patch_size, patch_size) patches of the image's dtype and returning
            (N, K) logits, or a mapping holding them under ``logits_key``. An ``nn.Module`` is switched to
            eval mode for the call (MONAI's ``eval_mode``) and back to train mode afterwards if it
            was training; a plain callable wrapping a module must set the module's mode itself.
        image: (C, H, W) image or (B, C, H, W) batch, preprocessed as the network expects.
        probability_map: (H, W) map for an unbatched image, (B, 1, H, W) for a batch.
        threshold: candidates are the pixels strictly above it.
        patch_size: side of the square patches, odd so that a pixel is their centre.
        batch_size: patches per network call.
        field_of_view: (H, W) mask for an unbatched image, (B, 1, H, W) or (B, H, W) for a batch, true
            (or > 0.5) inside; ``None`` takes every pixel.
        logits_key: the key of the logits when the network returns a mapping (``"logits"`` for the PRN).
        positive_class: the class whose probability the refined map holds.

    Returns:
        :class:`CandidateRefinement` with the refined map, 0 at non-candidates, and the number of candidates.
        With no candidate the network is not called.

    Raises:
        TypeError: when ``network`` is not callable, ``threshold`` not a real number, the image or map not a
            tensor (the mask neither a tensor nor an array), or the network returns a mapping without
            ``logits_key`` (or a tensor with one).
        ValueError: for an even or non-positive ``patch_size``, a non-positive ``batch_size``, an empty image,
            a map or mask whose shape or size differs from the image's, a ``logits_key`` missing from the
            outputs, logits not (N, K), or a ``positive_class`` out of range.
    """
    if not callable(network):
        raise TypeError(f"network must be callable, got {type(network).__name__}")
    size = _check_positive_integer(patch_size, "patch_size")
    if size % 2 == 0:
        raise ValueError(f"patch_size must be odd so that a pixel is the patch centre, got {patch_size}")
    batch = _check_positive_integer(batch_size, "batch_size")
    if isinstance(threshold, bool) or not isinstance(threshold, Real):
        raise TypeError(f"threshold must be a real number, got {type(threshold).__name__}")
    images, maps = _batched_inputs(image, probability_map)
    masks = None if field_of_view is None else _batched_field_of_view(field_of_view, images, image.ndim == 4)

    refined = torch.full(maps.shape, REFINED_FILL, dtype=torch.float32, device=images.device)
    image_index, rows, cols = torch.nonzero(candidate_mask(maps, float(threshold), masks), as_tuple=True)
    num_candidates = int(image_index.numel())
    if num_candidates:
        windows, padded_height, padded_width = _patch_windows(images, size)
        # a candidate's patch starts at its own (row, col) in the padded image
        offsets = (image_index * images.shape[1] * padded_height + rows) * padded_width + cols
        with eval_mode(network):  # MONAI's: eval mode and torch.no_grad, the modes restored afterwards
            for start in range(0, num_candidates, batch):
                chosen = slice(start, start + batch)
                patches = windows.index_select(0, offsets[chosen])  # (N, C, size, size)
                outputs = network(patches)
                probabilities = _positive_probability(outputs, logits_key, positive_class, patches.shape[0])
                refined[image_index[chosen], rows[chosen], cols[chosen]] = probabilities
    return CandidateRefinement(refined[0] if image.ndim == 3 else refined[:, None], num_candidates)
