"""DuckDB and Spark give identical rows for the same spec (real local Spark session)."""

from __future__ import annotations

import datetime as dt
import hashlib
import re

import duckdb
import pandas as pd
import pytest
from featureset_cases import (
    CUTOFF_MODES,
    LABELS,
    RELATED_ATTRIBUTES,
    SIGNUP_ANCHORS,
    SIGNUP_OFFSETS,
    draw_related_case,
    events_strategy,
    make_spec,
    signups,
    to_events,
    to_users,
)
from featureset_cases import ITEMS as PROPERTY_ITEMS
from featureset_testlib import (
    DEMO_LIKE,
    ITEMS,
    LAST_FEATURES,
    PLAN_HISTORY,
    TINY_ATTRIBUTES,
    TINY_EVENTS,
    TINY_SPEC,
    TINY_USERS,
    demo_like_log,
    duckdb_rows,
    next_cutoffs_query,
    spec_from,
    ts,
    write_spec,
    write_store,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.workspace import event_store_path
from features.engines.spark import SparkEngine, to_spark_sql
from features.featureset import (
    build_feature_set,
    build_scoring_rows,
    load_feature_set,
    load_scoring_rows,
)
from features.featureset.build import compute_rows
from features.featureset.compiler import calendar_cutoff_dates
from features.featureset.spec import CalendarCutoffs

pytestmark = pytest.mark.spark

# Calendar-only specs pair events with cutoffs by date (cutoff_days); the demo's specs are
# calendar-only, so that path gets its own parity case, and so does one reading no events.
CALENDAR_ONLY = DEMO_LIKE.replace("name: demo_like", "name: calendar_like").replace(
    "  after_signup: {offset_days: 5}\n", ""
)
LABEL_ONLY = """
name: label_only
version: 1
dataset: test
cutoffs:
  calendar: {start: 2024-01-10, end: 2024-02-20, every: 10}
label: {kind: active_days_in_window, horizon_days: 14, min_days: 4, window_days: 7}
features:
  - {kind: tenure}
"""
# Derived attributes: expressions over user columns, compiled for both engines.
DERIVED = DEMO_LIKE.replace("name: demo_like", "name: derived_like").replace(
    "  - {kind: attribute, names: [channel]}\n",
    "  - {kind: attribute, names: [channel, has_channel, channel_or_none, channel_size]}\n"
    "derived_attributes:\n"
    "  has_channel: {expression: channel IS NOT NULL, dtype: numeric}\n"
    "  channel_or_none:\n"
    "    expression: CASE WHEN channel IN ('web', 'app') THEN UPPER(channel) END\n"
    "    dtype: categorical\n"
    '  channel_size: {expression: "COALESCE(LENGTH(channel) / 2, -1)", dtype: numeric}\n',
)


@pytest.mark.parametrize(
    "spec_text", [DEMO_LIKE, CALENDAR_ONLY, LABEL_ONLY, DERIVED], ids=lambda text: text.split()[1]
)
def test_spark_build_equals_duckdb_build_on_a_demo_like_spec(spark_session, sets_dir, spec_text):
    events, users = demo_like_log()
    event_store_path().parent.mkdir(parents=True)
    write_store(event_store_path(), events, users, items=ITEMS)
    ref = f"{write_spec(sets_dir, spec_text).parent.name}@v1"
    duck = build_feature_set(ref, sets_dir=sets_dir)
    duck_rows, duck_manifest = load_feature_set(ref)
    spark = build_feature_set(ref, engine="spark", sets_dir=sets_dir, force=True)
    spark_rows, spark_manifest = load_feature_set(ref)
    assert spark.fingerprint == duck.fingerprint and spark_manifest.to_dict()["engine"] == "spark"
    assert len(duck_rows) > 50 and 0 < duck_rows["label"].mean() < 1
    pd.testing.assert_frame_equal(spark_rows, duck_rows, rtol=1e-12)
    assert spark_manifest.to_dict()["eligibility"] == duck_manifest.to_dict()["eligibility"]
    assert spark_manifest.to_dict()["end_of_data"] == duck_manifest.to_dict()["end_of_data"]


def test_spark_build_equals_duckdb_build_on_date_only_data(spark_session, sets_dir):
    """A date-only store ends at the midnight after its last date in both engines."""
    events, users = demo_like_log()
    dated = [(e[0], dt.datetime.combine(e[1].date(), dt.time()), *e[2:]) for e in events]
    event_store_path().parent.mkdir(parents=True)
    write_store(event_store_path(), dated, users, items=ITEMS, granularity="date")
    write_spec(sets_dir, CALENDAR_ONLY)
    duck = build_feature_set("calendar_like@v1", sets_dir=sets_dir)
    duck_rows, _ = load_feature_set("calendar_like@v1")
    spark = build_feature_set("calendar_like@v1", engine="spark", sets_dir=sets_dir, force=True)
    spark_rows, _ = load_feature_set("calendar_like@v1")
    last_day = max(when for _, when, *_ in dated)
    assert duck.manifest.to_dict()["end_of_data"] == (last_day + dt.timedelta(days=1)).isoformat()
    assert spark.manifest.to_dict()["end_of_data"] == duck.manifest.to_dict()["end_of_data"]
    assert spark.manifest.to_dict()["eligibility"] == duck.manifest.to_dict()["eligibility"]
    pd.testing.assert_frame_equal(spark_rows, duck_rows, rtol=1e-12)


def test_spark_scoring_rows_equal_duckdb_scoring_rows(spark_session, sets_dir):
    """Scoring rows (calendar and signup-relative cutoffs, some windows still open)."""
    events, users = demo_like_log()
    event_store_path().parent.mkdir(parents=True)
    write_store(event_store_path(), events, users, items=ITEMS)
    write_spec(sets_dir, DEMO_LIKE)
    duck = build_scoring_rows("demo_like@v1", "2024-01-15", sets_dir=sets_dir)
    duck_rows, _ = load_scoring_rows("demo_like@v1", "2024-01-15", sets_dir=sets_dir)
    spark = build_scoring_rows(
        "demo_like@v1", "2024-01-15", engine="spark", sets_dir=sets_dir, force=True
    )
    spark_rows, _ = load_scoring_rows("demo_like@v1", "2024-01-15", sets_dir=sets_dir)
    assert spark.fingerprint == duck.fingerprint and spark.manifest.to_dict()["engine"] == "spark"
    assert duck_rows["cutoff"].nunique() > 1 and len(duck_rows) > 10
    pd.testing.assert_frame_equal(spark_rows, duck_rows, rtol=1e-12)
    assert spark.manifest.to_dict()["eligibility"] == duck.manifest.to_dict()["eligibility"]


@settings(
    max_examples=2,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_spark_equals_duckdb_on_property_logs(spark_session, tmp_path_factory, data):
    label = data.draw(st.sampled_from(sorted(LABELS)))
    events = to_events(data.draw(events_strategy), date_only=data.draw(st.booleans()))
    users = to_users(data.draw(signups))
    cutoffs = data.draw(st.sampled_from(CUTOFF_MODES))
    spec = make_spec(
        LABELS[label],
        {"active_within_days": 6, "not_converted": "C"},
        cutoffs,
        anchor=data.draw(st.sampled_from(SIGNUP_ANCHORS)),
        offset_days=data.draw(st.sampled_from(SIGNUP_OFFSETS)),
    )
    digest = hashlib.sha256(repr((events, users)).encode()).hexdigest()
    store = write_store(
        tmp_path_factory.mktemp("store") / "events.duckdb",
        events,
        users,
        items=PROPERTY_ITEMS,
        digest=digest,
    )
    engine = SparkEngine(store, session=spark_session)
    spark_rows, statuses = compute_rows(engine, spec, None, {"channel": "categorical"})
    duck_rows, duck_counts = duckdb_rows(spec, events, users, items=PROPERTY_ITEMS)
    pd.testing.assert_frame_equal(spark_rows, duck_rows, rtol=1e-12)
    spark_counts = statuses.groupby("status")["rows"].sum().to_dict()
    assert {k: int(v) for k, v in spark_counts.items()} == duck_counts


def test_spark_reads_the_same_last_values_as_duckdb_ties_included(spark_session, tmp_path):
    """`last` features, where two events at one instant hold different values."""
    label = {"kind": "event_within", "event_type": "PLAN", "horizon_days": 3}
    spec = spec_from(label, LAST_FEATURES)
    users = [(u, ts("2023-01-01 00:00"), {}) for u in ("u1", "u2", "u3")]
    engine = SparkEngine(
        write_store(tmp_path / "events.duckdb", PLAN_HISTORY, users), session=spark_session
    )
    spark_rows, _ = compute_rows(engine, spec, None, {})
    duck_rows, _ = duckdb_rows(spec, PLAN_HISTORY, users)
    pd.testing.assert_frame_equal(spark_rows, duck_rows)
    assert spark_rows["last_area_PLAN"].tolist()[:2] == ["pro", "basic"]


def test_spark_build_equals_duckdb_build_with_related_features(spark_session, sets_dir, capsys):
    event_store_path().parent.mkdir(parents=True)
    write_store(event_store_path(), TINY_EVENTS, TINY_USERS, attributes=TINY_ATTRIBUTES)
    write_spec(sets_dir, TINY_SPEC)
    build_feature_set("related_tiny@v1", sets_dir=sets_dir)
    duck_rows, _ = load_feature_set("related_tiny@v1")
    capsys.readouterr()
    build_feature_set(
        "related_tiny@v1", engine="spark", sets_dir=sets_dir, force=True, progress=True
    )
    # The stage bar names each CTE the Spark engine computes once, within its stage.
    bar = capsys.readouterr().err
    assert re.search(r"computing rows on spark: computing related_org_keys \(\d+ of \d+\)", bar)
    assert "computing rows on spark: computing the rows" in bar
    spark_rows, spark_manifest = load_feature_set("related_tiny@v1")
    assert (
        spark_manifest.to_dict()["engine"] == "spark" and duck_rows["org_label_rate"].notna().any()
    )
    pd.testing.assert_frame_equal(spark_rows, duck_rows, rtol=1e-12)


@pytest.mark.parametrize("anchor", SIGNUP_ANCHORS)
@settings(
    max_examples=2,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_spark_equals_duckdb_on_related_property_logs(
    spark_session, tmp_path_factory, anchor, data
):
    """Related-entity features (groups with blanks, unknown and self references), with
    midnight cutoffs (date anchor: the rollup plan) and cutoffs at the signup instant."""
    events, users, spec = draw_related_case(data, anchor)
    digest = hashlib.sha256(repr((events, users)).encode()).hexdigest()
    store = write_store(
        tmp_path_factory.mktemp("store") / "events.duckdb",
        events,
        users,
        attributes=RELATED_ATTRIBUTES,
        digest=digest,
    )
    engine = SparkEngine(store, session=spark_session)
    spark_rows, _ = compute_rows(engine, spec, None, {"channel": "categorical"})
    duck_rows, _ = duckdb_rows(spec, events, users, attributes=RELATED_ATTRIBUTES)
    pd.testing.assert_frame_equal(spark_rows, duck_rows, rtol=1e-12)
    # The query's steps (features/engines/spark_steps.py) leave no view behind.
    assert not spark_session.sql("SHOW TABLES LIKE 'usagecast_*'").collect()


@pytest.mark.parametrize(
    "calendar",
    [
        CalendarCutoffs(start=dt.date(2024, 1, 15), end=dt.date(2024, 6, 1), every_month=True),
        CalendarCutoffs(start=dt.date(2024, 1, 10), end=dt.date(2024, 6, 1), every_days=10),
    ],
)
def test_spark_maps_days_to_the_same_history_period_as_duckdb(spark_session, calendar):
    days = [dt.date(2023, 12, 20) + dt.timedelta(days=k) for k in range(150)]
    days = [d for d in days if d < calendar_cutoff_dates(calendar)[-1]]
    query = next_cutoffs_query(calendar, days)
    spark_rows = spark_session.sql(to_spark_sql(query)).collect()
    duck_rows = duckdb.sql(query.sql(dialect="duckdb")).fetchall()
    assert [(row["d"], row["slot"], row["period"]) for row in spark_rows] == duck_rows
