"""Grading rules of the synthetic fundus images: each label is a function of the planted lesions only.

Lesion kinds: ``microaneurysm`` (MA), ``haemorrhage`` (HE), ``hard_exudate`` (EX), ``cotton_wool_spot``
(CWS, IDRiD's "soft exudate"). Counts are of planted lesions; a lesion is one dot, blot, spot or patch.

**ICDR grade** (EyePACS and IDRiD, 0..4), checked from the top:

- 4 (proliferative stand-in): at least one CWS;
- 3 (severe): at least ``SEVERE_HAEMORRHAGE_COUNT`` (5) HE;
- 2 (moderate): at least one HE or one EX;
- 1 (mild): at least one MA;
- 0: no lesion.

**Messidor grade** (0..3), Messidor's own rule on MA and HE counts (no neovascularization is drawn):

- 3: MA >= 15 or HE >= 5;
- 2: 5 < MA < 15 or 0 < HE < 5;
- 1: 0 < MA <= 5 and HE = 0;
- 0: MA = 0 and HE = 0.

**Risk of macular edema** (Messidor and IDRiD, 0..2): 0 without EX; 2 when an EX centre lies within one
optic-disc diameter of the macula centre; 1 otherwise.

The ``lesion_counts_for_*`` samplers draw counts for a wanted grade; the rules above, applied to those
counts, give that grade back.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np

from monai_weakloc.data.synthetic.fundus import LESION_KINDS, PlantedLesion

__all__ = [
    "ICDR_NUM_GRADES",
    "MESSIDOR_NUM_GRADES",
    "SEVERE_HAEMORRHAGE_COUNT",
    "icdr_grade",
    "messidor_grade",
    "macular_edema_risk",
    "lesion_counts_for_icdr_grade",
    "lesion_counts_for_messidor_grade",
]

ICDR_NUM_GRADES = 5
MESSIDOR_NUM_GRADES = 4
SEVERE_HAEMORRHAGE_COUNT = 5


def icdr_grade(counts: Mapping[str, int]) -> int:
    """ICDR grade 0..4 from lesion counts (kind -> count; missing kinds count 0); rule in the module docstring."""
    if counts.get("cotton_wool_spot", 0) > 0:
        return 4
    haemorrhages = counts.get("haemorrhage", 0)
    if haemorrhages >= SEVERE_HAEMORRHAGE_COUNT:
        return 3
    if haemorrhages > 0 or counts.get("hard_exudate", 0) > 0:
        return 2
    if counts.get("microaneurysm", 0) > 0:
        return 1
    return 0


def messidor_grade(counts: Mapping[str, int]) -> int:
    """Messidor retinopathy grade 0..3 from MA and HE counts; rule in the module docstring."""
    microaneurysms = counts.get("microaneurysm", 0)
    haemorrhages = counts.get("haemorrhage", 0)
    if microaneurysms >= 15 or haemorrhages >= 5:
        return 3
    if microaneurysms > 5 or haemorrhages > 0:
        return 2
    if microaneurysms > 0:
        return 1
    return 0


def macular_edema_risk(
    lesions: Iterable[PlantedLesion], macula_x: float, macula_y: float, disc_radius: float
) -> int:
    """Risk of macular edema 0..2 from the hard exudates' distance to the macula centre.

    Args:
        lesions: the planted lesions.
        macula_x: column of the macula centre.
        macula_y: row of the macula centre.
        disc_radius: optic-disc radius in pixels (one disc diameter is ``2 * disc_radius``).
    """
    distances = [
        math.hypot(lesion.centre_x - macula_x, lesion.centre_y - macula_y)
        for lesion in lesions
        if lesion.kind == "hard_exudate"
    ]
    if not distances:
        return 0
    return 2 if min(distances) <= 2.0 * disc_radius else 1


def _integer(rng: np.random.Generator, low: int, high: int) -> int:
    """Uniform integer in [low, high] inclusive."""
    return int(rng.integers(low, high + 1))


def lesion_counts_for_icdr_grade(rng: np.random.Generator, grade: int) -> dict[str, int]:
    """Lesion counts whose ICDR grade is ``grade``; higher grades have more of everything.

    Raises:
        ValueError: ``grade`` outside 0..4.
    """
    counts = dict.fromkeys(LESION_KINDS, 0)
    if grade == 0:
        return counts
    if grade == 1:
        counts["microaneurysm"] = _integer(rng, 1, 6)
    elif grade == 2:
        counts["microaneurysm"] = _integer(rng, 1, 8) if rng.random() < 0.85 else 0
        counts["haemorrhage"] = _integer(rng, 0, SEVERE_HAEMORRHAGE_COUNT - 1)
        counts["hard_exudate"] = _integer(rng, 0, 6)
        if counts["haemorrhage"] == 0 and counts["hard_exudate"] == 0:
            counts["haemorrhage" if rng.random() < 0.5 else "hard_exudate"] = _integer(rng, 1, 4)
    elif grade == 3:
        counts["microaneurysm"] = _integer(rng, 1, 10)
        counts["haemorrhage"] = _integer(rng, SEVERE_HAEMORRHAGE_COUNT, SEVERE_HAEMORRHAGE_COUNT + 4)
        counts["hard_exudate"] = _integer(rng, 0, 6)
    elif grade == 4:
        counts["microaneurysm"] = _integer(rng, 2, 12)
        counts["haemorrhage"] = _integer(rng, 2, SEVERE_HAEMORRHAGE_COUNT + 3)
        counts["hard_exudate"] = _integer(rng, 0, 8)
        counts["cotton_wool_spot"] = _integer(rng, 1, 3)
    else:
        raise ValueError(f"ICDR grade must be in 0..{ICDR_NUM_GRADES - 1}, got {grade}")
    return counts


def lesion_counts_for_messidor_grade(rng: np.random.Generator, grade: int) -> dict[str, int]:
    """Lesion counts whose Messidor grade is ``grade``; exudates (edema only) appear from grade 2.

    Raises:
        ValueError: ``grade`` outside 0..3.
    """
    counts = dict.fromkeys(LESION_KINDS, 0)
    if grade == 0:
        return counts
    if grade == 1:
        counts["microaneurysm"] = _integer(rng, 1, 5)
    elif grade == 2:
        if rng.random() < 0.5:
            counts["haemorrhage"] = _integer(rng, 1, 4)
            counts["microaneurysm"] = _integer(rng, 0, 14)
        else:
            counts["microaneurysm"] = _integer(rng, 6, 14)
        counts["hard_exudate"] = _integer(rng, 1, 6) if rng.random() < 0.5 else 0
    elif grade == 3:
        if rng.random() < 0.5:
            counts["microaneurysm"] = _integer(rng, 15, 20)
            counts["haemorrhage"] = _integer(rng, 0, 6)
        else:
            counts["microaneurysm"] = _integer(rng, 0, 14)
            counts["haemorrhage"] = _integer(rng, 5, 9)
        counts["hard_exudate"] = _integer(rng, 1, 8) if rng.random() < 0.6 else 0
    else:
        raise ValueError(f"Messidor grade must be in 0..{MESSIDOR_NUM_GRADES - 1}, got {grade}")
    return counts
