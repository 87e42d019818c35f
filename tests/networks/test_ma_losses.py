"""Losses of the microaneurysm segmentation method: HGN, angular triplet, PRN, patch cross-entropy."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from monai.data import DataLoader, Dataset
from monai.engines import SupervisedTrainer
from monai.losses import DiceLoss
from torch.utils.data import TensorDataset

from monai_weakloc.registry import REGISTRY
from weakloc_networks.ma_losses import (
    AngularTripletLoss,
    HGNLoss,
    PatchCrossEntropy,
    PRNLoss,
    angular_distance,
)
from weakloc_networks.patch_refinement import PatchRefinementLogits, PatchRefinementNetwork
from weakloc_samplers.handlers import SelectiveRescoreHandler
from weakloc_samplers.triplet import TripletBatchSampler


def test_angular_distance_by_hand():
    first = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 1.0], [2.0, 0.0]])
    second = torch.tensor([[0.0, 3.0], [-1.0, 0.0], [1.0, 0.0], [1.0, math.sqrt(3.0)]])
    # 90, 180 (clamped), 45 and 60 degrees
    expected = torch.tensor([0.5, math.acos(-(1 - 1e-6)) / math.pi, 0.25, 1.0 / 3.0])
    torch.testing.assert_close(angular_distance(first, second), expected)


def test_angular_distance_has_finite_gradients_at_parallel_vectors():
    vectors = torch.tensor([[1.0, 2.0]], requires_grad=True)
    angular_distance(vectors, vectors.detach() * 3.0).sum().backward()
    assert torch.isfinite(vectors.grad).all()


def test_triplet_loss_is_zero_for_a_near_positive_and_far_negative():
    anchor = torch.tensor([[1.0, 0.0]])
    positive = torch.tensor([[1.0, 0.05]])
    negative = torch.tensor([[0.0, 1.0]])
    assert AngularTripletLoss(margin=0.2)(anchor, positive, negative).item() == 0.0


def test_triplet_loss_equals_the_margin_when_all_coincide():
    point = torch.tensor([[0.3, 0.7], [2.0, 1.0]])
    loss = AngularTripletLoss(margin=0.3)(point, point.clone(), point.clone())
    assert loss.item() == pytest.approx(0.3, abs=1e-6)


def test_triplet_loss_by_hand_and_per_triplet():
    anchor = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    positive = torch.tensor([[1.0, 1.0], [1.0, 0.0]])  # 45 degrees, 0 degrees
    negative = torch.tensor([[1.0, math.sqrt(3.0)], [0.0, 1.0]])  # 60 degrees, 90 degrees
    per_triplet = AngularTripletLoss(margin=0.2, reduction="none")(anchor, positive, negative)
    torch.testing.assert_close(per_triplet, torch.tensor([0.25 - 1 / 3 + 0.2, 0.0]), atol=1e-3, rtol=0)


def test_hgn_loss_is_weighted_cross_entropy_plus_monai_dice():
    torch.manual_seed(0)
    logits = torch.randn(2, 2, 6, 6)
    label = (torch.rand(2, 1, 6, 6) > 0.8).float()
    loss = HGNLoss(class_weights=(1.0, 10.0), dice_weight=0.5)(logits, label)
    cross_entropy = F.cross_entropy(logits, label[:, 0].long(), weight=torch.tensor([1.0, 10.0]))
    dice = DiceLoss(include_background=False, to_onehot_y=True, softmax=True, batch=True)(logits, label)
    assert loss.ndim == 0
    torch.testing.assert_close(loss, cross_entropy + 0.5 * dice)


def test_hgn_loss_rejects_mismatched_shapes_and_labels():
    logits = torch.randn(1, 2, 4, 4)
    with pytest.raises(ValueError, match=r"label must have shape \(1, 1, 4, 4\)"):
        HGNLoss()(logits, torch.zeros(1, 4, 4))
    with pytest.raises(ValueError, match="must lie in"):
        HGNLoss()(logits, torch.full((1, 1, 4, 4), 2.0))
    with pytest.raises(ValueError, match="class_weights"):
        HGNLoss(class_weights=(1.0,))


def triplet_batch(triplets: int = 2, dimension: int = 5) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    torch.manual_seed(1)
    output = {"logits": torch.randn(3 * triplets, 2), "embedding": torch.rand(3 * triplets, dimension)}
    labels = torch.tensor([1] * (2 * triplets) + [0] * triplets)
    return output, labels


def test_prn_loss_without_triplet_term_is_the_anchor_negative_cross_entropy():
    output, labels = triplet_batch()
    anchors_and_negatives = torch.cat([output["logits"][:2], output["logits"][4:]])
    expected = F.cross_entropy(anchors_and_negatives, torch.tensor([1, 1, 0, 0]))
    torch.testing.assert_close(PRNLoss(triplet_weight=0.0)(output, labels[:, None]), expected)


def test_prn_loss_adds_the_weighted_triplet_loss():
    output, labels = triplet_batch()
    embedding = output["embedding"]
    triplet = AngularTripletLoss(margin=0.2)(embedding[:2], embedding[2:4], embedding[4:])
    expected = PRNLoss(triplet_weight=0.0)(output, labels) + 2.0 * triplet
    torch.testing.assert_close(PRNLoss(triplet_weight=2.0, margin=0.2)(output, labels), expected)


def test_prn_loss_follows_the_triplet_sampler_layout():
    """The sampler yields anchors, positives, negatives; labels of that batch pass PRNLoss's layout check."""
    lesion_pool, healthy_pool = [0, 1, 2], [3, 4, 5, 6]
    sampler = TripletBatchSampler(lesion_pool, healthy_pool, triplets_per_batch=2, seed=3)
    labels_of_dataset = torch.tensor([1, 1, 1, 0, 0, 0, 0])
    batch = next(iter(sampler))
    labels = labels_of_dataset[batch]
    assert labels.tolist() == [1, 1, 1, 1, 0, 0]
    output, _ = triplet_batch()
    assert torch.isfinite(PRNLoss()(output, labels))
    with pytest.raises(ValueError, match="TripletBatchSampler's layout"):
        PRNLoss()(output, labels.flip(0))


