"""The report tests build their runs with ``report_runs`` from this folder; ``graded_run`` is shared by a module."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from report_runs import build_graded_run


@pytest.fixture(scope="module")
def graded_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The evaluated graded run (a bundle root), see ``report_runs``."""
    return build_graded_run(tmp_path_factory.mktemp("graded_run"))
