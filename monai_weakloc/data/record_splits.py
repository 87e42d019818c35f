"""Training, validation and test splits for datasets distributed without one (the TB chest X-ray sets, MIAS).

The records of each class are ordered by a seeded hash of their id and cut by the fractions, so every split
keeps the class balance of the whole set (a small set's test split still has both classes) and does not depend
on the order the reader gives the records in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

__all__ = ["DEFAULT_FRACTIONS", "assign_splits", "split_of"]

DEFAULT_FRACTIONS: dict[str, float] = {"train": 0.6, "val": 0.2, "test": 0.2}


def _rank(identifier: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{identifier}".encode()).hexdigest()


def assign_splits(
    records: Sequence[dict], fractions: Mapping[str, float] | None = None, seed: int = 0, stratify_key: str = "label"
) -> list[dict]:
    """Copies of ``records`` with a ``split``, stratified by ``stratify_key``.

    Args:
        records: reader records with ``id`` (and ``stratify_key``); a record that already has a ``split`` keeps it.
        fractions: split name -> share, summing to 1 (default 0.6 / 0.2 / 0.2 train / val / test). Each class's
            records are cut in this order, the counts rounded so that every record gets a split.
        seed: seed of the order within each class.
        stratify_key: the key whose values are the classes; a record without it counts as one class (``None``).

    Returns:
        the records, in their order, each with ``split``.

    Raises:
        ValueError: when the fractions are not positive or do not sum to 1.
    """
    shares = dict(DEFAULT_FRACTIONS if fractions is None else fractions)
    if not shares or any(share <= 0 for share in shares.values()) or abs(sum(shares.values()) - 1.0) > 1e-6:
        raise ValueError(f"fractions must be positive and sum to 1, got {shares}")
    assigned = [dict(record) for record in records]
    classes: dict[object, list[dict]] = {}
    for record in assigned:
        if "split" not in record:
            classes.setdefault(record.get(stratify_key), []).append(record)
    for members in classes.values():
        members.sort(key=lambda record: _rank(str(record["id"]), seed))
        cumulative, start = 0.0, 0
        for name, share in shares.items():
            cumulative += share
            end = round(cumulative * len(members))
            for record in members[start:end]:
                record["split"] = name
            start = end
    return assigned


def split_of(records: Sequence[dict], split: str) -> list[dict]:
    """The records of ``split`` (after :func:`assign_splits`).

    Raises:
        ValueError: when no record is in ``split``, naming the splits there are.
    """
    chosen = [record for record in records if record.get("split") == split]
    if not chosen:
        found = sorted({str(record.get("split")) for record in records})
        raise ValueError(f"no record in split {split!r} (splits: {', '.join(found)})")
    return chosen
