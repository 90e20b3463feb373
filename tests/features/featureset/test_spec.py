"""Spec parsing: clear errors naming the key; the naming scheme; shipped specs; the catalog."""

from __future__ import annotations

import copy

import pytest
from featureset_testlib import write_spec

from features.featureset.catalog import (
    SHIPPED_DIR,
    list_specs,
    load_spec,
    read_lock,
    release_spec,
)
from features.featureset.spec import (
    SpecError,
    derive_couplings,
    expand_features,
    parse_spec,
    spec_hash,
    spec_to_dict,
)

VALID = {
    "name": "demo",
    "version": 1,
    "dataset": "music_demo",
    "cutoffs": {"calendar": {"start": "2024-02-01", "end": "2024-04-01", "every": "month"}},
    "label": {"kind": "event_within", "event_type": "BUY_PREMIUM", "horizon_days": 30},
    "features": [
        {"kind": "count", "event_types": ["PLAY", "SKIP"], "windows": [7, 30]},
        {"kind": "ratio", "numerator": "SKIP", "denominator": "PLAY", "windows": [30]},
        {"kind": "recency"},
        {"kind": "recency", "event_types": ["PLAY"]},
        {"kind": "active_days", "windows": [7, 30]},
    ],
    "actionable": [{"feature": "count_SKIP_30d", "direction": "decrease", "lower": 0}],
}


def with_change(path: list, value) -> dict:
    raw = copy.deepcopy(VALID)
    target = raw
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return raw


def with_features(features: list) -> dict:
    """VALID with other features and no actionable ones."""
    return {**with_change(["features"], features), "actionable": []}


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["colour"], "red", "spec.colour: unknown key 'colour'; allowed keys: name, version"),
        (["label", "kind"], "bought", "spec.label.kind: 'bought' is not allowed; use one of: "),
        (["label", "horizon_days"], "forever", "spec.label.horizon_days (days or `ever`)"),
        (["label", "window_days"], 7, "spec.label.window_days: unknown key 'window_days'"),
        (["features", 0, "window"], [7], "spec.features[0].window: unknown key 'window'"),
        (["features", 0, "kind"], "counts", "spec.features[0].kind: 'counts' is not allowed"),
        (["features", 0, "windows"], [7, 7], "spec.features[0].windows: duplicate windows"),
        (["features", 0, "windows"], [0], "spec.features[0].windows[0]: expected an integer >= 1"),
        (["features", 0, "event_types"], ["bad-name"], "spec.features[0].event_types[0]"),
        (
            ["features", 0, "event_types"],
            ["Add to Cart"],
            "got 'Add to Cart'; rename it at ingest in the dataset config: rules: {event_types: "
            '{rename: {"Add to Cart": Add_to_Cart}}}',
        ),
        (["label", "event_type"], "2FA done", '{rename: {"2FA done": e_2FA_done}}'),
        (["features", 1, "denominator"], "song play", '{rename: {"song play": song_play}}'),
        (["cutoffs", "calendar", "every"], "week", "spec.cutoffs.calendar.every: expected"),
        (["cutoffs", "calendar", "end"], "2023-01-01", "spec.cutoffs.calendar.end: 2023-01-01"),
        (
            ["cutoffs", "calendar"],
            {"start": "2024-02-10", "end": "2024-02-29", "every": "month"},
            "spec.cutoffs.calendar: `every: month` puts a cutoff on the first day of each month, "
            "and none lies between 2024-02-10 and 2024-02-29 (the next is 2024-03-01)",
        ),
        (["cutoffs", "weekly"], {}, "spec.cutoffs.weekly: unknown key 'weekly'; allowed keys: "),
        (
            ["cutoffs", "after_signup"],
            {"offset_days": 0, "anchor": "day"},
            "spec.cutoffs.after_signup.anchor: 'day' is not allowed; use one of: date, timestamp",
        ),
        (
            ["cutoffs", "after_signup"],
            {"offset_days": 0, "anchored": "date"},
            "spec.cutoffs.after_signup.anchored: unknown key 'anchored'; allowed keys: "
            "offset_days, anchor",
        ),
        (["eligibility"], {"active_days": 3}, "spec.eligibility.active_days: unknown key"),
        (["actionable", 0, "direction"], "up", "spec.actionable[0].direction: 'up' is not"),
        (["actionable", 0, "feature"], "count_LIKE_30d", "'count_LIKE_30d' is not a feature"),
        (["actionable", 0, "lower"], "zero", "spec.actionable[0].lower: expected a number"),
        (
            ["actionable", 0, "causal"],
            "decrease",
            "spec.actionable[0].causal: 'decrease' is not allowed; use one of: increases, "
            "decreases",
        ),
    ],
)
def test_bad_specs_name_the_key_and_the_allowed_values(path, value, message):
    with pytest.raises(SpecError) as caught:
        parse_spec(with_change(path, value), "spec")
    assert message in str(caught.value)


