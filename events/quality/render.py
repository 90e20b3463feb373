"""Turn a quality report dict into Markdown (the page) or a few lines (printed after ingest)."""

from __future__ import annotations

import json

import yaml

from contracts.names import SPEC_NAME_RULE, is_spec_name, plain_name_for
from events.quality.timeline import stray_lines


def _table(header: list[str], rows: list[list]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in rows]
    return lines


def _cell(text: str | None, width: int = 120) -> str:
    """Markdown-safe, single-line, shortened text for a table cell."""
    if text is None:
        return ""
    flat = text.replace("|", "\\|").replace("\n", " ")
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def number(value: float | None) -> str:
    """A count-like figure without float noise (1124.700000000001 -> 1,124.7)."""
    return "n/a" if value is None else f"{value:,.1f}".removesuffix(".0")


COUNT_HEADER = ["table", "read", "accepted", "quarantined", "by reason"]


def source_names(report: dict) -> dict[str, str]:
    """With several events sources, each one's name in counts and messages by its key path:
    `events[1]` -> `events[1] (payments.csv)`."""
    sources = report.get("source_counts", {})
    return {where: f"{where} ({c['files']})" for where, c in sources.items()}


def count_rows(report: dict) -> list[list]:
    """Rows per table, then per events source when there are several: read, accepted,
    quarantined and the reasons (COUNT_HEADER), those of rows not meant to be kept marked as
    no error (the ingest's summary marks them alike)."""
    names = source_names(report)
    named = [
        *report["counts"].items(),
        *((names[where], c) for where, c in report.get("source_counts", {}).items()),
    ]
    not_errors = set(report.get("not_errors", ()))  # reports written before it: none marked
    rows = []
    for name, c in named:
        reasons = ", ".join(
            f"{r}: {n}" + (" (not an error)" if r in not_errors else "")
            for r, n in sorted(c["quarantined"].items())
        )
        rows.append([name, c["read"], c["accepted"], sum(c["quarantined"].values()), reasons])
    return rows


# Per-type counts the event-type table shows when any type has one: (report key, header).
EVENT_TYPE_COUNTS = (("with_area", "with an area"), ("with_value", "with a value"))


def event_type_table(report: dict) -> tuple[list[str], list[list]]:
    """The event types' header and rows: each type's events, and how many carry a product
    area or a value when any does (what `features new` reads areas as, usage or a change
    log, and which types' values it sums)."""
    types = report["event_types"]
    shown = [(key, header) for key, header in EVENT_TYPE_COUNTS if any(t.get(key) for t in types)]
    rows = [[t["event_type"], t["events"], *(t.get(key, 0) for key, _ in shown)] for t in types]
    return ["event type", "events", *(header for _, header in shown)], rows


def sentinel_rows(report: dict) -> list[list]:
    """[table.column, sentinel values seen] per id column."""
    return [
        [f"{table}.{column}", n]
        for table, by_column in report["sentinel_counts"].items()
        for column, n in by_column.items()
    ]


def conflict_text(conflicts: dict[str, int]) -> str:
    """Users whose events disagree on a user-level attribute (the first event's value won)."""
    counts = ", ".join(f"{name} {n:,}" for name, n in conflicts.items())
    return f"users with conflicting attribute values (first event's value kept): {counts}"


def unknown_reference_text(unknown: dict[str, int]) -> str:
    """Users whose `user_id` attribute names a user the users table lacks (kept as is)."""
    counts = ", ".join(f"{name} {n:,}" for name, n in unknown.items())
    return f"unknown referenced users (kept; not in the users table): {counts}"


def unknown_user_text(found: dict) -> str:
    """What the quarantined unknown users' ids look like beside the users table's."""
    examples = ", ".join(f"{where} {example!r}" for where, example in found["examples"].items())
    near = found.get("near")
    differently = (
        f"; {near['ids']:,} of them match a user's once leading zeros and case are ignored "
        f"({near['unknown']!r} and {near['known']!r})"
        if near
        else ""
    )
    return (
        f"unknown users (quarantined as unknown_user): ids such as {examples}; the users "
        f"table's ids are such as {found['users_table']!r}{differently}"
    )


def signup_lines(report: dict, example: bool = True) -> list[str]:
    """A line when users of the users table have events over a day before their signup;
    `example` names one of them (the report pages; the terminal's summary shows counts)."""
    early = report.get("events_before_signup")
    if not early:
        return []
    one = early["example"]
    named = (
        f" (user {one['user_id']}: first event {one['first_event']}, signup {one['signup_time']})"
        if example
        else ""
    )
    return [
        f"users whose first event is over a day before their signup_time: {early['users']:,} "
        f"of {early['of']:,}{named}; is that column the signup? Features count events before "
        "a signup; rows start at it"
    ]


