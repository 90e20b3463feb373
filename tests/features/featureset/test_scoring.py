"""Scoring rows: unlabelled rows at one cutoff, from the same SQL as the training rows."""

from __future__ import annotations

import pandas as pd
import pytest
from featureset_testlib import spec_vocabulary, ts, write_spec, write_store

from contracts.workspace import event_store_path
from features.featureset import (
    ScoringCutoffError,
    build_feature_set,
    build_scoring_rows,
    list_feature_sets,
    load_feature_set,
    load_scoring_rows,
    load_spec,
)
from usagecast_cli.main import main

FEATURES = """
features:
  - {kind: count, event_types: [PLAY, AD], windows: [7, 14]}
  - {kind: active_days, windows: [14]}
  - {kind: sessions, windows: [14]}
  - {kind: recency}
  - {kind: recency, event_types: [PLAY]}
  - {kind: tenure}
  - {kind: value_sum, event_types: [PLAY], windows: [14]}
  - {kind: ratio, numerator: AD, denominator: PLAY, windows: [14]}
  - {kind: attribute, names: [channel]}
"""
CALENDAR = (
    """
name: weekly
version: 1
dataset: test
cutoffs: {calendar: {start: 2024-02-01, end: 2024-03-01, every: 14}}
eligibility: {active_within_days: 14, not_converted: BUY}
label: {kind: event_within, event_type: BUY, horizon_days: 14}
"""
    + FEATURES
)
SIGNUP = (
    """
name: first_week
version: 1
dataset: test
cutoffs: {after_signup: {offset_days: 7}}
eligibility: {active_within_days: 7, not_converted: BUY}
label: {kind: event_within, event_type: BUY, horizon_days: 14}
"""
    + FEATURES
)
END = pd.Timestamp("2024-03-31")  # the last event's date: the latest scoring cutoff is 04-01


def export_like_log(n_users: int = 60) -> tuple[list, list]:
    """Minute-level signups over ten weeks; events after signup, half of them date-only."""
    events, users = [], []
    for k in range(n_users):
        user = f"{k}.0"  # float-like ids, as real exports carry them
        signup = pd.Timestamp("2024-01-01") + pd.Timedelta(hours=30 * k, minutes=7 + k)
        users.append((user, signup.to_pydatetime(), {"channel": ["web", "app", None][k % 3]}))
        for j in range(18):
            when = signup + pd.Timedelta(minutes=(k * 7919 + j * 104729) % (60 * 24 * 40))
            if j % 2:
                when = when.normalize()  # a date without a time of day
            kind = ["PLAY", "PLAY", "AD"][(k + j) % 3]
            if j == 11 and k % 4 == 1:
                kind = "BUY"
            if when <= END:
                events.append(
                    (user, when.to_pydatetime(), kind, f"s{k}-{j // 3}", None, float(j % 4))
                )
    events.append(("0.0", END.to_pydatetime(), "PLAY"))
    return events, users


@pytest.fixture
def specs(sets_dir):
    events, users = export_like_log()
    event_store_path().parent.mkdir(parents=True)
    write_store(event_store_path(), events, users)
    write_spec(sets_dir, CALENDAR)
    write_spec(sets_dir, SIGNUP)
    return sets_dir


def _without_label(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns="label").reset_index(drop=True)


def test_calendar_scoring_rows_equal_training_rows_at_a_labelled_cutoff(specs):
    build_feature_set("weekly@v1", sets_dir=specs)
    training, _ = load_feature_set("weekly@v1")
    at = pd.Timestamp("2024-02-15")
    expected = training[training["cutoff"] == at]
    scoring, manifest = load_scoring_rows("weekly@v1", "2024-02-15", sets_dir=specs)
    assert len(expected) >= 10 and manifest.to_dict()["rows"] == len(scoring)
    assert scoring["label"].isna().all()
    assert list(scoring.columns) == list(training.columns)
    pd.testing.assert_frame_equal(_without_label(scoring), _without_label(expected))
    assert (
        manifest.to_dict()["kind"] == "scoring"
        and manifest.to_dict()["cutoff"] == "2024-02-15T00:00:00"
    )


