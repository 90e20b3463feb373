"""The value models' promotion gate as a table: each row a situation and its verdict."""

from __future__ import annotations

import pytest

from registry.policy import PolicyConfig, ValueCandidate, ValueChampion, decide_value


def _candidate(**changes) -> ValueCandidate:
    base = {
        "version": "2",
        "normalised_gini": 0.60,
        "rmse": 3.0,
        "baseline_rmse": 3.5,
        "test_rows": 1000,
        "leakage_flagged": (),
    }
    return ValueCandidate(**{**base, **changes})


SAME_ROWS = ValueChampion(version="1", normalised_gini=0.55, rescored=True)
BROKEN = ValueChampion("1", float("nan"), rescored=False, load_error="bad file")
OTHER_ROWS = ValueChampion("1", 0.55, rescored=False, missing_columns=("likes",))

TABLE = [
    ("first model", _candidate(), None, PolicyConfig(), True, ["first model", "0.6000"]),
    ("promote", _candidate(), SAME_ROWS, PolicyConfig(margin=0.01), True, ["+0.0500"]),
    (
        "margin",
        _candidate(normalised_gini=0.555),
        SAME_ROWS,
        PolicyConfig(margin=0.01),
        False,
        ["+0.0050", "< margin 0.0100", "same test rows"],
    ),
    (
        "no better than the mean",
        _candidate(rmse=3.5),
        None,
        PolicyConfig(),
        False,
        ["does not beat the training mean", "3.5000"],
    ),
    (
        "undefined gini",
        _candidate(normalised_gini=float("nan")),
        None,
        PolicyConfig(),
        False,
        ["Gini undefined"],
    ),
    ("broken champion", _candidate(), BROKEN, PolicyConfig(), True, ["no longer loads"]),
    (
        "other columns",
        _candidate(),
        OTHER_ROWS,
        PolicyConfig(),
        False,
        ["--allow-new-features", "likes"],
    ),
    (
        "other columns allowed",
        _candidate(),
        OTHER_ROWS,
        PolicyConfig(allow_new_features=True),
        True,
        ["different test sets"],
    ),
    (
        "leakage",
        _candidate(leakage_flagged=("revenue_next_90d",)),
        None,
        PolicyConfig(),
        False,
        ["leakage scan flagged", "revenue_next_90d"],
    ),
    (
        "leakage allowed",
        _candidate(leakage_flagged=("revenue_next_90d",)),
        None,
        PolicyConfig(allow_leaky=("revenue_next_90d",)),
        True,
        ["leak suspects allowed"],
    ),
]


@pytest.mark.parametrize(
    ("case", "candidate", "champion", "config", "promote", "words"),
    TABLE,
    ids=[row[0] for row in TABLE],
)
def test_value_gate(case, candidate, champion, config, promote, words):
    decision = decide_value(candidate, champion, config)
    assert decision.promote is promote, decision.reason
    for word in words:
        assert word in decision.reason
