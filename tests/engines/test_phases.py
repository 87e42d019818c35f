"""Switching training phases by epoch."""

from __future__ import annotations

import pytest
from ignite.engine import Engine, Events

from monai_weakloc.engines.phases import PhaseSchedule


class Recorder:
    def __init__(self) -> None:
        self.calls: list[int] = []

    def set_phase(self, phase: int) -> None:
        self.calls.append(phase)


def test_phases_follow_the_epochs_and_switch_once_each():
    target = Recorder()
    schedule = PhaseSchedule([2, 0, 3], [target], phases=[1, 2, 3])
    phases_seen: list[int] = []
    engine = Engine(lambda e, b: None)
    schedule.attach(engine)
    engine.add_event_handler(Events.EPOCH_COMPLETED, lambda e: phases_seen.append(schedule.current))
    engine.run([0, 1], max_epochs=schedule.total_epochs)
    assert phases_seen == [1, 1, 3, 3, 3]
    assert target.calls == [1, 3]


def test_resumed_epoch_lands_in_its_phase():
    schedule = PhaseSchedule([1, 1, 2], [Recorder()])
    assert [schedule.phase_at(e) for e in range(1, 7)] == [1, 2, 3, 3, 3, 3]


def test_bad_schedules_are_rejected():
    with pytest.raises(ValueError, match="differ in length"):
        PhaseSchedule([1, 1], [Recorder()], phases=[1])
    with pytest.raises(ValueError, match="positive total"):
        PhaseSchedule([0, 0], [Recorder()])
    with pytest.raises(TypeError, match="has no set_phase"):
        PhaseSchedule([1], [object()])


@pytest.mark.parametrize(
    ("phase_epochs", "first_epoch"),
    [([30, 10, 10], 41), ([2, 0, 3], 3), ([1, 0, 0], 1), ([2, 3, 0], 3), ([0, 0, 4], 1)],
)
def test_final_phase_first_epoch_is_where_the_last_phase_with_epochs_starts(phase_epochs, first_epoch):
    schedule = PhaseSchedule(phase_epochs, [Recorder()])
    assert schedule.final_phase_first_epoch == first_epoch
    assert schedule.phase_at(first_epoch) == schedule.phase_at(schedule.total_epochs)
    if first_epoch > 1:
        assert schedule.phase_at(first_epoch - 1) != schedule.phase_at(first_epoch)
