"""Set a loss weight from the epoch: a step or a linear ramp between two values.

Self-transfer learning weighs its localizer's loss by alpha, 0.1 at first and 0.9 after 60 epochs (Hwang and
Kim 2016); a reimplementation (``philip-mueller/wsrpn``) ramps it linearly instead. This handler sets such an
attribute (``alpha`` of the loss) at the start of every epoch. The value follows from the epoch alone, so a run
resumed from a checkpoint gets the value of the epoch it resumes at. Ignite's parameter schedulers drive
optimizer parameters (``param_groups``) or, with ``StateParamScheduler``, an attribute of the engine's state,
not one of the loss; MONAI's handlers have no such schedule either.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

from ignite.engine import Engine, Events
from torch.nn.parallel import DistributedDataParallel

__all__ = ["SCHEDULE_MODES", "LossWeightSchedule"]

logger = logging.getLogger(__name__)

SCHEDULE_MODES: tuple[str, ...] = ("step", "linear")


class LossWeightSchedule:
    """Set ``target.<attribute>`` from the 1-based epoch at every ``EPOCH_STARTED``.

    - ``mode="step"``: ``start`` for epochs ``1 .. step_epoch``, ``end`` from epoch ``step_epoch + 1`` on (the
      paper's "0.1 at first, increased to 0.9 after 60 epochs" is ``start=0.1, end=0.9, step_epoch=60``);
    - ``mode="linear"``: with ``ramp_epochs=(a, b)``, ``start`` up to epoch ``a``, ``end`` from epoch ``b`` on,
      and ``start + (end - start) * (epoch - a) / (b - a)`` in between.

    ``step_epoch`` is read by the step mode only, ``ramp_epochs`` by the linear mode only.

    Args:
        target: the object whose attribute is set, typically the loss (a ``DistributedDataParallel`` wrapper is
            unwrapped). The attribute's own setter validates the values (``SelfTransferLoss.alpha`` wants [0, 1]).
        attribute: the attribute's name.
        start: the value of the first epochs.
        end: the value of the last epochs.
        mode: one of :data:`SCHEDULE_MODES`.
        step_epoch: the last epoch at ``start`` in the step mode, a positive int.
        ramp_epochs: ``(a, b)``, the epochs where the linear ramp leaves ``start`` and reaches ``end``,
            ``1 <= a < b``; required by the linear mode.

    Raises:
        TypeError: when ``target`` has no attribute ``attribute``.
        ValueError: on an unknown mode, a non-finite ``start`` or ``end``, a bad ``step_epoch``, or missing or
            bad ``ramp_epochs`` in the linear mode.
    """

    def __init__(
        self,
        target: Any,
        attribute: str = "alpha",
        start: float = 0.1,
        end: float = 0.9,
        mode: str = "step",
        step_epoch: int = 60,
        ramp_epochs: Sequence[int] | None = None,
    ) -> None:
        self.target = target.module if isinstance(target, DistributedDataParallel) else target
        if not hasattr(self.target, attribute):
            raise TypeError(f"LossWeightSchedule: {type(self.target).__name__} has no attribute {attribute!r}")
        if mode not in SCHEDULE_MODES:
            raise ValueError(f"LossWeightSchedule: mode must be one of {SCHEDULE_MODES}, got {mode!r}")
        for name, value in (("start", start), ("end", end)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"LossWeightSchedule: {name} must be a finite number, got {value!r}")
        if mode == "step" and (isinstance(step_epoch, bool) or not isinstance(step_epoch, int) or step_epoch < 1):
            raise ValueError(f"LossWeightSchedule: step_epoch must be a positive int, got {step_epoch!r}")
        if mode == "linear":
            ramp_epochs = _ramp(ramp_epochs)
        self.attribute = attribute
        self.start = float(start)
        self.end = float(end)
        self.mode = mode
        self.step_epoch = step_epoch
        self.ramp_epochs = ramp_epochs

    def value_at(self, epoch: int) -> float:
        """The value of 1-based ``epoch``."""
        if self.mode == "step":
            return self.start if epoch <= self.step_epoch else self.end
        first, last = self.ramp_epochs
        fraction = min(max((epoch - first) / (last - first), 0.0), 1.0)
        return self.start + (self.end - self.start) * fraction

    def attach(self, engine: Engine) -> None:
        """Attach to a trainer: the value is set at the start of every epoch, before its first iteration."""
        engine.add_event_handler(Events.EPOCH_STARTED, self)

    def __call__(self, engine: Engine) -> None:
        value = self.value_at(engine.state.epoch)
        previous = getattr(self.target, self.attribute)
        setattr(self.target, self.attribute, value)
        if previous != value:
            logger.info("epoch %d: %s.%s = %g", engine.state.epoch, type(self.target).__name__, self.attribute, value)


def _ramp(ramp_epochs: Sequence[int] | None) -> tuple[int, int]:
    """``ramp_epochs`` checked as two ints ``1 <= a < b``."""
    if ramp_epochs is None:
        raise ValueError("LossWeightSchedule: mode 'linear' needs ramp_epochs=(a, b)")
    values = tuple(ramp_epochs)
    if (
        len(values) != 2
        or any(isinstance(v, bool) or not isinstance(v, int) for v in values)
        or not 1 <= values[0] < values[1]
    ):
        raise ValueError(f"LossWeightSchedule: ramp_epochs must be two ints 1 <= a < b, got {ramp_epochs!r}")
    return values[0], values[1]
