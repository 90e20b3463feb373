"""Related-entity features (`kind: related`): the spec's rules, the build's checks of `via`,
and the compiled SQL against the pandas reference on random organisations and invitations."""

from __future__ import annotations

import pandas as pd
import pytest
from featureset_cases import (
    CUTOFF_MODES,
    LABELS,
    RELATED_ATTRIBUTES,
    SIGNUP_ANCHORS,
    SIGNUP_OFFSETS,
    make_related_spec,
    related_events_strategy,
    related_users_strategy,
    to_events,
    to_related_users,
)
from featureset_reference import reference_feature_set
from featureset_testlib import (
    TINY_ATTRIBUTES,
    TINY_EVENTS,
    TINY_SPEC,
    TINY_USERS,
    duckdb_rows,
    spec_from,
    write_spec,
    write_store,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.workspace import event_store_path
from features.featureset import build_feature_set, build_scoring_rows, load_feature_set
from features.featureset.spec import SpecError, expand_features, natural_bounds

EVENT_LABEL = {"kind": "event_within", "event_type": "B", "horizon_days": 3}


def related(**entry) -> dict:
    return {"kind": "related", "via": "org_id", "relation": "group", "prefix": "org", **entry}


def reference_rows(spec, events, users):
    frame = pd.DataFrame(
        events,
        columns=["user_id", "event_time", "event_type", "session_id", "item_id", "value", "area"],
    )
    frame["event_time"] = pd.to_datetime(frame["event_time"])
    user_frame = pd.DataFrame(
        [(u, pd.Timestamp(s), a["channel"], a["org_id"], a["invited_by"]) for u, s, a in users],
        columns=["user_id", "signup_time", "channel", "org_id", "invited_by"],
    )
    return reference_feature_set(spec, frame, user_frame)


def test_names_follow_the_scheme_with_the_prefix_in_front():
    spec = spec_from(
        EVENT_LABEL,
        [
            related(
                aggregates=["count", "active_days", "sessions", "users", "label_rate"],
                event_types=["PLAY"],
                windows=[7, 14],
            )
        ],
    )
    features = expand_features(spec)
    assert [f.name for f in features] == [
        "org_count_PLAY_7d",
        "org_count_PLAY_14d",
        "org_active_days_7d",
        "org_active_days_14d",
        "org_sessions_7d",
        "org_sessions_14d",
        "org_users",
        "org_label_rate",
    ]
    assert natural_bounds(features[2]) == (0.0, 7.0)
    assert natural_bounds(features[-1]) == (0.0, 1.0)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (related(aggregates=["count"], windows=[7]), r"features\[0\]\.event_types: required"),
        (related(aggregates=["users"], windows=[7]), r"features\[0\]\.windows: read only by"),
        (
            related(aggregates=["users"], event_types=["A"]),
            r"features\[0\]\.event_types: read only by `count`",
        ),
        (related(aggregates=["active_days"]), r"features\[0\]\.windows: required"),
        (related(aggregates=["mean"]), r"aggregates\[0\]: 'mean' is not allowed; use one of"),
        (related(aggregates=["users", "users"]), "duplicate entries"),
        (related(aggregates=[]), "expected a non-empty list"),
        (related(aggregates=["users"], relation="sibling"), r"relation: 'sibling' is not"),
        (related(aggregates=["users"], prefix="9org"), r"prefix: expected a plain name"),
        (related(aggregates=["users"], over="x"), r"features\[0\]\.over: unknown key 'over'"),
        ({"kind": "related", "via": "org_id", "aggregates": ["users"]}, r"relation: required"),
    ],
)
def test_malformed_related_entries_are_refused_naming_the_key(entry, message):
    with pytest.raises(SpecError, match=message):
        spec_from(EVENT_LABEL, [entry])


def test_two_entries_cannot_share_a_prefix():
    with pytest.raises(SpecError, match=r"features\[1\]\.prefix: 'org' is already the prefix"):
        spec_from(
            EVENT_LABEL,
            [related(aggregates=["users"]), related(aggregates=["label_rate"], via="team_id")],
        )


@pytest.mark.parametrize(
    ("label", "message"),
    [
        ({"kind": "value_within", "horizon_days": 7}, "label value_within is a value"),
        ({"kind": "event_within", "event_type": "B", "horizon_days": "ever"}, "never closes"),
    ],
)
def test_label_rate_needs_a_closing_0_1_label(label, message):
    with pytest.raises(SpecError, match=message):
        spec_from(label, [related(aggregates=["label_rate"])])


def test_specs_without_related_entries_keep_their_hash():
    """The canonical form leaves a non-related entry's related keys out."""
    from features.featureset.spec import spec_to_dict

    spec = spec_from(EVENT_LABEL, [{"kind": "tenure"}, related(aggregates=["users"])])
    tenure, entry = spec_to_dict(spec)["features"]
    assert "via" not in tenure and "prefix" not in tenure
    assert entry["via"] == "org_id" and entry["aggregates"] == ["users"]


