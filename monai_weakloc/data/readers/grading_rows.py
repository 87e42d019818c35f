"""One row of a DR grading table (Messidor, IDRiD): image name, retinopathy grade, macular-edema risk."""

from __future__ import annotations

from pathlib import Path

from monai_weakloc.data.readers.checks import IdRegistry, parse_int
from monai_weakloc.data.readers.tables import TableRow
from monai_weakloc.data.records import ProblemLog

__all__ = ["IMAGE_NAME", "GRADE", "MACULAR_EDEMA", "MAX_MACULAR_EDEMA", "read_grading_row"]

IMAGE_NAME = "Image name"
GRADE = "Retinopathy grade"
MACULAR_EDEMA = "Risk of macular edema"
MAX_MACULAR_EDEMA = 2


def read_grading_row(
    row: TableRow,
    table: Path,
    images: dict[str, Path],
    image_folder: Path,
    default_suffix: str,
    max_grade: int,
    ids: IdRegistry,
    log: ProblemLog,
) -> dict | None:
    """The record of one grading row, or ``None`` after reporting what is wrong with it.

    Args:
        row: the row, with the columns :data:`IMAGE_NAME`, :data:`GRADE` and :data:`MACULAR_EDEMA`.
        table: the label table (named in problems).
        images: image file name -> path, of ``image_folder``.
        image_folder: where the images are (named in problems).
        default_suffix: suffix added to an image name that has none (``.tif``, ``.jpg``).
        max_grade: the largest valid grade.
        ids: the ids seen so far (a repeated id is a problem).
        log: where problems go.

    Returns:
        ``image``, ``id``, ``label`` (the grade) and ``macular_edema``.
    """
    name = row.values[IMAGE_NAME]
    if not name:
        log.report(table, row.number, f"{IMAGE_NAME} is empty")
        return None
    file_name = name if Path(name).suffix else f"{name}{default_suffix}"
    image_id = Path(file_name).stem
    grade = parse_int(
        row.values[GRADE], field=GRADE, low=0, high=max_grade, file=table, row=row.number, problems=log,
        image_id=image_id,
    )
    if grade is None:
        return None
    edema = parse_int(
        row.values[MACULAR_EDEMA], field=MACULAR_EDEMA, low=0, high=MAX_MACULAR_EDEMA, file=table, row=row.number,
        problems=log, image_id=image_id,
    )
    if edema is None or not ids.add(image_id, table, row.number):
        return None
    image = images.get(file_name)
    if image is None:
        log.report(table, row.number, f"image file not found: {image_folder / file_name}", image_id)
        return None
    return {"image": str(image), "id": image_id, "label": grade, "macular_edema": edema}
