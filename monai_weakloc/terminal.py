"""Whether output goes to a person at a terminal, and a progress bar for a loop when it does.

On a terminal a tqdm bar shows how far a loop is; where stderr is no terminal (a CI log, a file, a pipe) a bar
would fill the log with carriage returns, so the loop runs as it is and its own log lines say what it does.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TextIO, TypeVar

from tqdm.auto import tqdm

__all__ = ["is_terminal", "terminal_progress"]

Item = TypeVar("Item")


def is_terminal(stream: TextIO) -> bool:
    """Whether ``stream`` is a terminal (a stream without ``isatty`` is not)."""
    return hasattr(stream, "isatty") and stream.isatty()


def terminal_progress(items: Iterable[Item], name: str, stream: TextIO | None = None) -> Iterator[Item]:
    """``items``, with a tqdm progress bar when ``stream`` (``None``: ``sys.stderr``) is a terminal.

    Args:
        items: what the loop goes over (a sized iterable shows its total).
        name: the bar's description.
        stream: the stream whose being a terminal decides, and that the bar is drawn on.

    Yields:
        the items, in order.
    """
    stream = sys.stderr if stream is None else stream
    if is_terminal(stream):
        yield from tqdm(items, desc=name, file=stream)
    else:
        yield from items
