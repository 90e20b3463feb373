"""Shared property-test cases: random small event logs and the specs they are checked with."""

from __future__ import annotations

import datetime as dt

from hypothesis import strategies as st

from features.featureset.spec import parse_spec

BASE = dt.datetime(2024, 1, 1)
# EXPERIMENT_ASSIGNED: an experiment platform's exposure log, whose area is an arm.
EVENT_TYPES = ("A", "B", "C", "EXPERIMENT_ASSIGNED")
FEATURES = [
    {"kind": "count", "event_types": ["A", "B"], "windows": [3, 10]},
    {"kind": "active_days", "windows": [3, 10]},
    {"kind": "sessions", "windows": [10]},
    {"kind": "recency"},
    {"kind": "recency", "event_types": ["C"]},
    {"kind": "tenure"},
    {"kind": "value_sum", "event_types": ["A"], "windows": [10]},
    {"kind": "ratio", "numerator": "B", "denominator": "A", "windows": [10]},
    {"kind": "area_count", "areas": ["home"], "windows": [10]},
    {"kind": "item_mean", "attribute": "popularity", "windows": [10]},
    {"kind": "item_count", "attribute": "tier", "values": ["high"], "windows": [10]},
    {
        "kind": "item_count",
        "attribute": "tier",
        "values": {"cheap": "low"},
        "event_types": ["B"],
        "windows": [3],
    },
    {"kind": "attribute", "names": ["channel"]},
    {"kind": "gaps", "event_types": ["A", "C"]},
    {"kind": "trend", "event_types": ["A"], "windows": [3, 10]},
    {"kind": "distinct_items", "windows": [10]},
    {"kind": "distinct_items", "event_types": ["B"], "windows": [3]},
    {"kind": "distinct_areas", "windows": [10]},
    {"kind": "distinct_areas", "event_types": ["A"], "windows": [3]},
    {"kind": "last", "field": "area"},
    {"kind": "last", "field": "item_id", "event_types": ["B"]},
    {"kind": "last", "field": "value", "event_types": ["A"]},
    {"kind": "value_mean", "event_types": ["A"], "windows": [3, 10]},
]
LABELS = {
    "event_within": {"kind": "event_within", "event_type": "B", "horizon_days": 7},
    "churn": {"kind": "churn", "horizon_days": 5},
    "value_within": {"kind": "value_within", "horizon_days": 7, "event_type": "A"},
    "adoption": {
        "kind": "active_days_in_window",
        "horizon_days": 12,
        "min_days": 2,
        "window_days": 3,
    },
    "ever": {"kind": "event_within", "event_type": "C", "horizon_days": "ever"},
}
# i3 is a catalogue's item of versions: unknown before day 3, then 2.0, then 8.0 from day 9
# (a calendar cutoff), so windows read each version and none.
ITEMS = {
    "i1": 1.0,
    "i2": 4.0,
    "i3": ((BASE + dt.timedelta(days=3), 2.0), (BASE + dt.timedelta(days=9), 8.0)),
}


CUTOFF_MODES = ("calendar", "after_signup", "both")
SIGNUP_ANCHORS = ("date", "timestamp")
SIGNUP_OFFSETS = (0, 4)


def make_spec(
    label: dict,
    eligibility: dict | None = None,
    cutoffs: str = "both",
    *,
    anchor: str = "date",
    offset_days: int = 4,
):
    """A spec over the property logs; `cutoffs` picks calendar, signup-relative or both
    (the compiler joins events differently for calendar-only specs); `anchor` and
    `offset_days` place the signup-relative cutoffs."""
    chosen = {
        "calendar": {"start": "2024-01-05", "end": "2024-01-25", "every": 5},
        "after_signup": {"offset_days": offset_days, "anchor": anchor},
    }
    if cutoffs != "both":
        chosen = {cutoffs: chosen[cutoffs]}
    return parse_spec(
        {
            "name": "prop",
            "version": 1,
            "dataset": "test",
            "cutoffs": chosen,
            "eligibility": eligibility or {},
            "label": label,
            "features": FEATURES,
        },
        "prop",
    )


# Cutoff instants and their neighbours are where off-by-one bugs live: draw them often.
# Calendar cutoffs fall on days 4, 9, ...; signups drawn on days 0, 5 and 10 put
# signup-relative cutoffs (offset 0 or 4) on days 0, 4, 5, 9, 10 and 14.
special_minutes = st.sampled_from(
    [d * 24 * 60 + delta for d in (0, 4, 5, 9, 10, 14, 19, 24) for delta in (-1, 0, 1)]
)
minutes = st.one_of(st.integers(0, 34 * 24 * 60), special_minutes)
events_strategy = st.lists(
    st.tuples(
        st.sampled_from(["u1", "u2", "u3"]),
        minutes,
        st.sampled_from(EVENT_TYPES),
        st.sampled_from(["s1", "s2", None]),
        st.sampled_from(["i1", "i2", "i3", "i9", None]),
        st.sampled_from([None, 0.5, 2.0]),
        st.sampled_from(["home", "search", None]),
    ),
    min_size=1,
    max_size=40,
)
special_signups = st.sampled_from(
    [d * 24 * 60 + delta for d in (0, 5, 10) for delta in (0, 1, 24 * 60 - 1)]
)
signups = st.lists(
    st.one_of(st.integers(0, 12 * 24 * 60), special_signups), min_size=3, max_size=3
)


