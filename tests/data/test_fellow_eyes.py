"""Fellow-eye pairing for methods that grade both eyes together."""

from __future__ import annotations

import logging

from monai_weakloc.data import pair_fellow_eyes


def test_fellow_eye_is_the_other_image_of_the_patient():
    records = [
        {"image": "/d/1_left.jpeg", "id": "1_left", "eye_pair": "/d/1_right.jpeg"},
        {"image": "/d/1_right.jpeg", "id": "1_right", "eye_pair": "/d/1_left.jpeg"},
    ]
    paired = pair_fellow_eyes(records)
    assert [r["fellow"] for r in paired] == ["/d/1_right.jpeg", "/d/1_left.jpeg"]
    assert "fellow" not in records[0]  # the input is not changed
    assert all("eye_pair" not in record for record in paired)


def test_paired_records_with_a_missing_fellow_eye_collate():
    from monai.data import list_data_collate

    records = [
        {"image": "/d/1_left.jpeg", "id": "1_left", "eye_pair": "/d/1_right.jpeg"},
        {"image": "/d/1_right.jpeg", "id": "1_right", "eye_pair": "/d/1_left.jpeg"},
        {"image": "/d/2_left.jpeg", "id": "2_left", "eye_pair": None},
    ]
    batch = list_data_collate(pair_fellow_eyes(records))
    assert batch["fellow"] == ["/d/1_right.jpeg", "/d/1_left.jpeg", "/d/2_left.jpeg"]


def test_missing_or_left_out_fellow_is_replaced_by_the_image_itself(caplog):
    records = [
        {"image": "/d/1_left.jpeg", "id": "1_left", "eye_pair": "/d/1_right.jpeg"},  # 1_right was left out
        {"image": "/d/2_left.jpeg", "id": "2_left", "eye_pair": None},
        {"image": "/d/base/a.tif", "id": "a"},  # a layout without pairs
    ]
    with caplog.at_level(logging.WARNING):
        paired = pair_fellow_eyes(records)
    assert [r["fellow"] for r in paired] == [r["image"] for r in records]
    assert "3 image(s) have no fellow eye" in caplog.text and "1_left" in caplog.text
