"""Per-epoch curves of a loss's components: JSON means, the PNG plot, TensorBoard scalars, resuming."""

from __future__ import annotations

import json

import pytest
from ignite.engine import Engine, Events
from weakloc_networks.self_transfer_loss import SelfTransferLoss

from monai_weakloc.engines.loss_curves import LossComponentCurves

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class RecordingWriter:
    """Stands in for a TensorBoard ``SummaryWriter``."""

    def __init__(self) -> None:
        self.scalars: list[tuple[str, float, int]] = []

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        self.scalars.append((tag, value, step))

    def flush(self) -> None:
        pass


def trainer(loss: SelfTransferLoss, offset: float = 0.0) -> Engine:
    """A trainer whose iteration ``i`` (global, 1-based) leaves component losses ``i + offset`` and ``10 i``."""

    def step(engine: Engine, batch: int) -> None:
        loss.last_classifier_loss = engine.state.iteration + offset
        loss.last_localizer_loss = 10.0 * engine.state.iteration

    return Engine(step)


def test_curves_are_the_epoch_means_of_the_component_losses(tmp_path):
    loss = SelfTransferLoss()
    engine = trainer(loss)
    curves = LossComponentCurves(loss, tmp_path)
    curves.attach(engine)
    written_after_epoch: list[dict] = []
    path = tmp_path / "loss_curves.json"
    engine.add_event_handler(
        Events.EPOCH_COMPLETED, lambda engine: written_after_epoch.append(json.loads(path.read_text()))
    )
    engine.run([0, 1, 2], max_epochs=2)
    # epoch 1: iterations 1, 2, 3; epoch 2: iterations 4, 5, 6
    expected = {"epoch": [1, 2], "classifier": [2.0, 5.0], "localizer": [20.0, 50.0]}
    assert json.loads(path.read_text()) == expected
    assert written_after_epoch[0] == {"epoch": [1], "classifier": [2.0], "localizer": [20.0]}
    assert (tmp_path / "loss_curves.png").read_bytes().startswith(PNG_SIGNATURE)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["loss_curves.json", "loss_curves.png"]


def test_means_go_to_tensorboard_at_step_epoch(tmp_path):
    loss = SelfTransferLoss()
    engine = trainer(loss)
    writer = RecordingWriter()
    LossComponentCurves(loss, tmp_path, tag_prefix="stl/", summary_writer=writer).attach(engine)
    engine.run([0, 1], max_epochs=2)
    assert writer.scalars == [
        ("stl/classifier", 1.5, 1), ("stl/localizer", 15.0, 1), ("stl/classifier", 3.5, 2), ("stl/localizer", 35.0, 2)
    ]


def test_a_log_dir_gets_tensorboard_event_files(tmp_path):
    loss = SelfTransferLoss()
    engine = trainer(loss)
    curves = LossComponentCurves(loss, tmp_path / "curves", log_dir=tmp_path / "tensorboard")
    curves.attach(engine)
    engine.run([0], max_epochs=1)
    curves.tensorboard.close()
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))


def test_a_resumed_run_keeps_the_earlier_epochs_and_replaces_the_later_ones(tmp_path):
    loss = SelfTransferLoss()
    first = trainer(loss)
    LossComponentCurves(loss, tmp_path).attach(first)
    first.run([0, 1], max_epochs=3)
    # resume from the checkpoint of epoch 1 with other losses: epochs 2 and 3 are trained again
    resumed = trainer(loss, offset=100.0)
    LossComponentCurves(loss, tmp_path).attach(resumed)
    resumed.load_state_dict({"epoch": 1, "max_epochs": 3, "epoch_length": 2})
    resumed.run([0, 1])
    assert json.loads((tmp_path / "loss_curves.json").read_text()) == {
        "epoch": [1, 2, 3], "classifier": [1.5, 103.5, 105.5], "localizer": [15.0, 35.0, 55.0]
    }
    # a fresh run in the same folder starts new curves
    fresh = trainer(loss)
    LossComponentCurves(loss, tmp_path).attach(fresh)
    fresh.run([0, 1], max_epochs=1)
    assert json.loads((tmp_path / "loss_curves.json").read_text())["epoch"] == [1]


def test_a_loss_that_was_not_called_is_reported(tmp_path):
    engine = Engine(lambda engine, batch: None)
    LossComponentCurves(SelfTransferLoss(), tmp_path).attach(engine)
    with pytest.raises(ValueError, match=r"SelfTransferLoss.last_classifier_loss is None after iteration 1"):
        engine.run([0], max_epochs=1)


def test_bad_arguments_are_rejected_by_name(tmp_path):
    with pytest.raises(TypeError, match=r"SelfTransferLoss has no attribute \['last_total_loss'\]"):
        LossComponentCurves(SelfTransferLoss(), tmp_path, names=("classifier", "total"))
    with pytest.raises(ValueError, match="names must be distinct and at least one"):
        LossComponentCurves(SelfTransferLoss(), tmp_path, names=())
    with pytest.raises(ValueError, match="names must be distinct"):
        LossComponentCurves(SelfTransferLoss(), tmp_path, names=("classifier", "classifier"))


def test_resuming_from_curves_of_other_components_is_refused(tmp_path):
    (tmp_path / "loss_curves.json").write_text(json.dumps({"epoch": [1], "total": [1.0]}))
    loss = SelfTransferLoss()
    engine = trainer(loss)
    LossComponentCurves(loss, tmp_path).attach(engine)
    engine.load_state_dict({"epoch": 1, "max_epochs": 2, "epoch_length": 1})
    with pytest.raises(ValueError, match=r"loss_curves.json has no curves \['classifier', 'localizer'\]"):
        engine.run([0])
