"""Data-quality figures computed in SQL over a freshly ingested store.

`profile_store` reads the canonical tables and the quarantine of an open DuckDB connection and
returns a plain JSON-able dict; rendering and file IO live elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import duckdb

from events.store import (
    EXPERIMENT_ASSIGNED,
    ITEM_ATTRIBUTES,
    USER_ATTRIBUTES,
    attribute_catalog,
    item_version_at,
)

EXACT_DISTINCT_MAX_ROWS = 200_000
EXAMPLES_PER_REASON = 20
EVENTS_PER_USER_QUANTILES = (0.25, 0.5, 0.75, 0.9, 0.99)
PLOTTED_EVENT_TYPES = 8
# The most frequent product areas the report lists, the names an `area_count` spec entry uses.
LISTED_AREAS = 20
# Groups of values differing only in letter case the report names per column.
CASE_VARIANT_GROUPS = 5
# Of each categorical, static item attribute: its values most events name, listed.
ITEM_VALUES_LISTED = 10
# User ids (compared lower-case) that stand for no user: what a tracker writes for an unset
# one (`undefined`, `null`, `None`, `NaN`), GA's and a warehouse's (`(not set)`), a form's, a
# database's text for NULL (`\\N`, `NULL`). `dataset new` proposes those it samples as
# rules.sentinel_ids; the report counts those kept as users anyway (beyond the sample).
PLACEHOLDER_USER_IDS = (
    "undefined", "null", "none", "nan", "n/a", "na", "unknown", "(not set)", "not set",
    "(none)", "anonymous", "-", "\\n",
)  # fmt: skip
PLACEHOLDERS_LISTED = 5


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def column_profile(con: duckdb.DuckDBPyConnection, table: str) -> dict:
    """Per column: null rate, distinct count, min and max (as text), in one pass.

    Distinct counts are exact up to EXACT_DISTINCT_MAX_ROWS rows and a HyperLogLog estimate
    above (the report says which), so the profile of a 10M-event store stays cheap.
    """
    columns = [row[0] for row in con.execute(f"DESCRIBE {_quote(table)}").fetchall()]
    rows = con.execute(f"SELECT count(*) FROM {_quote(table)}").fetchone()[0]
    exact = rows <= EXACT_DISTINCT_MAX_ROWS
    parts = []
    for column in columns:
        c = _quote(column)
        distinct = f"count(DISTINCT {c})" if exact else f"approx_count_distinct({c})"
        parts += [f"count({c})", distinct, f"min({c})::VARCHAR", f"max({c})::VARCHAR"]
    values = con.execute(f"SELECT {', '.join(parts)} FROM {_quote(table)}").fetchone()
    profile = {}
    for i, column in enumerate(columns):
        present, distinct, low, high = values[4 * i : 4 * i + 4]
        profile[column] = {
            "null_rate": 0.0 if rows == 0 else round(1 - present / rows, 6),
            "distinct": int(distinct),
            "min": low,
            "max": high,
        }
    return {"rows": int(rows), "distinct_is_exact": exact, "columns": profile}


def sentinel_counts(
    con: duckdb.DuckDBPyConnection, stage: str, columns: Sequence[str], sentinels: Sequence[str]
) -> dict[str, int]:
    """How many raw values of each id column were a declared sentinel id."""
    if not sentinels:
        return {column: 0 for column in columns}
    listed = ", ".join("'" + s.replace("'", "''") + "'" for s in sentinels)
    parts = [f"count(*) FILTER (WHERE {_quote(c)} IN ({listed}))" for c in columns]
    values = con.execute(f"SELECT {', '.join(parts)} FROM {stage}").fetchone()
    return {column: int(v) for column, v in zip(columns, values, strict=True)}


def _events_profile(con: duckdb.DuckDBPyConnection) -> dict:
    coverage = con.execute(
        "SELECT strftime(date_trunc('month', event_time), '%Y-%m') AS month, count(*) "
        "FROM events GROUP BY ALL ORDER BY month"
    ).fetchall()
    types = con.execute(
        "SELECT event_type, count(*) AS n, count(area), count(value) FROM events "
        "GROUP BY ALL ORDER BY n DESC, event_type"
    ).fetchall()
    areas = con.execute(  # product areas: an exposure log's area is an experiment's arm
        "SELECT area, count(*) AS n FROM events WHERE area IS NOT NULL "
        f"AND event_type <> '{EXPERIMENT_ASSIGNED}' "
        f"GROUP BY ALL ORDER BY n DESC, area LIMIT {LISTED_AREAS}"
    ).fetchall()
    quantiles = ", ".join(f"quantile_cont(n, {q})" for q in EVENTS_PER_USER_QUANTILES)
    per_user = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE n = 0), min(n), avg(n), max(n), {quantiles} "
        "FROM (SELECT u.user_id, count(e.user_id) AS n FROM users u "
        "LEFT JOIN events e ON e.user_id = u.user_id GROUP BY u.user_id)"
    ).fetchone()
    users, without, low, mean, high, *qs = per_user
    distribution = {"users": int(users), "min": low, "mean": mean, "max": high}
    distribution.update(
        {f"p{round(q * 100)}": v for q, v in zip(EVENTS_PER_USER_QUANTILES, qs, strict=True)}
    )
    return {
        "timestamp_coverage": [{"month": m, "events": int(n)} for m, n in coverage],
        "event_types": [
            {"event_type": t, "events": int(n), "with_area": int(a), "with_value": int(v)}
            for t, n, a, v in types
        ],
        "areas": [{"area": a, "events": int(n)} for a, n in areas],
        "users_without_events": int(without),
        "events_per_user": distribution,
    }


def events_per_day(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Events per UTC day and event type, for the report's plot: the PLOTTED_EVENT_TYPES most
    frequent types by name, the others together as event_type None (no name can clash)."""
    rows = con.execute(
        "WITH top AS (SELECT event_type FROM events GROUP BY ALL "
        f"ORDER BY count(*) DESC, event_type LIMIT {PLOTTED_EVENT_TYPES}) "
        "SELECT strftime(CAST(event_time AS DATE), '%Y-%m-%d') AS day, "
        "CASE WHEN event_type IN (SELECT event_type FROM top) THEN event_type END AS kind, "
        "count(*) FROM events GROUP BY ALL ORDER BY day, kind NULLS LAST"
    ).fetchall()
    return [{"day": day, "event_type": kind, "events": int(n)} for day, kind, n in rows]


