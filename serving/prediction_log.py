"""The prediction log: every row the served model answers, kept as Parquet files in a folder.

Switched on by `USAGECAST_PREDICTION_LOG=DIR` in the environment of the process that loads
the pyfunc (`mlflow models serve`, or any process loading the model). Monitoring reads it back
with `read_prediction_log(DIR)` to compare served feature values with the feature set's.

Decisions:
- The log is never on the request path and never fails a request: `append` puts one
  request's columns in a bounded inbox (QUEUE_REQUESTS) and returns, waking nobody; one
  daemon thread collects the inbox every POLL_SECONDS and turns it into files. (Waking the
  writer per request would hand it the GIL in the middle of the next request.) A full inbox,
  a log already closed, or a failed write drops those rows, counts them (`dropped_rows`,
  `failed_rows`) and logs one warning line the first time.
- Files are written whole under a hidden temporary name, then renamed, so a reader never
  sees half a file: `part-<UTC stamp>-<pid>.<log>-<seq>.parquet`, at most ROTATE_ROWS rows each,
  holding rows that waited at most ROTATE_SECONDS. Several server processes can share DIR.
- The registered model name and version are not known inside the model (the registry
  numbers a version after the model is logged, and the served URI is not given to the
  pyfunc). Each row names the model by its MLflow run id (`model_run_id`, which a registered
  version records as its source run) and by model.txt's sha256 (`model_sha256`). A server
  that loaded the model from the registry (`usagecast serve`) also fills `model_name`,
  `model_version` and `variant` (champion, or the challenger's alias); they are null in rows
  logged by the pyfunc alone (`mlflow models serve`) and absent from files written before
  they existed.
- Written and closed at process exit (atexit) and on SIGTERM, before the handler that was
  in place runs: uvicorn, which `mlflow models serve` runs, ends by re-raising SIGTERM with
  the default handler, so atexit alone would never run. Rows of requests answered after the
  signal (still in flight while the server drains) are dropped and counted; rows still
  queued when the process is killed outright (SIGKILL) are lost.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import itertools
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from contracts.errors import UsagecastError

PREDICTION_LOG_ENV = "USAGECAST_PREDICTION_LOG"
ROTATE_ROWS = 10_000
ROTATE_SECONDS = 60.0
QUEUE_REQUESTS = 10_000
POLL_SECONDS = 0.25
CLOSE_SECONDS = 30.0
# The columns every row has, in file order; the model's feature columns follow them.
LOG_COLUMNS = (
    "request_id",
    "logged_at",
    "feature_set",
    "model_run_id",
    "model_sha256",
    "model_name",
    "model_version",
    "variant",
    "mode",
    "user_id",
    "cutoff",
    "probability",
    "raw_score",
)

_logger = logging.getLogger(__name__)
# Numbers the logs of one process, so two logs sharing a folder never pick the same file name.
_INSTANCES = itertools.count(1)


class PredictionLogError(UsagecastError):
    """A prediction log that cannot be read; the message names the folder."""


@dataclass(frozen=True)
class LoggedModel:
    """What the served model knows of itself, written on every row; the registry's name,
    version and the serving variant when the server knows them."""

    feature_set: str
    model_run_id: str | None
    model_sha256: str
    model_name: str | None = None
    model_version: str | None = None
    variant: str | None = None


class PredictionLog:
    """Appends answered rows to Parquet files in `directory` from one background thread."""

    def __init__(
        self,
        directory: Path,
        model: LoggedModel,
        rotate_rows: int = ROTATE_ROWS,
        rotate_seconds: float = ROTATE_SECONDS,
        queue_requests: int = QUEUE_REQUESTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.directory = Path(directory)
        self.model = model
        self.rotate_rows = rotate_rows
        self.rotate_seconds = rotate_seconds
        self._clock = clock
        self._queue_requests = queue_requests
        self._inbox: list[tuple[Mapping[str, Any], int]] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._closed = False
        self._warned = False
        self._sequence = 0
        self._instance = next(_INSTANCES)
        self.dropped_rows = 0
        self.failed_rows = 0
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def append(self, columns: Mapping[str, Any], rows: int) -> None:
        """Queue one request's `rows` rows (columns named as in LOG_COLUMNS, then features,
        `request_id`/`logged_at` included); never blocks, never raises."""
        with self._lock:  # a row taken in here is always collected before close() returns
            if self._closed:
                why = "the log is closed"
            elif len(self._inbox) >= self._queue_requests:
                why = "the queue is full"
            else:
                self._inbox.append((columns, rows))
                return
        self._lose("dropped_rows", rows, why)

    def close(self) -> None:
        """Write what is queued and stop the thread (idempotent; also run at exit)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        atexit.unregister(self.close)
        self._stop.set()
        self._thread.join(CLOSE_SECONDS)

    def _run(self) -> None:
        # Requests wait here as their columns; tables are formed only when a file is written,
        # so the work this thread does per request (and the GIL it takes from the server's
        # thread) stays a length check, done for a whole inbox at once.
        pending: list[tuple[Mapping[str, Any], int]] = []
        buffered, first_at = 0, None
        while True:
            stopping = self._stop.wait(min(POLL_SECONDS, self.rotate_seconds))
            with self._lock:
                inbox, self._inbox = self._inbox, []
            for columns, rows in inbox:
                try:
                    _check_lengths(columns, rows)
                except Exception as error:  # a log failure must never reach the request
                    self.count_failed(rows, error)
                    continue
                pending.append((columns, rows))
                buffered += rows
                first_at = self._clock() if first_at is None else first_at
                if buffered >= self.rotate_rows:
                    self._write(pending)
                    pending, buffered, first_at = [], 0, None
            due = first_at is not None and self._clock() - first_at >= self.rotate_seconds
            if stopping or due:
                self._write(pending)
                pending, buffered, first_at = [], 0, None
            if stopping:
                return

    def _frame(self, columns: Mapping[str, Any]) -> pd.DataFrame:
        frame = pd.DataFrame(dict(columns))
        frame.insert(2, "feature_set", self.model.feature_set)
        frame.insert(3, "model_run_id", self.model.model_run_id)
        frame.insert(4, "model_sha256", self.model.model_sha256)
        frame.insert(5, "model_name", self.model.model_name)
        frame.insert(6, "model_version", self.model.model_version)
        frame.insert(7, "variant", self.model.variant)
        # One column type whether or not a value is known (an all-None column has none).
        text = ("user_id", "model_run_id", "model_name", "model_version", "variant")
        return frame.astype(dict.fromkeys(text, "str"))

    def _table(self, pending: list[tuple[Mapping[str, Any], int]]) -> pd.DataFrame | None:
        """The pending requests as one table; when they do not merge (different columns),
        request by request, counting the rows of any that cannot form a table."""
        try:
            return self._frame(_merged(pending))
        except Exception:
            frames = []
            for columns, rows in pending:
                try:
                    frames.append(self._frame(columns))
                except Exception as error:  # a log failure must never reach the request
                    self.count_failed(rows, error)
            return pd.concat(frames, ignore_index=True) if frames else None

    def _write(self, pending: list[tuple[Mapping[str, Any], int]]) -> None:
        if not pending:
            return
        frame = self._table(pending)
        if frame is None:
            return
        for start in range(0, len(frame), self.rotate_rows):
            self._write_file(frame.iloc[start : start + self.rotate_rows])

    def _write_file(self, frame: pd.DataFrame) -> None:
        self._sequence += 1
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        name = f"part-{stamp}-{os.getpid()}.{self._instance}-{self._sequence:06d}.parquet"
        partial = self.directory / f".{name}.partial"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            frame.to_parquet(partial, index=False)
            partial.replace(self.directory / name)
        except Exception as error:  # a log failure must never reach the request
            self.count_failed(len(frame), error)
            with contextlib.suppress(OSError):
                partial.unlink(missing_ok=True)

    def count_failed(self, rows: int, error: Exception) -> None:
        """Count `rows` that could not be handed to the log (their columns failed to form)."""
        self._lose("failed_rows", rows, f"{type(error).__name__}: {error}")

    def _lose(self, counter: str, rows: int, why: str) -> None:
        with self._lock:
            setattr(self, counter, getattr(self, counter) + rows)
            warn, self._warned = not self._warned, True
        if warn:
            _logger.warning(
                "prediction log %s: rows not written (%s); requests are still answered, "
                "lost rows are counted",
                self.directory,
                " ".join(why.split()),
            )