def test_missing_required_key_and_duplicate_feature_names():
    raw = copy.deepcopy(VALID)
    del raw["label"]
    with pytest.raises(SpecError, match=r"spec\.label: required key is missing"):
        parse_spec(raw, "spec")
    raw = with_change(["features", 4], {"kind": "count", "event_types": ["PLAY"], "windows": [7]})
    with pytest.raises(SpecError, match="feature names repeat: count_PLAY_7d"):
        parse_spec(raw, "spec")


def test_adoption_label_needs_its_window_and_a_fitting_count():
    label = {"kind": "active_days_in_window", "horizon_days": 60, "min_days": 3}
    with pytest.raises(SpecError, match=r"spec\.label\.window_days: required key is missing"):
        parse_spec(with_change(["label"], label), "spec")
    with pytest.raises(SpecError, match="8 distinct days cannot fit in a 7-day window"):
        parse_spec(with_change(["label"], {**label, "min_days": 8, "window_days": 7}), "spec")


def test_signup_anchor_defaults_to_the_date_and_timestamp_keeps_the_old_canonical_form():
    def signup(after_signup: dict):
        return parse_spec(with_change(["cutoffs"], {"after_signup": after_signup}), "spec")

    default = signup({"offset_days": 14})
    dated = signup({"offset_days": 14, "anchor": "date"})
    stamped = signup({"offset_days": 14, "anchor": "timestamp"})
    assert default == dated and default.cutoffs.after_signup.anchor == "date"
    assert stamped.cutoffs.after_signup.anchor == "timestamp"
    # Exactly the form (and so the hash) a signup-relative spec had before anchors existed.
    assert spec_to_dict(stamped)["cutoffs"]["after_signup"] == {"offset_days": 14}
    assert spec_to_dict(dated)["cutoffs"]["after_signup"] == {"offset_days": 14, "anchor": "date"}
    assert len({spec_hash(dated), spec_hash(stamped)}) == 2


def test_a_causal_prior_is_optional_and_absent_from_the_canonical_form_when_not_declared():
    plain = parse_spec(VALID, "spec")
    declared = parse_spec(with_change(["actionable", 0, "causal"], "decreases"), "spec")
    assert plain.actionable[0].causal is None
    assert declared.actionable[0].causal == "decreases"
    # A spec without priors keeps its canonical form, and so its hash.
    assert "causal" not in spec_to_dict(plain)["actionable"][0]
    assert spec_to_dict(declared)["actionable"][0]["causal"] == "decreases"
    assert spec_hash(plain) != spec_hash(declared)


