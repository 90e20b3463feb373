"""Names a spec reads from the data, compared with the store's (pure; build.py reads them)."""

from __future__ import annotations

import pytest
from featureset_testlib import spec_from

from features.featureset.references import (
    MAX_KNOWN_LISTED,
    check_references,
    spec_references,
    unknown_references,
)
from features.featureset.spec import SpecError

STORE = {
    "event type": frozenset({"PLAY", "SKIP", "LIKE", "BUY"}),
    "area": frozenset({"home", "search"}),
    "item attribute": frozenset({"popularity"}),
    "user attribute": frozenset({"channel", "city"}),
}
LABEL = {"kind": "event_within", "event_type": "BUY", "horizon_days": 30}


@pytest.mark.parametrize(
    ("label", "features", "eligibility", "expected"),
    [
        (LABEL, [{"kind": "count", "event_types": ["PLAY"], "windows": [7]}], {}, ()),
        (
            LABEL,
            [{"kind": "count", "event_types": ["PLAY", "SKIPP"], "windows": [7]}],
            {},
            (
                "event type 'SKIPP' (features[0].event_types) is not in the event store; "
                "known event types: BUY, LIKE, PLAY, SKIP",
            ),
        ),
        (
            {**LABEL, "event_type": "BUY_PREMIUM"},
            [{"kind": "ratio", "numerator": "SKIP", "denominator": "PLAYS", "windows": [7]}],
            {"not_converted": "BUY_PREMIUM"},
            (
                "event types 'BUY_PREMIUM' (eligibility.not_converted, label.event_type), "
                "'PLAYS' (features[0].denominator) are not in the event store; known event "
                "types: BUY, LIKE, PLAY, SKIP",
            ),
        ),
        (
            {"kind": "churn", "horizon_days": 30},
            [
                {"kind": "area_count", "areas": ["home", "radio"], "windows": [7]},
                {
                    "kind": "item_mean",
                    "attribute": "price",
                    "event_types": ["PLAY"],
                    "windows": [7],
                },
                {"kind": "attribute", "names": ["city", "age"]},
            ],
            {},
            (
                "area 'radio' (features[0].areas) is not in the event store; known areas: "
                "home, search",
                "item attribute 'price' (features[1].attribute) is not in the event store; "
                "known item attributes: popularity",
                "user attribute 'age' (features[2].names) is not in the event store; known "
                "user attributes: channel, city",
            ),
        ),
        (  # value_within without an event type and label-free kinds name nothing
            {"kind": "value_within", "horizon_days": 30},
            [{"kind": "active_days", "windows": [7]}, {"kind": "recency"}, {"kind": "tenure"}],
            {"active_within_days": 30},
            (),
        ),
    ],
)
def test_unknown_names_are_listed_with_their_keys_and_the_known_values(
    label, features, eligibility, expected
):
    spec = spec_from(label, features, eligibility=eligibility)
    assert unknown_references(spec, STORE) == expected


def test_an_empty_store_says_none_and_long_lists_say_how_many_were_left_out():
    spec = spec_from(LABEL, [{"kind": "area_count", "areas": ["home"], "windows": [7]}])
    areas = frozenset(f"a{n:03d}" for n in range(MAX_KNOWN_LISTED + 5))
    event_types, area = unknown_references(spec, {"event type": frozenset(), "area": areas})
    assert event_types.endswith("known event types: none")
    assert area.endswith(f"a{MAX_KNOWN_LISTED - 1:03d} and 5 more")
    with pytest.raises(SpecError, match=r"^t@v1: event type 'BUY' .*known event types: none;"):
        check_references(spec, {"event type": frozenset(), "area": areas})


def test_every_category_a_spec_uses_is_reported_by_spec_references():
    spec = spec_from(
        LABEL,
        [
            {"kind": "recency", "event_types": ["PLAY"]},
            {"kind": "value_sum", "event_types": ["BUY"], "windows": [30]},
        ],
        eligibility={"not_converted": "BUY"},
    )
    assert [(r.category, r.name, r.key) for r in spec_references(spec)] == [
        ("event type", "BUY", "eligibility.not_converted"),
        ("event type", "BUY", "label.event_type"),
        ("event type", "PLAY", "features[0].event_types"),
        ("event type", "BUY", "features[1].event_types"),
    ]
