"""The report in a real headless browser (Debian's Chromium, driven through Playwright; no browser download).

The page of an evaluated run loads from the file system with no console error and no failed request, every
image it references loads, the gallery is in the order the metrics imply, the filters show the right images,
and an image opens large.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from report_runs import GRADED_ORDER

from monai_weakloc.report import write_report

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a test dependency: bash install.sh")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None and not os.environ.get("CI"):
    pytest.skip(
        "no chromium on PATH: install Debian's (apt-get install chromium), as .ci/run does", allow_module_level=True
    )

VISIBLE_ITEMS = (
    "Array.from(document.querySelectorAll('.gallery .item')).filter((e) => !e.hidden).map((e) => e.dataset.image)"
)


@pytest.fixture(scope="module")
def browser() -> Iterator[sync_api.Browser]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


def test_report_loads_in_chromium_ordered_and_filtered(graded_run: Path, browser: sync_api.Browser) -> None:
    page_file = write_report(graded_run)
    page = browser.new_page()
    problems: list[str] = []
    page.on(
        "console",
        lambda message: problems.append(f"console {message.type}: {message.text}") if message.type == "error" else None,
    )
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on("requestfailed", lambda request: problems.append(f"request failed: {request.url}"))
    page.goto(page_file.as_uri(), wait_until="load")

    page.evaluate("document.querySelectorAll('img[loading=lazy]').forEach((image) => { image.loading = 'eager'; })")
    page.wait_for_function("Array.from(document.querySelectorAll('img[src]')).every((image) => image.complete)")
    widths = page.evaluate(
        "Array.from(document.querySelectorAll('img[src]')).map((image) => [image.getAttribute('src'), image.naturalWidth])"
    )
    assert len(widths) == 4 + len(GRADED_ORDER)
    assert [source for source, width in widths if width == 0] == []

    assert page.evaluate(VISIBLE_ITEMS) == GRADED_ORDER
    page.select_option("#filter-status", "wrong")
    assert page.evaluate(VISIBLE_ITEMS) == ["05_left", "02_left"]
    assert page.text_content("#shown") == "2"
    page.select_option("#filter-status", "")
    page.select_option("#filter-truth", "grade 3")
    assert page.evaluate(VISIBLE_ITEMS) == ["05_left", "04_left"]
    page.select_option("#filter-truth", "")
    page.select_option("#filter-predicted", "grade 2")
    assert page.evaluate(VISIBLE_ITEMS) == ["03_left", "02_left"]
    page.select_option("#filter-predicted", "")
    assert page.evaluate(VISIBLE_ITEMS) == GRADED_ORDER

    page.click(".gallery .item a.open")
    page.wait_for_function("document.getElementById('viewer').open && document.getElementById('viewer-image').complete")
    assert page.evaluate("document.getElementById('viewer-image').naturalWidth") > 0
    assert page.text_content("#viewer-caption") == f"1. {GRADED_ORDER[0]}"
    page.keyboard.press("Escape")
    assert page.evaluate("document.getElementById('viewer').open") is False
    assert problems == []
    page.close()
