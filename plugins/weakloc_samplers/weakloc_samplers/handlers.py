"""Ignite handlers that refresh the samplers of this plugin during training.

Both handlers also call the sampler's ``set_epoch`` when an epoch starts: MONAI's workflows do that only for
``torch.utils.data.DistributedSampler`` instances, and Ignite not at all. A sampler's draw is made when the
trainer's data loader starts a new pass, which Ignite does after ``EPOCH_STARTED``, so a refresh at
``EPOCH_STARTED`` or at the previous ``EPOCH_COMPLETED`` shapes the coming epoch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sized
from typing import Any

import torch
from ignite.engine import Engine, Events
from monai.engines import default_prepare_batch
from monai.handlers import from_engine
from torch import nn
from torch.utils.data import Dataset, Subset

from weakloc_samplers.distributed import gather_rank_shares
from weakloc_samplers.hard_example import HardExampleSampler, HardExampleSet, find_hard_examples
from weakloc_samplers.scoring import score_dataset
from weakloc_samplers.selective import SelectiveSampler
from weakloc_samplers.triplet import TripletBatchSampler

__all__ = ["HardExampleMiningHandler", "SelectiveRescoreHandler"]

logger = logging.getLogger(__name__)


def _check_positive(value: int | None, field: str) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"{field} must be a positive integer, got {value!r}")


def _as_rows(values: torch.Tensor | list[torch.Tensor], field: str) -> torch.Tensor:
    """A batch (B, ...) or a decollated list of B tensors as a (B, K) matrix."""
    batch = torch.stack([torch.as_tensor(value) for value in values]) if isinstance(values, list) else values
    if not isinstance(batch, torch.Tensor) or batch.ndim == 0:
        raise ValueError(f"{field} must be a batch of per-sample values, got {type(values).__name__}")
    return batch.reshape(batch.shape[0], -1).float()


class HardExampleMiningHandler:
    """Switch a :class:`HardExampleSampler` to stage two: score the training set, find B, sample C = A + B.

    The scores come either from ``network``, run in eval mode without gradients over ``dataset`` (each rank its
    share, gathered), or from ``evaluator``, an engine whose ``run()`` iterates the training set in dataset order
    (sequential, or under a process group ``DistributedSampler(shuffle=False)`` with padding), e.g. a MONAI
    ``SupervisedEvaluator``; its outputs are collected per iteration with ``output_transform``. Either way every
    rank ends with the same B. After the switch the trainer's ``epoch_length`` is set to the new loader length.

    Args:
        sampler: the trainer's sampler.
        network: the model to score with (give this or ``evaluator``).
        dataset: the training items to score, in the sampler's index order, ideally without random augmentation;
            defaults to ``sampler.data_source``. Only with ``network``.
        evaluator: an engine to score with instead of ``network``.
        stage_two_epoch: epoch whose start triggers the switch (at least 2); ``None`` to switch only on demand
            through :meth:`mine`.
        threshold: a positive label scored below it is hard.
        score_transform: turns network outputs into probabilities, shape (B, L) -> (B, L); ``None`` when the
            outputs already are probabilities.
        output_transform: maps ``evaluator.state.output`` to ``(predictions, labels)``.
        batch_size: items per forward pass (``network`` only).
        prepare_batch: ``prepare_batch(batch, device) -> (inputs, labels)`` (``network`` only).
        device: where to run the network; defaults to the network's device.
        num_workers: data loader workers for scoring (``network`` only).

    Raises:
        ValueError: if both or neither of ``network`` and ``evaluator`` are given, ``dataset`` comes with
            ``evaluator``, or ``stage_two_epoch`` is below 2.
    """

    def __init__(
        self,
        sampler: HardExampleSampler,
        network: nn.Module | None = None,
        dataset: Dataset | None = None,
        evaluator: Engine | None = None,
        stage_two_epoch: int | None = None,
        threshold: float = 0.5,
        score_transform: Callable[[torch.Tensor], torch.Tensor] | None = torch.sigmoid,
        output_transform: Callable[[Any], tuple[Any, Any]] = from_engine(["pred", "label"]),
        batch_size: int = 32,
        prepare_batch: Callable[..., Any] = default_prepare_batch,
        device: torch.device | str | None = None,
        num_workers: int = 0,
    ) -> None:
        if (network is None) == (evaluator is None):
            raise ValueError("HardExampleMiningHandler needs exactly one of network and evaluator")
        if evaluator is not None and dataset is not None:
            raise ValueError("dataset is scored with network only; the evaluator brings its own data")
        _check_positive(stage_two_epoch, "stage_two_epoch")
        if stage_two_epoch == 1:
            raise ValueError("stage_two_epoch must be at least 2: stage one needs at least one epoch")
        self.sampler = sampler
        self.network = network
        self.dataset = sampler.data_source if dataset is None else dataset
        self.evaluator = evaluator
        self.stage_two_epoch = stage_two_epoch
        self.threshold = threshold
        self.score_transform = score_transform
        self.output_transform = output_transform
        self.batch_size = batch_size
        self.prepare_batch = prepare_batch
        self.device = device
        self.num_workers = num_workers

    def attach(self, engine: Engine) -> None:
        """Set the sampler's epoch at every epoch start and switch to stage two at ``stage_two_epoch``."""
        engine.add_event_handler(Events.EPOCH_STARTED, self._set_sampler_epoch)
        if self.stage_two_epoch is not None:
            engine.add_event_handler(Events.EPOCH_STARTED(once=self.stage_two_epoch), self)

    def __call__(self, engine: Engine) -> None:
        """The stage-two trigger: mine, unless the sampler already holds hard examples (a run resumed from a
        stage-two checkpoint keeps the B it saved instead of mining again with the restored model)."""
        if self.sampler.hard_examples is not None:
            logger.info(
                "hard examples: keeping the %d restored with the sampler's state; not mining again",
                len(self.sampler.hard_examples),
            )
            return
        self.mine(engine)

    def _set_sampler_epoch(self, engine: Engine) -> None:
        self.sampler.set_epoch(engine.state.epoch)

    def mine(self, engine: Engine | None = None) -> HardExampleSet:
        """Score the training set now, build B and switch the sampler to C = A + B.

        Call it between epochs; the current data loader pass keeps its draw.

        Args:
            engine: the trainer, whose ``epoch_length`` is updated to the new loader length.

        Returns:
            the hard examples B.
        """
        scores, labels = self._scores_and_labels()
        hard_examples = find_hard_examples(scores, labels, threshold=self.threshold)
        self.sampler.set_hard_examples(hard_examples)
        logger.info(
            "hard examples: %d of %d samples (per label %s); stage two samples %d per epoch",
            len(hard_examples),
            len(self.sampler.data_source),
            hard_examples.label_counts().tolist(),
            len(self.sampler.epoch_indices),
        )
        if engine is not None and isinstance(engine.state.dataloader, Sized):
            engine.state.epoch_length = len(engine.state.dataloader)
        return hard_examples

    def _pair_rows(self, predictions: torch.Tensor | list[torch.Tensor], labels: Any) -> torch.Tensor:
        """Scores and labels of a batch stacked as (B, 2, L)."""
        if labels is None:
            raise ValueError("hard-example mining needs labels, but the scored batch carries none")
        prediction_rows = _as_rows(predictions, "predictions")
        label_rows = _as_rows(labels, "labels").to(prediction_rows.device)
        if prediction_rows.shape != label_rows.shape:
            raise ValueError(
                f"predictions have shape {tuple(prediction_rows.shape)} but labels {tuple(label_rows.shape)}; "
                "hard-example mining needs one score per label"
            )
        scores = prediction_rows if self.score_transform is None else self.score_transform(prediction_rows)
        return torch.stack([scores, label_rows], dim=1)

    def _scores_and_labels(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.network is not None:
            pairs = score_dataset(
                self.network,
                self.dataset,
                self._pair_rows,
                batch_size=self.batch_size,
                prepare_batch=self.prepare_batch,
                device=self.device,
                num_workers=self.num_workers,
            )
        else:
            pairs = self._evaluator_pairs()
        return pairs[:, 0], pairs[:, 1]

    def _evaluator_pairs(self) -> torch.Tensor:
        collected: list[torch.Tensor] = []

        def collect(evaluator: Engine) -> None:
            pairs = self._pair_rows(*self.output_transform(evaluator.state.output)).detach()
            # a plain tensor: MONAI's MetaTensor outputs carry batched meta data that cannot be indexed when the
            # ranks' shares are gathered, and the hard examples saved in a checkpoint must load with weights_only
            collected.append(torch.as_tensor(pairs).as_subclass(torch.Tensor))

        self.evaluator.add_event_handler(Events.ITERATION_COMPLETED, collect)
        try:
            self.evaluator.run()
        finally:
            self.evaluator.remove_event_handler(collect, Events.ITERATION_COMPLETED)
        if not collected:
            raise ValueError("the evaluator produced no output to mine hard examples from")
        return gather_rank_shares(torch.cat(collected), len(self.sampler.data_source))


class SelectiveRescoreHandler:
    """Refresh the losses behind selective sampling: per-sample losses of the pool, model in eval mode, no grad.

    Works for a :class:`SelectiveSampler` (its pool) and a :class:`TripletBatchSampler` (its healthy pool, the
    source of negatives). Under a process group every rank scores its share of the pool and the shares are
    gathered, so every rank draws with the same probabilities.

    Args:
        sampler: the sampler whose :attr:`scored_pool` to refresh.
        network: the model.
        dataset: the dataset the pool's indices point into.
        loss_function: ``loss_function(outputs, targets)`` with ``reduction="none"``, shape (B, ...); values are
            averaged over all but the batch dimension.
        every_n_epochs: rescore after every n-th epoch (the default, n = 1, when neither interval is given).
        every_n_iterations: rescore after every k-th iteration instead; the new losses steer the draws that
            follow within the epoch.
        batch_size: items per forward pass.
        prepare_batch: ``prepare_batch(batch, device) -> (inputs, targets)``.
        device: where to run the network; defaults to the network's device.
        num_workers: data loader workers for scoring.

    Raises:
        ValueError: if both intervals are given, or one is not a positive integer.
    """

    def __init__(
        self,
        sampler: SelectiveSampler | TripletBatchSampler,
        network: nn.Module,
        dataset: Dataset,
        loss_function: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        every_n_epochs: int | None = None,
        every_n_iterations: int | None = None,
        batch_size: int = 32,
        prepare_batch: Callable[..., Any] = default_prepare_batch,
        device: torch.device | str | None = None,
        num_workers: int = 0,
    ) -> None:
        if every_n_epochs is not None and every_n_iterations is not None:
            raise ValueError("give every_n_epochs or every_n_iterations, not both")
        _check_positive(every_n_epochs, "every_n_epochs")
        _check_positive(every_n_iterations, "every_n_iterations")
        self.sampler = sampler
        self.network = network
        self.dataset = dataset
        self.loss_function = loss_function
        self.every_n_epochs = 1 if every_n_epochs is None and every_n_iterations is None else every_n_epochs
        self.every_n_iterations = every_n_iterations
        self.batch_size = batch_size
        self.prepare_batch = prepare_batch
        self.device = device
        self.num_workers = num_workers

    def attach(self, engine: Engine) -> None:
        """Set the sampler's epoch at every epoch start and rescore at the chosen interval."""
        engine.add_event_handler(Events.EPOCH_STARTED, self._set_sampler_epoch)
        if self.every_n_iterations is not None:
            engine.add_event_handler(Events.ITERATION_COMPLETED(every=self.every_n_iterations), self)
        else:
            engine.add_event_handler(Events.EPOCH_COMPLETED(every=self.every_n_epochs), self)

    def __call__(self, engine: Engine) -> None:
        self.rescore()

    def _set_sampler_epoch(self, engine: Engine) -> None:
        self.sampler.set_epoch(engine.state.epoch)

    def _per_sample_loss(self, outputs: torch.Tensor, targets: torch.Tensor | None) -> torch.Tensor:
        if targets is None:
            raise ValueError("selective sampling needs targets for the loss, but the scored batch carries none")
        loss = self.loss_function(outputs, targets)
        if loss.ndim == 0 or loss.shape[0] != outputs.shape[0]:
            raise ValueError(
                f"loss_function returned shape {tuple(loss.shape)} for a batch of {outputs.shape[0]}; "
                "build it with reduction='none'"
            )
        return loss.reshape(loss.shape[0], -1).float().mean(dim=1)

    def rescore(self) -> torch.Tensor:
        """Compute every pool sample's loss now and hand the losses to the sampler.

        Returns:
            the losses in pool order, shape (len(pool),), on the CPU.
        """
        scored_pool = self.sampler.scored_pool
        losses = score_dataset(
            self.network,
            Subset(self.dataset, scored_pool.pool),
            self._per_sample_loss,
            batch_size=self.batch_size,
            prepare_batch=self.prepare_batch,
            device=self.device,
            num_workers=self.num_workers,
        ).cpu()
        scored_pool.set_losses(losses)
        logger.info(
            "selective sampling: rescored %d samples, loss mean %.4g max %.4g",
            losses.numel(),
            losses.mean().item(),
            losses.max().item(),
        )
        return losses
