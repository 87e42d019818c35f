"""Progress of an engine for whoever watches a run: a bar on a terminal, one line per epoch in a log.

:class:`EngineProgress` is the handler every bundle's trainer (``train.json``) and inference evaluator
(``inference.json``) carries. On a terminal it is Ignite's ``ProgressBar`` (tqdm, on stderr); where stderr is no
terminal (a CI log, a file, a pipe) a bar would fill the log with carriage returns, so it logs one line per epoch
instead (:func:`monai_weakloc.terminal.terminal_progress` does the same for a plain loop).
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

from ignite.engine import Engine, Events
from ignite.handlers import ProgressBar

from monai_weakloc.terminal import is_terminal

__all__ = ["EngineProgress"]

logger = logging.getLogger(__name__)


class EngineProgress:
    """Ignite handler: a progress bar over each epoch's iterations on a terminal, else one log line per epoch.

    The line reads ``training: epoch 3/26, 12 iterations in 4.4 s``.

    Args:
        name: what the engine does (``training``, ``inference``), written before the bar or in the line.
        stream: the stream whose being a terminal picks the form, and that the bar is drawn on; ``None``:
            ``sys.stderr`` when attached.
    """

    def __init__(self, name: str, stream: TextIO | None = None) -> None:
        self.name = name
        self.stream = stream
        self._epoch_start = 0.0

    def attach(self, engine: Engine) -> None:
        """Attach the bar (on a terminal) or the epoch lines (elsewhere) to ``engine``."""
        stream = sys.stderr if self.stream is None else self.stream
        if is_terminal(stream):
            ProgressBar(persist=True, desc=self.name, file=stream).attach(engine)
            return
        engine.add_event_handler(Events.EPOCH_STARTED, self.epoch_started)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self.epoch_completed)

    def epoch_started(self, engine: Engine) -> None:
        """Note when the epoch started."""
        self._epoch_start = time.perf_counter()

    def epoch_completed(self, engine: Engine) -> None:
        """Log the epoch's line."""
        state = engine.state
        iterations = state.epoch_length if state.epoch_length is not None else state.iteration
        logger.info(
            "%s: epoch %d/%d, %d iterations in %.1f s",
            self.name, state.epoch, state.max_epochs, iterations, time.perf_counter() - self._epoch_start,
        )