def test_feature_names_follow_the_scheme_and_couplings_are_derived():
    spec = parse_spec(VALID, "spec")
    assert [f.name for f in expand_features(spec)] == [
        "count_PLAY_7d",
        "count_PLAY_30d",
        "count_SKIP_7d",
        "count_SKIP_30d",
        "ratio_SKIP_per_PLAY_30d",
        "days_since_last_event",
        "days_since_last_PLAY",
        "active_days_7d",
        "active_days_30d",
    ]
    couplings = derive_couplings(expand_features(spec))
    assert {"kind": "order", "smaller": "count_SKIP_7d", "larger": "count_SKIP_30d"} in couplings
    assert {"kind": "window", "shorter": "count_SKIP_7d", "longer": "count_SKIP_30d"} in couplings
    assert {
        "kind": "window",
        "shorter": "active_days_7d",
        "longer": "active_days_30d",
        "shorter_days": 7,
        "longer_days": 30,
    } in couplings
    assert {"kind": "order", "smaller": "active_days_7d", "larger": "active_days_30d"} in couplings
    assert {
        "kind": "order",
        "smaller": "days_since_last_event",
        "larger": "days_since_last_PLAY",
    } in couplings
    assert {
        "kind": "ratio",
        "feature": "ratio_SKIP_per_PLAY_30d",
        "numerator": "count_SKIP_30d",
        "denominator": "count_PLAY_30d",
    } in couplings
    assert [c for c in couplings if c["kind"] == "activity"] == [
        {"kind": "activity", "events": f"count_{t}_{w}d", "days": f"active_days_{days}d"}
        for t in ("PLAY", "SKIP")
        for w in (7, 30)
        for days in (7, 30)
        if days >= w  # events in the last 30 days say nothing of the last 7
    ]
    counted = [
        {"kind": "recency", "events": f"count_{t}_{w}d", "window_days": w, **rest}
        for t in ("PLAY", "SKIP")
        for w in (7, 30)
        for rest in (
            {"recency": f"days_since_last_{t}"},
            {"recency": "days_since_last_event", "recency_sees": "more"},
        )
        if rest["recency"] != "days_since_last_SKIP"  # no SKIP recency in the set
    ]
    assert [c for c in couplings if c["kind"] == "recency"] == [
        *counted,
        *(
            {"kind": "recency", "days": f"active_days_{w}d", "window_days": w, **rest}
            for w in (7, 30)
            for rest in (
                {"recency": "days_since_last_event"},
                {"recency": "days_since_last_PLAY", "recency_sees": "fewer"},
            )
        ),
    ]


def test_shipped_specs_load_and_are_locked():
    entries = list_specs()
    refs = [str(entry.ref) for entry in entries]
    assert {"premium_30d@v1", "churn_30d@v1", "adoption_14d@v1"} <= set(refs)
    assert {entry.origin for entry in entries} == {"shipped"}
    premium = load_spec("premium_30d@v1")
    names = [f.name for f in expand_features(premium)]
    assert "count_ADVERTISEMENT_30d" in names
    ads = next(a for a in premium.actionable if a.feature == "count_ADVERTISEMENT_30d")
    assert (ads.direction, ads.lower) == ("decrease", 0.0)
    adoption = load_spec("adoption_14d@v1").cutoffs.after_signup
    assert (adoption.offset_days, adoption.anchor) == (14, "timestamp")
    locked = read_lock(SHIPPED_DIR)
    assert set(locked) == set(refs)
    for ref in refs:
        assert locked[ref] == spec_hash(load_spec(ref))


SPEC_TEXT = """
name: locked
version: 1
dataset: test
cutoffs: {calendar: {start: 2024-02-01, end: 2024-03-01, every: month}}
label: {kind: churn, horizon_days: 30}
features:
  - {kind: count, event_types: [PLAY], windows: [7]}
"""


def test_editing_a_released_version_is_refused_but_comments_are_fine(sets_dir):
    path = write_spec(sets_dir, SPEC_TEXT)
    release_spec("locked@v1", sets_dir)
    path.write_text("# a comment changes nothing it means\n" + SPEC_TEXT)
    assert load_spec("locked@v1", sets_dir).label.horizon_days == 30
    path.write_text(SPEC_TEXT.replace("horizon_days: 30", "horizon_days: 14"))
    with pytest.raises(SpecError, match=r"is released and locked .* new version v2"):
        load_spec("locked@v1", sets_dir)
    with pytest.raises(SpecError, match="already released"):
        release_spec("locked@v1", sets_dir)


def test_dropping_a_released_timestamp_anchor_is_an_edit_the_lock_refuses(sets_dir):
    stamped = SPEC_TEXT.replace(
        "cutoffs: {calendar: {start: 2024-02-01, end: 2024-03-01, every: month}}",
        "cutoffs: {after_signup: {offset_days: 0, anchor: timestamp}}",
    )
    path = write_spec(sets_dir, stamped)
    release_spec("locked@v1", sets_dir)
    path.write_text(stamped.replace(", anchor: timestamp", ""))  # now means the date anchor
    with pytest.raises(SpecError, match="is released and locked"):
        load_spec("locked@v1", sets_dir)


def test_spec_path_must_match_its_declared_name(sets_dir):
    path = sets_dir / "other" / "v1.yaml"
    path.parent.mkdir()
    path.write_text(SPEC_TEXT)
    with pytest.raises(SpecError, match="declares name 'locked' version 1, but its path says"):
        load_spec("other@v1", sets_dir)
    with pytest.raises(SpecError, match=r"no spec at .*known feature sets: .*other@v1"):
        load_spec("missing@v1", sets_dir)


