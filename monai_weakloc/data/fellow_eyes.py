"""Fellow-eye inputs for methods that grade both eyes of a patient together."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

__all__ = ["EYEPACS_EYE_ID", "fellow_eye_images", "pair_fellow_eyes"]

logger = logging.getLogger(__name__)

EYEPACS_EYE_ID = re.compile(r"^(?P<patient>.+)_(?P<eye>left|right)$")
"""An image id named the EyePACS way, ``<patient>_left`` or ``<patient>_right``."""


def fellow_eye_images(records: Sequence[dict]) -> list[str | None]:
    """Each record's fellow eye among ``records``, by their EyePACS ids (``10_left`` and ``10_right``).

    Args:
        records: records with ``id`` and ``image``.

    Returns:
        per record, the ``image`` of the record whose id names the patient's other eye; ``None`` when there is
        none, or when the id is not named the EyePACS way.
    """
    eyes = [EYEPACS_EYE_ID.match(record["id"]) for record in records]
    by_eye = {(eye["patient"], eye["eye"]): record["image"] for eye, record in zip(eyes, records) if eye is not None}
    other = {"left": "right", "right": "left"}
    return [None if eye is None else by_eye.get((eye["patient"], other[eye["eye"]])) for eye in eyes]


def pair_fellow_eyes(records: list[dict], key: str = "fellow") -> list[dict]:
    """Copy each record with ``key`` set to its fellow eye's image, and ``eye_pair`` dropped.

    Args:
        records: records with ``image`` and ``eye_pair`` (as :func:`monai_weakloc.data.read_eyepacs` gives),
            after any checks that leave bad images out: only a fellow eye among the records' images is used.
        key: the key to set.

    Returns:
        new records; where the fellow eye is missing (``eye_pair`` absent, ``None``, or not among the records)
        the image stands in for it, which is logged once with the number of such images. ``eye_pair`` is left
        out: ``key`` holds what it said, and its ``None`` for a missing eye is a value a data loader cannot
        collate.
    """
    images = {record["image"] for record in records}
    paired = []
    missing = []
    for record in records:
        fellow = record.get("eye_pair")
        if fellow not in images:
            missing.append(record.get("id", record["image"]))
            fellow = record["image"]
        paired.append({**{name: value for name, value in record.items() if name != "eye_pair"}, key: fellow})
    if missing:
        logger.warning(
            "%d image(s) have no fellow eye and stand in for it themselves (first: %s)", len(missing), missing[0]
        )
    return paired
