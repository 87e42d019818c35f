"""The sampler handlers on tiny MONAI/Ignite trainers: stage switch and selective rescoring change what is drawn."""

from __future__ import annotations

import math
from collections import Counter

import pytest
import torch
from ignite.engine import Events
from monai.data import DataLoader
from monai.engines import SupervisedEvaluator, SupervisedTrainer
from torch import nn

from weakloc_samplers.handlers import HardExampleMiningHandler, SelectiveRescoreHandler
from weakloc_samplers.hard_example import HardExampleSampler, HardExampleSet, find_hard_examples
from weakloc_samplers.selective import SelectiveSampler
from weakloc_samplers.triplet import TripletBatchSampler

NUM_LABELS = 3


def multi_label_dataset(size: int = 12) -> list[dict]:
    generator = torch.Generator().manual_seed(0)
    labels = (torch.rand(size, NUM_LABELS, generator=generator) > 0.5).float()
    labels[:3] = 0  # three samples without any positive label can never be hard
    labels[3:, 0] = 1
    return [
        {"image": torch.rand(1, 4, 4, generator=generator), "label": labels[index], "index": index}
        for index in range(size)
    ]


def tiny_network(num_outputs: int, bias: float | None = None) -> nn.Module:
    torch.manual_seed(0)
    network = nn.Sequential(nn.Flatten(), nn.Linear(16, num_outputs))
    if bias is not None:
        nn.init.zeros_(network[1].weight)
        nn.init.constant_(network[1].bias, bias)
    return network


def reference_scores(network: nn.Module, dataset: list[dict]) -> torch.Tensor:
    with torch.no_grad():
        return torch.sigmoid(network(torch.stack([item["image"] for item in dataset])))


def trainer_for(network: nn.Module, loader: DataLoader, max_epochs: int) -> SupervisedTrainer:
    return SupervisedTrainer(
        device=torch.device("cpu"),
        max_epochs=max_epochs,
        train_data_loader=loader,
        network=network,
        optimizer=torch.optim.SGD(network.parameters(), lr=0.01),
        loss_function=nn.BCEWithLogitsLoss(),
    )


def record_seen_indices(trainer: SupervisedTrainer) -> dict[int, list[int]]:
    seen: dict[int, list[int]] = {}

    @trainer.on(Events.ITERATION_STARTED)
    def record(engine):
        seen.setdefault(engine.state.epoch, []).extend(engine.state.batch["index"].tolist())

    return seen


def test_stage_switch_at_the_given_epoch_trains_on_a_plus_b():
    dataset = multi_label_dataset()
    network = tiny_network(NUM_LABELS, bias=-1.0)
    sampler = HardExampleSampler(dataset, seed=1)
    trainer = trainer_for(network, DataLoader(dataset, batch_size=4, sampler=sampler), max_epochs=3)
    handler = HardExampleMiningHandler(sampler, network=network, stage_two_epoch=2, batch_size=5)
    handler.attach(trainer)
    seen = record_seen_indices(trainer)
    labels = torch.stack([item["label"] for item in dataset])
    observed = {}

    @trainer.on(Events.EPOCH_STARTED)
    def record_stage(engine):
        observed[engine.state.epoch] = (sampler.stage, engine.state.epoch_length)
        if engine.state.epoch == 2:
            observed["reference"] = find_hard_examples(reference_scores(network, dataset), labels)

    trainer.run()

    hard = sampler.hard_examples
    reference = observed["reference"]
    assert observed[1] == (1, 3)
    assert observed[2] == (2, math.ceil((12 + len(hard)) / 4))
    assert hard.indices.tolist() == reference.indices.tolist() == list(range(3, 12))
    assert torch.equal(hard.hard_labels, reference.hard_labels)
    assert sorted(seen[1]) == list(range(12))
    for epoch in (2, 3):
        assert Counter(seen[epoch]) == Counter(list(range(12)) + hard.indices.tolist())
    assert seen[2] != seen[3]
    assert network.training


def test_a_sampler_restored_in_stage_two_keeps_its_hard_examples_at_the_trigger():
    dataset = multi_label_dataset()
    network = tiny_network(NUM_LABELS, bias=-1.0)
    sampler = HardExampleSampler(dataset, seed=1)
    sampler.set_hard_examples(HardExampleSet(indices=torch.tensor([4]), hard_labels=torch.ones(1, NUM_LABELS, dtype=torch.bool)))
    trainer = trainer_for(network, DataLoader(dataset, batch_size=4, sampler=sampler), max_epochs=2)
    HardExampleMiningHandler(sampler, network=network, stage_two_epoch=2, batch_size=5).attach(trainer)
    seen = record_seen_indices(trainer)
    trainer.run()
    # mining the untrained network would find samples 3..11 hard; the restored B (sample 4) is kept
    assert sampler.hard_examples.indices.tolist() == [4]
    assert Counter(seen[2]) == Counter([*range(12), 4])


def test_mining_on_demand_with_an_evaluator_matches_the_reference():
    dataset = multi_label_dataset()
    network = tiny_network(NUM_LABELS)
    sampler = HardExampleSampler(dataset, num_replicas=2, rank=1)
    evaluator = SupervisedEvaluator(
        device=torch.device("cpu"), val_data_loader=DataLoader(dataset, batch_size=5), network=network
    )
    handler = HardExampleMiningHandler(sampler, evaluator=evaluator)

    hard = handler.mine()

    labels = torch.stack([item["label"] for item in dataset])
    reference = find_hard_examples(reference_scores(network, dataset), labels)
    assert 0 < hard.hard_labels.sum() < labels.sum()  # some positive labels are hard, some are not
    assert hard.indices.tolist() == reference.indices.tolist()
    assert torch.equal(hard.hard_labels, reference.hard_labels)
    assert len(sampler) == math.ceil((12 + len(hard)) / 2)


