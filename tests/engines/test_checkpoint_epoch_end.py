"""A checkpoint at the last iteration of an epoch holds the state after the epoch's end handlers."""

from __future__ import annotations

import torch
from ignite.engine import Events
from monai.engines import SupervisedTrainer
from monai.handlers import LrScheduleHandler
from torch import nn

from monai_weakloc.engines.checkpoint import AtomicCheckpointSaver, ResumeFromLatestCheckpoint


def make_trainer(max_epochs: int) -> tuple[SupervisedTrainer, dict]:
    torch.manual_seed(0)
    network = nn.Linear(4, 2)
    optimizer = torch.optim.SGD(network.parameters(), lr=1.0)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    data = [{"image": torch.randn(4), "label": torch.tensor(i % 2)} for i in range(6)]
    trainer = SupervisedTrainer(
        device=torch.device("cpu"), max_epochs=max_epochs, network=network, optimizer=optimizer,
        train_data_loader=torch.utils.data.DataLoader(data, batch_size=2), loss_function=nn.CrossEntropyLoss(),
    )
    LrScheduleHandler(scheduler, print_lr=False).attach(trainer)
    return trainer, {"network": network, "optimizer": optimizer, "lr_scheduler": scheduler}


def test_epoch_end_checkpoint_comes_after_the_learning_rate_step(tmp_path):
    trainer, objects = make_trainer(max_epochs=2)
    AtomicCheckpointSaver(tmp_path, objects, save_every=1, n_saved=6).attach(trainer)
    trainer.run()
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"checkpoint_{i}.pt" for i in range(1, 7)]
    steps = {i: torch.load(tmp_path / f"checkpoint_{i}.pt", weights_only=True)["lr_scheduler"]["last_epoch"]
             for i in range(1, 7)}
    # three iterations per epoch: the scheduler steps once at the end of each epoch
    assert steps == {1: 0, 2: 0, 3: 1, 4: 1, 5: 1, 6: 2}


def test_resuming_from_an_epoch_end_keeps_the_learning_rate_schedule(tmp_path):
    first, objects = make_trainer(max_epochs=1)
    AtomicCheckpointSaver(tmp_path, objects, save_every=1).attach(first)
    first.run()

    second, objects = make_trainer(max_epochs=3)
    ResumeFromLatestCheckpoint(tmp_path, objects).attach(second)
    learning_rates: list[float] = []
    second.add_event_handler(Events.EPOCH_STARTED, lambda e: learning_rates.append(objects["optimizer"].param_groups[0]["lr"]))
    second.run()
    # epochs 2 and 3 of an uninterrupted run: 1.0 * 0.5 and 1.0 * 0.5 ** 2
    assert learning_rates == [0.5, 0.25]


def test_epochs_that_change_length_are_saved_at_their_ends_and_within(tmp_path):
    trainer, objects = make_trainer(max_epochs=3)
    data = trainer.data_loader.dataset

    @trainer.on(Events.EPOCH_STARTED(once=2))
    def lengthen(engine) -> None:  # stage two of hard examples: 6 samples, then 10, in batches of 2
        data.extend({"image": torch.randn(4), "label": torch.tensor(i % 2)} for i in range(4))
        engine.state.epoch_length = 5

    AtomicCheckpointSaver(tmp_path, objects, save_every=5, n_saved=10).attach(trainer)
    trainer.run()
    # epochs end at iterations 3, 8 and 13; within them every fifth iteration: 5 and 10 (a multiple of the epoch
    # length 5 that ends no epoch)
    assert sorted(int(p.stem.split("_")[1]) for p in tmp_path.iterdir()) == [3, 5, 8, 10, 13]
    steps = {i: torch.load(tmp_path / f"checkpoint_{i}.pt", weights_only=True)["lr_scheduler"]["last_epoch"]
             for i in (3, 5, 8, 10, 13)}
    assert steps == {3: 1, 5: 1, 8: 2, 10: 2, 13: 3}  # every epoch end saved after the scheduler's step
