"""Atomic checkpoints and resuming a MONAI trainer from the latest one."""

from __future__ import annotations

import json
import re

import pytest
import torch
from ignite.engine import Engine, Events
from monai.engines import SupervisedTrainer
from torch import nn

from monai_weakloc.engines.checkpoint import (
    AtomicCheckpointSaver,
    BestModelSaver,
    ResumeFromLatestCheckpoint,
    latest_checkpoint,
)
from monai_weakloc.engines.phases import PhaseSchedule


def make_trainer(max_epochs: int, seed: int = 0) -> tuple[SupervisedTrainer, nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(seed)
    network = nn.Linear(4, 2)
    optimizer = torch.optim.SGD(network.parameters(), lr=0.1, momentum=0.9)
    data = [{"image": torch.randn(4), "label": torch.tensor(i % 2)} for i in range(12)]
    loader = torch.utils.data.DataLoader(data, batch_size=4)
    trainer = SupervisedTrainer(
        device=torch.device("cpu"), max_epochs=max_epochs, train_data_loader=loader, network=network,
        optimizer=optimizer, loss_function=nn.CrossEntropyLoss(),
    )
    return trainer, network, optimizer


def test_saves_every_n_iterations_and_keeps_the_last(tmp_path):
    trainer, network, optimizer = make_trainer(max_epochs=2)
    AtomicCheckpointSaver(tmp_path, {"network": network, "optimizer": optimizer},
                          save_every=2, n_saved=2).attach(trainer)
    trainer.run()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint_4.pt", "checkpoint_6.pt"]
    assert latest_checkpoint(tmp_path).name == "checkpoint_6.pt"
    state = torch.load(latest_checkpoint(tmp_path), weights_only=True)
    assert state["trainer"]["iteration"] == 6 and state["trainer"]["epoch_length"] == 3


def test_resume_continues_at_the_saved_epoch_with_the_saved_weights(tmp_path):
    first, network, optimizer = make_trainer(max_epochs=1)
    AtomicCheckpointSaver(tmp_path, {"network": network, "optimizer": optimizer}).attach(first)
    first.run()
    saved_weight = network.weight.detach().clone()

    second, network2, optimizer2 = make_trainer(max_epochs=3, seed=1)
    epochs_run: list[int] = []
    ResumeFromLatestCheckpoint(tmp_path, {"network": network2, "optimizer": optimizer2}).attach(second)
    second.add_event_handler(Events.EPOCH_STARTED, lambda e: epochs_run.append(e.state.epoch))
    loaded: list[torch.Tensor] = []
    second.add_event_handler(Events.STARTED, lambda e: loaded.append(network2.weight.detach().clone()))
    second.run()
    assert torch.equal(loaded[0], saved_weight)
    assert epochs_run == [2, 3]
    assert second.state.iteration == 9


def test_resume_without_checkpoint_starts_fresh(tmp_path):
    trainer, network, optimizer = make_trainer(max_epochs=1)
    ResumeFromLatestCheckpoint(tmp_path / "none", {"network": network}).attach(trainer)
    trainer.run()
    assert trainer.state.epoch == 1 and trainer.state.iteration == 3


class PhaseRecorder:
    def set_phase(self, phase: int) -> None:
        self.phase = phase


def test_best_model_saver_keeps_the_best_of_the_last_phase(tmp_path):
    network = nn.Linear(2, 2)
    schedule = PhaseSchedule([2, 0, 3], [PhaseRecorder()])
    saver = BestModelSaver(tmp_path, network, "val_kappa", from_epoch=schedule.final_phase_first_epoch)
    evaluator = Engine(lambda engine, batch: None)
    saver.attach(evaluator)
    saved: list[tuple[int, float]] = []
    for epoch, kappa in [(1, 0.9), (2, 0.95), (3, 0.5), (4, 0.7), (5, 0.6)]:
        with torch.no_grad():
            network.weight.fill_(epoch)
        evaluator.state.epoch, evaluator.state.metrics = epoch, {"val_kappa": kappa}
        saver(evaluator)
        record = tmp_path / "model.json"
        saved.append((epoch, json.loads(record.read_text())["value"] if record.exists() else None))
    assert saved == [(1, None), (2, None), (3, 0.5), (4, 0.7), (5, 0.7)]
    assert torch.load(tmp_path / "model.pt", weights_only=True)["weight"].eq(4).all()
    resumed = BestModelSaver(tmp_path, network, "val_kappa", from_epoch=3)
    assert resumed.best == 0.7  # a resumed run does not overwrite a better model


def train_with_best_model(ckpt_dir, max_epochs: int, resume: bool | str) -> tuple[SupervisedTrainer, nn.Module]:
    """A tiny trainer saving checkpoints and its network as the best model after each epoch, as a bundle does."""
    trainer, network, optimizer = make_trainer(max_epochs=max_epochs)
    ResumeFromLatestCheckpoint(ckpt_dir, {"network": network, "optimizer": optimizer}, enabled=resume).attach(trainer)
    AtomicCheckpointSaver(ckpt_dir, {"network": network, "optimizer": optimizer}).attach(trainer)
    best = BestModelSaver(ckpt_dir, network, "score")
    trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda engine: engine.state.metrics.update(score=0.5))
    trainer.add_event_handler(Events.EPOCH_COMPLETED, best)
    trainer.run()
    return trainer, network


