"""Batched gradient and guided-backpropagation saliency maps.

``monai.visualize.VanillaGrad`` and ``GuidedBackpropGrad`` take one image per call (``get_grad`` rejects
batches), and with ``class_idx=None`` ``ModelWithHooks.class_score`` mixes classes across a batch. Here a
whole batch takes ONE forward and ONE backward pass: the backpropagated score is the sum over the batch of
each sample's logit for its own target class. With the network in eval mode the samples do not interact,
so each sample's input gradient equals the one of a single-image call.

Guided backpropagation (Springenberg et al. 2015) passes back through a ReLU only gradients that are
positive and whose forward input was positive. ``GuidedBackpropGrad`` swaps modules whose *name* contains
``relu`` (MONAI's ResNet names its activations ``act``, so it is left unguided there); here a forward hook
on every ``torch.nn.ReLU`` *module* (by type, in-place or not) registers a gradient hook that clamps the
gradient of the ReLU's output at zero before the ReLU's own backward applies the ``input > 0`` mask.
Functional calls (``torch.relu``, ``F.relu``) are not covered. Hooks are removed and train/eval modes
restored afterwards, also when an error is raised.

Autograd is switched on for the saliency pass only (``torch.inference_mode(False)`` and
``torch.enable_grad()``), so the maps are the same inside an evaluator's ``torch.no_grad`` forward (MONAI's
``eval_mode``), inside ``torch.inference_mode`` and outside both; images and target tensors made under
inference mode are copied into ordinary tensors first, since autograd cannot save inference tensors.

Maps are channel reductions of the input gradient (B, C, *spatial) -> (B, *spatial): the mean over
channels of the absolute gradient by default (``absolute=True``), or the mean of the signed gradient.
No normalisation is applied (MONAI's default CAM normaliser flips maps; see DESIGN.md).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from numbers import Integral

import torch
from torch import nn

__all__ = ["guided_relu_hooks", "input_gradients", "gradient_saliency", "guided_backprop_saliency"]


def _keep_positive_gradient(gradient: torch.Tensor) -> torch.Tensor:
    return gradient.clamp(min=0)


def _guide_relu_output(_module: nn.Module, _inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
    if output.requires_grad:
        output.register_hook(_keep_positive_gradient)


@contextmanager
def guided_relu_hooks(model: nn.Module) -> Iterator[int]:
    """Make backward passes through ``model``'s ``nn.ReLU`` modules follow guided backpropagation.

    Args:
        model: a network with ``torch.nn.ReLU`` modules.

    Yields:
        The number of ReLU modules hooked.

    Raises:
        ValueError: when ``model`` has no ``torch.nn.ReLU`` module (functional ReLUs cannot be guided).
    """
    relus = [module for module in model.modules() if isinstance(module, nn.ReLU)]
    if not relus:
        raise ValueError(
            f"{type(model).__name__} has no torch.nn.ReLU module; guided backpropagation covers nn.ReLU modules "
            "only, not functional relu calls"
        )
    handles = [relu.register_forward_hook(_guide_relu_output) for relu in relus]
    try:
        yield len(handles)
    finally:
        for handle in handles:
            handle.remove()


@contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    """Put every module in eval mode, then restore each module's own mode."""
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for module, training in modes:
            module.training = training


def _target_indices(
    target_classes: torch.Tensor | Sequence[int] | int | None, logits: torch.Tensor
) -> torch.Tensor:
    """Target class per sample as a (B,) long tensor on the logits' device."""
    batch_size, num_classes = logits.shape
    if target_classes is None:
        return logits.argmax(dim=1)
    if isinstance(target_classes, Integral):
        targets = torch.full((batch_size,), int(target_classes), dtype=torch.long, device=logits.device)
    else:
        targets = torch.as_tensor(target_classes, device=logits.device).clone()  # an ordinary tensor for autograd
        if targets.is_floating_point() or targets.shape != (batch_size,):
            raise ValueError(
                f"target_classes must be an int or {batch_size} ints (one per image), got shape {tuple(targets.shape)} "
                f"of {targets.dtype}"
            )
        targets = targets.long()
    if ((targets < 0) | (targets >= num_classes)).any():
        raise ValueError(f"target_classes {targets.tolist()} out of range for {num_classes} classes")
    return targets


def input_gradients(
    model: nn.Module, images: torch.Tensor, target_classes: torch.Tensor | Sequence[int] | int | None = None
) -> torch.Tensor:
    """Gradient of each sample's target logit with respect to its input, in one backward pass.

    The model runs in eval mode with autograd on, also when called under ``torch.no_grad`` or
    ``torch.inference_mode``; parameter ``.grad`` fields are left untouched.

    Args:
        model: a classifier returning logits (B, K).
        images: (B, C, *spatial) input batch (not modified).
        target_classes: per-sample class indices (B,), one int for all, or ``None`` for each sample's arg-max.

    Returns:
        (B, C, *spatial) gradients, detached.

    Raises:
        ValueError: when the images are not batched, the logits are not (B, K) or a target is out of range.
        TypeError: when the model does not return a tensor.
    """
    if images.ndim < 3:
        raise ValueError(f"images must have shape (B, C, *spatial), got {tuple(images.shape)}")
    with torch.inference_mode(False), _eval_mode(model), torch.enable_grad():
        inputs = images.detach().clone().requires_grad_(True)
        logits = model(inputs)
        if not isinstance(logits, torch.Tensor):
            raise TypeError(f"{type(model).__name__} must return a logits tensor (B, K), got {type(logits).__name__}")
        if logits.ndim != 2 or logits.shape[0] != images.shape[0]:
            raise ValueError(
                f"{type(model).__name__} must return logits (B, K) = ({images.shape[0]}, K), got {tuple(logits.shape)}"
            )
        targets = _target_indices(target_classes, logits)
        score = logits.gather(1, targets[:, None]).sum()
        (gradients,) = torch.autograd.grad(score, inputs)
    return gradients.detach()


def _channel_reduction(gradients: torch.Tensor, absolute: bool) -> torch.Tensor:
    return (gradients.abs() if absolute else gradients).mean(dim=1)


def gradient_saliency(
    model: nn.Module,
    images: torch.Tensor,
    target_classes: torch.Tensor | Sequence[int] | int | None = None,
    absolute: bool = True,
) -> torch.Tensor:
    """Plain gradient saliency maps (Simonyan et al. 2014) for a batch, one backward pass.

    Args:
        model: a classifier returning logits (B, K).
        images: (B, C, *spatial).
        target_classes: per-sample class indices (B,), one int for all, or ``None`` for each sample's arg-max.
        absolute: average the absolute gradient over channels (default) instead of the signed one.

    Returns:
        (B, *spatial) maps.
    """
    return _channel_reduction(input_gradients(model, images, target_classes), absolute)


def guided_backprop_saliency(
    model: nn.Module,
    images: torch.Tensor,
    target_classes: torch.Tensor | Sequence[int] | int | None = None,
    absolute: bool = True,
) -> torch.Tensor:
    """Guided-backpropagation saliency maps for a batch, one backward pass (``nn.ReLU`` modules only).

    Args:
        model: a classifier returning logits (B, K), with ``torch.nn.ReLU`` modules.
        images: (B, C, *spatial).
        target_classes: per-sample class indices (B,), one int for all, or ``None`` for each sample's arg-max.
        absolute: average the absolute gradient over channels (default) instead of the signed one.

    Returns:
        (B, *spatial) maps.
    """
    with guided_relu_hooks(model):
        gradients = input_gradients(model, images, target_classes)
    return _channel_reduction(gradients, absolute)
