"""Optuna study storage, naming, resume and the trial budget shared by several workers.

Storage: an Optuna journal file per feature set in the workspace by default (safe for several
processes on one machine), or any Optuna storage URL (`postgresql://...` at scale). Writers
of a journal take `<journal>.writer.lock`, a features.locks.OwnedLock: a worker killed while
writing leaves no lock to wait for (Optuna's own lock file stays behind after a SIGKILL and
is only forced after a 30 s grace period).
Naming: `<ref>-<key>` where the key hashes what defines the search (fingerprint, metric,
seed, split); a fresh run of an existing study gets `-2`, `-3`, ...; `--resume` continues the
newest one. Pruner: MedianPruner, whose decisions depend only on the reported scores, so a
seed reproduces the same study whatever its name (Hyperband keys its brackets on the name).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import optuna
import psutil
import sqlalchemy
from optuna.storages import BaseStorage, JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from experiments.metrics import MetricName
from experiments.objective import WORKER_PID_ATTR, study_direction
from features.errors import UsagecastError
from features.locks import OwnedLock

JOURNAL_SCHEME = "journal://"
JOURNAL_LOCK_SUFFIX = ".writer.lock"
FINISHED_STATES: tuple[TrialState, ...] = (TrialState.COMPLETE, TrialState.PRUNED)
PRUNER_STARTUP_TRIALS = 5
PRUNER_WARMUP_STEPS = 20


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


def open_storage(url: str) -> BaseStorage | str:
    """A JournalStorage for `journal://PATH` (folder created), else the database URL for
    Optuna once its driver is known to be installed."""
    check_storage_url(url)
    if url.startswith(JOURNAL_SCHEME):
        path = Path(url.removeprefix(JOURNAL_SCHEME))
        path.parent.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(path), lock_obj=journal_lock(path)))
    return url


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


def fail_orphaned_trials(study: optuna.Study) -> list[int]:
    """Mark RUNNING trials whose worker process is gone as FAIL (a killed run left them).

    Journal storage has no heartbeats, so without this a killed trial stays RUNNING forever.
    """
    orphaned = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        pid = int(trial.user_attrs.get(WORKER_PID_ATTR, 0))
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
