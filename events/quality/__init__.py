"""Data-quality report of an ingest: profile in SQL, render to Markdown and HTML, keep files."""

from events.quality.html import render_html
from events.quality.profile import profile_store, sentinel_counts
from events.quality.render import render_for_spec, render_markdown, render_short
from events.quality.reports import (
    NoReportError,
    ReportFiles,
    latest_report_files,
    latest_stray_warnings,
    load_latest_report,
    show_latest_report,
    write_report,
)

__all__ = [
    "NoReportError",
    "ReportFiles",
    "latest_report_files",
    "latest_stray_warnings",
    "load_latest_report",
    "profile_store",
    "render_for_spec",
    "render_html",
    "render_markdown",
    "render_short",
    "sentinel_counts",
    "show_latest_report",
    "write_report",
]
