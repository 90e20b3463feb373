"""Optuna study storage, naming, resume and the trial budget shared by several workers.

Storage: an Optuna journal file per feature set in the workspace by default (safe for several
processes on one machine), or any Optuna storage URL (`postgresql://...` at scale). Writers
of a journal take `<journal>.writer.lock`, a features.locks.OwnedLock: a worker killed while
writing leaves no lock to wait for (Optuna's own lock file stays behind after a SIGKILL and
is only forced after a 30 s grace period).
Naming: `<ref>-<key>` where the key hashes what defines the search (fingerprint, metric,
seed, split); a fresh run of an existing study gets `-2`, `-3`, ...; `--resume` continues the
newest one; `--study NAME` names it outright, for workers on several hosts (below).
Several hosts: a study created under `--study` holds its budget as queued trials (one WAITING
trial per requested trial, enqueued once by the process that created the study); workers only
run queued trials, so however many join, exactly the requested number finish. A trial a
worker opened without a queued one (two workers raced for the last) is failed at once, unrun,
and marked `surplus`. RDB storages run with heartbeats: a killed worker's trial turns FAIL
after the grace period and is queued again with its parameters (RetryHeartbeatStaleTrialCallback);
live workers wait for RUNNING trials and pick such retries up. Journal storage has no
heartbeats in Optuna: a killed trial is failed and queued again when a worker starts on the
host it ran on (its pid is checked), so journal storage suits workers of one host.
Pruner: MedianPruner, whose decisions depend only on the reported scores, so a
seed reproduces the same study whatever its name (Hyperband keys its brackets on the name).
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import optuna
import psutil
import sqlalchemy
from optuna.storages import (
    BaseStorage,
    JournalStorage,
    RDBStorage,
    RetryHeartbeatStaleTrialCallback,
)
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from contracts.errors import UsagecastError
from experiments.metrics import MetricName
from experiments.objective import WORKER_HOST_ATTR, WORKER_PID_ATTR, study_direction
from features.locks import OwnedLock

JOURNAL_SCHEME = "journal://"
JOURNAL_LOCK_SUFFIX = ".writer.lock"
FINISHED_STATES: tuple[TrialState, ...] = (TrialState.COMPLETE, TrialState.PRUNED)
PRUNER_STARTUP_TRIALS = 5
PRUNER_WARMUP_STEPS = 20
# RDB heartbeats: a trial whose worker stopped beating for the grace period is failed.
HEARTBEAT_INTERVAL_S = 10
HEARTBEAT_GRACE_S = 60
SQLITE_BUSY_TIMEOUT_S = 60  # how long a SQLite storage write waits for another's lock
MAX_RETRY = 3  # times one trial is queued again after its worker died
QUEUE_SLOT_ATTR = "queue_slot"  # a user attr of every queued trial (and of its retries)
SURPLUS_ATTR = "surplus"
CONFIG_HASH_ATTR = "config_hash"  # a --study study's user attr: the config it was made for
JOIN_WAIT_S = 30.0  # how long a joining worker waits for the creator to record the config


def default_storage_url(optuna_dir: Path, feature_set_name: str) -> str:
    """The workspace journal file for a feature set's studies."""
    return f"{JOURNAL_SCHEME}{optuna_dir / f'{feature_set_name}.journal'}"


def journal_lock(path: Path) -> OwnedLock:
    """The writer lock of the journal file at `path`.

    JournalFileBackend only calls `acquire()` and `release()` on its lock object (the base
    class it names is private to Optuna), which OwnedLock provides.
    """
    return OwnedLock(path.with_name(path.name + JOURNAL_LOCK_SUFFIX))


# The package holding the driver a database URL needs when none is named (SQLAlchemy >= 2.1
# reads `postgresql://` as psycopg 3).
DRIVER_PACKAGES = {"postgresql": "usagecast[postgres] (psycopg)", "mysql": "PyMySQL"}


def check_database_driver(url: str) -> None:
    """Refuse a database URL whose SQLAlchemy dialect or driver is not installed, naming the
    package to install (Optuna would fail later with a bare ImportError traceback).

    Creating the engine imports the driver without connecting; the password never appears.
    """
    try:
        parsed = sqlalchemy.make_url(url)
        sqlalchemy.create_engine(parsed).dispose()
    except (ImportError, NoSuchModuleError) as error:  # NoSuchModuleError is an ArgumentError
        shown = parsed.render_as_string(hide_password=True)
        package = DRIVER_PACKAGES.get(parsed.get_backend_name(), "the database's driver")
        raise UsagecastError(
            f"--storage {shown}: the database driver is not installed ({error}); install "
            f"{package} in this environment, or use the default journal storage"
        ) from None
    except ArgumentError as error:
        raise UsagecastError(f"--storage: not a database URL ({error})") from None