def _case_variant_columns(
    catalogs: Mapping[str, Sequence[tuple[str, str, str]]],
) -> list[tuple[str, str]]:
    """(table, column) of the text values features compare by equality: event types and
    areas, and the categorical attributes of `catalogs` (table -> attribute_catalog rows)."""
    columns = [("events", "event_type"), ("events", "area")]
    for table, catalog in catalogs.items():
        columns += [(table, name) for name, _, dtype in catalog if dtype == "categorical"]
    return columns


def case_variants(
    con: duckdb.DuckDBPyConnection, catalogs: Mapping[str, Sequence[tuple[str, str, str]]]
) -> dict[str, list[list[dict]]]:
    """Per `table.column`, the groups of stored values that differ only in letter case
    (`free` and `Free`), each value with its rows, most rows first; at most
    CASE_VARIANT_GROUPS groups a column. Features count each spelling apart."""
    found = {}
    for table, column in _case_variant_columns(catalogs):
        c = _quote(column)
        groups = con.execute(
            f"WITH v AS (SELECT {c} AS value, count(*) AS n FROM {_quote(table)} "
            f"WHERE {c} IS NOT NULL GROUP BY ALL) "
            "SELECT list({'value': value, 'rows': n} ORDER BY n DESC, value) FROM v "
            "GROUP BY lower(value) HAVING count(*) > 1 "
            f"ORDER BY sum(n) DESC, lower(value) LIMIT {CASE_VARIANT_GROUPS}"
        ).fetchall()
        if groups:
            found[f"{table}.{column}"] = [
                [{"value": v["value"], "rows": int(v["rows"])} for v in group]
                for (group,) in groups
            ]
    return found