DERIVED = {
    **VALID,
    "features": [*VALID["features"], {"kind": "attribute", "names": ["invited"]}],
    "derived_attributes": {
        "invited": {"expression": "invited_by IS NOT NULL", "dtype": "numeric"}
    },
}


def test_derived_attributes_parse_once_to_canonical_sql_and_their_columns():
    spec = parse_spec(DERIVED, "spec")
    (derived,) = spec.derived_attributes
    assert (derived.name, derived.dtype, derived.columns) == (
        "invited",
        "numeric",
        ("invited_by",),
    )
    reformatted = copy.deepcopy(DERIVED)
    reformatted["derived_attributes"]["invited"]["expression"] = "invited_by   is not NULL"
    assert spec_hash(parse_spec(reformatted, "spec")) == spec_hash(spec)
    # specs without derived attributes keep the hash they were released with (no new key)
    assert "derived_attributes" not in spec_to_dict(parse_spec(VALID, "spec"))


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("COUNT(invited_by)", "aggregates are not allowed"),
        ("SUM(age) OVER ()", "window functions are not allowed"),
        ("age > (SELECT 1)", "subqueries are not allowed"),
        ("age IN (SELECT age FROM users)", "subqueries are not allowed"),
        ("regexp_matches(city, 'x')", "is not allowed; use columns, literals"),
        ("my_udf(age)", "is not allowed; use columns"),
        ("u.age > 3", "without a table name: age"),
        ("age >", "not valid SQL"),
        ("1 + 2", "reads no user column"),
    ],
)
def test_derived_expressions_outside_the_allowlist_are_refused(expression, message):
    raw = copy.deepcopy(DERIVED)
    raw["derived_attributes"]["invited"]["expression"] = expression
    with pytest.raises(SpecError, match=r"spec\.derived_attributes\.invited\.expression") as error:
        parse_spec(raw, "spec")
    assert message in str(error.value)


def test_derived_attributes_need_a_known_dtype_and_a_feature_using_them():
    raw = copy.deepcopy(DERIVED)
    raw["derived_attributes"]["invited"]["dtype"] = "boolean"
    with pytest.raises(SpecError, match="dtype: 'boolean' is not allowed; use one of: numeric"):
        parse_spec(raw, "spec")
    unused = {**DERIVED, "features": VALID["features"]}
    with pytest.raises(SpecError, match="invited: not used by any `kind: attribute` feature"):
        parse_spec(unused, "spec")


def test_behaviour_kinds_are_named_by_the_scheme_and_need_their_keys():
    behaviour = [
        {"kind": "gaps", "event_types": ["PLAY"]},
        {"kind": "trend", "event_types": ["PLAY"], "windows": [7]},
        {"kind": "distinct_items", "windows": [30]},
        {"kind": "distinct_items", "event_types": ["SKIP"], "windows": [7]},
        {"kind": "value_mean", "event_types": ["PLAY"], "windows": [30]},
    ]
    spec = parse_spec(with_features(behaviour), "spec")
    assert [(f.name, f.kind) for f in expand_features(spec)] == [
        ("mean_gap_days_PLAY", "gap_mean"),
        ("last_gap_days_PLAY", "gap_last"),
        ("days_since_last_per_mean_gap_PLAY", "gap_ratio"),
        ("trend_PLAY_7d", "trend"),
        ("distinct_items_30d", "distinct_items"),
        ("distinct_items_SKIP_7d", "distinct_items"),
        ("value_mean_PLAY_30d", "value_mean"),
    ]
    couplings = derive_couplings(
        expand_features(
            parse_spec(with_features([{"kind": "distinct_items", "windows": [7, 30]}]), "spec")
        )
    )
    assert couplings == (
        {"kind": "order", "smaller": "distinct_items_7d", "larger": "distinct_items_30d"},
    )
    for entry, message in [
        ({"kind": "gaps"}, r"features\[0\]\.event_types: required key is missing"),
        ({"kind": "gaps", "event_types": ["PLAY"], "windows": [7]}, "unknown key 'windows'"),
        ({"kind": "trend", "windows": [7]}, r"\.event_types: required key is missing"),
        ({"kind": "value_mean", "event_types": ["PLAY"]}, r"\.windows: required key is missing"),
        ({"kind": "distinct_items", "attribute": "genre", "windows": [7]}, "unknown key"),
    ]:
        with pytest.raises(SpecError, match=message):
            parse_spec(with_features([entry]), "spec")