def item_version_lines(report: dict) -> list[str]:
    """A line when events name catalogued items before the item's first version (a
    catalogue of versions whose history starts after the events)."""
    before = report.get("events_before_item_versions")
    if not before:
        return []
    return [
        f"events before their item's first version in the catalogue: {before['events']:,} of "
        f"{before['of']:,} that name a catalogued item (its history starts "
        f"{before['catalogue_from']}); item_mean reads no attribute for them"
    ]


def case_variant_lines(report: dict) -> list[str]:
    """A line per column whose stored values differ only in letter case: features count
    each spelling apart."""
    lines = []
    for column, groups in report.get("case_variants", {}).items():
        spelled = "; ".join(
            ", ".join(f"{v['value']!r} {v['rows']:,}" for v in group) for group in groups
        )
        lines.append(
            f"{column}: values that differ only in letter case, counted apart by features: "
            f"{spelled} ({_case_merge_hint(column)})"
        )
    return lines


def placeholder_id_lines(report: dict) -> list[str]:
    """A line naming the stored user ids that stand for no user (`undefined`, `NULL`): each
    is one user holding the events of no one."""
    found = report.get("placeholder_user_ids", [])
    if not found:
        return []
    ids = ", ".join(
        f"{p['user_id']!r} on {p['events']:,} event{'s' if p['events'] > 1 else ''}" for p in found
    )
    return [
        f"user ids that stand for no user, kept as users: {ids} (list them in "
        "rules.sentinel_ids, or a source's missing_texts, to read them as no user)"
    ]


def _case_merge_hint(column: str) -> str:
    """How the user merges the spellings of a `table.column`'s values (the ingest keeps them
    as written)."""
    table, name = column.split(".", 1)
    if column == "events.event_type":
        return "rules.event_types.rename merges them"
    if column == "events.area":
        return "a derived area, columns.area: {expr: 'lower(...)'}, merges them"
    if table == "users":
        return f"a spec's derived_attributes, lower({name}), merges them"
    return "one spelling in the export merges them"


def derived_field_lines(report: dict) -> list[str]:
    """Lines on fields the ingest derived: the events whose user came from their anonymous
    id (when a source maps `anonymous_id`), the sessions cut from gaps (rules.sessions)."""
    lines = []
    if "anonymous_events" in report:
        lines.append(
            "events attributed to a user by their anonymous_id: "
            f"{report['anonymous_events']:,} (the others are quarantined with the reason)"
        )
    if "sessions" in report:
        sessions = report["sessions"]
        lines.append(
            f"session ids derived from the gaps between a user's events (over "
            f"{sessions['inactivity_minutes']} minutes starts a session): "
            f"{sessions['sessions']:,} sessions"
        )
    return lines


def absent_column_lines(report: dict, shown: int = 3) -> list[str]:
    """One line per mapped column that some files of its source lack (read as missing)."""
    lines = []
    for entry in report.get("absent_columns", []):
        files = entry["files"]
        more = f" and {len(files) - shown} more" if len(files) > shown else ""
        lines.append(
            f"{entry['key']}: not in {len(files)} of the source's {entry['of']} files, read as "
            f"missing there ({', '.join(files[:shown])}{more})"
        )
    return lines


def same_day_duplicate_lines(report: dict) -> list[str]:
    """With dates only, rows equal in every column may be two events of one day (two equal
    orders): say so beside the duplicate_event count, and how to keep them."""
    duplicates = report["counts"].get("events", {}).get("quarantined", {}).get("duplicate_event")
    if report.get("granularity") != "date" or not duplicates:
        return []
    return [
        f"{duplicates:,} {'event was' if duplicates == 1 else 'events were'} quarantined as "
        "duplicate_event (equal in every column to an earlier one); the times are dates only, "
        "so two such rows may be two events of one day (two equal orders): if so, set "
        "`dedupe: false` on their events source"
    ]


