"""The quality report's charts (events/quality/plots.py): well-formed SVG whatever the labels,
one band per event type, one bar per row, and round axis ticks that cover the data."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from events.quality.plots import (
    DailyEvents,
    events_chart,
    nice_ticks,
    null_share_chart,
    quarantine_chart,
)

SVG = "{http://www.w3.org/2000/svg}"
# Label text as the store can hold it: no control characters (the ingest quarantines them);
# nor unassigned code points such as U+FFFE, which XML refuses and HTML, the page, tolerates.
LABELS = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Cn")), min_size=1, max_size=30)


def _parsed(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def _texts(root: ET.Element) -> list[str]:
    return [element.text or "" for element in root.iter(f"{SVG}text")]


@given(top=st.floats(0.001, 1e9), most=st.integers(1, 10))
def test_ticks_are_round_steps_from_zero_that_cover_the_top(top, most):
    ticks = nice_ticks(top, most)
    step = ticks[1] - ticks[0]
    assert ticks[0] == 0 and ticks[-1] >= top * (1 - 1e-9) and len(ticks) <= most + 1
    assert all(abs((b - a) - step) <= 1e-9 * ticks[-1] for a, b in itertools.pairwise(ticks))
    assert f"{step:.0e}"[0] in "125"


@given(
    types=st.lists(LABELS | st.none(), min_size=1, max_size=9, unique=True),
    days=st.integers(1, 40),
    data=st.data(),
)
def test_one_band_per_event_type_and_every_label_shown_as_written(types, days, data):
    counts = {
        kind: tuple(data.draw(st.lists(st.integers(0, 500), min_size=days, max_size=days)))
        for kind in types
    }
    first = date(2024, 1, 1)
    chart = events_chart(DailyEvents(tuple(first + timedelta(i) for i in range(days)), counts))
    root = _parsed(chart)
    assert len(list(root.iter(f"{SVG}polygon"))) == len(types)
    shown = _texts(root)
    assert all(("other types" if kind is None else kind) in shown for kind in types)


@given(rows=st.lists(st.tuples(LABELS, LABELS, st.integers(1, 10**6)), min_size=1, max_size=12))
def test_one_bar_per_reason_with_its_count(rows):
    root = _parsed(quarantine_chart(rows))
    assert len(list(root.iter(f"{SVG}rect"))) == len(rows)
    shown = _texts(root)
    assert all(f"{table}: {reason}" in shown and f"{n:,}" in shown for table, reason, n in rows)


def test_empty_charts_say_so_and_shares_sit_on_a_percent_axis():
    assert "no events" in _texts(_parsed(events_chart(DailyEvents((), {}))))
    assert "no rows quarantined" in _texts(_parsed(quarantine_chart([])))
    shown = _texts(_parsed(null_share_chart([("events", "area", 0.25), ("users", "plan", 1.0)])))
    assert {"25.0%", "100.0%", "0%", "100%"} <= set(shown)
