"""Seeded, stratified splits for datasets distributed without one."""

from __future__ import annotations

import pytest

from monai_weakloc.data.record_splits import assign_splits, split_of


def records(count: int) -> list[dict]:
    return [{"id": f"CHNCXR_{index:04d}_{index % 2}", "label": index % 2} for index in range(count)]


def test_each_class_is_cut_by_the_fractions_and_the_order_does_not_matter():
    split = assign_splits(records(100), seed=3)
    for label in (0, 1):
        names = [r["split"] for r in split if r["label"] == label]
        assert (names.count("train"), names.count("val"), names.count("test")) == (30, 10, 10)
    reversed_split = {r["id"]: r["split"] for r in assign_splits(records(100)[::-1], seed=3)}
    assert {r["id"]: r["split"] for r in split} == reversed_split
    assert {r["id"]: r["split"] for r in assign_splits(records(100), seed=4)} != reversed_split


def test_a_small_set_has_both_classes_in_every_split_and_given_splits_are_kept():
    small = assign_splits(records(10), seed=0)
    assert all({r["label"] for r in split_of(small, name)} == {0, 1} for name in ("train", "val", "test"))
    kept = assign_splits([{"id": "a", "label": 0, "split": "test"}, {"id": "b", "label": 0}])
    assert kept[0]["split"] == "test" and kept[1]["split"] == "train"


def test_bad_fractions_and_empty_splits_are_named():
    with pytest.raises(ValueError, match="sum to 1"):
        assign_splits(records(4), {"train": 0.5, "test": 0.4})
    with pytest.raises(ValueError, match=r"no record in split 'val' \(splits: train\)"):
        split_of([{"id": "a", "split": "train"}], "val")
