"""What every dataset reader returns, and how readers report bad rows.

Readers return MONAI-style lists of dicts, one dict ("record") per image, ready for
``monai.data.Dataset`` and ``LoadImaged``. Keys:

- ``image`` (str): absolute path of the image file.
- ``id`` (str): the image id used by the layout (file name without extension, e.g. ``10_left``).
- ``label``: int grade/class for single-label layouts; for ChestX-ray14 a float32 ndarray of shape (14,)
  (multi-hot, in the order of ``CHESTXRAY14_LABELS``).
- ``split`` (str, where the layout defines one): ``train``, ``val`` or ``test``.
- ``boxes`` (where the layout has boxes): float32 ndarray of shape (N, 4), ``x, y, w, h`` in pixels of
  the original image, origin at the top-left corner; ``box_labels``: list of N str.
- ``mask`` (where the layout has masks): path of the mask of the primary lesion; ``masks``: dict
  lesion code -> path for every mask file that exists.
- ``eye_pair`` (EyePACS): path of the fellow eye's image of the same patient (``None`` if missing),
  with ``patient`` (str) and ``eye`` (``left``/``right``).
Layout-specific extras (``macular_edema``, ``severity``, ...) may be added; the keys above keep their meaning.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DataProblem", "ProblemLog", "ON_ERROR_CHOICES"]

logger = logging.getLogger(__name__)

ON_ERROR_CHOICES = ("raise", "skip")


@dataclass(frozen=True)
class DataProblem:
    """One problem found in a dataset.

    Attributes:
        file: the file at fault (a label table or an image).
        row: 1-based line/row number in ``file`` (``None`` when the problem is not a row).
        message: what is wrong.
        image_id: the id of the image the row describes, when the row names one (e.g. ``11_right``).

    Its text names the place, then what is wrong: ``<file>, row 3 (11_right): level 7 is out of range 0..4``.
    """

    file: str
    row: int | None
    message: str
    image_id: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}, row {self.row}" if self.row is not None else self.file
        if self.image_id:
            where += f" ({self.image_id})"
        return f"{where}: {self.message}"


class ProblemLog:
    """Collects problems; raises on the first one unless the caller asked to skip and log.

    Args:
        on_error: ``"raise"`` raises ``ValueError`` naming the file and row; ``"skip"`` logs a warning,
            records the problem in :attr:`problems` and lets the reader skip the row.
    """

    def __init__(self, on_error: str = "raise") -> None:
        if on_error not in ON_ERROR_CHOICES:
            raise ValueError(f"on_error must be one of {ON_ERROR_CHOICES}, got {on_error!r}")
        self.on_error = on_error
        self.problems: list[DataProblem] = []

    def report(self, file: str | Path, row: int | None, message: str, image_id: str | None = None) -> None:
        """Record a problem; raise ``ValueError`` at once when ``on_error == "raise"``.

        Args:
            file: the file at fault.
            row: 1-based row number in ``file``, or ``None``.
            message: what is wrong.
            image_id: the id of the image the row describes, when it names one.
        """
        problem = DataProblem(str(file), row, message, image_id)
        if self.on_error == "raise":
            raise ValueError(str(problem))
        logger.warning("skipped: %s", problem)
        self.problems.append(problem)
