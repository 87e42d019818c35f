"""Setting a loss weight from the epoch: the paper's step at epoch 60, a linear ramp, resuming, DDP."""

from __future__ import annotations

import pytest
import torch
import torch.distributed as dist
from ignite.engine import Engine, Events
from torch.nn.parallel import DistributedDataParallel
from weakloc_networks.self_transfer_loss import SelfTransferLoss

from monai_weakloc.engines.loss_weight_schedule import LossWeightSchedule


def alpha_per_epoch(schedule: LossWeightSchedule, loss: SelfTransferLoss, max_epochs: int) -> list[float]:
    """Run a trivial trainer; the alpha its iterations saw, one per epoch."""
    seen: list[float] = []
    engine = Engine(lambda engine, batch: None)
    schedule.attach(engine)
    engine.add_event_handler(Events.ITERATION_STARTED, lambda engine: seen.append(loss.alpha))
    engine.run([0], max_epochs=max_epochs)
    return seen


def test_step_schedule_is_the_start_value_through_epoch_60_and_the_end_value_after():
    loss = SelfTransferLoss(alpha=0.5)
    seen = alpha_per_epoch(LossWeightSchedule(loss, start=0.1, end=0.9, mode="step", step_epoch=60), loss, 63)
    assert seen == [0.1] * 60 + [0.9] * 3


def test_linear_schedule_ramps_between_its_epochs_and_is_clamped_outside():
    loss = SelfTransferLoss()
    schedule = LossWeightSchedule(loss, start=0.1, end=0.9, mode="linear", ramp_epochs=(2, 6))
    seen = alpha_per_epoch(schedule, loss, 8)
    assert seen == pytest.approx([0.1, 0.1, 0.3, 0.5, 0.7, 0.9, 0.9, 0.9])
    assert schedule.value_at(1000) == pytest.approx(0.9)


def test_a_run_resumed_after_epoch_60_trains_epoch_61_at_the_end_value():
    loss = SelfTransferLoss(alpha=0.1)
    seen: list[tuple[int, float]] = []
    engine = Engine(lambda engine, batch: None)
    LossWeightSchedule(loss, start=0.1, end=0.9, step_epoch=60).attach(engine)
    engine.add_event_handler(Events.ITERATION_STARTED, lambda engine: seen.append((engine.state.epoch, loss.alpha)))
    engine.load_state_dict({"epoch": 60, "max_epochs": 61, "epoch_length": 2})
    engine.run([0, 1])
    assert seen == [(61, 0.9), (61, 0.9)]


def test_any_attribute_of_a_distributed_data_parallel_wrapped_target(tmp_path):
    class Weighted(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Linear(1, 1)
            self.weight_of_b = 0.0

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'init'}", rank=0, world_size=1)
    try:
        target = Weighted()
        schedule = LossWeightSchedule(DistributedDataParallel(target), attribute="weight_of_b", start=1.0, end=3.0,
                                      mode="linear", ramp_epochs=(1, 3))
        alpha_epochs = []
        engine = Engine(lambda engine, batch: alpha_epochs.append(target.weight_of_b))
        schedule.attach(engine)
        engine.run([0], max_epochs=3)
    finally:
        dist.destroy_process_group()
    assert schedule.target is target
    assert alpha_epochs == [1.0, 2.0, 3.0]


def test_values_the_target_refuses_are_not_set():
    loss = SelfTransferLoss()
    engine = Engine(lambda engine, batch: None)
    LossWeightSchedule(loss, start=0.1, end=1.5, step_epoch=1).attach(engine)
    with pytest.raises(ValueError, match=r"alpha must lie in \[0, 1\], got 1.5"):
        engine.run([0], max_epochs=2)
    assert loss.alpha == 0.1


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"attribute": "beta"}, TypeError, "SelfTransferLoss has no attribute 'beta'"),
        ({"mode": "cosine"}, ValueError, "mode must be one of"),
        ({"start": float("nan")}, ValueError, "start must be a finite number"),
        ({"end": "0.9"}, ValueError, "end must be a finite number"),
        ({"step_epoch": 0}, ValueError, "step_epoch must be a positive int"),
        ({"mode": "linear"}, ValueError, r"mode 'linear' needs ramp_epochs=\(a, b\)"),
        ({"mode": "linear", "ramp_epochs": (5, 5)}, ValueError, "ramp_epochs must be two ints 1 <= a < b"),
        ({"mode": "linear", "ramp_epochs": (0, 5)}, ValueError, "ramp_epochs must be two ints 1 <= a < b"),
    ],
)
def test_bad_arguments_are_rejected_by_name(kwargs, error, match):
    with pytest.raises(error, match=match):
        LossWeightSchedule(SelfTransferLoss(), **kwargs)
