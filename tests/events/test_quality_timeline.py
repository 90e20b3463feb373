"""Event months far from the others (events/quality/timeline.py): blocks, strays, the rule."""

from __future__ import annotations

import itertools
import re

from hypothesis import given
from hypothesis import strategies as st

from events.quality.timeline import (
    GAP_MONTHS,
    STRAY_SHARE,
    MonthBlock,
    main_months,
    month_blocks,
    stray_lines,
    timeline,
)


def _coverage(counts: dict[str, int]) -> list[dict]:
    return [{"month": m, "events": n} for m, n in sorted(counts.items())]


def _index(month: str) -> int:
    return int(month[:4]) * 12 + int(month[5:]) - 1


coverages = st.dictionaries(
    st.builds(
        lambda year, month: f"{year:04d}-{month:02d}",
        st.integers(1970, 2040),
        st.integers(1, 12),
    ),
    st.integers(1, 10_000),
    max_size=40,
).map(_coverage)


@given(coverages)
def test_blocks_partition_the_months_in_order_split_at_gaps(coverage):
    blocks = month_blocks(coverage)
    assert sum(b.events for b in blocks) == sum(r["events"] for r in coverage)
    months = [r["month"] for r in coverage]
    for before, after in itertools.pairwise(blocks):
        assert _index(after.first) - _index(before.last) > GAP_MONTHS
    for block in blocks:
        inside = [m for m in months if block.first <= m <= block.last]
        assert inside[0] == block.first and inside[-1] == block.last
        steps = [_index(b) - _index(a) for a, b in itertools.pairwise(inside)]
        assert all(step <= GAP_MONTHS for step in steps)
        assert block.events == sum(r["events"] for r in coverage if r["month"] in inside)


@given(coverages)
def test_the_main_block_holds_most_and_the_rule_keeps_exactly_it(coverage):
    found = timeline(coverage)
    if not coverage:
        assert found is None and stray_lines(coverage) == [] and main_months(coverage) == ()
        return
    total = sum(r["events"] for r in coverage)
    assert found.main.events == max(b.events for b in month_blocks(coverage))
    assert all(s.events <= STRAY_SHARE * total and s != found.main for s in found.strays)
    kept = main_months(coverage)
    assert kept == tuple(
        r["month"] for r in coverage if found.main.first <= r["month"] <= found.main.last
    )
    assert kept[0] == found.main.first and kept[-1] == found.main.last
    lines = stray_lines(coverage)
    if not found.strays:
        assert lines == []
        return
    assert len(lines) == len(found.strays) + 1
    low, high = re.search(r'min: "(\d{4}-\d{2})-01", max: "(\d{4}-\d{2})-01"', lines[-1]).groups()
    for row in coverage:  # the range [min, max) holds the main block's months, no stray's
        inside = low <= row["month"] < high
        assert inside == (found.main.first <= row["month"] <= found.main.last)


def test_a_far_block_above_the_share_is_not_a_stray():
    coverage = _coverage({"2024-01": 900, "2024-02": 900, "2031-05": 50})
    assert timeline(coverage).strays == ()  # 50 of 1,850 events: more than 1%
    assert stray_lines(coverage) == []
    assert main_months(coverage) == ("2024-01", "2024-02")


def test_two_empty_months_do_not_split_a_block_three_do():
    assert month_blocks(_coverage({"2024-01": 5, "2024-04": 5})) == [
        MonthBlock("2024-01", "2024-04", 10)
    ]
    assert month_blocks(_coverage({"2024-01": 5, "2024-05": 5})) == [
        MonthBlock("2024-01", "2024-01", 5),
        MonthBlock("2024-05", "2024-05", 5),
    ]