def test_item_counts_are_named_by_the_values_names_and_check_their_values():
    entries = [
        {"kind": "item_count", "attribute": "genre", "values": ["rock"], "windows": [7, 30]},
        {
            "kind": "item_count",
            "attribute": "category",
            "values": {"kitchen": "Home > Kitchen", "y2024": 2024},
            "event_types": ["PLAY"],
            "windows": [30],
        },
    ]
    spec = parse_spec(with_features(entries), "spec")
    assert [(f.name, f.item_value, f.event_type) for f in expand_features(spec)] == [
        ("count_item_genre_rock_7d", "rock", None),
        ("count_item_genre_rock_30d", "rock", None),
        ("count_item_category_kitchen_30d", "Home > Kitchen", "PLAY"),
        ("count_item_category_y2024_30d", "2024", "PLAY"),
    ]
    couplings = derive_couplings(expand_features(spec))
    assert couplings == (
        {
            "kind": "order",
            "smaller": "count_item_genre_rock_7d",
            "larger": "count_item_genre_rock_30d",
        },
        {
            "kind": "window",
            "shorter": "count_item_genre_rock_7d",
            "longer": "count_item_genre_rock_30d",
        },
    )  # a value's windows nest; two values or two attributes do not
    without = parse_spec(
        with_features([{"kind": "count", "event_types": ["PLAY"], "windows": [7]}]), "spec"
    )
    assert "values" not in spec_to_dict(without)["features"][0]  # older specs keep their hash
    entry = {"kind": "item_count", "attribute": "genre", "windows": [7]}
    for values, message in [
        (None, r"features\[0\]\.values: required key is missing"),
        ([], r"features\[0\]\.values: expected a non-empty list"),
        (["Home > Kitchen"], r"features\[0\]\.values\[0\]: expected a plain name"),
        ({"a b": "x"}, r"features\[0\]\.values\.a b: expected a plain name"),
        ({"a": ""}, r"features\[0\]\.values\.a: expected the attribute's value"),
        ({"a": "x", "b": "x"}, r"features\[0\]\.values: a value is named twice"),
    ]:
        raw = entry if values is None else {**entry, "values": values}
        with pytest.raises(SpecError, match=message):
            parse_spec(with_features([raw]), "spec")
    two_types = {**entry, "values": ["rock"], "event_types": ["PLAY", "SKIP"]}
    with pytest.raises(SpecError, match="item_count over 'genre': give at most one event type"):
        expand_features(parse_spec(with_features([two_types]), "spec"))


def test_sessions_move_with_the_active_days_of_their_window():
    groups = [{"kind": "active_days", "windows": [7, 30]}, {"kind": "sessions", "windows": [30]}]
    couplings = derive_couplings(expand_features(parse_spec(with_features(groups), "spec")))
    assert [c for c in couplings if c["kind"] == "sessions"] == [
        {"kind": "sessions", "days": "active_days_30d", "sessions": "sessions_30d"}
    ]


def test_an_areas_count_makes_a_day_active_and_brings_the_last_event_in():
    groups = [
        {"kind": "area_count", "areas": ["home"], "windows": [7]},
        {"kind": "active_days", "windows": [30]},
        {"kind": "recency"},
    ]
    couplings = derive_couplings(expand_features(parse_spec(with_features(groups), "spec")))
    assert [c for c in couplings if "area_home_7d" in c.values()] == [
        {
            "kind": "recency",
            "events": "area_home_7d",
            "recency": "days_since_last_event",
            "window_days": 7,
            "recency_sees": "more",  # other areas' events
        },
        {"kind": "activity", "events": "area_home_7d", "days": "active_days_30d"},
    ]


def test_a_windows_trend_moves_with_the_count_of_its_window():
    groups = [
        {"kind": "count", "event_types": ["PLAY"], "windows": [7, 30]},
        {"kind": "trend", "event_types": ["PLAY", "SKIP"], "windows": [30]},
    ]
    couplings = derive_couplings(expand_features(parse_spec(with_features(groups), "spec")))
    assert [c for c in couplings if c["kind"] == "trend"] == [  # no SKIP count: no coupling
        {"kind": "trend", "count": "count_PLAY_30d", "trend": "trend_PLAY_30d"}
    ]