def close_on_sigterm(log: PredictionLog) -> None:
    """Close `log` when SIGTERM arrives, then do what the handler in place would have done.
    Only the main thread may set handlers; elsewhere atexit is what closes the log."""
    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGTERM)

    def handle(signum: int, frame: Any) -> None:
        log.close()
        if callable(previous):
            previous(signum, frame)
        elif previous != signal.SIG_IGN:
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)

    signal.signal(signal.SIGTERM, handle)


def prediction_log_from_environment(model: LoggedModel) -> PredictionLog | None:
    """The log `USAGECAST_PREDICTION_LOG` asks for (closed at exit and on SIGTERM), or None
    when it is unset or empty."""
    directory = os.environ.get(PREDICTION_LOG_ENV, "").strip()
    if not directory:
        return None
    log = PredictionLog(Path(directory), model)
    close_on_sigterm(log)
    return log


def _check_lengths(columns: Mapping[str, Any], rows: int) -> None:
    """Refuse a request whose column arrays do not all hold `rows` values."""
    for name, value in columns.items():
        if np.ndim(value) and len(value) != rows:
            raise ValueError(f"column {name!r} holds {len(value)} values, not {rows}")


def _merged(pending: list[tuple[Mapping[str, Any], int]]) -> dict[str, Any]:
    """Many requests' columns as one set: arrays concatenated, each request's scalars (its
    id, time and mode) repeated over its rows."""
    names = list(pending[0][0])
    if any(list(columns) != names for columns, _ in pending):
        raise ValueError("the pending requests logged different columns")
    merged: dict[str, Any] = {}
    for name in names:
        parts = [(columns[name], rows) for columns, rows in pending]
        if all(np.ndim(value) == 0 for value, _ in parts):
            merged[name] = pd.Series([value for value, rows in parts for _ in range(rows)])
        else:
            merged[name] = np.concatenate(
                [np.asarray(v) if np.ndim(v) else np.full(n, v, dtype=object) for v, n in parts]
            )
    return merged


def request_columns(
    request_id: str,
    logged_at: dt.datetime,
    mode: str,
    user_id: np.ndarray,
    cutoff: np.ndarray,
    probability: np.ndarray,
    raw_score: np.ndarray,
    features: Mapping[str, np.ndarray],
) -> dict[str, Any]:
    """One request's log columns (the model's own columns are added by the writer)."""
    return {
        "request_id": request_id,
        "logged_at": pd.Timestamp(logged_at).as_unit("us"),
        "mode": mode,
        "user_id": user_id,
        "cutoff": cutoff,
        "probability": probability,
        "raw_score": raw_score,
        **features,
    }


def read_prediction_log(directory: Path) -> pd.DataFrame:
    """Every logged row in `directory`, oldest file first (columns LOG_COLUMNS, then the
    features of the models that wrote them)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise PredictionLogError(
            f"no prediction log at {directory}: serve the model with "
            f"{PREDICTION_LOG_ENV}={directory} to write one"
        )
    files = sorted(directory.glob("part-*.parquet"))
    if not files:
        return pd.DataFrame({column: [] for column in LOG_COLUMNS})
    return pd.concat([pd.read_parquet(path) for path in files], ignore_index=True)
