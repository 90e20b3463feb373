"""Segment predicates are parsed, checked against user attributes and embedded as trees."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analytics.filters import Filters, area_condition, parse_segment
from contracts.errors import UsagecastError

COLUMNS = frozenset({"channel", "city", "signup_time"})


def test_segment_is_qualified_and_kept_as_a_tree():
    tree = parse_segment("channel = 'ads' AND city IN ('Oslo', 'Rome')", COLUMNS, table="u")
    assert tree.sql(dialect="duckdb") == "u.channel = 'ads' AND u.city IN ('Oslo', 'Rome')"


@pytest.mark.parametrize(
    ("predicate", "message"),
    [
        ("country = 'NO'", "column 'country' is not a user attribute"),
        ("x.channel = 'ads'", "column 'x.channel' is not a user attribute"),
        ("channel", "must be a true/false condition"),
        ("channel IN (SELECT user_id FROM events)", "is not allowed"),
        ("channel = 'a'; DROP TABLE users", "segment"),
        ("length(channel) > 3", "is not allowed"),
    ],
)
def test_bad_segments_are_refused_with_the_reason(predicate, message):
    with pytest.raises(UsagecastError, match=message.replace("(", r"\(").replace(".", r"\.")):
        parse_segment(predicate, COLUMNS, table="u")


def test_time_range_must_be_ordered():
    with pytest.raises(UsagecastError, match="must be before end"):
        Filters(start=datetime(2024, 2, 1), end=datetime(2024, 1, 1))


@given(st.text(min_size=1, max_size=12))
def test_area_prefix_is_a_literal_never_sql(prefix):
    import sqlglot

    condition = area_condition(sqlglot.exp.column("area"), Filters(area_prefix=prefix))
    reparsed = sqlglot.parse_one(condition.sql(dialect="duckdb"), read="duckdb")
    assert reparsed.expression.this == prefix
