"""What a run left on disk for its report: the output folder of the contract, its metrics and its truth.

A run folder is either a bundle root (``--bundle-root`` of ``weakloc bundle run``: the outputs in
``outputs/``) or an output folder of the contract itself (``predictions.csv`` directly in it, see
``docs/outputs.md``). An evaluation (``weakloc evaluate outputs`` or a bundle's ``evaluate.json``) writes
``metrics.json`` and its plots into the output folder and the truth it scored against into ``truth/`` there
(``grades.csv``, ``labels.csv``, ``lesion_boxes.csv``, ``masks/``). Whatever is missing is said in
:attr:`RunFolder.notes`, which the report shows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monai_weakloc.data.readers.files import absolute_root
from monai_weakloc.evaluation.results import METRICS_FILE

__all__ = ["OUTPUTS_FOLDER", "TRUTH_FOLDER", "RunFolder", "locate_run"]

OUTPUTS_FOLDER = "outputs"
"""Where a bundle root keeps its output folder."""
TRUTH_FOLDER = "truth"
"""Where an evaluation writes, inside the output folder, the truth it scored against."""
PREDICTIONS_FILE = "predictions.csv"


@dataclass(frozen=True)
class RunFolder:
    """The files of one run.

    Attributes:
        root: the run folder given (the report is written there).
        outputs: the output folder of the contract (``root`` or ``root/outputs``).
        metrics: the content of ``outputs/metrics.json``, ``None`` when the run was not evaluated.
        truth: the truth folder of the evaluation, ``None`` when there is none.
        notes: what is missing and what follows for the report, one sentence each.
    """

    root: Path
    outputs: Path
    metrics: dict[str, Any] | None
    truth: Path | None
    notes: list[str] = field(default_factory=list)


def _output_folder(root: Path) -> Path:
    """``root`` when it holds ``predictions.csv``, else ``root/outputs`` when that does."""
    for folder in (root, root / OUTPUTS_FOLDER):
        if (folder / PREDICTIONS_FILE).is_file():
            return folder
    raise FileNotFoundError(
        f"{root}: not a run folder: neither {root / PREDICTIONS_FILE} (an output folder, docs/outputs.md) nor "
        f"{root / OUTPUTS_FOLDER / PREDICTIONS_FILE} (a bundle root) exists; run the bundle's inference first"
    )


def _read_metrics(path: Path) -> dict[str, Any]:
    """``metrics.json`` as written by :func:`~monai_weakloc.evaluation.evaluate_outputs`."""
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON: {error}") from error
    if not isinstance(metrics, dict) or not isinstance(metrics.get("tasks"), list):
        raise ValueError(f"{path}: no 'tasks' list: not the metrics.json of weakloc evaluate outputs")
    return metrics


def locate_run(run_dir: str | Path, truth_dir: str | Path | None = None) -> RunFolder:
    """Find the output folder, the metrics and the truth of a run.

    Args:
        run_dir: a bundle root or an output folder of the contract.
        truth_dir: the truth folder, when the evaluation wrote it elsewhere than ``<outputs>/truth``.

    Returns:
        the run's files, with a note for each missing part.

    Raises:
        FileNotFoundError: when ``run_dir`` holds no ``predictions.csv`` (nor its ``outputs/``), or a given
            ``truth_dir`` does not exist.
        ValueError: when ``metrics.json`` is not the file of an evaluation.
    """
    root = absolute_root(run_dir)
    outputs = _output_folder(root)
    notes: list[str] = []
    metrics_path = outputs / METRICS_FILE
    metrics = _read_metrics(metrics_path) if metrics_path.is_file() else None
    if metrics is None:
        notes.append(
            f"Not evaluated: no {metrics_path.name} in {outputs} (run the bundle's evaluate stage or "
            "weakloc evaluate outputs), so there are no metrics and the gallery is sorted by predicted severity."
        )
    if truth_dir is not None:
        truth: Path | None = absolute_root(truth_dir)
        if not truth.is_dir():
            raise FileNotFoundError(f"truth folder not found: {truth}")
    else:
        truth = outputs / TRUTH_FOLDER if (outputs / TRUTH_FOLDER).is_dir() else None
        if truth is None and metrics is not None:
            notes.append(
                f"No truth folder {outputs / TRUTH_FOLDER} (the evaluation wrote its truth elsewhere: give it "
                "with --truth), so the truth is not drawn and only the metrics' own per-image results order "
                "the gallery."
            )
    return RunFolder(root=root, outputs=outputs, metrics=metrics, truth=truth, notes=notes)