@pytest.mark.slow
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    label=st.sampled_from(sorted(LABELS)),
    cutoffs=st.sampled_from(CUTOFF_MODES),
    anchor=st.sampled_from(SIGNUP_ANCHORS),
    offset_days=st.sampled_from(SIGNUP_OFFSETS),
    date_only=st.booleans(),
    raw_events=related_events_strategy,
    raw_users=related_users_strategy,
)
def test_related_features_equal_the_pandas_reference(
    label, cutoffs, anchor, offset_days, date_only, raw_events, raw_users
):
    eligibility = {"active_within_days": 6, "not_converted": "C"} if label == "churn" else None
    spec = make_related_spec(
        LABELS[label], eligibility, cutoffs, anchor=anchor, offset_days=offset_days
    )
    events, users = to_events(raw_events, date_only=date_only), to_related_users(raw_users)
    actual, actual_counts = duckdb_rows(spec, events, users, attributes=RELATED_ATTRIBUTES)
    expected, expected_counts = reference_rows(spec, events, users)
    expected = expected.astype(actual.dtypes.to_dict())
    pd.testing.assert_frame_equal(
        actual.reset_index(drop=True), expected.reset_index(drop=True), rtol=1e-12
    )
    assert {k: v for k, v in expected_counts.items() if v} == actual_counts


def test_a_tiny_organisation_by_hand(sets_dir):
    event_store_path().parent.mkdir(parents=True)
    write_store(event_store_path(), TINY_EVENTS, TINY_USERS, attributes=TINY_ATTRIBUTES)
    write_spec(sets_dir, TINY_SPEC)
    result = build_feature_set("related_tiny@v1", sets_dir=sets_dir)
    rows, manifest = load_feature_set("related_tiny@v1")
    table = rows.set_index([rows["cutoff"].dt.day, "user_id"]).drop(columns=["cutoff", "label"])
    nan = float("nan")
    # First cutoff: u1 sees u2 (u4 signs up later); u2 sees u1's two A on one day, not the
    # one at the cutoff. Second cutoff: the first cutoff's labels have closed (5 + 3 <= 10):
    # u1's is 1 (its B on the 6th), u2's 0. Columns as listed below.
    expected = {
        (5, "u1"): [1, 1, 1, 1, nan, nan, nan],  # nobody invited u1
        (5, "u2"): [2, 1, 1, 1, nan, 2, 1],
        (5, "u3"): [0, 0, 0, 0, nan, 0, 0],  # alone in o2; invited itself: nobody
        (5, "u5"): [nan, nan, nan, nan, nan, 2, 1],  # no organisation; invited by u1
        (10, "u1"): [1, 2, 2, 2, 0.0, nan, nan],
        (10, "u2"): [3, 4, 3, 2, 1.0, 3, 1],
        (10, "u3"): [0, 0, 0, 0, nan, 0, 0],
        (10, "u4"): [4, 4, 3, 2, 0.5, 0, 0],  # its inviter u9 is not a user
        (10, "u5"): [nan, nan, nan, nan, nan, 3, 1],
    }
    assert table.columns.tolist() == [
        "org_count_A_7d",
        "org_active_days_7d",
        "org_sessions_7d",
        "org_users",
        "org_label_rate",
        "inviter_count_A_7d",
        "inviter_users",
    ]
    assert {key: list(values) for key, values in table.iterrows()}.keys() == expected.keys()
    for key, values in expected.items():
        assert table.loc[key].tolist() == pytest.approx(values, nan_ok=True), key
    assert {f["name"]: f["dtype"] for f in manifest.to_dict()["features"]}[
        "org_users"
    ] == "numeric"
    assert result.manifest.to_dict()["spec"]["features"][0]["via"] == "org_id"


@pytest.mark.parametrize(
    ("via", "relation", "message"),
    [
        (
            "team_id",
            "group",
            r"user attribute 'team_id' \(features\[0\]\.via\) is not in the event store; "
            r"known user attributes: invited_by, last_org, org_id",
        ),
        ("last_org", "group", r"features\[0\]\.via: user attribute 'last_org' is a snapshot"),
        (
            "org_id",
            "reference",
            r"features\[0\]\.via: user attribute 'org_id' has dtype categorical; relation "
            r"reference needs user_id \(declare it `dtype: user_id`",
        ),
    ],
)
def test_the_build_refuses_a_via_attribute_it_cannot_read(sets_dir, via, relation, message):
    event_store_path().parent.mkdir(parents=True)
    write_store(event_store_path(), TINY_EVENTS, TINY_USERS, attributes=TINY_ATTRIBUTES)
    entry = (
        f"{{kind: related, via: {via}, relation: {relation}, prefix: rel, aggregates: [users]}}"
    )
    write_spec(sets_dir, TINY_SPEC.split("features:")[0] + f"features:\n  - {entry}\n")
    with pytest.raises(SpecError, match=message):
        build_feature_set("related_tiny@v1", sets_dir=sets_dir)


def test_scoring_a_calendar_spec_with_label_rate_is_refused(sets_dir):
    """One scoring cutoff has no earlier rows whose labels the rate could read."""
    event_store_path().parent.mkdir(parents=True)
    write_store(event_store_path(), TINY_EVENTS, TINY_USERS, attributes=TINY_ATTRIBUTES)
    write_spec(sets_dir, TINY_SPEC)
    with pytest.raises(SpecError, match=r"related_tiny@v1: scoring rows .* org_label_rate"):
        build_scoring_rows("related_tiny@v1", "2024-01-10", sets_dir=sets_dir)
