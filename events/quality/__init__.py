"""Data-quality report of an ingest: profile in SQL, render to Markdown and HTML, keep files.

`render_html` (matplotlib's plots) loads when first used, so a command that only reads the
latest report (a build's stray-month warning) does not import matplotlib.
"""

from typing import Any

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


def __getattr__(name: str) -> Any:
    if name == "render_html":
        from events.quality.html import render_html

        return render_html
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
