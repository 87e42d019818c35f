"""The order of the report's gallery: worst first.

With truth: first the images whose lesions were missed (the largest missed share first), then the wrong grades
or labels (the farthest from the truth first), then the rest; within each group, and without any truth, by
predicted severity (most severe first), then by image id.
"""

from __future__ import annotations

from collections.abc import Sequence

from monai_weakloc.report.image_results import ImageResult

__all__ = ["STATUSES", "gallery_order", "image_status"]

STATUSES: tuple[str, ...] = ("missed", "wrong", "correct", "unscored")
"""What an image's result is, in the gallery's order: lesions missed, wrong grade or labels, right, no truth."""


def image_status(result: ImageResult) -> str:
    """One of :data:`STATUSES` for ``result``."""
    if result.missed > 0:
        return "missed"
    if result.wrong:
        return "wrong"
    if result.wrong is not None or result.misses:
        return "correct"
    return "unscored"


def _key(result: ImageResult) -> tuple[int, float, int, float, str]:
    """Sort key, smallest worst (see the module docstring)."""
    return (
        STATUSES.index(image_status(result)),
        -result.missed,
        -(result.wrong or 0),
        -result.severity,
        result.image,
    )


def gallery_order(results: Sequence[ImageResult]) -> list[ImageResult]:
    """``results`` sorted worst first (see the module docstring).

    Args:
        results: the per-image results of a run.

    Returns:
        a new list, worst first.
    """
    return sorted(results, key=_key)