def render_markdown(report: dict) -> str:
    """The full human-readable report page."""
    conflicts = report.get("user_attribute_conflicts", {})
    unknown = report.get("unknown_referenced_users", {})
    out = [
        f"# Data quality: {report['dataset']}",
        "",
        f"ingest `{report['ingest_id']}`, dataset digest `{report['dataset_digest'][:16]}`, "
        f"written {report['created_at']}",
        "",
        *([f"**Refused**: {report['refused']}.", ""] if "refused" in report else []),
        f"event time granularity: {report.get('granularity', 'timestamp')}; times: "
        f"{report.get('timezone', 'UTC')} wall-clock time; users from: "
        f"{report.get('users_from', 'users table')}",
        *(["", *absent_column_lines(report)] if report.get("absent_columns") else []),
        *(["", *derived] if (derived := derived_field_lines(report)) else []),
        *(["", *early] if (early := signup_lines(report)) else []),
        *(["", *before] if (before := item_version_lines(report)) else []),
        *(["", *cased] if (cased := case_variant_lines(report)) else []),
        *(["", *placed] if (placed := placeholder_id_lines(report)) else []),
        *(["", *same_day] if (same_day := same_day_duplicate_lines(report)) else []),
        *(["", conflict_text(conflicts)] if conflicts else []),
        *(["", unknown_reference_text(unknown)] if unknown else []),
        *(["", unknown_user_text(ids)] if (ids := report.get("unknown_user_ids")) else []),
        "",
        "## Rows per table",
        "",
    ]
    out += _table(COUNT_HEADER, count_rows(report))
    for table, profile in report["columns"].items():
        exact = "exact" if profile["distinct_is_exact"] else "approximate (HyperLogLog)"
        out += ["", f"## Columns of `{table}` ({profile['rows']} rows, distinct {exact})", ""]
        out += _table(
            ["column", "null rate", "distinct", "min", "max"],
            [
                [
                    name,
                    f"{p['null_rate']:.2%}",
                    p["distinct"],
                    _cell(p["min"], 40),
                    _cell(p["max"], 40),
                ]
                for name, p in profile["columns"].items()
            ],
        )
    out += ["", "## Sentinel ids and out-of-range values", ""]
    out += _table(["id column", "sentinel values"], sentinel_rows(report))
    out += [""]
    out += _table(["reason", "rows"], [[r, n] for r, n in report["out_of_range_counts"].items()])
    out += ["", "## Events per month", ""]
    out += _table(
        ["month", "events"], [[m["month"], m["events"]] for m in report["timestamp_coverage"]]
    )
    strays = stray_lines(report["timestamp_coverage"])
    out += ["", *strays] if strays else []
    out += ["", "## Event types", ""]
    out += _table(*event_type_table(report))
    out += _rename_block([t["event_type"] for t in report["event_types"]])
    per_user = report["events_per_user"]
    out += [
        "",
        "## Users and their events",
        "",
        f"users without events: {report['users_without_events']} of {per_user['users']}",
        "",
    ]
    out += _table(list(per_user), [[number(v) for v in per_user.values()]])
    out += ["", "## Quarantine examples (up to 20 per reason)"]
    for reason, examples in report["quarantine_examples"].items():
        out += ["", f"### {reason}", ""]
        out += _table(
            ["table", "file", "row", "detail", "raw"],
            [
                [
                    e["table"],
                    e["source_file"],
                    e["source_row"],
                    _cell(e["detail"]),
                    f"`{_cell(e['raw'])}`",
                ]
                for e in examples
            ],
        )
    return "\n".join(out) + "\n"


def _month_span(months: list[dict]) -> str:
    """The first and last month that hold events ("2024-01 .. 2024-06"), or "no events"."""
    return f"{months[0]['month']} .. {months[-1]['month']}" if months else "no events"


def render_short(report: dict) -> str:
    """A few lines for the terminal after an ingest."""
    per_user = report["events_per_user"]
    months = report["timestamp_coverage"]
    span = _month_span(months)
    types = ", ".join(f"{t['event_type']} {t['events']:,}" for t in report["event_types"][:8])
    sentinels = sum(
        n for by_column in report["sentinel_counts"].values() for n in by_column.values()
    )
    return "\n".join(
        [
            "quality:",
            f"  event months: {span} ({len(months)} months); event times: "
            f"{report.get('granularity', 'timestamp')} ({report.get('timezone', 'UTC')})",
            *(f"  {line}" for line in absent_column_lines(report)),
            *(f"  {line}" for line in derived_field_lines(report)),
            *(f"  {line}" for line in signup_lines(report, example=False)),
            *(f"  {line}" for line in item_version_lines(report)),
            *(f"  {line}" for line in case_variant_lines(report)),
            *(f"  {line}" for line in placeholder_id_lines(report)),
            *(f"  {line}" for line in same_day_duplicate_lines(report)),
            f"  event types: {types or 'none'}",
            f"  users without events: {report['users_without_events']:,} of "
            f"{per_user['users']:,}; events per user median {number(per_user['p50'])}, "
            f"p90 {number(per_user['p90'])}, max {number(per_user['max'])}",
            f"  sentinel ids seen: {sentinels:,}; out of range: "
            + json.dumps(report["out_of_range_counts"]),
            *(f"  {line}" for line in stray_lines(months)),
            *_unnameable_event_types([t["event_type"] for t in report["event_types"]]),
        ]
    )


