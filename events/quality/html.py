"""Turn a quality report dict into one self-contained HTML page: the plots and the tables.

Every value taken from the data (dataset, event type, file, column names, raw rows) is escaped;
the plots are inline SVG, so the page has no external reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from events.quality.plots import (
    daily_events,
    events_chart,
    null_share_chart,
    null_shares,
    quarantine_chart,
    quarantine_reasons,
)
from events.quality.render import (
    COUNT_HEADER,
    case_variant_lines,
    conflict_text,
    count_rows,
    derived_field_lines,
    event_type_table,
    item_version_lines,
    number,
    rename_heading,
    rename_yaml,
    same_day_duplicate_lines,
    sentinel_rows,
    signup_lines,
    unknown_reference_text,
    unknown_user_text,
)
from events.quality.timeline import stray_lines

STYLE = (
    "body{font-family:sans-serif;margin:2em;max-width:70em}"
    "table{border-collapse:collapse;margin:.5em 0}"
    "td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left}"
    "figure{margin:1em 0}svg{max-width:100%;height:auto}"
)
CELL_WIDTH = 120


def _text(value) -> str:
    return "" if value is None else escape(str(value))


def _short(value: str | None) -> str:
    """A long free-text value (detail, raw row) shortened to one readable cell."""
    if value is None:
        return ""
    flat = value.replace("\n", " ")
    return flat if len(flat) <= CELL_WIDTH else flat[: CELL_WIDTH - 1] + "…"


def _table(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    head = "".join(f"<th>{_text(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_text(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _section(title: str, *parts: str, level: int = 2) -> list[str]:
    return [f"<h{level}>{_text(title)}</h{level}>", *parts]


def _plots(report: dict) -> list[str]:
    """The three plots; events per day only when the report carries them."""
    out = ["<h2>Plots</h2>"]
    if report.get("events_per_day") is None:
        out.append(
            "<p>events per day: not in this report (written before the report had them, and "
            "the event store no longer holds this ingest)</p>"
        )
    else:
        out.append(f"<figure>{events_chart(daily_events(report['events_per_day']))}</figure>")
    out.append(f"<figure>{quarantine_chart(quarantine_reasons(report))}</figure>")
    out.append(f"<figure>{null_share_chart(null_shares(report))}</figure>")
    return out


def render_html(report: dict) -> str:
    """The full report page as HTML, plots first, then the tables of the Markdown page."""
    title = f"Data quality: {report['dataset']}"
    facts = [
        f"ingest <code>{_text(report['ingest_id'])}</code>, dataset digest "
        f"<code>{_text(report['dataset_digest'][:16])}</code>, written "
        f"{_text(report['created_at'])}",
        f"event time granularity: {_text(report.get('granularity', 'timestamp'))}; users from: "
        f"{_text(report.get('users_from', 'users table'))}",
    ]
    if "refused" in report:
        facts.insert(0, f"<strong>Refused</strong>: {_text(report['refused'])}.")
    facts += [
        _text(line)
        for line in derived_field_lines(report)
        + signup_lines(report)
        + item_version_lines(report)
        + case_variant_lines(report)
        + same_day_duplicate_lines(report)
    ]
    if report.get("user_attribute_conflicts"):
        facts.append(_text(conflict_text(report["user_attribute_conflicts"])))
    if report.get("unknown_referenced_users"):
        facts.append(_text(unknown_reference_text(report["unknown_referenced_users"])))
    if report.get("unknown_user_ids"):
        facts.append(_text(unknown_user_text(report["unknown_user_ids"])))
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_text(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{_text(title)}</h1>",
        *[f"<p>{fact}</p>" for fact in facts],
        *_plots(report),
        *_section("Rows per table", _table(COUNT_HEADER, count_rows(report))),
    ]
    for table, profile in report["columns"].items():
        exact = "exact" if profile["distinct_is_exact"] else "approximate (HyperLogLog)"
        rows = [
            [name, f"{p['null_rate']:.2%}", p["distinct"], p["min"], p["max"]]
            for name, p in profile["columns"].items()
        ]
        out += _section(
            f"Columns of {table} ({profile['rows']} rows, distinct {exact})",
            _table(["column", "null rate", "distinct", "min", "max"], rows),
        )
    out += _section(
        "Sentinel ids and out-of-range values",
        _table(["id column", "sentinel values"], sentinel_rows(report)),
        _table(["reason", "rows"], list(report["out_of_range_counts"].items())),
    )
    coverage = report["timestamp_coverage"]
    out += _section(
        "Events per month",
        _table(["month", "events"], [[m["month"], m["events"]] for m in coverage]),
        *(f"<p>{_text(line)}</p>" for line in stray_lines(coverage)),
    )
    types = [t["event_type"] for t in report["event_types"]]
    renames = rename_yaml(types)
    out += _section(
        "Event types",
        _table(*event_type_table(report)),
        *(
            [
                f"<p>{_text(rename_heading(types))}</p>",
                f"<pre>{_text(chr(10).join(renames))}</pre>",
            ]
            if renames
            else []
        ),
    )
    per_user = report["events_per_user"]
    out += _section(
        "Users and their events",
        f"<p>users without events: {report['users_without_events']} of {per_user['users']}</p>",
        _table(list(per_user), [[number(v) for v in per_user.values()]]),
    )
    out += _section("Quarantine examples (up to 20 per reason)")
    for reason, examples in report["quarantine_examples"].items():
        rows = [
            [e["table"], e["source_file"], e["source_row"], _short(e["detail"]), _short(e["raw"])]
            for e in examples
        ]
        out += _section(reason, _table(["table", "file", "row", "detail", "raw"], rows), level=3)
    return "\n".join([*out, "</body></html>"]) + "\n"
