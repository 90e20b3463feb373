"""The one module of features.quality that touches files: write and read report pairs."""

from __future__ import annotations

import json
from pathlib import Path

from features.errors import UsagecastError
from features.quality.render import render_markdown
from features.workspace import reports_dir

LATEST = "latest"


class NoReportError(UsagecastError):
    """No ingest has written a quality report in this workspace yet."""


def write_report(report: dict, directory: Path | None = None, *, latest: bool = True) -> Path:
    """Write `<ingest_id>.json/.md` and (for an ingest that replaced the store) refresh
    `latest.json/.md`; return the Markdown path."""
    folder = directory or reports_dir()
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report, indent=2, default=str)
    page = render_markdown(report)
    for stem in (report["ingest_id"], LATEST) if latest else (report["ingest_id"],):
        (folder / f"{stem}.json").write_text(text, encoding="utf-8")
        (folder / f"{stem}.md").write_text(page, encoding="utf-8")
    return folder / f"{report['ingest_id']}.md"


def load_latest_report(directory: Path | None = None) -> dict:
    """The newest report as a dict."""
    path = (directory or reports_dir()) / f"{LATEST}.json"
    if not path.exists():
        raise NoReportError(f"{path}: no quality report yet; run `usagecast ingest DATASET.yaml`")
    return json.loads(path.read_text(encoding="utf-8"))


def show_latest_report(directory: Path | None = None) -> str:
    """The newest report as Markdown (what `usagecast quality` prints)."""
    return render_markdown(load_latest_report(directory))
