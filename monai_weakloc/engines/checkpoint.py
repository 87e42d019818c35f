"""Crash-safe checkpoints and resuming from the last one.

MONAI's ``CheckpointSaver`` writes with ``DiskSaver(atomic=False)``, so a process killed while saving
leaves a truncated file. Ignite's ``DiskSaver(atomic=True)`` writes to a ``tempfile.NamedTemporaryFile``
first, but a kill leaves that truncated ``tmpXXXXXXXX`` file behind for good, and it asks
``ignite.distributed`` for the rank, whose first call is a collective operation (a deadlock when only
rank 0 saves). :class:`AtomicCheckpointSaver` therefore uses Ignite's ``Checkpoint`` with
:class:`AtomicDiskSaver`: write ``.<name>.tmp``, flush it to disk, rename it; stale temporary files of a
killed run are removed when the next run attaches. MONAI's ``CheckpointLoader`` needs a path that
exists; :class:`ResumeFromLatestCheckpoint` finds the newest checkpoint of a folder, if any, and hands it
to ``CheckpointLoader``; a run that does not resume refuses to start in a folder that holds an earlier
run's model or checkpoints, since that run's best model would survive a worse new one and be used.
:class:`BestModelSaver` keeps the network of the best validation score as ``model.pt`` (a plain
``state_dict``, as in the MONAI model zoo), also written atomically, with the score beside it in
``model.json`` so that a resumed run does not overwrite a better model.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from ignite.engine import Engine, Events
from ignite.handlers import Checkpoint
from ignite.handlers.checkpoint import BaseSaveHandler
from monai.handlers import CheckpointLoader

__all__ = [
    "BEST_MODEL_FILE",
    "CHECKPOINT_PREFIX",
    "RESUME_FLAGS",
    "AtomicCheckpointSaver",
    "AtomicDiskSaver",
    "BestModelSaver",
    "ResumeFromLatestCheckpoint",
    "atomic_torch_save",
    "latest_checkpoint",
    "temporary_path",
]

logger = logging.getLogger(__name__)

CHECKPOINT_PREFIX = "checkpoint"
BEST_MODEL_FILE = "model.pt"
RESUME_FLAGS = "--resume true for python -m monai.bundle run, --arg resume=true for weakloc bundle run"
"""How a user turns on a bundle's ``resume`` flag, named when a run refuses to start over an earlier one."""
_FLAG_TEXTS = {"true": True, "false": False}
_STEP = re.compile(rf"^{CHECKPOINT_PREFIX}_(\d+)\.pt$")
_STALE_CHECKPOINT_GLOB = f".{CHECKPOINT_PREFIX}_*.pt.tmp"


def latest_checkpoint(ckpt_dir: str | Path) -> Path | None:
    """The checkpoint of ``ckpt_dir`` with the highest iteration, or ``None`` when there is none.

    Files are the ones :class:`AtomicCheckpointSaver` writes: ``checkpoint_<iteration>.pt``.
    """
    folder = Path(ckpt_dir)
    if not folder.is_dir():
        return None
    steps = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _STEP.match(p.name))]
    return max(steps)[1] if steps else None


def temporary_path(path: str | Path) -> Path:
    """Where :func:`atomic_torch_save` writes ``path`` before renaming it: ``.<name>.tmp`` beside it (hidden)."""
    path = Path(path)
    return path.with_name(f".{path.name}.tmp")


