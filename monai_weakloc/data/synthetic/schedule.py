"""Balanced label schedules: labels drawn in shuffled blocks so that small datasets hold every label."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np

__all__ = ["balanced_schedule"]

Label = TypeVar("Label")


def balanced_schedule(rng: np.random.Generator, count: int, values: Sequence[Label]) -> list[Label]:
    """``count`` labels taken from shuffled copies of ``values`` laid end to end.

    Every value appears once ``count >= len(values)``; a value listed twice in ``values`` comes twice as
    often.
    """
    schedule: list[Label] = []
    while len(schedule) < count:
        schedule.extend(values[int(index)] for index in rng.permutation(len(values)))
    return schedule[:count]
