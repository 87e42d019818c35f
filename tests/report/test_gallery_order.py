"""The gallery's order: missed lesions first (largest share first), then wrong grades or labels (farthest first),
then the rest, each group by predicted severity; without truth, by predicted severity alone."""

from __future__ import annotations

from monai_weakloc.report.gallery_order import gallery_order, image_status
from monai_weakloc.report.image_results import ImageResult, LesionMiss


def result(image: str, severity: float, wrong: int | None = None, missed: float | None = None) -> ImageResult:
    misses = () if missed is None else (LesionMiss("boxes", missed, f"{missed:.0%} missed"),)
    truth = None if wrong is None else ("grade 1",)
    return ImageResult(image, ("grade 1",), truth, severity, wrong, misses)


def test_missed_then_wrong_then_right_each_by_severity() -> None:
    results = [
        result("right_mild", 0.2, wrong=0, missed=0.0),
        result("wrong_by_one", 3.0, wrong=1),
        result("half_missed", 0.1, wrong=0, missed=0.5),
        result("right_severe", 3.9, wrong=0),
        result("wrong_by_two", 1.0, wrong=2, missed=0.0),
        result("all_missed", 0.5, wrong=2, missed=1.0),
        result("half_missed_severe", 2.0, wrong=0, missed=0.5),
    ]
    ordered = gallery_order(results)
    assert [item.image for item in ordered] == [
        "all_missed",
        "half_missed_severe",
        "half_missed",
        "wrong_by_two",
        "wrong_by_one",
        "right_severe",
        "right_mild",
    ]
    assert [image_status(item) for item in ordered] == ["missed"] * 3 + ["wrong"] * 2 + ["correct"] * 2


def test_without_truth_by_predicted_severity_then_id() -> None:
    results = [result("b", 1.0), result("c", 2.5), result("a", 1.0)]
    assert [item.image for item in gallery_order(results)] == ["c", "a", "b"]
    assert {image_status(item) for item in results} == {"unscored"}
