from __future__ import annotations

from pathlib import Path

import pytest
import xlwt
from PIL import Image

from monai_weakloc.data import ProblemLog, read_messidor

HEADER = ["Image name", "Ophthalmologic department", "Retinopathy grade", "Risk of macular edema "]


def write_xls(path: Path, rows: list[list], header=HEADER) -> None:
    book = xlwt.Workbook()
    sheet = book.add_sheet("Feuil1")
    for row_index, row in enumerate([header, *rows]):
        for column, value in enumerate(row):
            sheet.write(row_index, column, value)
    book.save(str(path))


def write_csv(path: Path, rows: list[list], header=HEADER) -> None:
    path.write_text("\n".join(",".join(str(value) for value in row) for row in [header, *rows]) + "\n")


def write_images(folder: Path, rows: list[list]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for row in rows:
        name = row[0] if str(row[0]).endswith(".tif") else f"{row[0]}.tif"
        Image.new("RGB", (32, 32), (120, 40, 20)).save(folder / name)


BASE11 = [["20051019_38557_0100_PP.tif", "Service Ophtalmologie Lariboisière", 0, 0],
          ["20051020_43808_0100_PP.tif", "Service Ophtalmologie Lariboisière", 3, 2]]
BASE12 = [["20051020_55701_0100_PP.tif", "LaTIM - CHU de BREST", 1, 0]]


def test_reads_xls_and_csv_bases(tmp_path):
    write_images(tmp_path / "Base11", BASE11)
    write_xls(tmp_path / "Base11" / "Annotation_Base11.xls", BASE11)
    write_images(tmp_path / "Base12", BASE12)
    write_csv(tmp_path / "Base12" / "Annotation_Base12.csv", BASE12, header=[name.strip() for name in HEADER])
    records = read_messidor(tmp_path)
    assert records == [
        {"image": str(tmp_path / "Base11" / "20051019_38557_0100_PP.tif"), "id": "20051019_38557_0100_PP",
         "label": 0, "macular_edema": 0, "department": "Service Ophtalmologie Lariboisière", "base": "Base11"},
        {"image": str(tmp_path / "Base11" / "20051020_43808_0100_PP.tif"), "id": "20051020_43808_0100_PP",
         "label": 3, "macular_edema": 2, "department": "Service Ophtalmologie Lariboisière", "base": "Base11"},
        {"image": str(tmp_path / "Base12" / "20051020_55701_0100_PP.tif"), "id": "20051020_55701_0100_PP",
         "label": 1, "macular_edema": 0, "department": "LaTIM - CHU de BREST", "base": "Base12"},
    ]


def test_files_directly_in_root_and_xls_preferred_over_csv(tmp_path):
    write_images(tmp_path, BASE11)
    write_xls(tmp_path / "Annotation_Base11.xls", BASE11)
    write_csv(tmp_path / "Annotation_Base11.csv", [["stale.tif", "x", 9, 9]])
    records = read_messidor(tmp_path)
    assert [(record["id"], record["label"], record["base"]) for record in records] == [
        ("20051019_38557_0100_PP", 0, "Base11"), ("20051020_43808_0100_PP", 3, "Base11")
    ]


def test_no_annotation_table_names_the_expected_file(tmp_path):
    with pytest.raises(ValueError, match=r"Annotation_Base11\.xls: label file not found"):
        read_messidor(tmp_path)


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([["a.tif", "d", 4, 0]], r"Annotation_Base11\.xls, row 2 \(a\): Retinopathy grade 4 is out of range 0\.\.3"),
        ([["a.tif", "d", 1, 3]], r"row 2 \(a\): Risk of macular edema 3 is out of range 0\.\.2"),
        ([["a.tif", "d", "high", 0]], r"row 2 \(a\): Retinopathy grade 'high' is not an integer"),
        ([["a.tif", "d", 1, 0], ["a.tif", "d", 2, 0]], r"row 3: duplicate image 'a' \(first seen in row 2\)"),
        ([["", "d", 1, 0]], r"row 2: Image name is empty"),
    ],
)
def test_malformed_rows_name_file_row_and_value(tmp_path, rows, expected):
    base = tmp_path / "Base11"
    write_images(base, [row for row in rows if row[0]])
    write_xls(base / "Annotation_Base11.xls", rows)
    with pytest.raises(ValueError, match=expected):
        read_messidor(tmp_path)


def test_duplicate_across_bases_names_both_tables(tmp_path):
    for base in ("Base11", "Base12"):
        write_images(tmp_path / base, BASE12)
        write_xls(tmp_path / base / f"Annotation_{base}.xls", BASE12)
    with pytest.raises(ValueError, match=r"Annotation_Base12\.xls, row 2: duplicate image '20051020_55701_0100_PP' "
                                         r"\(first seen in .*Annotation_Base11\.xls, row 2\)"):
        read_messidor(tmp_path)


def test_missing_image_missing_column_and_unreadable_workbook(tmp_path):
    (tmp_path / "Base11").mkdir()
    write_xls(tmp_path / "Base11" / "Annotation_Base11.xls", BASE12)
    expected = r"row 2 \(20051020_55701_0100_PP\): image file not found: .*Base11/20051020_55701_0100_PP\.tif"
    with pytest.raises(ValueError, match=expected):
        read_messidor(tmp_path)
    write_xls(tmp_path / "Base11" / "Annotation_Base11.xls", [["a.tif", 1, 0]], header=HEADER[:1] + HEADER[2:])
    with pytest.raises(ValueError, match=r"row 1: missing column\(s\) 'Ophthalmologic department'"):
        read_messidor(tmp_path)
    (tmp_path / "Base11" / "Annotation_Base11.xls").write_text("not a workbook")
    with pytest.raises(ValueError, match=r"Annotation_Base11\.xls: cannot read Excel workbook"):
        read_messidor(tmp_path)


def test_skip_mode_keeps_good_rows(tmp_path):
    rows = [*BASE11, ["20051020_00000_0100_PP.tif", "d", 7, 0]]
    write_images(tmp_path / "Base11", rows)
    write_xls(tmp_path / "Base11" / "Annotation_Base11.xls", rows)
    log = ProblemLog("skip")
    records = read_messidor(tmp_path, problems=log)
    assert [record["label"] for record in records] == [0, 3]
    assert [str(problem).split(", ")[-1] for problem in log.problems] == [
        "row 4 (20051020_00000_0100_PP): Retinopathy grade 7 is out of range 0..3"
    ]
