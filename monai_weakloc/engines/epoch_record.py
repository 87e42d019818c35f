"""The trainer's epoch in its checkpoints, for training whose epochs change length.

Ignite's ``Engine.state_dict`` keeps the iteration and the current ``epoch_length``, and ``load_state_dict``
derives the epoch as ``iteration // epoch_length`` and the position within it as ``iteration % epoch_length``.
Both are wrong once the epoch length changed during training, as when the hard-example stage samples
C = A + B instead of A: 4 epochs of 12 iterations then one of 15 give iteration 63, which Ignite reads as epoch
4 with 3 iterations done. :class:`EpochRecord`, saved with the trainer, keeps the epoch and the iterations done
within it, and puts them back after the trainer's own state is loaded.

A run resumed within an epoch finishes that epoch from a new data loader iterator. Ignite would train its first
batches (those done before the kill, when the sampler draws the same order for the same epoch, as samplers with
``set_epoch`` do) and carry the iterator, not run to its end, into the next epoch, which would then straddle two
orders: some samples twice, others not at all, and every later epoch so. The record skips the batches done
(loaded, not trained) and starts a new iterator when the resumed epoch ends: the resumed epoch trains the batches
the kill left out, and every later epoch is one whole pass.
"""

from __future__ import annotations

import logging
from typing import Any

from ignite.engine import Engine, Events

__all__ = ["EpochRecord"]

logger = logging.getLogger(__name__)


class EpochRecord:
    """Saves the trainer's epoch and the iterations done within it; restores them after a resume.

    Put it in the checkpoint's save dict (as ``epoch_record``, say) and attach it to the trainer after the handler
    that loads the checkpoint at ``STARTED`` (``ResumeFromLatestCheckpoint``): it then overrides the epoch Ignite
    derived from the iteration count. The iteration count itself is kept (checkpoint names and iteration-based
    handlers use it).

    Ignite has no public way to set the position within the epoch at which a resumed run continues, to skip
    batches, nor to start a new data loader iterator at an epoch's end: they are the engine's ``_init_iter``,
    ``_dataloader_iter`` and ``_setup_dataloader_iter``, which this handler uses (checked on ignite 0.5).
    """

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self._epoch_start_iteration = 0
        self._loaded: dict[str, int] | None = None
        self._resumed_epoch: int | None = None  # the epoch a run resumed within finishes, until it has ended
        self._batches_to_skip = 0

    def attach(self, engine: Engine) -> None:
        """Track ``engine``'s epochs, restore a loaded record when it starts, and start a new data loader iterator
        after an epoch it resumed within."""
        self.engine = engine
        engine.add_event_handler(Events.STARTED, self._restore)
        engine.add_event_handler(Events.EPOCH_STARTED, self._mark_epoch_start)
        engine.add_event_handler(Events.GET_BATCH_STARTED, self._skip_batches_done)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self._restart_loader_after_resumed_epoch)

    def _mark_epoch_start(self, engine: Engine) -> None:
        if engine.state.epoch == self._resumed_epoch:  # it started before the checkpoint
            return
        self._epoch_start_iteration = engine.state.iteration

    def state_dict(self) -> dict[str, int]:
        """``epoch`` (completed epochs) and ``iterations_in_epoch`` (done in the one under way, 0 at an epoch end).

        Raises:
            RuntimeError: when not attached to an engine.
        """
        if self.engine is None:
            raise RuntimeError("EpochRecord: attach it to the trainer before saving")
        state = self.engine.state
        done = state.iteration - self._epoch_start_iteration
        if state.epoch_length is not None and done >= state.epoch_length:
            return {"epoch": int(state.epoch), "iterations_in_epoch": 0}
        return {"epoch": max(int(state.epoch) - 1, 0), "iterations_in_epoch": int(done)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Keep the saved record until the trainer starts.

        Raises:
            ValueError: when a key is missing or negative.
        """
        missing = [key for key in ("epoch", "iterations_in_epoch") if key not in state_dict]
        if missing:
            raise ValueError(f"EpochRecord: the saved record lacks {missing}")
        record = {key: int(state_dict[key]) for key in ("epoch", "iterations_in_epoch")}
        if min(record.values()) < 0:
            raise ValueError(f"EpochRecord: the saved record {record} holds a negative count")
        self._loaded = record

    def _restore(self, engine: Engine) -> None:
        if self._loaded is None:
            return
        epoch, done = self._loaded["epoch"], self._loaded["iterations_in_epoch"]
        self._loaded = None
        if (engine.state.epoch, engine.state.iteration % (engine.state.epoch_length or 1)) != (epoch, done):
            logger.info(
                "resume: epoch %d with %d iteration(s) done in the next (Ignite derived epoch %d from iteration %d)",
                epoch,
                done,
                engine.state.epoch,
                engine.state.iteration,
            )
        engine.state.epoch = epoch
        engine._init_iter = done
        self._epoch_start_iteration = engine.state.iteration - done
        self._resumed_epoch = epoch + 1 if done > 0 else None
        self._batches_to_skip = done

    def _skip_batches_done(self, engine: Engine) -> None:
        if self._batches_to_skip == 0:
            return
        skip, self._batches_to_skip = self._batches_to_skip, 0
        for skipped in range(skip):
            try:
                next(engine._dataloader_iter)
            except StopIteration:
                raise RuntimeError(
                    f"EpochRecord: the data loader ran out after {skipped} of the {skip} batches the resumed epoch "
                    "had done: the training data changed since the checkpoint"
                ) from None
        logger.info("resume: skipped the %d batch(es) of epoch %d done before the checkpoint", skip, engine.state.epoch)

    def _restart_loader_after_resumed_epoch(self, engine: Engine) -> None:
        if engine.state.epoch != self._resumed_epoch:
            return
        self._resumed_epoch = None
        if engine.state.max_epochs is None or engine.state.epoch < engine.state.max_epochs:
            engine._setup_dataloader_iter()