def check_storage_url(url: str) -> None:
    """Refuse a storage that is neither a journal file nor a database URL with its driver
    installed; cheap, so `tune` checks it before it loads any data."""
    if url.startswith(JOURNAL_SCHEME):
        return
    if "://" not in url:
        raise UsagecastError(
            f"storage {url!r} is not a URL: use journal:///path/to/file.journal or an Optuna "
            "RDB URL such as postgresql://user@host/db"
        )
    check_database_driver(url)


def open_storage(url: str) -> BaseStorage:
    """A JournalStorage for `journal://PATH` (folder created), else an RDBStorage with
    heartbeats and retries of killed trials, once its driver is known to be installed."""
    check_storage_url(url)
    if url.startswith(JOURNAL_SCHEME):
        path = Path(url.removeprefix(JOURNAL_SCHEME))
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path), lock_obj=journal_lock(path)))
    sqlite = sqlalchemy.engine.make_url(url).get_backend_name() == "sqlite"
    with warnings.catch_warnings():  # heartbeats are marked experimental
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        storage = RDBStorage(
            url,
            engine_kwargs={"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S}} if sqlite else None,
            heartbeat_interval=HEARTBEAT_INTERVAL_S,
            grace_period=HEARTBEAT_GRACE_S,
            heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY),
        )
    if sqlite:
        serialise_sqlite_transactions(storage.engine)
    return storage


