"""Multi-phase training in one Ignite run.

Methods such as Zoom-in-Net train in phases (first one sub-network, then another with the first frozen,
then all together). One trainer runs every phase: this handler switches the phase at the start of each
epoch by calling ``set_phase(phase)`` on its targets (the network, the loss). Because the phase follows from
the epoch, resuming from a checkpoint lands in the right phase. Ignite and MONAI have no such handler.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from ignite.engine import Engine, Events
from torch.nn.parallel import DistributedDataParallel

__all__ = ["PhaseSchedule", "final_phase_first_epoch"]

logger = logging.getLogger(__name__)


def final_phase_first_epoch(phase_epochs: Sequence[int]) -> int:
    """The 1-based first epoch of the last phase that has epochs, e.g. 41 for ``phase_epochs=[30, 10, 10]``.

    A bundle config gives it to ``BestModelSaver(from_epoch=...)`` from the same ``phase_epochs`` its
    :class:`PhaseSchedule` runs (the schedule itself sits in the trainer's handler list, where MONAI's
    property checks want every entry to be a ``_target_`` dict, not a reference).

    Raises:
        ValueError: when no phase has epochs.
    """
    epochs = [int(value) for value in phase_epochs]
    if not any(value > 0 for value in epochs):
        raise ValueError(f"phase_epochs must have a phase with epochs, got {epochs}")
    last_epochs = [value for value in epochs if value > 0][-1]
    return sum(epochs) - last_epochs + 1


class PhaseSchedule:
    """Run phase ``phases[i]`` for ``phase_epochs[i]`` epochs, in order.

    Args:
        phase_epochs: epochs of each phase; a phase with 0 epochs is skipped.
        targets: objects with a ``set_phase(int)`` method (a ``DistributedDataParallel`` wrapper is
            unwrapped).
        phases: the phase numbers (default ``1, 2, ..., len(phase_epochs)``).
    """

    def __init__(self, phase_epochs: Sequence[int], targets: Sequence[Any], phases: Sequence[int] | None = None) -> None:
        phase_epochs = [int(e) for e in phase_epochs]
        phases = list(phases) if phases is not None else list(range(1, len(phase_epochs) + 1))
        if len(phases) != len(phase_epochs):
            raise ValueError(f"phases {phases} and phase_epochs {phase_epochs} differ in length")
        if any(e < 0 for e in phase_epochs) or sum(phase_epochs) == 0:
            raise ValueError(f"phase_epochs must be >= 0 with a positive total, got {phase_epochs}")
        self.phase_epochs = phase_epochs
        self.phases = phases
        self.targets = [t.module if isinstance(t, DistributedDataParallel) else t for t in targets]
        for target in self.targets:
            if not callable(getattr(target, "set_phase", None)):
                raise TypeError(f"{type(target).__name__} has no set_phase(phase) method")
        self.current: int | None = None

    @property
    def total_epochs(self) -> int:
        """Epochs of all phases together: the trainer's ``max_epochs``."""
        return sum(self.phase_epochs)

    @property
    def final_phase_first_epoch(self) -> int:
        """The 1-based first epoch of the last phase that has epochs, e.g. 41 for ``phase_epochs=[30, 10, 10]``.

        A network saved before it has heads that the final phase trains and its prediction uses: the first
        epoch a best-model saver may consider (``BestModelSaver(from_epoch=...)``).
        """
        return final_phase_first_epoch(self.phase_epochs)

    def phase_at(self, epoch: int) -> int:
        """The phase of 1-based ``epoch``; epochs past the schedule stay in the last phase."""
        end = 0
        for phase, epochs in zip(self.phases, self.phase_epochs):
            end += epochs
            if epoch <= end and epochs > 0:
                return phase
        return [p for p, e in zip(self.phases, self.phase_epochs) if e > 0][-1]

    def attach(self, engine: Engine) -> None:
        """Attach to a trainer; the phase is set before the first epoch and at each epoch start."""
        engine.add_event_handler(Events.EPOCH_STARTED, self)

    def __call__(self, engine: Engine) -> None:
        phase = self.phase_at(engine.state.epoch)
        if phase != self.current:
            for target in self.targets:
                target.set_phase(phase)
            logger.info("epoch %d: training phase %d", engine.state.epoch, phase)
            self.current = phase
