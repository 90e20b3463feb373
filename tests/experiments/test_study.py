"""Study naming, the shared trial budget, and cleanup of trials a killed worker left RUNNING."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import optuna
import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.errors import UsagecastError
from experiments.objective import WORKER_PID_ATTR
from experiments.study import (
    choose_study_name,
    default_storage_url,
    fail_orphaned_trials,
    finished_trials,
    has_heartbeats,
    journal_lock,
    load_study,
    open_storage,
    requeue_orphans,
    split_budget,
)


def test_fresh_runs_get_new_names_and_resume_takes_the_newest():
    assert choose_study_name([], "s@v1-abc", resume=False) == "s@v1-abc"
    existing = ["s@v1-abc", "s@v1-abc-2", "other", "s@v1-abcd"]
    assert choose_study_name(existing, "s@v1-abc", resume=False) == "s@v1-abc-3"
    assert choose_study_name(existing, "s@v1-abc", resume=True) == "s@v1-abc-2"
    with pytest.raises(UsagecastError, match="--resume"):
        choose_study_name(["other"], "s@v1-abc", resume=True)


@given(st.integers(min_value=0, max_value=200), st.integers(min_value=1, max_value=16))
def test_budget_split_sums_exactly(remaining, workers):
    shares = split_budget(remaining, workers)
    assert sum(shares) == remaining
    assert all(share >= 1 for share in shares) and len(shares) <= workers


def test_orphaned_trials_of_dead_workers_are_failed_live_ones_kept(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    storage = open_storage(default_storage_url(tmp_path / "optuna", "s"))
    study = load_study(storage, "s@v1-x", "roc_auc", seed=0, worker_index=0)
    study.tell(study.ask(), 0.7)
    orphan = study.ask()
    orphan.set_user_attr(WORKER_PID_ATTR, dead.pid)
    live = study.ask()
    live.set_user_attr(WORKER_PID_ATTR, 1)  # pid 1 always exists
    assert fail_orphaned_trials(study) == [orphan.number]
    states = {t.number: t.state for t in study.get_trials()}
    assert states[orphan.number] == optuna.trial.TrialState.FAIL
    assert states[live.number] == optuna.trial.TrialState.RUNNING
    assert finished_trials(study) == 1


def test_workers_starting_together_queue_an_orphan_again_once(tmp_path):
    """Two workers of one host start together on a SQLite storage holding one orphaned
    trial. Each lists the RUNNING trials slowly (the listing is held 0.5 s), so without the
    host lock both would see the orphan before either failed it, and queue it twice."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = load_study(open_storage(url), "shared", "roc_auc", seed=0, worker_index=0)
    orphan = study.ask()
    orphan.suggest_float("x", 0, 1)
    orphan.set_user_attr(WORKER_PID_ATTR, dead.pid)
    answers: list[list[int]] = []

    def worker() -> None:
        own = load_study(open_storage(url), "shared", "roc_auc", seed=0, worker_index=0)
        listing = own.get_trials

        def slow_listing(*args, **kwargs):
            trials = listing(*args, **kwargs)
            time.sleep(0.5)
            return trials

        own.get_trials = slow_listing
        answers.append(requeue_orphans(own, url))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(answers) == [[], [orphan.number]]
    retries = [t for t in study.get_trials() if t.system_attrs.get("failed_trial") is not None]
    assert [(t.system_attrs["failed_trial"], t.params) for t in retries] == [
        (orphan.number, orphan.params)
    ]


QUEUED = 120
TAKE_QUEUED_TRIALS = f"""
import sys
import optuna
from experiments.study import open_storage
optuna.logging.set_verbosity(optuna.logging.ERROR)
study = optuna.load_study(study_name="queue", storage=open_storage(sys.argv[1]))
while (trial := study.ask()).number < {QUEUED}:  # a higher number: a new trial, queue empty
    print(trial.number, flush=True)
"""


@pytest.mark.slow
def test_workers_on_one_sqlite_storage_never_take_the_same_queued_trial(tmp_path):
    """Four processes take queued trials from one SQLite storage as fast as they can (`ask`,
    which `optimize` uses): each queued trial is taken exactly once, which needs a write lock
    from each transaction's start (experiments.study.serialise_sqlite_transactions)."""
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = optuna.create_study(study_name="queue", storage=open_storage(url))
    for _ in range(QUEUED):
        study.enqueue_trial({})
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", TAKE_QUEUED_TRIALS, url], stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    outputs = [worker.communicate(timeout=300)[0] for worker in workers]
    taken = [int(number) for output in outputs for number in output.split()]
    assert [worker.returncode for worker in workers] == [0, 0, 0, 0]
    assert sorted(taken) == list(range(QUEUED))


def test_a_storage_that_is_not_a_url_is_refused():
    with pytest.raises(UsagecastError, match="not a URL"):
        open_storage("my-study.db")


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql+mysqldb://analyst:s3cret@127.0.0.1/optuna", "driver is not installed"),
        ("nosuchdb://analyst:s3cret@127.0.0.1/optuna", "driver is not installed"),
    ],
)
def test_a_database_url_without_its_driver_is_refused_without_the_password(url, says):
    with pytest.raises(UsagecastError, match=says) as refused:
        open_storage(url)
    assert "s3cret" not in str(refused.value)
    assert "analyst:***@127.0.0.1" in str(refused.value)


def test_a_database_url_with_its_driver_passes_the_check(tmp_path):
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    storage = open_storage(url)
    assert isinstance(storage, optuna.storages.RDBStorage) and has_heartbeats(storage)


@pytest.mark.slow
def test_tune_with_a_missing_database_driver_exits_2_with_one_line(tmp_path):
    env = {**os.environ, "USAGECAST_HOME": str(tmp_path / "ws")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "usagecast_cli.main",
            "tune",
            "premium_30d@v1",
            "--storage",
            "mysql+mysqldb://analyst:s3cret@127.0.0.1/optuna",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "s3cret" not in result.stderr
    assert result.stderr.startswith("error: --storage mysql+mysqldb://analyst:***@")


HOLD_JOURNAL_LOCK = """
import sys, time
from pathlib import Path
from experiments.study import journal_lock
journal_lock(Path(sys.argv[1])).acquire()
print("held", flush=True)
time.sleep(120)
"""


@pytest.mark.slow
def test_a_journal_lock_left_by_a_killed_writer_is_taken_at_once(tmp_path, caplog):
    url = default_storage_url(tmp_path / "optuna", "s")
    study = load_study(open_storage(url), "s@v1-x", "roc_auc", seed=0, worker_index=0)
    journal = Path(url.removeprefix("journal://"))
    writer = subprocess.Popen(
        [sys.executable, "-c", HOLD_JOURNAL_LOCK, str(journal)],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert writer.stdout.readline().strip() == b"held"
    assert journal_lock(journal).acquire(blocking=False) is False  # a live writer is waited for
    writer.send_signal(signal.SIGKILL)  # killed while holding it, as during a trial's write
    writer.wait()

    with caplog.at_level(logging.WARNING, logger="features.locks"):
        study.tell(study.ask(), 0.7)
    assert f"took over the lock of pid {writer.pid}" in caplog.text
    assert finished_trials(study) == 1
    lock = journal_lock(journal)
    assert lock.acquire(blocking=False) and lock.waits == 0
    lock.release()
