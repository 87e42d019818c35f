"""The mean of several models' grade predictions, from the ``predictions.csv`` files of separate inference runs.

Zoom-in-Net's best EyePACS result averages the probabilities of three trained models. When each model was
run on its own (``inference.json`` once per checkpoint), :func:`average_prediction_files` averages their
``predictions.csv`` files (the output contract's single-label table) with MONAI's ``MeanEnsemble`` into one
table that evaluates like any other. An ensemble run in one process, averaging heatmaps as well, is
:class:`monai_weakloc.engines.ensemble.MeanLocalizationEnsembled`.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from monai.transforms import MeanEnsemble

from monai_weakloc.evaluation.tables import read_grade_table

__all__ = ["average_prediction_files"]


def average_prediction_files(paths: Sequence[str | Path], out_csv: str | Path, label_column: str = "level") -> Path:
    """Average the grade probabilities of several ``predictions.csv`` files into one.

    Args:
        paths: CSV files ``image,level,prob_0..prob_{K-1}`` (as inference writes), each with the same
            images and the same K.
        out_csv: the CSV to write: ``image,<label_column>,prob_0..``, the label being the arg-max of the
            mean probabilities, images in the first file's order (written atomically).
        label_column: name of the predicted-label column.

    Returns:
        the path written.

    Raises:
        ValueError: naming the file, when there is no file, a file has no probability columns, another
            number of them, or other images than the first file.
        FileNotFoundError: when a file does not exist.
    """
    if isinstance(paths, (str, Path)) or not paths:
        raise ValueError(f"paths must be a non-empty list of predictions.csv files, got {paths!r}")
    tables = [read_grade_table(path, "prediction") for path in paths]
    first = tables[0]
    for table in tables:
        if table.probabilities is None:
            raise ValueError(f"{table.path}: no probability columns prob_0..prob_K-1 to average")
        if table.probabilities.shape[1] != first.probabilities.shape[1]:
            raise ValueError(
                f"{table.path}: {table.probabilities.shape[1]} probability columns but {first.path} has "
                f"{first.probabilities.shape[1]}"
            )
        if sorted(table.ids) != sorted(first.ids):
            differing = sorted(set(table.ids) ^ set(first.ids))[:5]
            raise ValueError(f"{table.path}: its images differ from those of {first.path}, e.g. {differing}")
    aligned = []
    for table in tables:
        position = {identifier: index for index, identifier in enumerate(table.ids)}
        aligned.append(torch.as_tensor(table.probabilities[[position[identifier] for identifier in first.ids]]))
    mean = MeanEnsemble()(aligned).numpy()
    output = Path(out_csv)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.tmp")
    with open(tmp, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", label_column, *[f"prob_{k}" for k in range(mean.shape[1])]])
        for identifier, row in zip(first.ids, mean):
            writer.writerow([identifier, int(np.argmax(row)), *[f"{value:.6f}" for value in row]])
    os.replace(tmp, output)
    return output