def _unnameable_event_types(event_types: list[str], shown: int = 5) -> list[str]:
    """A line naming the event types a feature-set spec cannot refer to, with the rename
    that fixes them (rules.event_types.rename in the dataset config); none when all can."""
    unnameable = [t for t in event_types if not is_spec_name(t)]
    if not unnameable:
        return []
    renames = ", ".join(_renames(unnameable[:shown]))
    more = (
        f" (and {len(unnameable) - shown} more: the quality report lists every rename)"
        if len(unnameable) > shown
        else ""
    )
    return [
        f"  event types a spec cannot name ({SPEC_NAME_RULE}): {len(unnameable)}; rename "
        f"them in the dataset config: rules: {{event_types: {{rename: {{{renames}}}}}}}{more}"
    ]


def _yaml_text(name: str) -> str:
    """`name` as YAML that reads back as that text: bare, or quoted where YAML would read a
    boolean, a number or null (an event "On!" becomes `On`, which YAML reads as true)."""
    return name if yaml.safe_load(name) == name else json.dumps(name)


def _renames(event_types: list[str]) -> list[str]:
    """`"Add to Cart": Add_to_Cart`: each type's rename as a YAML mapping entry."""
    return [f"{json.dumps(t)}: {_yaml_text(plain_name_for(t))}" for t in event_types]


def rename_yaml(event_types: list[str]) -> list[str]:
    """The rename of every event type a spec cannot name, as YAML lines to paste into the
    dataset config (an export's dozens of "Order Completed"-style names); none when all can
    be named."""
    unnameable = [t for t in event_types if not is_spec_name(t)]
    if not unnameable:
        return []
    entries = (f"      {rename}" for rename in _renames(unnameable))
    return ["rules:", "  event_types:", "    rename:", *entries]


def rename_heading(event_types: list[str]) -> str:
    """The sentence above rename_yaml's lines."""
    unnameable = sum(not is_spec_name(t) for t in event_types)
    return (
        f"Event types a spec cannot name ({SPEC_NAME_RULE}): {unnameable}. Their rename, for "
        "the dataset config (then ingest again):"
    )


def _rename_block(event_types: list[str]) -> list[str]:
    """rename_yaml as a Markdown code block under its heading; none when all can be named."""
    lines = rename_yaml(event_types)
    if not lines:
        return []
    return ["", rename_heading(event_types), "", "```yaml", *lines, "```"]


def render_for_spec(report: dict, shown: int = 20) -> str:
    """What a spec can name in the store the report describes: its dataset, event time span,
    event types (with counts, and the rename line for those a spec cannot name), product
    areas and user attributes; printed by `features new` so the starter can be filled in."""
    span = _month_span(report["timestamp_coverage"])
    types = report["event_types"]
    listed = ", ".join(f"{t['event_type']} {t['events']:,}" for t in types[:shown])
    more = f" (and {len(types) - shown} more)" if len(types) > shown else ""
    user_columns = report["columns"].get("users", {}).get("columns", {})
    kinds = report.get("user_attribute_kinds", {})
    attributes = [
        f"{name} (snapshot: not a feature)" if kinds.get(name) == "snapshot" else name
        for name in user_columns
        if name not in ("user_id", "signup_time")
    ]
    areas = ", ".join(f"{a['area']} {a['events']:,}" for a in report.get("areas", []))
    return "\n".join(
        [
            f"your event store (dataset {report['dataset']}, event months {span}):",
            f"  event types: {listed or 'none'}{more}",
            *(f"  {line}" for line in stray_lines(report["timestamp_coverage"])),
            *_unnameable_event_types([t["event_type"] for t in types]),
            *([f"  product areas (most events first): {areas}"] if areas else []),
            f"  user attributes: {', '.join(attributes) or 'none'}",
        ]
    )