def test_prn_loss_rejects_a_batch_not_of_triplets():
    output, labels = triplet_batch()
    with pytest.raises(ValueError, match="3T patches"):
        PRNLoss()({key: value[:5] for key, value in output.items()}, labels[:5])
    with pytest.raises(TypeError, match="dict"):
        PRNLoss()(output["logits"], labels)


def test_monai_supervised_trainer_trains_the_prn_on_triplet_batches():
    """The trainer calls ``loss_function(network(images), labels)`` with the PRN's dict unchanged."""
    torch.manual_seed(0)
    items = [{"image": torch.randn(3, 13, 13), "label": torch.tensor([int(index < 4)])} for index in range(10)]
    sampler = TripletBatchSampler(range(4), range(4, 10), triplets_per_batch=2)
    network = PatchRefinementNetwork(layers=(1, 1, 1, 1), block_inplanes=(4, 8, 8, 16))
    before = network.resnet.conv1.weight.detach().clone()
    trainer = SupervisedTrainer(
        device=torch.device("cpu"),
        max_epochs=1,
        train_data_loader=DataLoader(Dataset(items), batch_sampler=sampler),
        network=network,
        optimizer=torch.optim.Adam(network.parameters(), 1e-3),
        loss_function=PRNLoss(),
        decollate=False,
    )
    trainer.run()
    assert torch.isfinite(trainer.state.output["loss"])
    assert not torch.equal(network.resnet.conv1.weight, before)


def test_patch_cross_entropy_per_sample_rescores_the_healthy_pool():
    torch.manual_seed(0)
    network = PatchRefinementNetwork(layers=(1, 1, 1, 1), block_inplanes=(4, 8, 8, 16))
    patches = torch.randn(6, 3, 9, 9)
    labels = torch.tensor([[1], [1], [0], [0], [0], [0]])
    sampler = TripletBatchSampler([0, 1], [2, 3, 4, 5])
    handler = SelectiveRescoreHandler(
        sampler,
        network=PatchRefinementLogits(network),
        dataset=TensorDataset(patches, labels),
        loss_function=PatchCrossEntropy(reduction="none"),
        batch_size=3,
        prepare_batch=lambda batch, device, *args, **kwargs: (batch[0].to(device), batch[1].to(device)),
    )
    losses = handler.rescore()
    network.eval()
    with torch.no_grad():
        expected = F.cross_entropy(network(patches[2:])["logits"], torch.zeros(4, dtype=torch.long), reduction="none")
    torch.testing.assert_close(losses, expected)


def test_registered():
    assert isinstance(REGISTRY.create("loss", "hgn_loss", class_weights=(1, 10)), HGNLoss)
    assert isinstance(REGISTRY.create("loss", "angular_triplet", margin=0.1), AngularTripletLoss)
    assert isinstance(REGISTRY.create("loss", "prn_loss", triplet_weight=0.0), PRNLoss)
    assert isinstance(REGISTRY.create("loss", "patch_cross_entropy", reduction="none"), PatchCrossEntropy)
