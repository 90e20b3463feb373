"""A feature query split into the Spark engine's steps (features/engines/spark_steps.py) means
what the one statement means. The steps are run here on DuckDB, CTEs read twice as tables and
the others as views, so the rewrite is checked without a JVM; the Spark parity tests run them
on Spark."""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

import duckdb
import pandas as pd
import pytest
import sqlglot
from featureset_cases import RELATED_ATTRIBUTES, SIGNUP_ANCHORS, draw_related_case
from featureset_testlib import (
    DEMO_LIKE,
    ITEMS,
    demo_like_log,
    fill_store,
    fresh_database,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.engines.spark_steps import spark_steps
from features.featureset.compiler import compile_feature_query
from features.featureset.spec import FeatureSetSpec, parse_spec

_PREFIXES = (f"step{n}_" for n in itertools.count())


@dataclass(frozen=True)
class _Texts:
    """A spec's query as DuckDB SQL: the one statement, each step's CREATE and DROP, and the
    steps' final statement."""

    one: str
    creates: tuple[str, ...]
    drops: tuple[str, ...]
    final: str


@functools.cache
def _texts(spec: FeatureSetSpec) -> _Texts:
    """Compiled and split once per process per spec (the property draws few specs)."""
    query = compile_feature_query(spec, None)
    plan = spark_steps(query, next(_PREFIXES))
    kinds = ["TABLE" if step.materialize else "VIEW" for step in plan.steps]
    return _Texts(
        one=query.sql(dialect="duckdb"),
        creates=tuple(
            f"CREATE TEMP {kind} {step.view} AS {step.query.sql(dialect='duckdb')}"
            for kind, step in zip(kinds, plan.steps, strict=True)
        ),
        drops=tuple(
            f"DROP {kind} {step.view}"
            for kind, step in reversed(list(zip(kinds, plan.steps, strict=True)))
        ),
        final=plan.final.sql(dialect="duckdb"),
    )


def _rows_both_ways(con: duckdb.DuckDBPyConnection, spec: FeatureSetSpec):
    """(the one statement's rows, the steps' rows) of the spec's query on `con`'s store."""
    texts = _texts(spec)
    one = con.execute(texts.one).fetch_df()
    for create in texts.creates:
        con.execute(create)
    try:
        return one, con.execute(texts.final).fetch_df()
    finally:
        for drop in texts.drops:
            con.execute(drop)


def test_the_demo_like_spec_gives_the_same_rows_in_steps():
    import yaml

    spec = parse_spec(yaml.safe_load(DEMO_LIKE), "demo-like")
    events, users = demo_like_log(n_users=12)
    with fresh_database() as con:
        fill_store(con, events, users, items=ITEMS)
        one, steps = _rows_both_ways(con, spec)
    assert len(one) > 10
    pd.testing.assert_frame_equal(steps, one)


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(data=st.data())
def test_related_features_give_the_same_rows_in_steps(data):
    events, users, spec = draw_related_case(data, data.draw(st.sampled_from(SIGNUP_ANCHORS)))
    with fresh_database() as con:
        fill_store(con, events, users, attributes=RELATED_ATTRIBUTES)
        one, steps = _rows_both_ways(con, spec)
    pd.testing.assert_frame_equal(steps, one)


SHARED = """
WITH base AS (SELECT 1 AS x),
     once AS (SELECT x FROM base),
     twice AS (SELECT base.x FROM base JOIN once ON base.x = once.x),
     paired AS NOT MATERIALIZED (SELECT x FROM twice)
SELECT twice.x, p.x AS y FROM twice JOIN paired AS p ON twice.x = p.x
JOIN paired ON paired.x = twice.x
"""


def test_only_ctes_read_twice_are_materialised_unless_marked_not_materialized():
    plan = spark_steps(SHARED, "q_")
    assert [(step.view, step.materialize) for step in plan.steps] == [
        ("q_base", True),
        ("q_once", False),
        ("q_twice", True),
        ("q_paired", False),
    ]
    final = plan.final.sql(dialect="duckdb")
    assert "WITH" not in final
    # A reference keeps the CTE's name, or its own alias, for the columns qualified by it.
    assert "FROM q_twice AS twice JOIN q_paired AS p" in final
    assert "JOIN q_paired AS paired ON paired.x = twice.x" in final


def test_a_cte_named_like_a_table_reads_the_table_in_its_own_body():
    plan = spark_steps(
        "WITH users AS (SELECT * FROM users WHERE signup_time > '2024-01-01') "
        "SELECT count(*) FROM users",
        "q_",
    )
    assert plan.steps[0].query.sql() == "SELECT * FROM users WHERE signup_time > '2024-01-01'"
    assert plan.final.sql() == "SELECT COUNT(*) FROM q_users AS users"


def test_a_query_without_ctes_is_its_own_final_statement():
    plan = spark_steps("SELECT count(*) FROM events", "q_")
    assert plan.steps == ()
    assert plan.final == sqlglot.parse_one("SELECT count(*) FROM events", read="duckdb")


@pytest.mark.parametrize("text", [SHARED, sqlglot.parse_one(SHARED, read="duckdb")])
def test_the_given_tree_is_left_as_it_was(text):
    before = text if isinstance(text, str) else text.sql()
    spark_steps(text, "q_")
    assert (text if isinstance(text, str) else text.sql()) == before
