"""The one module of events.quality that touches files: write and read report files.

Each report is `<ingest_id>.json` (the data), `.md` and `.html` (the same page, the HTML with
plots); an ingest that replaced the store also refreshes `latest.*`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from contracts.errors import UsagecastError
from contracts.workspace import event_store_path, reports_dir
from events.quality.html import render_html
from events.quality.profile import events_per_day
from events.quality.render import render_markdown
from events.quality.timeline import stray_lines
from events.store import latest_ingest_value, open_store

LATEST = "latest"


class NoReportError(UsagecastError):
    """No ingest has written a quality report in this workspace yet."""


@dataclass(frozen=True)
class ReportFiles:
    """The Markdown and HTML pages of one report (same stem)."""

    markdown: Path
    html: Path

    def describe(self) -> str:
        """The two lines printed after `ingest` and `quality`."""
        return f"quality report: {self.markdown}\nquality report with plots: {self.html}"


def _files(folder: Path, stem: str) -> ReportFiles:
    return ReportFiles(folder / f"{stem}.md", folder / f"{stem}.html")


def _write_html(report: dict, folder: Path, stems: tuple[str, ...]) -> None:
    page = render_html(report)
    for stem in stems:
        _files(folder, stem).html.write_text(page, encoding="utf-8")


def write_report(
    report: dict, directory: Path | None = None, *, latest: bool = True
) -> ReportFiles:
    """Write `<ingest_id>.json/.md/.html` and (for an ingest that replaced the store) refresh
    `latest.json/.md/.html`; return the ingest's pages."""
    folder = directory or reports_dir()
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report, indent=2, default=str)
    page = render_markdown(report)
    stems = (report["ingest_id"], LATEST) if latest else (report["ingest_id"],)
    for stem in stems:
        (folder / f"{stem}.json").write_text(text, encoding="utf-8")
        _files(folder, stem).markdown.write_text(page, encoding="utf-8")
    _write_html(report, folder, stems)
    return _files(folder, report["ingest_id"])


def load_latest_report(directory: Path | None = None) -> dict:
    """The newest report as a dict."""
    path = (directory or reports_dir()) / f"{LATEST}.json"
    if not path.exists():
        raise NoReportError(f"{path}: no quality report yet; run `usagecast ingest DATASET.yaml`")
    return json.loads(path.read_text(encoding="utf-8"))


def latest_stray_warnings(directory: Path | None = None) -> list[str]:
    """`warning:` lines for event months far from the others in the latest ingest (none
    without a report): printed where they change a result, by builds and scoring."""
    try:
        coverage = load_latest_report(directory)["timestamp_coverage"]
    except NoReportError:
        return []
    return [f"warning: {line}" for line in stray_lines(coverage)]


def show_latest_report(directory: Path | None = None) -> str:
    """The newest report as Markdown (what `usagecast quality` prints)."""
    return render_markdown(load_latest_report(directory))


def _stored_events_per_day(store: Path, ingest_id: str) -> list[dict] | None:
    """Events per day from the store, when it still holds that ingest; else None."""
    if not store.exists():
        return None
    con = open_store(store)
    try:
        if latest_ingest_value(con, "ingest_id") != ingest_id:
            return None
        return events_per_day(con)
    finally:
        con.close()


def latest_report_files(directory: Path | None = None, store: Path | None = None) -> ReportFiles:
    """The latest report's pages, first writing its HTML when missing (a report written before
    the HTML page existed: its events per day are read from the store if it holds that ingest)."""
    folder = directory or reports_dir()
    report = load_latest_report(folder)
    stems = (report["ingest_id"], LATEST)
    if not all(_files(folder, stem).html.exists() for stem in stems):
        if "events_per_day" not in report:
            stored = _stored_events_per_day(store or event_store_path(), report["ingest_id"])
            report = {**report, "events_per_day": stored}
        _write_html(report, folder, stems)
    return _files(folder, report["ingest_id"])