def test_a_new_run_refuses_a_folder_holding_an_earlier_runs_model(tmp_path):
    ckpt_dir = tmp_path / "models"
    train_with_best_model(ckpt_dir, max_epochs=1, resume=False)
    before = {path.name: path.read_bytes() for path in ckpt_dir.iterdir()}
    assert {"model.pt", "model.json", "checkpoint_3.pt"} <= set(before)

    expected = rf"^{re.escape(str(ckpt_dir))} holds the model or checkpoints of an earlier training run .*--resume true"
    with pytest.raises(ValueError, match=expected) as raised:
        train_with_best_model(ckpt_dir, max_epochs=1, resume=False)
    assert "checkpoint_3.pt, model.json, model.pt" in str(raised.value)
    assert "--arg resume=true" in str(raised.value)
    assert {path.name: path.read_bytes() for path in ckpt_dir.iterdir()} == before  # nothing was written


def test_a_left_over_best_model_alone_is_refused_too(tmp_path):
    ckpt_dir = tmp_path / "models"
    ckpt_dir.mkdir()
    torch.save(nn.Linear(4, 2).state_dict(), ckpt_dir / "model.pt")
    with pytest.raises(ValueError, match=r"earlier training run \(model\.pt\)"):
        train_with_best_model(ckpt_dir, max_epochs=1, resume=False)


def test_resuming_the_earlier_run_continues_it(tmp_path):
    ckpt_dir = tmp_path / "models"
    train_with_best_model(ckpt_dir, max_epochs=1, resume=False)
    trainer, _ = train_with_best_model(ckpt_dir, max_epochs=2, resume="true")
    assert trainer.state.epoch == 2 and latest_checkpoint(ckpt_dir).name == "checkpoint_6.pt"


def test_a_new_run_starts_in_an_empty_or_missing_folder_and_ignores_other_files(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "README.txt").write_text("my runs")
    for folder in ("empty", "missing", "notes"):
        trainer, _ = train_with_best_model(tmp_path / folder, max_epochs=1, resume="False")
        assert trainer.state.epoch == 1 and (tmp_path / folder / "model.pt").is_file()


def test_a_resume_flag_that_is_not_true_or_false_is_named(tmp_path):
    with pytest.raises(TypeError, match=r"resume flag\) must be true or false, got 'yes'"):
        ResumeFromLatestCheckpoint(tmp_path, {}, enabled="yes")
