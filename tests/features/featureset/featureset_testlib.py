"""Test helpers: tiny event stores made in code (events/store.py's contract)."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import itertools
import subprocess
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pandas as pd
import sqlglot.expressions as exp

from contracts.workspace import event_store_path
from events.store import EVENT_COLUMNS, INGEST_COLUMNS, write_parquet_copy
from features.engines.duckdb import DuckDBEngine
from features.featureset import build_feature_set, load_feature_set
from features.featureset.build import split_query_result
from features.featureset.compiler import compile_feature_query, cutoff_period, next_cutoff_day
from features.featureset.spec import CalendarCutoffs, FeatureSetSpec, parse_spec

if TYPE_CHECKING:  # other test folders load this file by path, without its neighbours
    from featureset_reference import ItemPopularity

# (user_id, event_time, event_type[, session_id, item_id, value, area])
Event = tuple
# (user_id, signup_time, {attribute: value})
User = tuple


def ts(text: str) -> dt.datetime:
    """'2024-01-05 10:00' -> datetime (naive UTC, like the store)."""
    return dt.datetime.fromisoformat(text)


LAST_FEATURES = [
    {"kind": "last", "field": "area", "event_types": ["PLAN"]},
    {"kind": "last", "field": "value"},
]
# A plan history as events: PLAN events whose area is the plan the user moved to.
PLAN_HISTORY = [
    ("u1", ts("2023-06-01 10:00"), "PLAN", None, None, None, "free"),
    ("u1", ts("2024-01-15 10:00"), "PLAN", None, None, 9.0, "pro"),
    ("u1", ts("2024-01-20 10:00"), "PLAN", None, None, None, None),  # no plan: not a change
    ("u1", ts("2024-02-01 00:00"), "PLAN", None, None, 1.0, "team"),  # at the cutoff: label side
    ("u2", ts("2024-01-30 10:00"), "PLAN", None, None, 3.0, "basic"),
    ("u2", ts("2024-01-30 10:00"), "PLAN", None, None, 5.0, "annual"),  # the same instant
    ("nobody", ts("2024-02-10 00:00"), "VIEW"),  # the data reach past the label horizons
]


def spec_vocabulary(
    spec: FeatureSetSpec, when: dt.datetime, user_id: str = "vocabulary"
) -> tuple[list[Event], User]:
    """One event of every event type and one in every area `spec` names, by a user signed up
    a month before `when`, so that a tiny store passes the build's check that a spec's names
    exist in the store. Put `when` well before the spec's cutoffs: the user gets no row.
    """
    from features.featureset.references import spec_references

    references = spec_references(spec)
    types = list(dict.fromkeys(r.name for r in references if r.category == "event type"))
    areas = list(dict.fromkeys(r.name for r in references if r.category == "area"))
    events: list[Event] = [(user_id, when, event_type) for event_type in types]
    events += [(user_id, when, types[0], None, None, None, area) for area in areas]
    return events, (user_id, when - dt.timedelta(days=30), {})


def item_tier(popularity: float | None) -> str | None:
    """The test stores' categorical item attribute, `tier`, from an item's popularity: a
    catalogue of versions changes tier with its popularity."""
    return None if popularity is None else ("high" if popularity >= 4 else "low")


def item_rows(items: dict[str, ItemPopularity]) -> list[tuple]:
    """(item_id, popularity, tier, valid_from, valid_to) rows as an ingest stores them: each
    version valid until the next one; NULL bounds for an item without versions."""
    rows = []
    for item_id, popularity in items.items():
        if not isinstance(popularity, tuple):
            rows.append((item_id, popularity, item_tier(popularity), None, None))
            continue
        starts = [start for start, _ in popularity]
        for (start, value), end in zip(popularity, [*starts[1:], None], strict=True):
            rows.append((item_id, value, item_tier(value), start, end))
    return rows


def write_store(
    path: Path,
    events: Iterable[Event],
    users: Sequence[User],
    *,
    attributes: dict[str, tuple[str, str]] | None = None,
    items: dict[str, ItemPopularity] | None = None,
    digest: str = "digest-1",
    dataset: str = "test",
    granularity: str = "timestamp",
) -> Path:
    """Create a DuckDB event store with the canonical tables and one ingest record, and its
    Parquet copy (as an ingest does).

    attributes: name -> (kind static|snapshot, dtype categorical|numeric|timestamp).
    items: item_id -> popularity, or its versions (item_rows). dataset: the name the ingest
    record gives the data (a spec must name the same one).
    """
    con = duckdb.connect(str(path))
    try:
        fill_store(
            con,
            events,
            users,
            attributes=attributes,
            items=items,
            digest=digest,
            dataset=dataset,
            granularity=granularity,
        )
    finally:
        con.close()
    write_parquet_copy(path, replace=True)
    return path


def fill_store(
    con: duckdb.DuckDBPyConnection,
    events: Iterable[Event],
    users: Sequence[User],
    *,
    attributes: dict[str, tuple[str, str]] | None = None,
    items: dict[str, ItemPopularity] | None = None,
    digest: str = "digest-1",
    dataset: str = "test",
    granularity: str = "timestamp",
) -> None:
    """Create the canonical tables in an open (e.g. in-memory) connection."""
    attributes = attributes or {"channel": ("static", "categorical")}
    sql_types = {
        "categorical": "VARCHAR",
        "numeric": "DOUBLE",
        "timestamp": "TIMESTAMP",
        "user_id": "VARCHAR",
    }
    columns = ", ".join(f"{name} {kind}" for name, kind in EVENT_COLUMNS.items())
    con.execute(f"CREATE TABLE events ({columns})")
    rows = []
    for index, event in enumerate(events):
        user_id, when, event_type, *rest = event
        session, item, value, area = (list(rest) + [None] * 4)[:4]
        rows.append(
            (index, user_id, when, when, event_type, session, item, value, area, None, "t", index)
        )
    # Insert through a DataFrame: executemany is slow in DuckDB and tests make many stores.
    event_frame = pd.DataFrame(rows, columns=list(EVENT_COLUMNS)).astype(
        {"value": "float64", "event_time": "datetime64[us]", "event_date": "datetime64[us]"}
    )
    con.register("new_events", event_frame)
    casts = ", ".join(f"CAST({name} AS {kind})" for name, kind in EVENT_COLUMNS.items())
    con.execute(f"INSERT INTO events SELECT {casts} FROM new_events")
    con.unregister("new_events")
    attribute_columns = "".join(
        f", {name} {sql_types[dtype]}" for name, (_, dtype) in attributes.items()
    )
    con.execute(f"CREATE TABLE users (user_id VARCHAR, signup_time TIMESTAMP{attribute_columns})")
    for user_id, signup, values in users:
        con.execute(
            f"INSERT INTO users VALUES ({', '.join('?' * (2 + len(attributes)))})",
            [user_id, signup, *(values.get(name) for name in attributes)],
        )
    con.execute("CREATE TABLE user_attributes (name VARCHAR, kind VARCHAR, dtype VARCHAR)")
    for name, (kind, dtype) in attributes.items():
        con.execute("INSERT INTO user_attributes VALUES (?, ?, ?)", [name, kind, dtype])
    con.execute(
        "CREATE TABLE items (item_id VARCHAR, popularity DOUBLE, tier VARCHAR, "
        "valid_from TIMESTAMP, valid_to TIMESTAMP)"
    )
    # No kind column: a store written before item attributes had kinds (read as static).
    con.execute("CREATE TABLE item_attributes (name VARCHAR, dtype VARCHAR)")
    con.execute(
        "INSERT INTO item_attributes VALUES ('popularity', 'numeric'), ('tier', 'categorical')"
    )
    for row in item_rows(items or {}):
        con.execute("INSERT INTO items VALUES (?, ?, ?, ?, ?)", list(row))
    ingest_columns = ", ".join(f"{name} {kind}" for name, kind in INGEST_COLUMNS.items())
    con.execute(f"CREATE TABLE ingests ({ingest_columns})")
    con.execute(
        "INSERT INTO ingests VALUES ('i1', now()::TIMESTAMP, now()::TIMESTAMP, 'test.yaml', "
        "?, '[]', '{}', ?, ?)",
        [digest, dataset, granularity],
    )


def write_spec(sets_dir: Path, text: str) -> Path:
    """Write a spec YAML under sets_dir/<name>/v<N>.yaml, name and version read from it."""
    import yaml

    raw = yaml.safe_load(text)
    path = sets_dir / raw["name"] / f"v{raw['version']}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def spec_from(label: dict, features: list[dict], **sections) -> FeatureSetSpec:
    """A spec from Python data: name t@v1, calendar cutoffs unless `cutoffs` is given."""
    raw = {
        "name": "t",
        "version": 1,
        "dataset": "test",
        "cutoffs": sections.pop("cutoffs", None)
        or {"calendar": {"start": "2024-02-01", "end": "2024-02-01", "every": 7}},
        "label": label,
        "features": features,
        **sections,
    }
    return parse_spec(raw, "test-spec")


@functools.cache
def feature_sql(spec: FeatureSetSpec, sample: tuple[float, int] | None = None) -> str:
    """The spec's feature query (compute_rows's, on a timestamp store) as DuckDB SQL, compiled
    once per test process: a property test draws the same few specs again and again, and
    compiling one costs more than running it on a tiny store."""
    return compile_feature_query(spec, sample).sql(dialect="duckdb")


_SCRATCH_NAMES = itertools.count()


@functools.cache
def _scratch_connection() -> duckdb.DuckDBPyConnection:
    """One in-memory DuckDB connection per test process: property tests build a store per
    example, and a new connection (with its first query) costs more than the tiny query."""
    return duckdb.connect()


@contextlib.contextmanager
def fresh_database() -> Iterator[duckdb.DuckDBPyConnection]:
    """The scratch connection, using a new empty in-memory database until the block ends
    (then detached: nothing is left for the next caller)."""
    con = _scratch_connection()
    name = f"scratch_{next(_SCRATCH_NAMES)}"
    con.execute(f"ATTACH ':memory:' AS {name}")
    con.execute(f"USE {name}")
    try:
        yield con
    finally:
        con.execute("USE memory")
        con.execute(f"DETACH {name}")


def duckdb_rows(
    spec: FeatureSetSpec,
    events: Iterable[Event],
    users: Sequence[User],
    *,
    items: dict[str, ItemPopularity] | None = None,
    sample: tuple[float, int] | None = None,
    attributes: dict[str, tuple[str, str]] | None = None,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Rows and {status: count} of a spec over a fresh in-memory store (`attributes` as in
    write_store; channel by default)."""
    with fresh_database() as con:
        fill_store(con, events, users, items=items, attributes=attributes)
        raw = DuckDBEngine(connection=con).query(feature_sql(spec, sample))
    frame, statuses = split_query_result(raw, spec, {"channel": "categorical"})
    counts = statuses.groupby("status")["rows"].sum().to_dict()
    return frame, {status: int(n) for status, n in counts.items()}


