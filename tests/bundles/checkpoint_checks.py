"""Checks shared by the bundles' kill-and-resume tests: what a checkpoint folder must hold after a kill."""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch


def saved_iteration(path: Path | None) -> int:
    """The iteration of a ``checkpoint_<iteration>.pt`` file, -1 for none."""
    return -1 if path is None else int(path.stem.split("_")[1])


def assert_every_file_is_whole(ckpt_dir: Path) -> None:
    """Every checkpoint, model and score file of ``ckpt_dir`` loads; an interrupted write is a hidden ``.tmp``."""
    for path in ckpt_dir.iterdir():
        if path.name.startswith("."):
            assert path.name.endswith(".tmp"), path.name  # a write the kill interrupted: never read
        elif path.suffix == ".json":
            json.loads(path.read_text())
        else:
            assert re.fullmatch(r"checkpoint_\d+\.pt|model\.pt", path.name), path.name
            torch.load(path, weights_only=True)
