"""Workers on several hosts share one `--study`: exactly the requested trials finish, none run
twice, and a killed worker's trial is run again (experiments/study.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from contracts.errors import UsagecastError
from experiments import study as study_module
from experiments.study import (
    QUEUE_SLOT_ATTR,
    SURPLUS_ATTR,
    SurplusTrial,
    create_or_join,
    drain_queue,
    has_heartbeats,
    open_storage,
    queued_only,
)
from tests.experiments.conftest import synthetic_feature_set, write_feature_set

ROOT = Path(__file__).resolve().parents[2]


def objective(trial: optuna.Trial) -> float:
    return trial.suggest_float("x", 0, 1)


def drain(study: optuna.Study, waits: bool = False) -> None:
    drain_queue(
        study,
        lambda: study.optimize(queued_only(objective), n_trials=1, catch=(SurplusTrial,)),
        waits=waits,
        deadline=None,
    )


def states(study: optuna.Study) -> Counter:
    return Counter(t.state.name for t in study.get_trials(deepcopy=False))


def test_workers_joining_a_study_finish_exactly_its_queued_trials(tmp_path):
    storage = open_storage(f"journal://{tmp_path / 'j.journal'}")
    first = create_or_join(storage, "s", "roc_auc", 0, "hash", trials=5)
    second = create_or_join(storage, "s", "roc_auc", 1, "hash", trials=5)  # joins, adds none
    second.optimize(queued_only(objective), n_trials=2, catch=(SurplusTrial,))
    drain(first)
    drain(second)
    assert states(first) == Counter(COMPLETE=5)


def test_a_trial_opened_without_a_queued_one_is_failed_unrun(tmp_path):
    storage = open_storage(f"journal://{tmp_path / 'j.journal'}")
    study = create_or_join(storage, "s", "roc_auc", 0, "hash", trials=1)
    drain(study)
    study.optimize(queued_only(objective), n_trials=1, catch=(SurplusTrial,))
    [surplus] = study.get_trials(states=(TrialState.FAIL,))
    assert surplus.user_attrs[SURPLUS_ATTR] and surplus.params == {}
    assert states(study) == Counter(COMPLETE=1, FAIL=1)


def test_joining_a_study_of_another_config_is_refused(tmp_path):
    storage = open_storage(f"journal://{tmp_path / 'j.journal'}")
    create_or_join(storage, "s", "roc_auc", 0, "hash-a", trials=2)
    with pytest.raises(UsagecastError, match="another config"):
        create_or_join(storage, "s", "roc_auc", 0, "hash-b", trials=2)


def test_a_dead_workers_trial_is_retried_with_its_parameters(tmp_path, monkeypatch):
    monkeypatch.setattr(study_module, "HEARTBEAT_INTERVAL_S", 1)
    monkeypatch.setattr(study_module, "HEARTBEAT_GRACE_S", 2)
    storage = open_storage(f"sqlite:///{tmp_path / 'optuna.db'}")
    assert has_heartbeats(storage)
    study = create_or_join(storage, "s", "roc_auc", 0, "hash", trials=3)
    dead = study.ask()  # a worker that took a queued trial, beat once and died
    dead.suggest_float("x", 0, 1)
    storage.record_heartbeat(dead._trial_id)
    drain(study, waits=True)  # runs the other two, waits out the grace, runs the retry
    trials = study.get_trials(deepcopy=False)
    assert states(study) == Counter(COMPLETE=3, FAIL=1)
    [retry] = [t for t in trials if t.system_attrs.get("failed_trial") == dead.number]
    assert retry.state == TrialState.COMPLETE and retry.params == dead.params
    assert retry.user_attrs[QUEUE_SLOT_ATTR]


def _worker(home: Path, ref: str, storage: str, tracking: str, trials: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "USAGECAST_HOME": str(home),
        "MLFLOW_TRACKING_URI": tracking,
        "PYTHONPATH": str(ROOT),
    }
    command = [sys.executable, "-m", "usagecast_cli.main", "tune", ref, "--folds", "1"]
    command += ["--trials", str(trials), "--storage", storage, "--study", "shared"]
    return subprocess.Popen(
        command, env=env, cwd=home.parent, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


@pytest.mark.slow
def test_workers_with_separate_workspaces_lose_and_repeat_nothing_when_one_is_killed(tmp_path):
    """Three `usagecast tune --study` processes, each with its own workspace (the feature set
    built in each), sharing only the tracking store and the Optuna storage; one is SIGKILLed
    while it runs a trial."""
    frame, manifest = synthetic_feature_set(users=1500)
    homes = [tmp_path / f"host{i}" / "home" for i in range(3)]
    for home in homes:
        os.environ["USAGECAST_HOME"] = str(home)
        ref = write_feature_set(frame, manifest)
    storage_url = f"sqlite:///{tmp_path / 'optuna.db'}"
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    trials = 8
    victim = _worker(homes[0], ref, storage_url, tracking, trials)
    storage = optuna.storages.RDBStorage(storage_url)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        running = [
            t
            for s in storage.get_all_studies()
            for t in storage.get_all_trials(s._study_id, states=(TrialState.RUNNING,))
            if t.user_attrs.get("worker_pid") == victim.pid
        ]
        if running:
            break
        assert victim.poll() is None, victim.stderr.read().decode()[-2000:]
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    others = [_worker(home, ref, storage_url, tracking, trials) for home in homes[1:]]
    for worker in others:
        _, stderr = worker.communicate(timeout=600)
        assert worker.returncode == 0, stderr.decode()[-3000:]
    study = optuna.load_study(study_name="shared", storage=storage_url)
    done = study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))
    assert len(done) == trials
    assert states(study)["RUNNING"] == 0 and states(study)["WAITING"] == 0
    killed = [
        t
        for t in study.get_trials(states=(TrialState.FAIL,))
        if not t.user_attrs.get(SURPLUS_ATTR)
    ]
    assert [t.number for t in killed] == [running[0].number]
    retried = [t for t in done if t.system_attrs.get("failed_trial") == running[0].number]
    assert len(retried) == 1
