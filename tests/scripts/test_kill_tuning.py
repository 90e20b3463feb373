"""scripts/reliability/kill_tuning.py runs end to end (CI proves the script; it is run with
--kills 50 by hand), and its checks catch what they are meant to catch."""

from __future__ import annotations

from collections import Counter

import pytest

from scripts.reliability import kill_tuning


@pytest.mark.slow
def test_three_kills_lose_nothing(tmp_path):
    args = kill_tuning.parse_args(["--kills", "3", "--seed", "1", "--trials", "30"])
    report = kill_tuning.run(args, tmp_path)
    assert report.failures == [], kill_tuning.summary(report, args.trials)
    assert sum(a.signal is not None for a in report.attempts) == 3
    assert kill_tuning.finished(report.final_states) == 30


def _attempt(before: int, after: int) -> kill_tuning.Attempt:
    return kill_tuning.Attempt(
        signal="SIGKILL",
        delay_s=1.0,
        exit_code=-9,
        traceback=False,
        lock_left=False,
        before=Counter(COMPLETE=before),
        after=Counter(COMPLETE=after),
    )


def test_check_reports_lost_trials_a_wrong_count_and_running_runs():
    report = kill_tuning.Report(
        attempts=[_attempt(0, 5), _attempt(5, 4)],
        final_exit=0,
        final_states=Counter(COMPLETE=9, RUNNING=1),
        running=["abc"],
    )
    failures = kill_tuning.check(report, trials=10)
    assert failures[0] == "finished trials fell from 5 to 4 during start 2"
    assert any("finished trials 9 != requested 10" in f for f in failures)
    assert any("left RUNNING in the journal" in f for f in failures)
    assert any("MLflow run(s) left RUNNING" in f for f in failures)
