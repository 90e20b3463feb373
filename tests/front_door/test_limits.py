"""The front door's pure request checks: nesting depth, duplicate and missing keys, caps."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from front_door.limits import Limits, RequestRefused, check_payload, nesting_depth, parse_body

PARAMS = ("mode", "k", "budget_ms")
ROW = {"plays_30d": 1.0, "city": "lima"}

json_values = st.recursive(
    st.none() | st.integers() | st.text(alphabet='[]{}"\\ab,:'),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=20,
)


def _depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


@given(json_values)
def test_nesting_depth_counts_brackets_outside_strings_only(value):
    assert nesting_depth(json.dumps(value).encode()) == _depth(value)


def test_a_deep_body_is_refused_before_parsing():
    limits = Limits(max_depth=4)
    with pytest.raises(RequestRefused, match="nested 100000 levels") as refused:
        parse_body(b"[" * 100_000 + b"]" * 100_000, limits)
    assert refused.value.status == 400
    assert parse_body(b'{"a": [[["[[[[[["]]]}', limits) == {"a": [[["[[[[[["]]]}


def test_duplicate_keys_are_refused_at_any_depth():
    with pytest.raises(RequestRefused, match=r"duplicate keys \['x'\]"):
        parse_body(b'{"dataframe_records": [{"x": 1, "x": 2}]}', Limits())


@pytest.mark.parametrize(
    ("payload", "status", "fragment"),
    [
        ({"dataframe_records": [ROW, {"plays_30d": 2.0}]}, 400, "row 1: keys differ"),
        ({"dataframe_records": [ROW] * 4}, 413, "at most 3 rows"),
        ({"dataframe_records": [ROW] * 3, "params": {"mode": "whatif"}}, 413, "2 whatif rows"),
        ({"dataframe_records": [ROW], "params": {"kk": 1}}, 400, "unknown params ['kk']"),
        ({"dataframe_records": [ROW], "extra": 1}, 400, "unknown keys ['extra']"),
        ({"dataframe_records": [ROW], "inputs": [ROW]}, 400, "exactly one of"),
        ({"dataframe_split": {"columns": ["a", "a"], "data": [[1, 2]]}}, 400, "twice"),
        ({"dataframe_split": {"columns": ["a", "b"], "data": [[1]]}}, 400, "row 0"),
        ({"inputs": {"a": [1, 2], "b": [1]}}, 400, "same number of values"),
    ],
)
def test_payload_refusals(payload, status, fragment):
    with pytest.raises(RequestRefused) as refused:
        check_payload(payload, Limits(max_rows=3, max_whatif_rows=2), PARAMS)
    assert refused.value.status == status
    assert fragment in str(refused.value)


@pytest.mark.parametrize(
    ("payload", "rows"),
    [
        ({"dataframe_records": [ROW, ROW], "params": {"mode": "explain"}}, 2),
        ({"dataframe_split": {"columns": ["a"], "data": [[1], [2], [3]]}}, 3),
        ({"instances": [ROW]}, 1),
        ({"inputs": {"a": [1, 2], "b": [3, 4]}}, 2),
    ],
)
def test_accepted_payloads_count_their_rows(payload, rows):
    assert check_payload(payload, Limits(), PARAMS).rows == rows


def test_limits_must_be_positive_whole_numbers():
    with pytest.raises(Exception, match="max_rows"):
        Limits(max_rows=0)


def test_a_number_too_long_to_read_is_refused():
    with pytest.raises(RequestRefused, match="too many digits"):
        parse_body(b'{"dataframe_records": [{"age": 1' + b"0" * 5_000 + b"}]}", Limits())
