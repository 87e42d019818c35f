"""Per-epoch curves of the components of a weighted loss (a JSON file, a plot and TensorBoard scalars).

A loss such as self-transfer learning's ``(1 - alpha) * classifier + alpha * localizer`` hides its parts in the
total that MONAI's ``StatsHandler``/``TensorBoardStatsHandler`` log from the engine's output. This handler reads
the parts that the loss keeps from its last call (``loss.last_<name>_loss``, floats) after every iteration and
averages them per epoch, the paper's training curves (Hwang and Kim 2016, Fig. 2). TensorBoard scalars go
through MONAI's ``TensorBoardStatsHandler`` (an epoch writer of its own), the writer the bundles use.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ignite.engine import Engine, Events
from matplotlib.figure import Figure
from monai.handlers import TensorBoardStatsHandler

__all__ = ["CURVES_JSON", "CURVES_PNG", "LossComponentCurves"]

CURVES_JSON = "loss_curves.json"
CURVES_PNG = "loss_curves.png"


class LossComponentCurves:
    """Write the per-epoch means of a loss's components to ``<output_dir>/loss_curves.json`` and ``.png``.

    ``loss_curves.json`` holds ``{"epoch": [1, 2, ...], "<name>": [mean of epoch 1, ...], ...}``, one list per
    component; ``loss_curves.png`` plots one line per component against the epoch. Both are rewritten at every
    epoch end, each atomically (a temporary file, then ``os.replace``). A run resumed from a checkpoint keeps the
    epochs of the existing ``loss_curves.json`` up to the epoch it resumes from and drops the later ones.

    The means are those of this process's iterations: under data-parallel training, attach it on the main
    process only (``"_disabled_": "$not @is_main_process"``), as the bundles do with ``StatsHandler``.

    Args:
        loss: the loss; it must have an attribute ``last_<name>_loss`` per name, set by every call (a float).
        output_dir: where the two files go.
        names: the components, e.g. ``("classifier", "localizer")`` for
            :class:`weakloc_networks.self_transfer_loss.SelfTransferLoss`.
        tag_prefix: TensorBoard tags are ``<tag_prefix><name>``.
        summary_writer: a TensorBoard ``SummaryWriter`` to log the means to, at step = epoch.
        log_dir: without ``summary_writer``, log to a new ``SummaryWriter`` there; with neither, no TensorBoard.

    Raises:
        TypeError: when ``loss`` lacks one of the ``last_<name>_loss`` attributes.
        ValueError: on no names, or a name given twice; when resuming, on a ``loss_curves.json`` without these
            names' curves.
    """

    def __init__(
        self,
        loss: Any,
        output_dir: str | Path,
        names: Sequence[str] = ("classifier", "localizer"),
        tag_prefix: str = "loss/",
        summary_writer: Any | None = None,
        log_dir: str | Path | None = None,
    ) -> None:
        names = tuple(str(name) for name in names)
        if not names or len(set(names)) != len(names):
            raise ValueError(f"LossComponentCurves: names must be distinct and at least one, got {list(names)}")
        missing = [f"last_{name}_loss" for name in names if not hasattr(loss, f"last_{name}_loss")]
        if missing:
            raise TypeError(f"LossComponentCurves: {type(loss).__name__} has no attribute {missing}")
        self.loss = loss
        self.output_dir = Path(output_dir)
        self.names = names
        self.tag_prefix = tag_prefix
        self.curves: dict[str, list[float]] = {"epoch": [], **{name: [] for name in names}}
        self._sums = dict.fromkeys(names, 0.0)
        self._count = 0
        self._resume_pending = True
        self.tensorboard: TensorBoardStatsHandler | None = None
        if summary_writer is not None or log_dir is not None:
            self.tensorboard = TensorBoardStatsHandler(
                summary_writer=summary_writer,
                log_dir=str(log_dir) if log_dir is not None else "./runs",
                iteration_log=False,
                epoch_event_writer=self._write_scalars,
            )

    def attach(self, engine: Engine) -> None:
        """Attach to a trainer: record after every iteration, write at every epoch end."""
        engine.add_event_handler(Events.STARTED, self.expect_resume)
        engine.add_event_handler(Events.EPOCH_STARTED, self.start_epoch)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self.record)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self.write)
        if self.tensorboard is not None:
            self.tensorboard.attach(engine)

    def expect_resume(self, engine: Engine) -> None:
        """Have the first epoch of this run reload the earlier epochs' curves."""
        self._resume_pending = True

    def start_epoch(self, engine: Engine) -> None:
        """Start the sums of a new epoch; in a run's first epoch, first keep the saved curves of the epochs
        before it (a checkpoint loader has set the epoch by then, whatever the order of the ``STARTED``
        handlers)."""
        if self._resume_pending:
            self.curves = self._saved_curves(engine.state.epoch - 1)
            self._resume_pending = False
        self._sums = dict.fromkeys(self.names, 0.0)
        self._count = 0

    def _saved_curves(self, completed: int) -> dict[str, list[float]]:
        """The curves of ``loss_curves.json`` for epochs ``1 .. completed`` (empty without that file).

        Raises:
            ValueError: when the file lacks one of the curves (written for other names).
        """
        curves: dict[str, list[float]] = {"epoch": [], **{name: [] for name in self.names}}
        path = self.output_dir / CURVES_JSON
        if completed < 1 or not path.is_file():
            return curves
        saved = json.loads(path.read_text())
        absent = [name for name in ("epoch", *self.names) if name not in saved]
        if absent:
            raise ValueError(f"LossComponentCurves: {path} has no curves {absent} to resume from")
        for index, epoch in enumerate(saved["epoch"]):
            if epoch <= completed:
                curves["epoch"].append(epoch)
                for name in self.names:
                    curves[name].append(saved[name][index])
        return curves

    def record(self, engine: Engine) -> None:
        """Add the loss's last component values to the epoch's sums.

        Raises:
            ValueError: when a component is ``None`` (the loss was not called).
        """
        for name in self.names:
            value = getattr(self.loss, f"last_{name}_loss")
            if value is None:
                raise ValueError(
                    f"LossComponentCurves: {type(self.loss).__name__}.last_{name}_loss is {value!r} after iteration "
                    f"{engine.state.iteration} (was the loss called?)"
                )
            self._sums[name] += float(value)
        self._count += 1

    def write(self, engine: Engine) -> None:
        """Append the epoch's means and rewrite ``loss_curves.json`` and ``loss_curves.png``."""
        if self._count == 0:
            return
        self.curves["epoch"].append(engine.state.epoch)
        for name in self.names:
            self.curves[name].append(self._sums[name] / self._count)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        _replace(self.output_dir / CURVES_JSON, json.dumps(self.curves, indent=1).encode())
        self._plot(self.output_dir / CURVES_PNG)

    def _plot(self, path: Path) -> None:
        """One line per component against the epoch, written atomically."""
        figure = Figure(figsize=(6.0, 4.0))
        axes = figure.subplots()
        for name in self.names:
            axes.plot(self.curves["epoch"], self.curves[name], marker="o", markersize=3, label=name)
        axes.set_xlabel("epoch")
        axes.set_ylabel("loss (epoch mean)")
        axes.legend()
        axes.grid(alpha=0.3)
        temporary = path.with_name(path.name + ".tmp")
        figure.savefig(temporary, format="png", dpi=100, bbox_inches="tight")
        os.replace(temporary, path)

    def _write_scalars(self, engine: Engine, writer: Any) -> None:
        """``TensorBoardStatsHandler``'s epoch writer: the means of the epoch just written, at step = epoch."""
        if not self.curves["epoch"] or self.curves["epoch"][-1] != engine.state.epoch:
            return
        for name in self.names:
            writer.add_scalar(f"{self.tag_prefix}{name}", self.curves[name][-1], engine.state.epoch)
        writer.flush()


def _replace(path: Path, content: bytes) -> None:
    """Write ``content`` to ``path`` through a temporary file and ``os.replace``."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(content)
    os.replace(temporary, path)