def next_cutoffs_query(calendar: CalendarCutoffs, days: list[dt.date]) -> exp.Select:
    """SELECT d, next_cutoff_day(d) AS slot, cutoff_period(d) AS period over a VALUES list."""
    values = exp.values(
        [(exp.cast(exp.Literal.string(d.isoformat()), "DATE"),) for d in days],
        alias="t",
        columns=["d"],
    )
    slot = next_cutoff_day(calendar, exp.column("d"))
    period = cutoff_period(calendar, exp.column("d"))
    return exp.select(exp.column("d"), slot.as_("slot"), period.as_("period")).from_(values)


# A spec reading every kind of feature, and a small log it gives rows on: engine parity cases.
DEMO_LIKE = """
name: demo_like
version: 1
dataset: test
cutoffs:
  calendar: {start: 2024-01-10, end: 2024-02-20, every: 10}
  after_signup: {offset_days: 5}
eligibility: {active_within_days: 20, not_converted: BUY}
label: {kind: event_within, event_type: BUY, horizon_days: 14}
features:
  - {kind: count, event_types: [PLAY, SKIP, AD], windows: [3, 14]}
  - {kind: active_days, windows: [3, 14]}
  - {kind: sessions, windows: [14]}
  - {kind: recency}
  - {kind: recency, event_types: [SKIP]}
  - {kind: tenure}
  - {kind: value_sum, event_types: [PLAY], windows: [14]}
  - {kind: ratio, numerator: SKIP, denominator: PLAY, windows: [14]}
  - {kind: area_count, areas: [home, search], windows: [14]}
  - {kind: item_mean, attribute: popularity, event_types: [PLAY], windows: [14]}
  - {kind: gaps, event_types: [PLAY, SKIP]}
  - {kind: trend, event_types: [PLAY], windows: [7]}
  - {kind: distinct_items, windows: [14]}
  - {kind: value_mean, event_types: [PLAY], windows: [14]}
  - {kind: attribute, names: [channel]}
"""
ITEMS = {"i1": 0.25, "i2": 0.5, "i3": 1.0}


