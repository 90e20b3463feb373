"""scripts/reliability/monitor_drift.py: the monitor flags each planted drift kind by the
finding meant to catch it and stays quiet on a no-drift control (the script runs 20 control
seeds by hand; CI runs one of each at a small size)."""

from __future__ import annotations

import pytest

from experiments.monitor.checks import ACQUISITION, SINCE_PREVIOUS
from scripts.reliability import monitor_drift

USERS = 1000


def test_alert_lines_are_parsed_into_subject_and_measure():
    output = (
        "monitor premium_30d v1: ALERT\n"
        "  WARN: tenure_days PSI vs training 8.3319 > 0.1\n"
        "  ALERT: count_LIKE_7d PSI since previous check 4.5173 > 0.25\n"
        "  ALERT: channel acquisition-mix PSI 0.3000 > 0.1\n"
        "  ALERT: cutoff 2024-08-01 AUC drop 0.0900 > 0.0612\n"
    )
    assert monitor_drift.parse_alerts(output) == (
        monitor_drift.Alert("count_LIKE_7d", SINCE_PREVIOUS),
        monitor_drift.Alert("channel", ACQUISITION),
        monitor_drift.Alert("cutoff 2024-08-01", "AUC drop"),
    )


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["control", *monitor_drift.KINDS])
def test_each_planted_kind_is_flagged_and_the_control_is_not(kind, tmp_path):
    planted = monitor_drift.CONTROL if kind == "control" else monitor_drift.KINDS[kind]
    outcome = monitor_drift.run_kind(
        planted, seed=1, root=tmp_path, users=USERS, months=10, trials=4
    )
    if planted is monitor_drift.CONTROL:
        assert not outcome.flagged, outcome.alerts
    else:
        assert outcome.detected(planted), outcome.alerts
