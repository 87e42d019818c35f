"""ZoomInNetLoss per phase against hand-composed cross-entropies, label formats, and training with MONAI."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from ignite.engine import Events
from monai.data import DataLoader, MetaTensor
from monai.engines import PrepareBatchExtraInput, SupervisedTrainer

from weakloc_networks.zoom_in_net import ZoomInNet
from weakloc_networks.zoom_in_net_loss import ZoomInNetLoss

TINY = {
    "low_res": 64,
    "high_res": 96,
    "region_size": 16,
    "num_regions": 2,
    "crop_size": 32,
    "m_width_multiplier": 1 / 16,
    "m_blocks_per_stage": (1, 1, 1),
    "attention_channels": 8,
    "c_width_multiplier": 1 / 16,
    "c_blocks_per_stage": (1, 0, 1),
    "padding": "same",
}


def logits() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return {key: torch.randn(4, 5, generator=generator) for key in ("y_m", "y_a", "y_c")}


LABELS = torch.tensor([0, 2, 4, 1])


def test_each_phase_equals_the_hand_composed_cross_entropy():
    outputs = logits()
    ce = {key: F.cross_entropy(value, LABELS) for key, value in outputs.items()}
    assert torch.isclose(ZoomInNetLoss(phase=1)(outputs, LABELS), ce["y_m"])
    assert torch.isclose(ZoomInNetLoss(phase=2)(outputs, LABELS), ce["y_a"])
    weighted = ZoomInNetLoss(phase=3, weights=(0.5, 0.3, 2.0))(outputs, LABELS)
    assert torch.isclose(weighted, 0.5 * ce["y_m"] + 0.3 * ce["y_a"] + 2.0 * ce["y_c"])
    loss = ZoomInNetLoss(phase=1)
    loss.phase = 3
    assert torch.isclose(loss(outputs, LABELS), ce["y_m"] + ce["y_a"] + ce["y_c"])


def test_labels_as_column_float_meta_tensor_or_probabilities_give_the_same_loss():
    outputs = logits()
    reference = ZoomInNetLoss(phase=3)(outputs, LABELS)
    column = MetaTensor(LABELS.float()[:, None])
    one_hot = F.one_hot(LABELS, 5).float()
    assert torch.isclose(ZoomInNetLoss(phase=3)(outputs, column), reference)
    assert torch.isclose(ZoomInNetLoss(phase=3)(outputs, one_hot), reference)


@pytest.mark.parametrize(
    ("phase", "outputs", "labels", "error", "message"),
    [
        (3, {"y_m": torch.zeros(2, 5), "y_a": torch.zeros(2, 5)}, torch.tensor([0, 1]), ValueError, "y_c"),
        (1, {"y_m": torch.zeros(2, 5)}, torch.tensor([0, 5]), ValueError, r"\[0, 4\]"),
        (1, {"y_m": torch.zeros(2, 5)}, torch.tensor([0.5, 1.0]), ValueError, "integer grades"),
        (1, {"y_m": torch.zeros(2, 5)}, torch.tensor([0, 1, 2]), ValueError, "3 labels for a batch of 2"),
        (1, {"y_m": torch.zeros(2, 5)}, torch.zeros(2, 3), ValueError, "shape"),
        (1, torch.zeros(2, 5), torch.tensor([0, 1]), TypeError, "dict"),
    ],
)
def test_bad_outputs_or_labels_are_named(phase, outputs, labels, error, message):
    with pytest.raises(error, match=message):
        ZoomInNetLoss(phase=phase)(outputs, labels)


@pytest.mark.parametrize(("kwargs", "message"), [({"phase": 0}, "phase"), ({"weights": (1.0, -1.0, 1.0)}, "weights")])
def test_bad_settings_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ZoomInNetLoss(**kwargs)


def batch_loader() -> DataLoader:
    generator = torch.Generator().manual_seed(3)
    items = [
        {
            "image": torch.randn(3, 64, 64, generator=generator),
            "image_high": torch.randn(3, 96, 96, generator=generator),
            "fellow_low": torch.randn(3, 64, 64, generator=generator),
            "label": torch.tensor(grade),
        }
        for grade in (0, 1, 3, 4)
    ]
    return DataLoader(items, batch_size=4)


def train(net: ZoomInNet, phase: int, iterations: int) -> list[float]:
    """Train on one fixed batch with a MONAI SupervisedTrainer; the loss of every iteration."""
    net.set_phase(phase)
    trainer = SupervisedTrainer(
        device=torch.device("cpu"),
        max_epochs=iterations,
        train_data_loader=batch_loader(),
        network=net,
        optimizer=torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.05, momentum=0.9),
        loss_function=ZoomInNetLoss(phase=phase),
        prepare_batch=PrepareBatchExtraInput(extra_keys={"image_high": "image_high", "fellow_low": "fellow_low"}),
        decollate=False,
    )
    losses: list[float] = []
    trainer.add_event_handler(
        Events.ITERATION_COMPLETED, lambda engine: losses.append(engine.state.output["loss"].item())
    )
    trainer.run()
    return losses


def test_supervised_trainer_reduces_the_joint_loss():
    torch.manual_seed(0)
    losses = train(ZoomInNet(**TINY), phase=3, iterations=6)
    assert len(losses) == 6
    assert losses[-1] < 0.8 * losses[0]


def test_phase_two_training_leaves_the_m_net_untouched():
    torch.manual_seed(0)
    net = ZoomInNet(**TINY)
    m_net_before = copy.deepcopy(net.m_net.state_dict())
    a_net_before = copy.deepcopy(net.a_net.state_dict())
    losses = train(net, phase=2, iterations=3)
    assert losses[-1] < losses[0]
    assert all(torch.equal(value, net.m_net.state_dict()[key]) for key, value in m_net_before.items())
    assert not all(torch.equal(value, net.a_net.state_dict()[key]) for key, value in a_net_before.items())