def demo_like_log(n_users: int = 40) -> tuple[list, list]:
    """(events, users) of `n_users` users, 25 events each, every fourth one buying."""
    events, users = [], []
    for k in range(n_users):
        user = f"u{k:02d}"
        users.append(
            (
                user,
                pd.Timestamp("2024-01-01") + pd.Timedelta(hours=7 * k),
                {"channel": ["web", "app", None][k % 3]},
            )
        )
        for j in range(25):
            minute = (k * 7919 + j * 104729) % (60 * 24 * 60)
            when = pd.Timestamp("2024-01-01") + pd.Timedelta(minutes=minute)
            kind = ["PLAY", "PLAY", "SKIP", "AD", "PLAY"][(k + j) % 5]
            if j == 24 and k % 4 == 0:
                kind = "BUY"
            events.append(
                (
                    user,
                    when.to_pydatetime(),
                    kind,
                    f"s{(k + j // 4) % 9}",
                    ["i1", "i2", "i3", None][j % 4],
                    float(j % 3),
                    ["home", "search", None][j % 3],
                )
            )
    return events, users


# A tiny organisation: u1 invited u2, u3 invited itself, u4's inviter is not a user, u5 has no
# organisation. Calendar cutoffs 2024-01-05 and 2024-01-10; labels: a B within 3 days.
TINY_ATTRIBUTES = {
    "org_id": ("static", "categorical"),
    "invited_by": ("static", "user_id"),
    "last_org": ("snapshot", "categorical"),
}
TINY_USERS = [
    ("u1", ts("2024-01-01 00:00"), {"org_id": "o1", "invited_by": None}),
    ("u2", ts("2024-01-02 09:00"), {"org_id": "o1", "invited_by": "u1"}),
    ("u3", ts("2024-01-01 00:00"), {"org_id": "o2", "invited_by": "u3"}),
    ("u4", ts("2024-01-06 00:00"), {"org_id": "o1", "invited_by": "u9"}),
    ("u5", ts("2024-01-01 00:00"), {"org_id": "", "invited_by": "u1"}),
]
TINY_EVENTS = [
    ("u1", ts("2024-01-03 10:00"), "A", "s1"),
    ("u1", ts("2024-01-03 11:00"), "A", "s1"),
    ("u1", ts("2024-01-06 12:00"), "B", None),
    ("u1", ts("2024-01-05 00:00"), "A", "s2"),  # at the first cutoff: label side only
    ("u2", ts("2024-01-04 08:00"), "A", "s1"),  # the same session id as u1's: another session
    ("u3", ts("2024-01-04 12:00"), "A", "s1"),
    ("u4", ts("2024-01-07 12:00"), "B", "s1"),
    ("u5", ts("2024-01-09 12:00"), "A", "s1"),
    ("u5", ts("2024-01-20 12:00"), "A", "s1"),  # the end of the data: no row is censored
]
TINY_SPEC = """
name: related_tiny
version: 1
dataset: test
cutoffs:
  calendar: {start: 2024-01-05, end: 2024-01-10, every: 5}
label: {kind: event_within, event_type: B, horizon_days: 3}
features:
  - kind: related
    via: org_id
    relation: group
    prefix: org
    aggregates: [count, active_days, sessions, users, label_rate]
    event_types: [A]
    windows: [7]
  - kind: related
    via: invited_by
    relation: reference
    prefix: inviter
    aggregates: [count, users]
    event_types: [A]
    windows: [7]
"""


