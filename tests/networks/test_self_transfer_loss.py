"""Self-transfer learning loss: the alpha-weighted classifier and localizer losses and its component values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from monai.data import DataLoader, Dataset
from monai.engines import SupervisedTrainer
from weakloc_networks.self_transfer import SelfTransferNetwork
from weakloc_networks.self_transfer_loss import SelfTransferLoss

from monai_weakloc.registry import REGISTRY


def _outputs() -> dict[str, torch.Tensor]:
    return {
        "classifier": torch.tensor([[2.0, -1.0, 0.5], [0.0, 1.0, 3.0]]),
        "localizer": torch.tensor([[-1.0, 1.0, 0.0], [1.5, 0.5, -2.0]]),
        "maps": torch.zeros(2, 3, 4, 4),
    }


@pytest.mark.parametrize("labels", [torch.tensor([0, 2]), torch.tensor([[0], [2]]), np.array([[0.0], [2.0]])],
                         ids=["(B,)", "(B,1)", "float array"])
def test_single_label_loss_is_the_alpha_weighted_sum_of_the_two_cross_entropies(labels):
    outputs = _outputs()
    loss = SelfTransferLoss(alpha=0.1)
    targets = torch.tensor([0, 2])
    classifier = F.cross_entropy(outputs["classifier"], targets)
    localizer = F.cross_entropy(outputs["localizer"], targets)
    torch.testing.assert_close(loss(outputs, labels), 0.9 * classifier + 0.1 * localizer)
    assert loss.last_classifier_loss == pytest.approx(classifier.item())
    assert loss.last_localizer_loss == pytest.approx(localizer.item())


def test_multi_label_loss_is_binary_cross_entropy_per_label():
    outputs = _outputs()
    labels = torch.tensor([[1, 0, 1], [0, 0, 0]])
    loss = SelfTransferLoss(alpha=0.9, multi_label=True)
    classifier = F.binary_cross_entropy_with_logits(outputs["classifier"], labels.float())
    localizer = F.binary_cross_entropy_with_logits(outputs["localizer"], labels.float())
    torch.testing.assert_close(loss(outputs, labels), 0.1 * classifier + 0.9 * localizer)
    assert loss.last_classifier_loss == pytest.approx(classifier.item())
    assert loss.last_localizer_loss == pytest.approx(localizer.item())


def test_alpha_decides_which_head_gets_gradients():
    labels = torch.tensor([0, 2])
    for alpha, trained, untouched in ((0.0, "classifier", "localizer"), (1.0, "localizer", "classifier")):
        outputs = {key: value.clone().requires_grad_(key != "maps") for key, value in _outputs().items()}
        SelfTransferLoss(alpha=alpha)(outputs, labels).backward()
        assert outputs[trained].grad.abs().sum() > 0
        assert outputs[untouched].grad.abs().sum() == 0


def test_alpha_is_settable_within_0_and_1():
    loss = SelfTransferLoss()
    assert loss.alpha == 0.1 and loss.last_classifier_loss is None and loss.last_localizer_loss is None
    loss.alpha = 0.9
    assert loss.alpha == 0.9
    for bad in (-0.1, 1.5, math.nan):
        with pytest.raises(ValueError, match=r"alpha must lie in \[0, 1\]"):
            loss.alpha = bad
    with pytest.raises(TypeError, match="alpha must be a number"):
        loss.alpha = "0.5"
    with pytest.raises(ValueError, match="alpha must lie"):
        SelfTransferLoss(alpha=2.0)
    assert loss.alpha == 0.9


@pytest.mark.parametrize(
    ("outputs", "labels", "multi_label", "error", "match"),
    [
        (torch.zeros(2, 3), torch.tensor([0, 1]), False, TypeError, "y_pred must be the network's dict"),
        ({"classifier": torch.zeros(2, 3)}, torch.tensor([0, 1]), False, ValueError, r"y_pred lacks \['localizer'\]"),
        ({"classifier": torch.zeros(2, 3), "localizer": torch.zeros(2, 2)}, torch.tensor([0, 1]), False, ValueError,
         "must be \\(B, K\\) of one shape"),
        (None, torch.tensor([0, 3]), False, ValueError, r"labels must lie in \[0, 2\]"),
        (None, torch.tensor([0, 1, 1]), False, ValueError, r"labels must be \(2,\) or \(2, 1\)"),
        (None, torch.tensor([[1, 0], [0, 1]]), True, ValueError, r"multi-label labels must be \(2, 3\)"),
        (None, torch.tensor([[1, 0.5, 0], [0, 1, 0]]), True, ValueError, "multi-label labels must be 0 or 1"),
    ],
)
def test_bad_inputs_are_rejected_by_name(outputs, labels, multi_label, error, match):
    with pytest.raises(error, match=match):
        SelfTransferLoss(multi_label=multi_label)(_outputs() if outputs is None else outputs, labels)


def test_supervised_trainer_trains_the_network_with_it():
    torch.manual_seed(0)
    network = SelfTransferNetwork(channels=(4, 8, 8, 8), fc_channels=(8,), classifier_grid=1)
    loss = SelfTransferLoss(alpha=0.5)
    data = [{"image": torch.rand(1, 64, 64), "label": torch.tensor([index % 2])} for index in range(4)]
    before = network.localizer_conv.weight.detach().clone()
    trainer = SupervisedTrainer(
        device=torch.device("cpu"),
        max_epochs=1,
        train_data_loader=DataLoader(Dataset(data), batch_size=2),
        network=network,
        optimizer=torch.optim.SGD(network.parameters(), lr=0.1),
        loss_function=loss,
    )
    trainer.run()
    assert math.isfinite(float(trainer.state.output[0]["loss"]))
    assert loss.last_classifier_loss is not None and loss.last_localizer_loss is not None
    assert not torch.equal(network.localizer_conv.weight, before)


def test_registered_as_self_transfer_loss():
    loss = REGISTRY.create("loss", "self_transfer_loss", alpha=0.3, multi_label=True)
    assert isinstance(loss, SelfTransferLoss) and loss.alpha == 0.3 and loss.multi_label