def test_signup_scoring_rows_are_the_open_windows_with_training_features(specs):
    """At D: users whose own cutoff c has c <= D < c + horizon, features at c."""
    build_feature_set("first_week@v1", sets_dir=specs)
    training, _ = load_feature_set("first_week@v1")
    at = pd.Timestamp("2024-02-10")  # every window open at D closes before the data ends
    open_at = (training["cutoff"] <= at) & (training["cutoff"] + pd.Timedelta(days=14) > at)
    expected = training[open_at]
    scoring, manifest = load_scoring_rows("first_week@v1", "2024-02-10", sets_dir=specs)
    assert len(expected) >= 5 and expected["cutoff"].nunique() == len(expected)
    pd.testing.assert_frame_equal(_without_label(scoring), _without_label(expected))
    assert manifest.to_dict()["feature_cutoffs"]["max"] <= "2024-02-10T00:00:00"


def test_latest_cutoff_scores_users_whose_window_is_still_open(specs):
    training = build_feature_set("first_week@v1", sets_dir=specs)
    result = build_scoring_rows("first_week@v1", sets_dir=specs)
    assert result.manifest.to_dict()["cutoff"] == "2024-04-01T00:00:00"
    scoring, _ = load_scoring_rows("first_week@v1", sets_dir=specs)
    rows, _ = load_feature_set("first_week@v1")
    assert len(scoring) > 0
    assert set(scoring["user_id"]).isdisjoint(rows["user_id"])  # censored in training
    assert (scoring["cutoff"] + pd.Timedelta(days=14) > pd.Timestamp("2024-04-01")).all()
    # Stored apart: `first_week@v1` still loads the training build, `features list` shows it.
    assert load_feature_set("first_week@v1")[1].fingerprint == training.fingerprint
    assert result.path.parent.name == "scoring"
    listed = next(e for e in list_feature_sets(specs) if e["ref"] == "first_week@v1")
    assert [b["fingerprint"] for b in listed["builds"]] == [training.fingerprint]


def test_scoring_builds_are_reused_and_fingerprinted_by_cutoff(specs):
    first = build_scoring_rows("weekly@v1", sets_dir=specs)
    again = build_scoring_rows("weekly@v1", "2024-04-01", sets_dir=specs)
    earlier = build_scoring_rows("weekly@v1", "2024-03-20", sets_dir=specs)
    assert again.reused and again.fingerprint == first.fingerprint
    assert not earlier.reused and earlier.fingerprint != first.fingerprint
    assert earlier.manifest.to_dict()["eligibility"]["scored"] == earlier.rows


def test_a_cutoff_after_the_data_is_refused_with_the_range(specs):
    with pytest.raises(ScoringCutoffError, match=r"up to 2024-04-01 \(the day after"):
        build_scoring_rows("weekly@v1", "2024-04-02", sets_dir=specs)
    with pytest.raises(ScoringCutoffError, match="not a date"):
        build_scoring_rows("weekly@v1", "today", sets_dir=specs)


def test_cli_builds_scoring_rows_and_prints_the_cutoff(capsys):
    """The CLI on the shipped premium_30d@v1 over a tiny store with the demo's attributes."""
    events, users = export_like_log()
    attributes = {
        "channel": ("static", "categorical"),
        "city": ("static", "categorical"),
        "age": ("static", "numeric"),
    }
    demo_users = [(u, s, {"channel": "web", "city": "Köln", "age": 30.0}) for u, s, _ in users]
    vocabulary, filler = spec_vocabulary(load_spec("premium_30d@v1"), ts("2023-11-01 00:00"))
    events, demo_users = [*events, *vocabulary], [*demo_users, filler]
    event_store_path().parent.mkdir(parents=True)
    write_store(
        event_store_path(), events, demo_users, attributes=attributes, dataset="music_demo"
    )
    assert main(["features", "build", "premium_30d@v1", "--scoring"]) == 0
    out = capsys.readouterr().out
    assert "scoring rows at cutoff 2024-04-01T00:00:00" in out and "written to" in out
    assert main(["features", "build", "premium_30d@v1", "--scoring", "--cutoff", "2024-05-01"])
    assert "may be any date up to 2024-04-01" in capsys.readouterr().err
    assert main(["features", "build", "premium_30d@v1", "--cutoff", "2024-03-01"]) == 2
    assert "--cutoff needs --scoring" in capsys.readouterr().err
