"""The report as one static HTML page: metric tables, plots, and a gallery with a filter and a large view.

The page needs no server and no network: its style and its script are inline, its images are files referenced
by relative URLs, and it names no outside address. Every text taken from the run's files is escaped. The
script filters the gallery (by predicted class, true class and result) and opens any image large in a
``<dialog>``; without scripts each image still opens as a file through its link.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from monai_weakloc.report.gallery_order import STATUSES
from monai_weakloc.report.metric_rows import MetricRow
from monai_weakloc.report.overlay import TRUTH_COLOUR

__all__ = ["GalleryItem", "PlotFile", "ReportPage", "render_page"]

STATUS_TEXT = {"missed": "lesions missed", "wrong": "wrong", "correct": "right", "unscored": "no truth"}
"""How the gallery names each result of :data:`~monai_weakloc.report.gallery_order.STATUSES`."""
VALUE_SEPARATOR = "|"

STYLE = """
:root { color-scheme: light; font-family: system-ui, sans-serif; }
body { margin: 0 auto; max-width: 1400px; padding: 0 1rem 3rem; color: #1b1f23; background: #fafafa; }
h1 { font-size: 1.5rem; margin: 1.2rem 0 0.2rem; }
h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2rem; margin-top: 2rem; }
.where { color: #555; font-family: monospace; margin: 0; }
.notes li { color: #8a4b00; }
.tasks { display: flex; flex-wrap: wrap; gap: 1.5rem; align-items: flex-start; }
table { border-collapse: collapse; background: #fff; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: left; vertical-align: top; }
td.value { font-variant-numeric: tabular-nums; font-weight: 600; }
td.baseline { color: #555; }
.plots, .gallery { display: grid; gap: 0.8rem; }
.plots { grid-template-columns: repeat(auto-fill, minmax(280px, 1fr)); }
.gallery { grid-template-columns: repeat(auto-fill, minmax(220px, 1fr)); }
figure { margin: 0; background: #fff; border: 1px solid #ddd; border-radius: 4px; padding: 0.4rem; }
figure img { display: block; width: 100%; height: auto; }
figcaption { font-size: 0.85rem; margin-top: 0.3rem; overflow-wrap: anywhere; }
.item.missed { border-left: 6px solid #c62828; }
.item.wrong { border-left: 6px solid #ef6c00; }
.item.correct { border-left: 6px solid #2e7d32; }
.status { font-weight: 600; }
.missing { color: #777; font-style: italic; }
.filters { display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; margin: 0.6rem 0; }
.legend .truth { color: #c000c0; font-weight: 600; }
.legend .prediction { color: #2e8b00; font-weight: 600; }
[hidden] { display: none !important; }
dialog { max-width: 96vw; max-height: 96vh; padding: 0.5rem; border: 0; }
dialog img { width: 94vw; height: 88vh; object-fit: contain; display: block; }
dialog::backdrop { background: rgba(0, 0, 0, 0.8); }
"""

SCRIPT = """
(() => {
  const items = Array.from(document.querySelectorAll(".gallery .item"));
  const selects = Array.from(document.querySelectorAll(".filters select"));
  const shown = document.getElementById("shown");
  const matches = (item, select) =>
    !select.value || (item.dataset[select.dataset.field] || "").split("|").includes(select.value);
  const applyFilters = () => {
    let count = 0;
    for (const item of items) {
      const visible = selects.every((select) => matches(item, select));
      item.hidden = !visible;
      count += visible ? 1 : 0;
    }
    shown.textContent = String(count);
  };
  selects.forEach((select) => select.addEventListener("change", applyFilters));
  const viewer = document.getElementById("viewer");
  const viewerImage = document.getElementById("viewer-image");
  const viewerCaption = document.getElementById("viewer-caption");
  document.querySelectorAll("a.open").forEach((link) =>
    link.addEventListener("click", (event) => {
      event.preventDefault();
      viewerImage.src = link.getAttribute("href");
      viewerImage.alt = link.dataset.caption;
      viewerCaption.textContent = link.dataset.caption;
      viewer.showModal();
    })
  );
  viewer.addEventListener("click", () => viewer.close());
  applyFilters();
})();
"""


@dataclass(frozen=True)
class PlotFile:
    """A plot of the evaluation.

    Attributes:
        url: its relative URL from the page.
        caption: its name.
    """

    url: str
    caption: str


@dataclass(frozen=True)
class GalleryItem:
    """One image of the gallery, in the gallery's order.

    Attributes:
        image: the image id.
        url: relative URL of its overlay (with the truth drawn when known), ``None`` when it has none.
        predicted: its predicted grade, class or labels.
        truth: its true grade, class or labels, ``None`` when unknown.
        status: one of :data:`~monai_weakloc.report.gallery_order.STATUSES`.
        details: lines about what it missed.
    """

    image: str
    url: str | None
    predicted: tuple[str, ...]
    truth: tuple[str, ...] | None
    status: str
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReportPage:
    """What the report page shows.

    Attributes:
        title: the page title.
        location: where the run is.
        notes: what is missing from the run, one sentence each.
        metrics: ``metrics.json``, ``None`` when the run was not evaluated.
        tables: task -> its metric rows.
        plots: the plots.
        items: the gallery, in its order.
        order: how the gallery is sorted, in words.
        truth_drawn: whether the overlays show the truth.
        total: the number of images of the run (``items`` may hold fewer: the worst ones).
    """

    title: str
    location: str
    notes: Sequence[str]
    metrics: Mapping[str, Any] | None
    tables: Mapping[str, Sequence[MetricRow]]
    plots: Sequence[PlotFile]
    items: Sequence[GalleryItem]
    order: str
    truth_drawn: bool
    total: int


def _text(value: Any) -> str:
    """A value as escaped text: floats with 3 decimals, ``None`` and NaN as ``n/a``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3f}"
    return html.escape(str(value))


def _metric_table(task: str, section: Mapping[str, Any], rows: Sequence[MetricRow]) -> str:
    """One task's table, or why it was skipped."""
    if "skipped" in section:
        return f'<div class="task"><h3>{html.escape(task)}</h3><p class="missing">skipped: {_text(section["skipped"])}</p></div>'
    body = "".join(
        f'<tr><td>{_text(row.name)}</td><td class="value">{_text(row.value)}</td>'
        f'<td class="baseline">{"; ".join(f"{_text(value)} ({_text(name)})" for name, value in row.baselines)}</td></tr>'
        for row in rows
    )
    return (
        f'<div class="task"><h3>{html.escape(task)}</h3><table><thead><tr><th>figure</th><th>value</th>'
        f"<th>baseline</th></tr></thead><tbody>{body}</tbody></table></div>"
    )


def _metrics_section(metrics: Mapping[str, Any] | None, tables: Mapping[str, Sequence[MetricRow]]) -> str:
    if metrics is None:
        return '<section id="metrics"><h2>Metrics</h2><p class="missing">The run was not evaluated.</p></section>'
    parts = "".join(_metric_table(task, metrics[task], tables.get(task, ())) for task in metrics["tasks"])
    return f'<section id="metrics"><h2>Metrics</h2><div class="tasks">{parts}</div></section>'


def _opening_image(url: str, caption: str, lazy: bool) -> str:
    """An image inside a link that opens it large."""
    loading = ' loading="lazy"' if lazy else ""
    return (
        f'<a class="open" href="{html.escape(url)}" data-caption="{html.escape(caption)}">'
        f'<img src="{html.escape(url)}" alt="{html.escape(caption)}"{loading}></a>'
    )


def _plots_section(plots: Sequence[PlotFile]) -> str:
    if not plots:
        return '<section id="plots"><h2>Plots</h2><p class="missing">No plot in the output folder.</p></section>'
    figures = "".join(
        f"<figure>{_opening_image(plot.url, plot.caption, lazy=False)}<figcaption>{html.escape(plot.caption)}</figcaption></figure>"
        for plot in plots
    )
    return f'<section id="plots"><h2>Plots</h2><div class="plots">{figures}</div></section>'


def _select(field: str, label: str, options: Sequence[tuple[str, str]]) -> str:
    """A filter: ``options`` are ``(value, text)`` pairs after "any"."""
    choices = "".join(f'<option value="{html.escape(value)}">{html.escape(text)}</option>' for value, text in options)
    return (
        f'<label>{html.escape(label)} <select id="filter-{field}" data-field="{field}">'
        f'<option value="">any</option>{choices}</select></label>'
    )


def _gallery_item(rank: int, item: GalleryItem) -> str:
    caption = f"{rank}. {item.image}"
    lines = [f"<b>{rank}.</b> {html.escape(item.image)}", f"predicted: {html.escape(', '.join(item.predicted))}"]
    if item.truth is not None:
        lines.append(f"truth: {html.escape(', '.join(item.truth))}")
    lines.append(f'<span class="status">{html.escape(STATUS_TEXT[item.status])}</span>')
    lines += [html.escape(detail) for detail in item.details]
    picture = (
        _opening_image(item.url, caption, lazy=True)
        if item.url is not None
        else '<p class="missing">no overlay in the outputs</p>'
    )
    return (
        f'<figure class="item {item.status}" data-image="{html.escape(item.image)}" '
        f'data-predicted="{html.escape(VALUE_SEPARATOR.join(item.predicted))}" '
        f'data-truth="{html.escape(VALUE_SEPARATOR.join(item.truth or ()))}" data-status="{item.status}">'
        f"{picture}<figcaption>{'<br>'.join(lines)}</figcaption></figure>"
    )


def _filter_values(items: Sequence[GalleryItem]) -> list[str]:
    """Every predicted or true grade, class or label of ``items``, sorted with numbers by value."""
    names = {name for item in items for name in (*item.predicted, *(item.truth or ()))}
    return sorted(names, key=lambda name: [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)])


def _legend(truth_drawn: bool) -> str:
    """What the overlays' colours mean."""
    legend = (
        'Heat and <span class="prediction">predicted boxes and points</span> as the inference drew them; '
        "each image opens large on a click."
    )
    if truth_drawn:
        legend += (
            f' The <span class="truth">truth ({html.escape(TRUTH_COLOUR)})</span>: lesion boxes and mask outlines.'
        )
    return legend


def _gallery_section(page: ReportPage) -> str:
    values = [(name, name) for name in _filter_values(page.items)]
    filters = [_select("predicted", "predicted", values)]
    if any(item.truth is not None for item in page.items):
        filters.append(_select("truth", "truth", values))
    found = {item.status for item in page.items}
    filters.append(
        _select("status", "result", [(status, STATUS_TEXT[status]) for status in STATUSES if status in found])
    )
    shown = len(page.items)
    capped = f" (the {shown} worst of {page.total} images)" if shown < page.total else ""
    figures = "".join(_gallery_item(rank, item) for rank, item in enumerate(page.items, start=1))
    return (
        f'<section id="gallery"><h2>Gallery</h2><p>{html.escape(page.order)}{html.escape(capped)}</p>'
        f'<p class="legend">{_legend(page.truth_drawn)}</p>'
        f'<form class="filters" onsubmit="return false">{"".join(filters)}'
        f'<span><span id="shown">{shown}</span> of {shown} shown</span></form>'
        f'<div class="gallery">{figures}</div></section>'
    )


def render_page(page: ReportPage) -> str:
    """The whole page of ``page`` (every text in it is escaped here).

    Args:
        page: what the page shows.

    Returns:
        the HTML document.
    """
    note_list = "".join(f"<li>{html.escape(note)}</li>" for note in page.notes)
    note_block = f'<ul class="notes">{note_list}</ul>' if page.notes else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(page.title)}</title><style>{STYLE}</style></head><body>"
        f'<header><h1>{html.escape(page.title)}</h1><p class="where">{html.escape(page.location)}</p>'
        f"{note_block}</header>"
        f"{_metrics_section(page.metrics, page.tables)}{_plots_section(page.plots)}{_gallery_section(page)}"
        '<dialog id="viewer"><figure><img id="viewer-image" alt=""><figcaption id="viewer-caption"></figcaption>'
        f"</figure></dialog><script>{SCRIPT}</script></body></html>\n"
    )