def to_events(raw, *, date_only: bool = False) -> list[tuple]:
    """Events from (user, minute, ...) tuples; `date_only` drops the time of day, as exports
    that log dates only do (every event at 00:00)."""
    day = 24 * 60
    return [
        (u, BASE + dt.timedelta(minutes=m - m % day if date_only else m), t, s, i, v, a)
        for u, m, t, s, i, v, a in raw
    ]


def to_users(raw) -> list[tuple]:
    channels = ["web", "app", None]
    return [
        (f"u{k + 1}", BASE + dt.timedelta(minutes=m), {"channel": channels[k]})
        for k, m in enumerate(raw)
    ]


# Related-entity features over random organisations and invitations (featureset_reference).
RELATED_USERS = ("u1", "u2", "u3", "u4", "u5")
RELATED_ATTRIBUTES = {
    "channel": ("static", "categorical"),
    "org_id": ("static", "categorical"),
    "invited_by": ("static", "user_id"),
}


def related_features(label: dict) -> list[dict]:
    """A group entry and a reference entry, with label_rate where the label allows it."""
    rate = (
        ["label_rate"]
        if label["kind"] != "value_within" and label["horizon_days"] != "ever"
        else []
    )
    return [
        {"kind": "count", "event_types": ["A"], "windows": [3]},
        {
            "kind": "related",
            "via": "org_id",
            "relation": "group",
            "prefix": "org",
            "aggregates": ["count", "active_days", "sessions", "users", *rate],
            "event_types": ["A", "B"],
            "windows": [3, 10],
        },
        {
            "kind": "related",
            "via": "invited_by",
            "relation": "reference",
            "prefix": "inviter",
            "aggregates": [*rate, "users", "sessions", "active_days", "count"],
            "event_types": ["C"],
            "windows": [10],
        },
    ]


def make_related_spec(
    label: dict, eligibility: dict | None, cutoffs: str, *, anchor: str, offset_days: int
):
    """make_spec's cutoffs and label with related_features instead of FEATURES."""
    raw = {
        "name": "prop",
        "version": 1,
        "dataset": "test",
        "cutoffs": {
            key: value
            for key, value in {
                "calendar": {"start": "2024-01-05", "end": "2024-01-25", "every": 5},
                "after_signup": {"offset_days": offset_days, "anchor": anchor},
            }.items()
            if cutoffs in (key, "both")
        },
        "eligibility": eligibility or {},
        "label": label,
        "features": related_features(label),
    }
    return parse_spec(raw, "prop")


related_events_strategy = st.lists(
    st.tuples(
        st.sampled_from(RELATED_USERS),
        minutes,
        st.sampled_from(EVENT_TYPES),
        st.sampled_from(["s1", "s2", None]),
        st.none(),
        st.none(),
        st.none(),
    ),
    min_size=1,
    max_size=50,
)
# Organisations with blanks (None, ''); inviters with blanks, an unknown id (u9) and, since
# every user may draw their own id, self-references.
related_users_strategy = st.lists(
    st.tuples(
        st.one_of(st.integers(0, 12 * 24 * 60), special_signups),
        st.sampled_from(["o1", "o2", "", None]),
        st.sampled_from([*RELATED_USERS, "u9", "", None]),
    ),
    min_size=len(RELATED_USERS),
    max_size=len(RELATED_USERS),
)


def to_related_users(raw) -> list[tuple]:
    return [
        (user_id, BASE + dt.timedelta(minutes=m), {"channel": "web", "org_id": o, "invited_by": i})
        for user_id, (m, o, i) in zip(RELATED_USERS, raw, strict=True)
    ]


def draw_related_case(data: st.DataObject, anchor: str) -> tuple[list, list, object]:
    """(events, users, spec) of one related-features example: a label, a log (date-only or
    not), organisations and inviters, and cutoffs after signup (with `anchor`) or both."""
    label = data.draw(st.sampled_from(sorted(LABELS)))
    events = to_events(data.draw(related_events_strategy), date_only=data.draw(st.booleans()))
    users = to_related_users(data.draw(related_users_strategy))
    spec = make_related_spec(
        LABELS[label],
        {"active_within_days": 6} if label == "churn" else None,
        data.draw(st.sampled_from(("after_signup", "both"))),
        anchor=anchor,
        offset_days=data.draw(st.sampled_from(SIGNUP_OFFSETS)),
    )
    return events, users, spec