def placeholder_user_ids(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """The stored user ids that stand for no user (PLACEHOLDER_USER_IDS) with their events,
    most first: kept as users, each is one user holding every event of no one."""
    placeholders = ", ".join(f"'{p}'" for p in PLACEHOLDER_USER_IDS)
    longest = max(map(len, PLACEHOLDER_USER_IDS))  # lower() only on ids this short
    rows = con.execute(
        f"SELECT user_id, count(*) AS n FROM events WHERE length(user_id) <= {longest} "
        f"AND lower(user_id) IN ({placeholders}) "
        f"GROUP BY ALL ORDER BY n DESC, user_id LIMIT {PLACEHOLDERS_LISTED}"
    ).fetchall()
    return [{"user_id": user, "events": int(n)} for user, n in rows]


def item_value_events(
    con: duckdb.DuckDBPyConnection, items: Sequence[tuple[str, str, str]]
) -> dict[str, dict]:
    """Per categorical, static item attribute: how many values the events' items have, and
    the ITEM_VALUES_LISTED values most events name (each event reading its item's version
    valid at its time, as the feature query does): what `features new` counts per category."""
    found = {}
    for name, kind, dtype in items:
        if kind != "static" or dtype != "categorical":
            continue
        c = _quote(name)
        rows = con.execute(
            f"SELECT i.{c}, count(*) AS n FROM events e JOIN items i ON e.item_id = i.item_id "
            f"AND {item_version_at('i', 'e.event_time')} "
            f"WHERE i.{c} IS NOT NULL GROUP BY 1 ORDER BY n DESC, 1"
        ).fetchall()
        found[name] = {
            "values": len(rows),
            "top": [{"value": v, "events": int(n)} for v, n in rows[:ITEM_VALUES_LISTED]],
        }
    return found


def _quarantine_examples(con: duckdb.DuckDBPyConnection) -> dict[str, list[dict]]:
    rows = con.execute(
        "SELECT reason, table_name, source_file, source_row, detail, raw FROM ("
        "SELECT *, row_number() OVER (PARTITION BY reason ORDER BY table_name, source_file, "
        f"source_row) AS k FROM quarantine) WHERE k <= {EXAMPLES_PER_REASON} "
        "ORDER BY reason, k"
    ).fetchall()
    examples: dict[str, list[dict]] = {}
    for reason, table, file, row, detail, raw in rows:
        examples.setdefault(reason, []).append(
            {"table": table, "source_file": file, "source_row": row, "detail": detail, "raw": raw}
        )
    return examples


def profile_store(
    con: duckdb.DuckDBPyConnection,
    tables: Sequence[str],
    counts: Mapping[str, dict],
    sentinels: Mapping[str, Mapping[str, int]],
) -> dict:
    """The whole report body: counts, column profiles, coverage, distributions, examples."""
    out_of_range = {
        reason: sum(c["quarantined"].get(reason, 0) for c in counts.values())
        for reason in ("timestamp_out_of_range", "value_out_of_range")
    }
    catalog = attribute_catalog(con, USER_ATTRIBUTES)
    items = attribute_catalog(con, ITEM_ATTRIBUTES)
    return {
        "counts": dict(counts),
        "columns": {table: column_profile(con, table) for table in tables},
        "sentinel_counts": {table: dict(by_column) for table, by_column in sentinels.items()},
        "out_of_range_counts": out_of_range,
        **_events_profile(con),
        "events_per_day": events_per_day(con),
        "quarantine_examples": _quarantine_examples(con),
        "case_variants": case_variants(con, {"users": catalog, "items": items}),
        "placeholder_user_ids": placeholder_user_ids(con),
        "user_attribute_kinds": {name: kind for name, kind, _ in catalog},
        "user_attribute_dtypes": {name: dtype for name, _, dtype in catalog},
        "item_attributes": [
            {"name": name, "kind": kind, "dtype": dtype} for name, kind, dtype in items
        ],
        "item_value_events": item_value_events(con, items),
    }
