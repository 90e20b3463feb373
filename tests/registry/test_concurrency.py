"""Several `usagecast promote` processes at once: the lock serialises them, @champion ends on
the best gated version, and each process leaves exactly one consistent audit record. With a
SQLite store the lock is the workspace's file lock; with a PostgreSQL store, the database's
advisory lock alone (no lock file is made).

A small storm of scripts/reliability/promotion_storm.py (which runs 20 and more), through the
script's own functions so the test and the script check the same invariants.
"""

from __future__ import annotations

import os

import pytest

from contracts.workspace import workspace_dir
from scripts.reliability import promotion_storm

RUNS = 3  # run 0 fails the calibration gate
PROCESSES = 4


@pytest.mark.slow
@pytest.mark.parametrize(
    "store", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_concurrent_promotions_end_on_the_best_gated_version(
    store, tmp_path, monkeypatch, request
):
    if store == "postgresql":
        url = request.getfixturevalue("postgres_server").create_database("storm")
        monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    logged = promotion_storm.log_candidates(RUNS)
    outcomes = promotion_storm.promote_all(
        [item.run_id for item in logged], PROCESSES, tmp_path, {**os.environ}
    )
    audit = workspace_dir() / "registry" / "audit.jsonl"
    assert promotion_storm.check_storm(logged, outcomes, audit) == []
    assert {o.exit_code for o in outcomes} == {0, 1}  # the gate refused run 0 at least
    lock_file = workspace_dir() / "registry" / f"{promotion_storm.MODEL_NAME}.lock"
    assert lock_file.exists() is (store == "sqlite")


def test_replay_finds_a_record_that_missed_a_champion_change():
    records = [
        {
            "version": "1",
            "champion_before": None,
            "promoted": True,
            "champion": "1",
            "previous": None,
        },
        {
            "version": "2",
            "champion_before": None,
            "promoted": True,
            "champion": "2",
            "previous": None,
        },
    ]
    champion, previous, problems = promotion_storm.replay(records)
    assert (champion, previous) == ("2", "1")
    assert len(problems) == 2  # v2 saw no champion, and claimed no @previous