def serialise_sqlite_transactions(engine: sqlalchemy.engine.Engine) -> None:
    """Start every transaction on `engine` with BEGIN IMMEDIATE (SQLAlchemy's pysqlite recipe).

    pysqlite opens a transaction only at the first write, so Optuna's read-check-write of a
    trial's state (taking a queued trial: WAITING -> RUNNING) can interleave between processes,
    and two workers on one SQLite storage then run the same trial. A write lock from the start of
    each transaction makes that step atomic; PostgreSQL's row locks already do.
    """

    @sqlalchemy.event.listens_for(engine, "connect")
    def _no_implicit_begin(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None

    @sqlalchemy.event.listens_for(engine, "begin")
    def _begin_immediate(connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    engine.dispose()  # connections opened before the hooks reconnect with them


def has_heartbeats(storage: BaseStorage) -> bool:
    """Whether dead workers' trials are failed (and retried) while others run."""
    return isinstance(storage, RDBStorage)


def choose_study_name(existing: list[str], base: str, *, resume: bool) -> str:
    """The newest `base[-n]` when resuming (it must exist), else the first unused one."""
    pattern = re.compile(rf"^{re.escape(base)}(?:-(\d+))?$")
    numbers = sorted(
        int(match.group(1) or 1) for name in existing if (match := pattern.match(name))
    )
    if resume:
        if not numbers:
            raise UsagecastError(
                f"--resume: no study {base!r} in the storage yet; run without --resume first"
            )
        return base if numbers[-1] == 1 else f"{base}-{numbers[-1]}"
    if not numbers:
        return base
    return f"{base}-{numbers[-1] + 1}"


def make_sampler(seed: int, worker_index: int) -> optuna.samplers.TPESampler:
    """Seeded TPE; each worker gets its own seed so workers do not propose identical trials."""
    return optuna.samplers.TPESampler(seed=seed + worker_index)


def make_pruner() -> optuna.pruners.MedianPruner:
    """Median pruning on per-iteration validation scores after a short warm-up."""
    return optuna.pruners.MedianPruner(
        n_startup_trials=PRUNER_STARTUP_TRIALS, n_warmup_steps=PRUNER_WARMUP_STEPS
    )


def load_study(
    storage: BaseStorage | str, name: str, metric: MetricName, seed: int, worker_index: int
) -> optuna.Study:
    """Create the study if needed (call serially before workers start) and open it."""
    return optuna.create_study(
        storage=storage,
        study_name=name,
        direction=study_direction(metric),
        sampler=make_sampler(seed, worker_index),
        pruner=make_pruner(),
        load_if_exists=True,
    )


def create_or_join(
    storage: BaseStorage, name: str, metric: MetricName, seed: int, config_hash: str, trials: int
) -> optuna.Study:
    """The study `name` (`--study`): created with `trials` queued trials by the first worker,
    joined by the others, which must tune the same config."""
    try:
        study = optuna.create_study(
            storage=storage,
            study_name=name,
            direction=study_direction(metric),
            sampler=make_sampler(seed, 0),
            pruner=make_pruner(),
        )
    except optuna.exceptions.DuplicatedStudyError:
        return _joined(storage, name, metric, seed, config_hash)
    study.set_user_attr(CONFIG_HASH_ATTR, config_hash)
    for _ in range(trials):
        study.enqueue_trial({}, user_attrs={QUEUE_SLOT_ATTR: True})
    return study


def _joined(
    storage: BaseStorage, name: str, metric: MetricName, seed: int, config_hash: str
) -> optuna.Study:
    deadline = time.monotonic() + JOIN_WAIT_S
    while True:
        study = load_study(storage, name, metric, seed, worker_index=0)
        found = study.user_attrs.get(CONFIG_HASH_ATTR)
        if found == config_hash:
            return study
        if found is not None or time.monotonic() > deadline:
            raise UsagecastError(
                f"--study {name}: the study exists for another config (config hash {found}, "
                f"this one {config_hash}) or was not made by --study; give every worker the "
                "same feature set build and options, or another --study name"
            )
        time.sleep(0.5)  # its creator has not recorded the config yet


class SurplusTrial(Exception):
    """A trial opened without a queued one: the budget was already taken."""


def queued_only(objective: Callable[[optuna.Trial], float]) -> Callable[[optuna.Trial], float]:
    """The objective, run only for queued trials (see the module docstring)."""

    def run(trial: optuna.Trial) -> float:
        if not trial.user_attrs.get(QUEUE_SLOT_ATTR):
            trial.set_user_attr(SURPLUS_ATTR, True)
            raise SurplusTrial(f"trial {trial.number}: no queued trial left, not run")
        return objective(trial)

    return run


def drain_queue(
    study: optuna.Study, run_one: Callable[[], None], *, waits: bool, deadline: float | None
) -> None:
    """Run queued trials until none is left; with heartbeats (`waits`), also wait while other
    workers' trials run, since a dead one's trial comes back to the queue."""
    while deadline is None or time.monotonic() < deadline:
        optuna.storages.fail_stale_trials(study)
        if study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
            run_one()
        elif waits and study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            time.sleep(1.0)
        else:
            return


def orphan_lock(storage_url: str) -> OwnedLock:
    """This host's lock around failing and re-queueing the orphaned trials of one storage.

    Orphans are judged per host (their worker's pid), so a host-wide lock is enough. Without
    it two workers starting together can both list the same orphan as RUNNING before either
    fails it (SQLite has no row locks), and both queue it again: one trial too many.
    """
    digest = hashlib.sha256(storage_url.encode()).hexdigest()[:16]
    return OwnedLock(Path(tempfile.gettempdir()) / f"usagecast-orphans-{digest}.lock")


def requeue_orphans(study: optuna.Study, storage_url: str) -> list[int]:
    """Fail this host's orphaned trials and queue each again once, under `orphan_lock`."""
    with orphan_lock(storage_url).hold():
        orphaned = fail_orphaned_trials(study)
        retry_orphans(study, orphaned)
    return orphaned


def retry_orphans(study: optuna.Study, numbers: list[int]) -> None:
    """Queue the trials `fail_orphaned_trials` failed again, with their parameters."""
    retry = RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRY)
    trials = study.get_trials(deepcopy=False)
    for number in numbers:
        retry(study, trials[number])


def fail_orphaned_trials(study: optuna.Study) -> list[int]:
    """Mark RUNNING trials whose worker process on this host is gone as FAIL (a killed run
    left them); trials of other hosts are left to heartbeats.

    Journal storage has no heartbeats, so without this a killed trial stays RUNNING forever.
    """
    orphaned = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        pid = int(trial.user_attrs.get(WORKER_PID_ATTR, 0))
        if trial.user_attrs.get(WORKER_HOST_ATTR, socket.gethostname()) != socket.gethostname():
            continue
        if pid and pid != os.getpid() and psutil.pid_exists(pid):
            continue
        # Optuna has no public "fail this trial" call outside RDB heartbeats; the storage
        # method is the one Optuna's own stale-trial cleanup uses.
        study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        orphaned.append(trial.number)
    return orphaned


def finished_trials(study: optuna.Study) -> int:
    """Completed + pruned trials: what counts against the requested budget."""
    return len(study.get_trials(deepcopy=False, states=FINISHED_STATES))


def split_budget(remaining: int, workers: int) -> list[int]:
    """Trials per worker summing exactly to `remaining` (no worker gets zero)."""
    if remaining <= 0:
        return []
    workers = min(workers, remaining)
    share, extra = divmod(remaining, workers)
    return [share + (1 if index < extra else 0) for index in range(workers)]
