"""Progress on a terminal (a bar) and in a log (a line per epoch), and every bundle's engines carry it."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
from ignite.engine import Engine

from monai_weakloc.engines.progress import EngineProgress
from monai_weakloc.terminal import terminal_progress

BUNDLES = Path(__file__).resolve().parents[2] / "bundles"
PROGRESS = "monai_weakloc.engines.progress.EngineProgress"


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def run_engine(progress: EngineProgress, epochs: int = 2, iterations: int = 3) -> None:
    engine = Engine(lambda engine, batch: batch)
    progress.attach(engine)
    engine.run(range(iterations), max_epochs=epochs)


def test_a_log_gets_one_line_per_epoch(caplog):
    stream = io.StringIO()
    with caplog.at_level(logging.INFO, logger="monai_weakloc.engines.progress"):
        run_engine(EngineProgress("training", stream=stream))
    lines = [record.getMessage() for record in caplog.records]
    assert [line.split(" in ")[0] for line in lines] == [
        "training: epoch 1/2, 3 iterations",
        "training: epoch 2/2, 3 iterations",
    ]
    assert all(line.endswith(" s") for line in lines) and stream.getvalue() == ""


def test_a_terminal_gets_a_progress_bar_and_no_epoch_lines(caplog):
    stream = Terminal()
    with caplog.at_level(logging.INFO, logger="monai_weakloc.engines.progress"):
        run_engine(EngineProgress("inference", stream=stream), epochs=1)
    assert not caplog.records
    assert "inference" in stream.getvalue() and "3/3" in stream.getvalue()


def test_a_loop_shows_a_bar_on_a_terminal_only():
    terminal, log = Terminal(), io.StringIO()
    assert list(terminal_progress(["grades", "boxes"], "evaluation", stream=terminal)) == ["grades", "boxes"]
    assert "evaluation" in terminal.getvalue() and "2/2" in terminal.getvalue()
    assert list(terminal_progress(iter(["grades"]), "evaluation", stream=log)) == ["grades"] and log.getvalue() == ""


def handler_lists(config: dict) -> dict[str, list]:
    """Every handler list of a config by its id (``train#handlers``), and the inference ones (``handlers``)."""
    found = {}
    for key, value in config.items():
        if isinstance(value, dict) and isinstance(value.get("handlers"), list):
            found[f"{key}#handlers"] = value["handlers"]
        if key.endswith("handlers") and isinstance(value, list):
            found[key] = value
    return found


@pytest.mark.parametrize("bundle", sorted(path.name for path in BUNDLES.iterdir() if (path / "configs").is_dir()))
def test_every_trainer_and_inference_evaluator_of_every_bundle_shows_progress(bundle):
    configs = BUNDLES / bundle / "configs"
    train = handler_lists(json.loads((configs / "train.json").read_text()))
    trainers = {name: handlers for name, handlers in train.items() if name.startswith("train")}
    inference = handler_lists(json.loads((configs / "inference.json").read_text()))
    assert trainers and inference
    for name, handlers in {**trainers, **inference}.items():
        if any(isinstance(h, dict) and h.get("_target_") == "StatsHandler" for h in handlers):
            assert any(isinstance(h, dict) and h.get("_target_") == PROGRESS for h in handlers), f"{bundle} {name}"