def test_mining_handler_rejects_ambiguous_or_missing_scorer():
    sampler = HardExampleSampler(range(4))
    with pytest.raises(ValueError, match="exactly one of network and evaluator"):
        HardExampleMiningHandler(sampler)
    with pytest.raises(ValueError, match="stage_two_epoch must be at least 2"):
        HardExampleMiningHandler(sampler, network=tiny_network(1), stage_two_epoch=1)


def single_label_dataset(size: int = 10) -> list[dict]:
    generator = torch.Generator().manual_seed(1)
    return [
        {
            "image": torch.rand(1, 4, 4, generator=generator),
            "label": torch.tensor([float(index % 2)]),
            "index": index,
        }
        for index in range(size)
    ]


def reference_losses(network: nn.Module, items: list[dict]) -> torch.Tensor:
    with torch.no_grad():
        logits = network(torch.stack([item["image"] for item in items]))
    return nn.functional.binary_cross_entropy_with_logits(
        logits, torch.stack([item["label"] for item in items]), reduction="none"
    ).mean(dim=1)


def test_rescoring_every_epoch_makes_the_next_epoch_follow_the_losses():
    dataset = single_label_dataset()
    network = tiny_network(1, bias=3.0)
    sampler = SelectiveSampler(range(10), seed=4)
    trainer = trainer_for(network, DataLoader(dataset, batch_size=4, sampler=sampler), max_epochs=2)
    handler = SelectiveRescoreHandler(sampler, network, dataset, nn.BCEWithLogitsLoss(reduction="none"))
    handler.attach(trainer)
    seen = record_seen_indices(trainer)
    observed = {}

    @trainer.on(Events.EPOCH_STARTED)
    def record_expected_draw(engine):
        observed[engine.state.epoch] = (sampler.scored_pool.losses, sampler.draw_epoch())

    @trainer.on(Events.EPOCH_COMPLETED(once=1))
    def record_reference(engine):
        observed["reference"] = reference_losses(network, dataset)

    trainer.run()

    losses_before, expected_first = observed[1]
    losses_after, expected_second = observed[2]
    assert losses_before is None
    assert torch.allclose(losses_after.float(), observed["reference"], atol=1e-6)
    assert not torch.allclose(sampler.scored_pool.probabilities, torch.full((10,), 0.1, dtype=torch.float64))
    assert seen[1] == expected_first
    assert seen[2] == expected_second
    uniform = SelectiveSampler(range(10), seed=4)
    uniform.set_epoch(2)
    assert seen[2] != uniform.draw_epoch()
    assert network.training


def test_rescoring_every_k_iterations_steers_the_rest_of_the_epoch():
    dataset = single_label_dataset()
    network = tiny_network(1, bias=3.0)  # loss about 3 on label-0 (even) samples, about 0.05 on the others
    sampler = SelectiveSampler(range(10), seed=2)
    trainer = trainer_for(network, DataLoader(dataset, batch_size=4, sampler=sampler), max_epochs=1)
    handler = SelectiveRescoreHandler(
        sampler, network, dataset, nn.BCEWithLogitsLoss(reduction="none"), every_n_iterations=2
    )
    handler.attach(trainer)
    seen = record_seen_indices(trainer)
    revisions = []
    draws = []

    @trainer.on(Events.ITERATION_COMPLETED)
    def record_revision(engine):
        revisions.append(sampler.scored_pool.revision)
        draws.append(sampler.draw_epoch())

    trainer.run()

    assert revisions == [0, 1, 1]
    assert seen[1][:8] == draws[0][:8]
    assert seen[1][8:] == draws[1][8:] != draws[0][8:]
    assert all(index % 2 == 0 for index in seen[1][8:])


def test_rescoring_a_triplet_sampler_scores_its_healthy_pool():
    dataset = single_label_dataset()
    network = tiny_network(1)
    healthy = [0, 2, 4, 6, 8]
    sampler = TripletBatchSampler([1, 3, 5], healthy, seed=0)
    handler = SelectiveRescoreHandler(sampler, network, dataset, nn.BCEWithLogitsLoss(reduction="none"), batch_size=2)

    losses = handler.rescore()

    assert torch.allclose(losses.float(), reference_losses(network, [dataset[index] for index in healthy]), atol=1e-6)
    assert torch.equal(sampler.scored_pool.losses, losses.double())


def test_rescoring_with_a_reduced_loss_asks_for_reduction_none():
    dataset = single_label_dataset()
    handler = SelectiveRescoreHandler(SelectiveSampler(range(10)), tiny_network(1), dataset, nn.BCEWithLogitsLoss())
    with pytest.raises(ValueError, match="reduction='none'"):
        handler.rescore()
    with pytest.raises(ValueError, match="not both"):
        SelectiveRescoreHandler(
            SelectiveSampler(range(10)), tiny_network(1), dataset, nn.BCEWithLogitsLoss(), 1, every_n_iterations=2
        )
