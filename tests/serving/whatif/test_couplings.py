"""A lever change moves every feature coupled to it, one test per coupling kind: order,
ratio, window (shorter and longer windows of a count), the active-day bounds, the days since
the last event (of any type, and of a count's own type), the active days a count needs, the
sessions of the active days and a count's trend."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from serving.whatif import (
    ActionSpaceError,
    Goal,
    SearchOptions,
    apply_change,
    build_action_space,
    counterfactuals,
    parse_change,
)
from serving.whatif.constraints import violations

FEATURES = (
    "count_AD_7d",
    "count_AD_30d",
    "count_AD_90d",
    "count_PLAY_30d",
    "ratio_AD_per_PLAY_30d",
    "active_days_7d",
    "active_days_30d",
    "days_since_last_event",
    "days_since_last_AD",
    "sessions_7d",
    "sessions_30d",
    "trend_AD_30d",
)
COLUMN = {name: i for i, name in enumerate(FEATURES)}
ACTIONABLE = [
    {"name": "count_AD_30d", "direction": "both", "lower": 0, "upper": 1000, "integer": True},
    {"name": "active_days_30d", "direction": "both", "lower": 0, "upper": 30, "integer": True},
]
COUPLINGS = [
    {"kind": "order", "smaller": "count_AD_7d", "larger": "count_AD_30d"},
    {"kind": "order", "smaller": "count_AD_30d", "larger": "count_AD_90d"},
    {"kind": "order", "smaller": "active_days_7d", "larger": "active_days_30d"},
    {"kind": "window", "shorter": "count_AD_7d", "longer": "count_AD_30d"},
    {"kind": "window", "shorter": "count_AD_30d", "longer": "count_AD_90d"},
    {
        "kind": "window",
        "shorter": "active_days_7d",
        "longer": "active_days_30d",
        "shorter_days": 7,
        "longer_days": 30,
    },
    {
        "kind": "ratio",
        "feature": "ratio_AD_per_PLAY_30d",
        "numerator": "count_AD_30d",
        "denominator": "count_PLAY_30d",
    },
    *(
        {"kind": "recency", "days": f"active_days_{w}d", "recency": "days_since_last_event",
         "window_days": w}
        for w in (7, 30)
    ),
    {"kind": "order", "smaller": "days_since_last_event", "larger": "days_since_last_AD"},
    *(
        {"kind": "recency", "events": f"count_AD_{w}d", "recency": "days_since_last_AD",
         "window_days": w}
        for w in (7, 30, 90)
    ),
    *(
        {"kind": "recency", "days": f"active_days_{w}d", "recency": "days_since_last_AD",
         "window_days": w, "recency_sees": "fewer"}
        for w in (7, 30)
    ),
    *(
        {"kind": "recency", "events": name, "recency": "days_since_last_event",
         "window_days": w, "recency_sees": "more"}
        for name, w in (("count_AD_7d", 7), ("count_AD_30d", 30), ("count_AD_90d", 90),
                        ("count_PLAY_30d", 30))
    ),
    {"kind": "order", "smaller": "sessions_7d", "larger": "sessions_30d"},
    {"kind": "trend", "count": "count_AD_30d", "trend": "trend_AD_30d"},
    {"kind": "window", "shorter": "sessions_7d", "longer": "sessions_30d"},
    *({"kind": "sessions", "days": f"active_days_{w}d", "sessions": f"sessions_{w}d"}
      for w in (7, 30)),
    *(
        {"kind": "activity", "events": events, "days": days}
        for events, days in (("count_AD_7d", "active_days_7d"), ("count_AD_7d", "active_days_30d"),
                             ("count_AD_30d", "active_days_30d"),
                             ("count_PLAY_30d", "active_days_30d"))
    ),
]  # fmt: skip
SPACE = build_action_space(FEATURES, ACTIONABLE, COUPLINGS)
# The 7-day ad count as the one lever: the active days follow it instead of being a lever.
COUNT_LEVER = {
    "name": "count_AD_7d",
    "direction": "both",
    "lower": 0,
    "upper": 100,
    "integer": True,
}
COUNT_SPACE = build_action_space(FEATURES, [COUNT_LEVER], COUPLINGS)


def _row(**values: float) -> np.ndarray:
    row = np.zeros(len(FEATURES))
    row[COLUMN["days_since_last_AD"]] = np.nan  # no ad yet unless the test says so
    for name, value in values.items():
        row[COLUMN[name]] = value
    return row[None, :]


def _changed(row: np.ndarray, expression: str, space=SPACE) -> dict[str, float]:
    after, _ = apply_change(row, space, parse_change(expression))
    return {name: float(after[0, i]) for i, name in enumerate(FEATURES)}


ADS = {"count_AD_7d": 6, "count_AD_30d": 10, "count_AD_90d": 25, "count_PLAY_30d": 20}


def test_window_a_halved_count_halves_its_shorter_window_and_lowers_the_longer_one():
    after = _changed(_row(**ADS, ratio_AD_per_PLAY_30d=0.5), "count_AD_30d *= 0.5")
    # Without the window coupling, the 7-day count (6) would hold the 30-day one at 6.
    assert after["count_AD_30d"] == 5
    assert after["count_AD_7d"] == 3  # the same factor
    assert after["count_AD_90d"] == 20  # the same five ads fewer


def test_window_integer_followers_round_toward_the_row():
    after = _changed(_row(**{**ADS, "count_AD_7d": 5}), "count_AD_30d *= 0.5")
    assert after["count_AD_7d"] == 3  # 2.5 rounds toward 5, never over-applying the lever


def test_ratio_is_recomputed_from_its_moved_part():
    after = _changed(_row(**ADS, ratio_AD_per_PLAY_30d=0.5), "count_AD_30d *= 0.5")
    assert after["ratio_AD_per_PLAY_30d"] == 0.25


def test_order_holds_when_the_longer_window_is_raised_past_nothing_and_lowered_to_zero():
    after = _changed(_row(**ADS), "count_AD_30d = 0")
    assert after["count_AD_7d"] == 0 and after["count_AD_90d"] == 15
    after = _changed(_row(**ADS), "count_AD_30d = 100")
    assert after["count_AD_7d"] <= after["count_AD_30d"] <= after["count_AD_90d"] == 115


@pytest.mark.parametrize(
    ("days_7d", "days_30d", "expression", "expected_7d"),
    [
        (0, 5, "active_days_30d += 20", 2),  # 25 days in 30 need >= 2 of the last 7
        (6, 8, "active_days_30d = 30", 7),  # at most 7 active days in 7 days
        (4, 8, "active_days_30d = 4", 2),  # proportional inside the bounds
        (7, 30, "active_days_30d = 23", 6),  # 7 * 23/30, rounded toward the row
    ],
)
def test_active_day_bounds_hold_for_the_following_shorter_window(
    days_7d, days_30d, expression, expected_7d
):
    after = _changed(_row(active_days_7d=days_7d, active_days_30d=days_30d), expression)
    assert after["active_days_7d"] == expected_7d
    assert 0 <= after["active_days_7d"] <= 7
    assert after["active_days_30d"] - after["active_days_7d"] <= 23


def test_a_feature_may_follow_only_one_gene():
    both = [*ACTIONABLE, {**ACTIONABLE[0], "name": "count_AD_90d"}]
    space = build_action_space(FEATURES, both, COUPLINGS)
    assert COLUMN["count_AD_7d"] in space.follower_columns  # 30d is still its only gene
    genes = [
        {"name": name, "direction": "both", "lower": 0, "upper": 9} for name in ("b", "a_30d")
    ]
    windows = [
        {"kind": "window", "shorter": "a_7d", "longer": "a_30d"},
        {"kind": "window", "shorter": "a_7d", "longer": "b"},
    ]
    with pytest.raises(ActionSpaceError, match="'a_7d' would follow both 'b' and 'a_30d'"):
        build_action_space(("a_7d", "a_30d", "b"), genes, windows)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"shorter_days": 7}, "give both shorter_days and longer_days"),
        ({"shorter_days": 30, "longer_days": 7}, "0 < shorter_days < longer_days"),
        ({"days": 7}, r"unknown key\(s\) \['days'\]"),
    ],
)
def test_bad_window_couplings_are_refused(entry, message):
    coupling = {"kind": "window", "shorter": "count_AD_7d", "longer": "count_AD_30d", **entry}
    with pytest.raises(ActionSpaceError, match=message):
        build_action_space(FEATURES, ACTIONABLE, [coupling])


@pytest.mark.parametrize(
    ("recency", "expression", "expected"),
    [
        (45.0, "active_days_30d += 6", 25.0),  # six days in the last 30: the last is in them
        (np.nan, "active_days_30d += 6", 25.0),  # a user without any event yet
        (3.0, "active_days_30d += 6", 3.0),  # already recent: nothing to move
        (45.0, "active_days_30d = 30", 1.0),  # every day of the window, yesterday too
    ],
)
def test_recency_comes_into_the_window_the_active_days_move_into(recency, expression, expected):
    after = _changed(_row(days_since_last_event=recency), expression)
    assert after["days_since_last_event"] == pytest.approx(expected, nan_ok=True)


def test_no_active_day_left_in_a_window_puts_the_last_event_before_it():
    # 30-day active days 4 -> 0 empty the 7-day window too: the last event is over 30 days ago.
    row = _row(active_days_7d=1, active_days_30d=4, days_since_last_event=3)
    after = _changed(row, "active_days_30d = 0")
    assert (after["active_days_7d"], after["days_since_last_event"]) == (0, 31)


def test_the_shorter_windows_active_days_bring_the_recency_closer_still():
    # 30-day active days 4 -> 8 scale the 7-day ones 2 -> 4: the last event within 4 days.
    row = _row(active_days_7d=2, active_days_30d=4, days_since_last_event=5)
    assert _changed(row, "active_days_30d *= 2")["days_since_last_event"] == 4


def test_a_suggestion_lists_the_features_its_change_moves_besides_the_actionable_ones():
    """Raising the 30-day active days of a user last seen 45 days ago brings the last event
    into the window: the suggestion says so, as derived."""
    row = _row(active_days_7d=0, active_days_30d=2, days_since_last_event=45, sessions_30d=3)

    def score(rows: np.ndarray) -> np.ndarray:  # more active days, higher probability
        return rows[:, COLUMN["active_days_30d"]] / 30

    (suggestions,) = counterfactuals(
        row, SPACE, score, Goal(target=0.5), SearchOptions(k=1, max_changes=1), seed=0
    )
    (suggestion,) = suggestions
    (change,) = suggestion.changes
    assert change.feature == "active_days_30d" and change.to_value >= 15
    derived = {c.feature: (c.from_value, c.to_value) for c in suggestion.derived}
    assert derived == {
        "days_since_last_event": (45.0, 30 - change.to_value + 1),
        "sessions_30d": (3.0, 3 + change.to_value - 2),  # a session on each day added
    }
    assert suggestion.n_changes == 1  # the derived ones are no change the user makes


def test_a_recency_that_does_not_follow_is_named():
    row = _row(days_since_last_event=45)[0]
    after = row.copy()
    after[COLUMN["active_days_30d"]] = 6
    assert violations(row, after, SPACE) == [
        "sessions_30d: 0.0 does not follow active_days_30d (sessions coupling)",
        "days_since_last_event: 45.0 does not follow active_days_30d (recency coupling)",
    ]
    alone = row.copy()
    alone[COLUMN["days_since_last_event"]] = 3
    assert violations(row, alone, SPACE) == [
        "days_since_last_event: 3.0 moved though nothing it follows did"
    ]


@pytest.mark.parametrize(
    ("last_ad", "last_event", "expression", "expected"),
    [
        (50.0, 40.0, "count_AD_30d += 2", (30.0, 30.0)),  # ads in the window: the last one too
        (np.nan, np.nan, "count_AD_30d += 2", (30.0, 30.0)),  # a user without any event yet
        (5.0, 2.0, "count_AD_30d *= 2", (5.0, 2.0)),  # already recent: nothing to move
        (5.0, 2.0, "count_AD_30d = 0", (91.0, 2.0)),  # no ad in 90 days; other events stay
        (50.0, 2.0, "active_days_30d += 3", (50.0, 2.0)),  # active days say nothing of ads
        (5.0, 2.0, "active_days_30d = 0", (31.0, 31.0)),  # no event at all in the window
    ],
)
def test_the_last_event_of_a_type_follows_its_count_and_the_active_days(
    last_ad, last_event, expression, expected
):
    counts = {
        "count_AD_30d": 10 if last_ad <= 30 else 0,  # the row as the last ad makes it
        "count_AD_90d": 0 if np.isnan(last_ad) else 10,
        "active_days_30d": 4,
    }
    row = _row(**counts, days_since_last_AD=last_ad, days_since_last_event=last_event)
    after = _changed(row, expression)
    assert (after["days_since_last_AD"], after["days_since_last_event"]) == pytest.approx(
        expected, nan_ok=True
    )


def test_events_added_to_a_quiet_window_make_a_day_of_it_active():
    row = _row(
        count_AD_30d=2,
        count_AD_90d=5,
        active_days_30d=3,
        days_since_last_event=12,
        days_since_last_AD=12,
    )
    after = _changed(row, "count_AD_7d += 2", COUNT_SPACE)
    assert {k: after[k] for k in ("count_AD_30d", "count_AD_90d")} == {
        "count_AD_30d": 4,
        "count_AD_90d": 7,
    }
    assert (after["active_days_7d"], after["active_days_30d"]) == (1, 3)  # 30d had its days
    assert (after["days_since_last_AD"], after["days_since_last_event"]) == (7, 7)
    emptied = _changed(
        _row(**ADS, active_days_7d=2, active_days_30d=5), "count_AD_7d = 0", COUNT_SPACE
    )
    assert (emptied["active_days_7d"], emptied["active_days_30d"]) == (2, 5)  # other events stay


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("active_days_30d += 3", (3, 8, 5, 12)),  # the 7-day days follow 2 -> 3: one more there
        ("active_days_30d -= 2", (2, 3, 4, 7)),  # the 7-day days round toward the row
        ("active_days_30d = 0", (0, 0, 0, 0)),  # no active day, no session
    ],
)
def test_sessions_move_with_the_active_days_of_their_window(expression, expected):
    row = _row(active_days_7d=2, active_days_30d=5, sessions_7d=4, sessions_30d=9)
    after = _changed(row, expression)
    names = ("active_days_7d", "active_days_30d", "sessions_7d", "sessions_30d")
    assert tuple(after[name] for name in names) == expected


def test_a_windows_trend_moves_with_its_count_the_window_before_staying():
    # 10 ads now and 4 in the 30 days before: trend (10 + 1) / (4 + 1) = 2.2.
    row = _row(**ADS, trend_AD_30d=2.2)
    assert _changed(row, "count_AD_30d *= 0.5")["trend_AD_30d"] == pytest.approx(6 / 5)
    assert _changed(row, "count_AD_30d = 0")["trend_AD_30d"] == pytest.approx(1 / 5)


def test_an_actionable_recency_follows_nothing_and_bad_recency_couplings_are_refused():
    recency = {"name": "days_since_last_event", "direction": "both", "lower": 0, "upper": 90}
    space = build_action_space(FEATURES, [*ACTIONABLE, recency], COUPLINGS)
    assert COLUMN["days_since_last_event"] not in space.follower_columns
    coupling = {"kind": "recency", "days": "active_days_7d", "recency": "days_since_last_event"}
    with pytest.raises(ActionSpaceError, match=r"missing key\(s\) \['window_days'\]"):
        build_action_space(FEATURES, ACTIONABLE, [coupling])
    with pytest.raises(ActionSpaceError, match="window_days: expected >= 1"):
        build_action_space(FEATURES, ACTIONABLE, [{**coupling, "window_days": 0}])
    counted = {**coupling, "window_days": 7, "events": "count_AD_7d"}
    with pytest.raises(ActionSpaceError, match=r"give `days` .* or `events` .* exactly one"):
        build_action_space(FEATURES, ACTIONABLE, [counted])
    del counted["days"]
    with pytest.raises(ActionSpaceError, match="recency_sees: 'all' is not one of same, more"):
        build_action_space(FEATURES, ACTIONABLE, [{**counted, "recency_sees": "all"}])


@st.composite
def _consistent_rows(draw) -> np.ndarray:
    """Rows as a feature build makes them at a midnight cutoff, from a few events, each its
    whole days back, its type and which of two sessions of its day it is in."""
    events = draw(
        st.lists(
            st.tuples(
                st.integers(1, 120), st.sampled_from(["AD", "PLAY", "LIKE"]), st.integers(0, 1)
            ),
            max_size=30,
        )
    )

    def count(event_type: str, window: int) -> int:
        return sum(1 for back, kind, _ in events if kind == event_type and back <= window)

    def last(*types: str) -> float:
        return float(min((back for back, kind, _ in events if kind in types), default=np.nan))

    plays = count("PLAY", 30)
    earlier = count("AD", 60) - count("AD", 30)  # the 30 days before the window
    return _row(
        trend_AD_30d=(count("AD", 30) + 1) / (earlier + 1),
        **{f"count_AD_{w}d": count("AD", w) for w in (7, 30, 90)},
        count_PLAY_30d=plays,
        ratio_AD_per_PLAY_30d=count("AD", 30) / plays if plays else 0.0,
        **{f"active_days_{w}d": len({e[0] for e in events if e[0] <= w}) for w in (7, 30)},
        **{f"sessions_{w}d": len({(e[0], e[2]) for e in events if e[0] <= w}) for w in (7, 30)},
        days_since_last_event=last("AD", "PLAY", "LIKE"),
        days_since_last_AD=last("AD"),
    )


@settings(max_examples=300, deadline=None)
@given(
    row=_consistent_rows(),
    expression=st.sampled_from(
        [
            "count_AD_30d *= 0.5",
            "count_AD_30d *= 3",
            "count_AD_30d = 0",
            "count_AD_30d += 7",
            "active_days_30d += 10",
            "active_days_30d -= 4",
            "active_days_30d = 30",
            "active_days_30d = 0",
            "count_AD_7d *= 2",
            "count_AD_7d += 3",
            "count_AD_7d = 0",
        ]
    ),
)
def test_every_change_leaves_a_row_a_feature_build_could_make(row, expression):
    """What the change's lever says holds after it: counts put the last event of their type
    (and of any type) into the window and make a day of it active, active days put the last
    event there. Where the active days are a lever of their own (SPACE), a count does not move
    them: a count raised from 0 in a window of no active day is the one row the active days'
    rule does not describe there."""
    space = COUNT_SPACE if expression.startswith("count_AD_7d") else SPACE
    after, _ = apply_change(row, space, parse_change(expression))
    assert violations(row[0], after[0], space) == []
    a = dict(zip(FEATURES, after[0], strict=True))
    b = dict(zip(FEATURES, row[0], strict=True))
    assert 0 <= a["count_AD_7d"] <= a["count_AD_30d"] <= a["count_AD_90d"]
    assert a["count_AD_90d"] - a["count_AD_30d"] == b["count_AD_90d"] - b["count_AD_30d"]
    assert 0 <= a["active_days_7d"] <= 7
    assert 0 <= a["active_days_30d"] - a["active_days_7d"] <= 23
    if a["count_PLAY_30d"]:
        assert a["ratio_AD_per_PLAY_30d"] == pytest.approx(a["count_AD_30d"] / a["count_PLAY_30d"])
    assert not a["days_since_last_event"] > a["days_since_last_AD"]
    if expression.startswith("count_AD"):
        for window in (7, 30, 90):
            if a[f"count_AD_{window}d"]:
                assert a["days_since_last_AD"] <= window
                assert a["days_since_last_event"] <= window
            else:
                assert not a["days_since_last_AD"] <= window
    if space is COUNT_SPACE:
        assert a["active_days_7d"] >= (a["count_AD_7d"] > 0)
        assert a["active_days_30d"] >= (a["count_AD_30d"] + a["count_PLAY_30d"] > 0)
    for window in (7, 30):  # a window's sessions fall on its active days
        days, sessions = a[f"active_days_{window}d"], a[f"sessions_{window}d"]
        assert sessions >= days and (sessions == 0) == (days == 0)
    assert a["sessions_7d"] <= a["sessions_30d"]
    earlier = (b["count_AD_30d"] + 1) / b["trend_AD_30d"] - 1  # the window before: history
    assert a["trend_AD_30d"] == pytest.approx((a["count_AD_30d"] + 1) / (earlier + 1))
    for window in (7, 30):  # active days in a window put the last event inside it, none before
        if a[f"active_days_{window}d"]:
            assert a["days_since_last_event"] <= window - a[f"active_days_{window}d"] + 1
        elif space is COUNT_SPACE or not (
            a[f"count_AD_{window}d"] and not b[f"count_AD_{window}d"]
        ):
            assert not a["days_since_last_event"] <= window
