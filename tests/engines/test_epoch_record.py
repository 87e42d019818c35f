"""EpochRecord: a resumed run whose epochs changed length continues at the saved epoch and position."""

from __future__ import annotations

import pytest
from ignite.engine import Engine, Events

from monai_weakloc.engines.epoch_record import EpochRecord


class GrowingData:
    """A loader whose length grows from 3 to 5 batches once ``grow`` is set (stage two of hard examples)."""

    def __init__(self) -> None:
        self.length = 3

    def __len__(self) -> int:
        return self.length

    def __iter__(self):
        return iter(range(self.length))


def trainer(data: GrowingData, grow_at_epoch: int, log: list) -> tuple[Engine, EpochRecord]:
    engine = Engine(lambda engine, batch: log.append((engine.state.epoch, batch)))
    record = EpochRecord()
    record.attach(engine)

    @engine.on(Events.EPOCH_STARTED(once=grow_at_epoch))
    def grow(engine: Engine) -> None:
        data.length = 5
        engine.state.epoch_length = 5

    return engine, record


@pytest.mark.parametrize("stop_after", [2 * 3 + 5, 2 * 3 + 5 + 2], ids=["epoch end", "within an epoch"])
def test_a_resumed_run_continues_at_the_saved_epoch_and_position(stop_after):
    data, log = GrowingData(), []
    engine, record = trainer(data, grow_at_epoch=3, log=log)
    saved = {}

    @engine.on(Events.ITERATION_COMPLETED(once=stop_after))
    def save_and_stop(engine: Engine) -> None:
        saved.update(engine=engine.state_dict(), record=record.state_dict())
        engine.terminate()

    engine.run(data, max_epochs=5)
    epoch, done = (3, 0) if stop_after == 11 else (3, 2)
    assert saved["record"] == {"epoch": epoch, "iterations_in_epoch": done}
    # Ignite alone would read iteration 11 (or 13) of epochs of 5 as epoch 2
    assert saved["engine"]["iteration"] // saved["engine"]["epoch_length"] == 2

    resumed_data, resumed_log = GrowingData(), []
    resumed_data.length = 5
    resumed, resumed_record = trainer(resumed_data, grow_at_epoch=3, log=resumed_log)
    resumed.load_state_dict(saved["engine"])
    resumed_record.load_state_dict(saved["record"])
    resumed.run(resumed_data, max_epochs=5)
    epochs = [e for e, _ in resumed_log]
    assert epochs == [4] * (5 - done) + [5] * 5
    # the resumed epoch trains the batches the stop left out; the next is a whole pass, not the rest of an iterator
    assert [batch for e, batch in resumed_log if e == 4] == list(range(done, 5))
    assert [batch for e, batch in resumed_log if e == 5] == list(range(5))
    assert resumed.state.iteration == 3 * 2 + 5 * 3
    assert resumed_record.state_dict() == {"epoch": 5, "iterations_in_epoch": 0}


def test_a_record_without_its_keys_is_refused():
    with pytest.raises(ValueError, match="lacks"):
        EpochRecord().load_state_dict({"epoch": 1})
    with pytest.raises(RuntimeError, match="attach"):
        EpochRecord().state_dict()
