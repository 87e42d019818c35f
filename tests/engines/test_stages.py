"""Training stages run in order, one or several, and a resumed command continues the interrupted stage."""

from __future__ import annotations

import pytest
import torch
from ignite.engine import Engine, Events

from monai_weakloc.engines.checkpoint import AtomicCheckpointSaver, ResumeFromLatestCheckpoint
from monai_weakloc.engines.stages import run_stages


def counting_trainer(log: list[tuple[str, int]], name: str, max_epochs: int = 2) -> Engine:
    trainer = Engine(lambda engine, batch: None)
    trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda engine: log.append((name, engine.state.epoch)))
    trainer.run = lambda: Engine.run(trainer, [0, 1], max_epochs=max_epochs)
    return trainer


def test_stages_run_in_the_order_given_and_one_can_run_alone():
    log: list[tuple[str, int]] = []
    trainers = {name: counting_trainer(log, name) for name in ("first", "second", "third")}
    assert run_stages(trainers, ["first", "second", "third"]) == ["first", "second", "third"]
    assert [name for name, _ in log] == ["first", "first", "second", "second", "third", "third"]
    log.clear()
    run_stages({name: counting_trainer(log, name) for name in ("first", "second")}, ["second"])
    assert log == [("second", 1), ("second", 2)]


@pytest.mark.parametrize("stages", [[], ["first", "first"], ["frist"]])
def test_bad_stage_lists_name_the_known_stages(stages):
    with pytest.raises(ValueError, match="stages must be distinct names of first, second"):
        run_stages({"first": Engine(lambda e, b: None), "second": Engine(lambda e, b: None)}, stages)


def checkpointed_trainer(ckpt_dir, log, name, resume, fail_at_epoch=None) -> Engine:
    weight = torch.nn.Linear(1, 1)

    def step(engine, batch):
        if fail_at_epoch is not None and engine.state.epoch == fail_at_epoch:
            raise RuntimeError("killed")
        return None

    trainer = Engine(step)
    objects = {"weight": weight}
    ResumeFromLatestCheckpoint(ckpt_dir / name, objects, enabled=resume).attach(trainer)
    AtomicCheckpointSaver(save_dir=ckpt_dir / name, save_dict=objects).attach(trainer)
    trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda engine: log.append((name, engine.state.epoch)))
    trainer.run = lambda: Engine.run(trainer, [0, 1], max_epochs=3)
    return trainer


def test_a_resumed_command_skips_finished_stages_and_continues_the_interrupted_one(tmp_path):
    log: list[tuple[str, int]] = []
    trainers = {
        "first": checkpointed_trainer(tmp_path, log, "first", resume=False),
        "second": checkpointed_trainer(tmp_path, log, "second", resume=False, fail_at_epoch=3),
    }
    with pytest.raises(RuntimeError, match="killed"):
        run_stages(trainers, ["first", "second"])
    assert log == [("first", 1), ("first", 2), ("first", 3), ("second", 1), ("second", 2)]
    log.clear()
    resumed = {name: checkpointed_trainer(tmp_path, log, name, resume=True) for name in ("first", "second")}
    run_stages(resumed, ["first", "second"])
    assert log == [("second", 3)]