def atomic_torch_save(obj: Any, path: str | Path) -> None:
    """``torch.save`` to :func:`temporary_path`, flush it to disk, then rename: a kill never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    with open(tmp, "wb") as stream:
        torch.save(obj, stream)
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(tmp, path)


class AtomicDiskSaver(BaseSaveHandler):
    """Ignite save handler writing ``<dirname>/<filename>`` with :func:`atomic_torch_save`.

    It saves in every process it runs in: under data-parallel training, attach the handler that uses it
    on rank 0 only.

    Args:
        dirname: folder of the files, created if absent.
    """

    def __init__(self, dirname: str | Path) -> None:
        self.dirname = Path(dirname)

    def __call__(self, checkpoint: Mapping, filename: str, metadata: Mapping | None = None) -> None:
        atomic_torch_save(checkpoint, self.dirname / filename)

    def remove(self, filename: str) -> None:
        (self.dirname / filename).unlink(missing_ok=True)


class AtomicCheckpointSaver:
    """Save model, optimizer, scheduler and trainer state every ``save_every`` iterations and every epoch.

    The save at the end of an epoch comes after the epoch-end handlers attached before this one (in a
    bundle: the learning-rate scheduler, validation), so attach it after them.

    Args:
        save_dir: folder of the checkpoints, ``checkpoint_<iteration>.pt``.
        save_dict: objects with ``state_dict()``, e.g. ``{"network": net, "optimizer": opt, "lr_scheduler": s}``.
        save_every: iterations between saves (0: only at the end of each epoch).
        n_saved: how many checkpoints to keep.
        engine_key: the engine this handler is attached to is saved under this key too (its epoch and
            iteration), so that a config need not refer to the trainer from the trainer's own handlers.

    Under data-parallel training, attach it on rank 0 only: it saves in every process it runs in.
    """

    def __init__(self, save_dir: str | Path, save_dict: dict[str, Any], save_every: int = 0, n_saved: int = 2,
                 engine_key: str = "trainer") -> None:
        if save_every < 0:
            raise ValueError(f"save_every must be >= 0, got {save_every}")
        self.save_dir = Path(save_dir)
        self.save_dict = save_dict
        self.save_every = save_every
        self.n_saved = n_saved
        self.engine_key = engine_key
        self._due = False

    def attach(self, engine: Engine) -> None:
        """Attach to a trainer, removing the temporary files that a killed run left in ``save_dir``."""
        for stale in self.save_dir.glob(_STALE_CHECKPOINT_GLOB):
            logger.info("removing %s, the partial checkpoint of an interrupted run", stale)
            stale.unlink()
        checkpoint = Checkpoint(
            {**self.save_dict, self.engine_key: engine},
            AtomicDiskSaver(self.save_dir),
            filename_prefix=CHECKPOINT_PREFIX,
            filename_pattern="{filename_prefix}_{global_step}.{ext}",
            n_saved=self.n_saved,
            global_step_transform=lambda eng, _: eng.state.iteration,
        )
        engine.add_event_handler(Events.EPOCH_COMPLETED, self._save_at_epoch_end, checkpoint)
        if self.save_every:
            engine.add_event_handler(Events.ITERATION_COMPLETED(every=self.save_every), self._mark_due)
            engine.add_event_handler(Events.GET_BATCH_STARTED, self._save_within_epoch, checkpoint)

    def _mark_due(self, engine: Engine) -> None:
        self._due = True

    def _save_within_epoch(self, engine: Engine, checkpoint: Checkpoint) -> None:
        # an iteration's save waits for the epoch to go on (the next batch): the last iteration of an epoch is
        # saved on EPOCH_COMPLETED instead, after the handlers of the epoch's end (learning-rate step,
        # validation) have run, so that resuming from it does not repeat them. Waiting, not counting iterations,
        # finds that last iteration when epochs change length too (hard-example stages).
        if self._due:
            self._due = False
            checkpoint(engine)

    def _save_at_epoch_end(self, engine: Engine, checkpoint: Checkpoint) -> None:
        self._due = False
        checkpoint(engine)


def _resume_flag(enabled: bool | str) -> bool:
    """The ``resume`` flag as a bool; ``"true"``/``"false"`` (any case) as the bundle command line passes them."""
    if isinstance(enabled, bool):
        return enabled
    if isinstance(enabled, str) and enabled.lower() in _FLAG_TEXTS:
        return _FLAG_TEXTS[enabled.lower()]
    raise TypeError(f"ResumeFromLatestCheckpoint: enabled (the resume flag) must be true or false, got {enabled!r}")


class ResumeFromLatestCheckpoint:
    """At the start of a run, load the newest checkpoint of ``ckpt_dir`` if ``enabled`` and one exists.

    A run that is not resumed (``enabled`` false) starts only in a ``ckpt_dir`` without an earlier run's
    checkpoints and best model: :class:`BestModelSaver` would otherwise keep that run's model whenever the new
    run scores lower, and inference would silently use it.

    Args:
        ckpt_dir: folder written by :class:`AtomicCheckpointSaver` and :class:`BestModelSaver`.
        load_dict: the objects to restore (same keys as were saved).
        enabled: the bundle's ``resume`` flag (``"true"``/``"false"`` as the command line passes it are read too).
        map_location: passed to ``torch.load`` (e.g. ``"cpu"``).
        engine_key: the engine this handler is attached to is restored from this key (its epoch and
            iteration), as :class:`AtomicCheckpointSaver` saved it.
        model_filename: the best model's file in ``ckpt_dir`` (:class:`BestModelSaver`'s ``filename``); it
            and its ``.json`` score record belong to an earlier run.

    Raises:
        TypeError: when ``enabled`` is neither a bool nor ``"true"``/``"false"``.
    """

    def __init__(self, ckpt_dir: str | Path, load_dict: dict[str, Any], enabled: bool | str = True,
                 map_location: Any = None, engine_key: str = "trainer", model_filename: str = BEST_MODEL_FILE) -> None:
        self.ckpt_dir = Path(ckpt_dir)
        self.load_dict = load_dict
        self.enabled = _resume_flag(enabled)
        self.map_location = map_location
        self.engine_key = engine_key
        self.model_filename = model_filename

    def attach(self, engine: Engine) -> None:
        """Attach to a trainer: at its start, resume (``enabled``) or check that ``ckpt_dir`` holds no earlier run."""
        engine.add_event_handler(Events.STARTED, self if self.enabled else self.refuse_an_earlier_run)

    def _earlier_run_files(self) -> list[Path]:
        """The checkpoints, best model and score record of an earlier run in ``ckpt_dir``, sorted by name."""
        if not self.ckpt_dir.is_dir():
            return []
        model = self.ckpt_dir / self.model_filename
        names = {model.name, model.with_suffix(".json").name}
        return sorted(path for path in self.ckpt_dir.iterdir() if path.name in names or _STEP.match(path.name))

    def refuse_an_earlier_run(self, engine: Engine | None = None) -> None:
        """Raise before anything is trained or written when ``ckpt_dir`` holds an earlier run's files.

        Raises:
            ValueError: naming the folder, its files and the resume flag.
        """
        found = self._earlier_run_files()
        if found:
            raise ValueError(
                f"{self.ckpt_dir} holds the model or checkpoints of an earlier training run "
                f"({', '.join(path.name for path in found)}): resume that run with the resume flag "
                f"({RESUME_FLAGS}), or train into an empty ckpt_dir (another bundle root) or remove those files first"
            )

    def __call__(self, engine: Engine) -> None:
        path = latest_checkpoint(self.ckpt_dir)
        if path is None:
            logger.info("resume: no checkpoint in %s, starting from scratch", self.ckpt_dir)
            return
        load_dict = {**self.load_dict, self.engine_key: engine}
        CheckpointLoader(load_path=str(path), load_dict=load_dict, map_location=self.map_location)(engine)
        logger.info("resumed from %s at epoch %d, iteration %d", path, engine.state.epoch, engine.state.iteration)


class BestModelSaver:
    """Save the network as ``<save_dir>/<filename>`` whenever the evaluator's metric improves.

    Args:
        save_dir: folder of the model file.
        network: the network (unwrapped: its ``state_dict`` keys carry no ``module.`` prefix).
        metric_name: key of ``engine.state.metrics`` to maximise.
        filename: the model file; the score goes to the same name with ``.json``.
        from_epoch: validations of earlier (trainer) epochs are not considered. With training phases, set it
            to the first epoch of the last phase (``PhaseSchedule.final_phase_first_epoch``): a network from an
            earlier phase has untrained heads that the final phase's prediction uses, however good its
            validation score was.
    """

    def __init__(self, save_dir: str | Path, network: torch.nn.Module, metric_name: str,
                 filename: str = BEST_MODEL_FILE, from_epoch: int = 1) -> None:
        self.path = Path(save_dir) / filename
        self.from_epoch = from_epoch
        self.network = network
        self.metric_name = metric_name
        self.record = self.path.with_suffix(".json")
        self.best = -math.inf
        if self.record.is_file():
            self.best = float(json.loads(self.record.read_text())["value"])

    def attach(self, engine: Engine) -> None:
        """Attach to an evaluator."""
        engine.add_event_handler(Events.COMPLETED, self)

    def __call__(self, engine: Engine) -> None:
        if self.metric_name not in engine.state.metrics:
            raise ValueError(f"BestModelSaver: the evaluator computed no metric {self.metric_name!r}")
        value = float(engine.state.metrics[self.metric_name])
        if engine.state.epoch < self.from_epoch or not value > self.best:
            return
        self.best = value
        atomic_torch_save(self.network.state_dict(), self.path)
        tmp = temporary_path(self.record)
        tmp.write_text(json.dumps({"metric": self.metric_name, "value": value}))
        os.replace(tmp, self.record)
        logger.info("saved %s (%s = %.4f)", self.path, self.metric_name, value)
