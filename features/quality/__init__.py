"""Data-quality report of an ingest: profile in SQL, render to Markdown, keep JSON + page."""

from features.quality.profile import profile_store, sentinel_counts
from features.quality.render import render_markdown, render_short
from features.quality.reports import (
    NoReportError,
    load_latest_report,
    show_latest_report,
    write_report,
)

__all__ = [
    "NoReportError",
    "load_latest_report",
    "profile_store",
    "render_markdown",
    "render_short",
    "sentinel_counts",
    "show_latest_report",
    "write_report",
]