def spark_cli_build_equals_duckdb(sets_dir: Path, argv: Sequence[str], env: dict) -> None:
    """Build demo_like@v1 from a 12-user demo-like store with `features build --engine spark`
    plus `argv` in a fresh CLI process with `env` (so its Spark session is the one `env` and
    `argv` name, not this process's), and assert its rows equal DuckDB's build of the spec."""
    events, users = demo_like_log(n_users=12)
    event_store_path().parent.mkdir(parents=True)
    write_store(event_store_path(), events, users, items=ITEMS)
    write_spec(sets_dir, DEMO_LIKE)
    command = ["features", "build", "demo_like@v1", "--engine", "spark", *argv]
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "usagecast_cli.main",
            *command,
            "--no-progress",
            "--specs",
            sets_dir,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    spark_rows, spark_manifest = load_feature_set("demo_like@v1")
    assert spark_manifest.to_dict()["engine"] == "spark"

    duck = build_feature_set("demo_like@v1", sets_dir=sets_dir, force=True)
    duck_rows, _ = load_feature_set("demo_like@v1")
    assert duck.fingerprint == spark_manifest.to_dict()["fingerprint"]
    assert len(duck_rows) > 10 and 0 < duck_rows["label"].mean() < 1
    pd.testing.assert_frame_equal(spark_rows, duck_rows, rtol=1e-12)
    assert spark_manifest.to_dict()["eligibility"] == duck.manifest.to_dict()["eligibility"]
