"""The promotion gate as a table: each row is a situation and the verdict it must get."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from registry.policy import Candidate, Champion, PolicyConfig, auc_lower_bound, decide


def _candidate(**changes) -> Candidate:
    base = {
        "version": "2",
        "roc_auc": 0.80,
        "calibration_error": 0.02,
        "test_rows": 1000,
        "test_positives": 100,
        "leakage_flagged": (),
    }
    return Candidate(**{**base, **changes})


SAME_ROWS = Champion(version="1", roc_auc=0.78, rescored=True)
BROKEN = Champion(version="1", roc_auc=float("nan"), rescored=False, load_error="bad file")
OTHER_ROWS = Champion(version="1", roc_auc=0.78, rescored=False, missing_columns=("likes",))

TABLE = [
    # (case, candidate, champion, config, promote, words in the reason)
    ("promote", _candidate(), SAME_ROWS, PolicyConfig(margin=0.01), True, ["+0.0200", "0.7800"]),
    ("first model", _candidate(), None, PolicyConfig(), True, ["first model", "0.8000"]),
    (
        "margin",
        _candidate(roc_auc=0.785),
        SAME_ROWS,
        PolicyConfig(margin=0.01),
        False,
        ["+0.0050", "< margin 0.0100", "same test rows"],
    ),
    ("worse", _candidate(roc_auc=0.70), SAME_ROWS, PolicyConfig(margin=0.0), False, ["-0.0800"]),
    (
        "calibration",
        _candidate(calibration_error=0.09),
        SAME_ROWS,
        PolicyConfig(max_calibration_error=0.05),
        False,
        ["calibration error 0.0900 > limit 0.0500"],
    ),
    (
        "calibration first",
        _candidate(calibration_error=0.09),
        None,
        PolicyConfig(max_calibration_error=0.05),
        False,
        ["calibration"],
    ),
    (
        "leakage",
        _candidate(leakage_flagged=("days_to_churn",)),
        SAME_ROWS,
        PolicyConfig(),
        False,
        ["leakage scan flagged", "days_to_churn"],
    ),
    (
        "scan missing allowed",
        _candidate(leakage_flagged=None),
        None,
        PolicyConfig(),
        True,
        ["first model"],
    ),
    (
        "scan missing required",
        _candidate(leakage_flagged=None),
        None,
        PolicyConfig(require_leakage_scan=True),
        False,
        ["no leakage scan"],
    ),
    ("one class", _candidate(roc_auc=float("nan")), None, PolicyConfig(), False, ["one class"]),
    (
        "chance, first model",
        _candidate(roc_auc=0.5205, test_rows=445, test_positives=25),
        None,
        PolicyConfig(),
        False,
        ["0.5205 on 445 test rows (25 positives) is within chance", "reaches down to 0.4"],
    ),
    (
        "chance, above the champion",
        _candidate(roc_auc=0.56, test_rows=300, test_positives=20),
        Champion(version="1", roc_auc=0.50, rescored=True),
        PolicyConfig(),
        False,
        ["within chance"],
    ),
    (
        "few rows, clearly better than chance",
        _candidate(roc_auc=0.80, test_rows=300, test_positives=20),
        None,
        PolicyConfig(),
        True,
        ["first model"],
    ),
    ("broken champion", _candidate(), BROKEN, PolicyConfig(), True, ["no longer loads"]),
    (
        "calibration at the default limit",
        _candidate(calibration_error=0.07),
        SAME_ROWS,
        PolicyConfig(),
        False,
        ["calibration error 0.0700 > limit 0.0600"],
    ),
    (
        "calibration within what a small test set shows by chance",
        _candidate(
            calibration_error=0.07, calibration_noise=0.09, test_rows=98, test_positives=10
        ),
        None,
        PolicyConfig(),
        True,
        ["limit raised from 0.0600: a calibrated model exceeds 0.0900 by chance 5%", "98 test"],
    ),
    (
        "calibration above the chance level too",
        _candidate(
            calibration_error=0.12, calibration_noise=0.09, test_rows=98, test_positives=10
        ),
        None,
        PolicyConfig(),
        False,
        ["calibration error 0.1200 > limit 0.0900 (limit raised from 0.0600"],
    ),
    (
        "a chance level below the limit changes nothing",
        _candidate(calibration_error=0.07, calibration_noise=0.03),
        None,
        PolicyConfig(),
        False,
        ["calibration error 0.0700 > limit 0.0600"],
    ),
    (
        "broken champion, leaky candidate",
        _candidate(leakage_flagged=("x",)),
        BROKEN,
        PolicyConfig(),
        False,
        ["leakage"],
    ),
    (
        "incompatible",
        _candidate(),
        OTHER_ROWS,
        PolicyConfig(),
        False,
        ["incompatible", "likes", "--allow-new-features"],
    ),
    (
        "incompatible allowed",
        _candidate(),
        OTHER_ROWS,
        PolicyConfig(allow_new_features=True),
        True,
        ["different test sets", "allowed by --allow-new-features"],
    ),
    (
        "incompatible allowed but worse",
        _candidate(roc_auc=0.75),
        OTHER_ROWS,
        PolicyConfig(allow_new_features=True),
        False,
        ["different test sets", "< margin"],
    ),
    (
        "leaky, promote names it",
        _candidate(leakage_flagged=("x",)),
        SAME_ROWS,
        PolicyConfig(allow_leaky=("x",)),
        True,
        ["+0.0200", "leak suspects allowed: ['x']"],
    ),
    (
        "leaky, promote names another feature",
        _candidate(leakage_flagged=("x", "y")),
        SAME_ROWS,
        PolicyConfig(allow_leaky=("x",)),
        False,
        ["leakage scan flagged ['y']", "--allow-leaky y", "leak suspects allowed: ['x', 'y']"],
    ),
    (
        "leaky, allowed, but worse",
        _candidate(roc_auc=0.70, leakage_flagged=("x",)),
        SAME_ROWS,
        PolicyConfig(allow_leaky=("x",)),
        False,
        ["-0.0800", "leak suspects allowed: ['x']"],
    ),
    (
        "warned features are named when promoted",
        _candidate(leakage_warned=("w",)),
        None,
        PolicyConfig(),
        True,
        ["first model", "leak warnings (AUC 0.90-0.95): ['w']"],
    ),
    (
        "warned features are named when refused",
        _candidate(roc_auc=0.785, leakage_warned=("w",)),
        SAME_ROWS,
        PolicyConfig(margin=0.01),
        False,
        ["< margin", "leak warnings (AUC 0.90-0.95): ['w']"],
    ),
    (
        "warned and leaky",
        _candidate(leakage_flagged=("x",), leakage_warned=("w",)),
        None,
        PolicyConfig(),
        False,
        ["leakage scan flagged ['x']", "leak warnings (AUC 0.90-0.95): ['w']"],
    ),
]


@pytest.mark.parametrize(
    ("candidate", "champion", "config", "promote", "words"),
    [row[1:] for row in TABLE],
    ids=[row[0] for row in TABLE],
)
def test_policy_table(candidate, champion, config, promote, words):
    decision = decide(candidate, champion, config)
    assert decision.promote is promote
    for word in words:
        assert word in decision.reason


def test_a_clean_candidate_reason_names_no_leak_suspects():
    decision = decide(_candidate(), None, PolicyConfig())
    assert decision.promote and "leak" not in decision.reason


def test_the_chance_gate_lets_few_coins_through_and_keeps_a_real_model():
    """Scores without signal pass the chance gate about 2.5% of the time (one side of a 95%
    interval); a model with signal passes on as few rows."""
    generator = np.random.default_rng(0)
    coins, signal = [], []
    for _ in range(400):
        labels = np.r_[np.ones(40), np.zeros(360)]
        noise = generator.normal(size=400)
        coins.append(auc_lower_bound(roc_auc_score(labels, noise), 40, 360) > 0.5)
        signal.append(auc_lower_bound(roc_auc_score(labels, noise + labels), 40, 360) > 0.5)
    assert np.mean(coins) <= 0.05
    assert np.mean(signal) >= 0.95


def test_the_lower_bound_needs_both_classes():
    assert auc_lower_bound(0.9, 0, 100) == auc_lower_bound(0.9, 100, 0) == float("-inf")
