"""Whatif searches in worker processes, outside the server's interpreter.

The genetic search is Python code: on a thread of the server it holds the server's GIL, and
each single predict on the event loop waits for it (up to the switch interval at a time),
however low the thread's OS priority. A worker process has its own interpreter: it loads the
same pyfuncs from the local model folders the server loaded, lowers its own priority by
WHATIF_NICE_STEP nice levels, and answers one search at a time over a pipe. Workers are
forked from a forkserver that has imported the serving code once, so a restart (after a
search is killed at its deadline) costs the model load, not the imports.

The server keeps the prediction log: a worker's scorers record their log calls, which travel
back with the answer and are replayed into the server's logs. MLflow errors travel as their
message and error code (an `MlflowException` does not keep its code through pickle).
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import queue
import sys
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import ErrorCode
from mlflow.pyfunc import PyFuncModel

from contracts.errors import UsagecastError

# A worker's nice value is the server's plus this (the kernel caps it at 19).
WHATIF_NICE_STEP = 10
# Imported once by the forkserver, so each worker forked from it starts with them.
PRELOAD = ["front_door.whatif_worker", "serving.model"]
READY = "ready"


class SearchLate(UsagecastError):
    """The search did not answer by its deadline (its worker was killed and restarted)."""


class WorkerUnavailable(UsagecastError):
    """A worker could not load the models, or stopped during a search."""


@dataclass(frozen=True)
class WorkerModel:
    """One variant as a worker loads it: its name (for error messages), its local model
    folder, and whether the server logs its predictions."""

    variant: str
    path: str
    logged: bool


@dataclass(frozen=True)
class Search:
    """One whatif request: its rows, its params, and the variant index of each row."""

    frame: Any
    params: dict[str, Any] | None
    plan: np.ndarray


@dataclass(frozen=True)
class LogCall:
    """A call a worker's scorer made to its prediction log: `append(columns, rows)`, or
    `count_failed(rows, error)` when `error` is set."""

    variant: int
    rows: int
    columns: Mapping[str, Any] | None = None
    error: Exception | None = None


@dataclass(frozen=True)
class Refusal:
    """An MlflowException raised in a worker, as it is raised again in the server."""

    message: str
    error_code: str

    def exception(self) -> MlflowException:
        return MlflowException(self.message, error_code=ErrorCode.Value(self.error_code))


@dataclass(frozen=True)
class Outcome:
    """A worker's answer to a search: the predictions or the error, and the log calls."""

    predictions: Any
    log_calls: tuple[LogCall, ...]
    error: Exception | Refusal | None = None

    def result(self) -> Any:
        """The predictions; raises the search's error (as the model call would have)."""
        if isinstance(self.error, Refusal):
            raise self.error.exception()
        if self.error is not None:
            raise self.error
        return self.predictions


def score(
    models: Sequence[PyFuncModel], names: Sequence[str], frame: Any, params: Any, plan: np.ndarray
) -> Any:
    """The model call(s) of one request: each variant's rows scored by its model, the answers
    put back in the request's order (an error from one part names its variant)."""
    parts = dict.fromkeys(plan.tolist())
    if len(parts) <= 1:  # one variant (or no rows, which the champion refuses)
        index = plan[0] if len(plan) else 0
        return models[index].predict(frame, params=params)
    answers = []
    for index in parts:
        rows = np.flatnonzero(plan == index)
        try:
            answer = models[index].predict(frame.iloc[rows].reset_index(drop=True), params=params)
        except MlflowException as error:
            error.message = (
                f"in the rows routed to {names[index]} (row numbers count those rows "
                f"only): {error.message}"
            )
            raise
        answers.append(answer.set_axis(rows))
    return pd.concat(answers).sort_index().reset_index(drop=True)


def _portable(error: Exception) -> Exception:
    """`error` if it survives pickling, else a RuntimeError naming its type and message."""
    try:
        return pickle.loads(pickle.dumps(error))
    except Exception:
        return RuntimeError(f"{type(error).__name__}: {error}")


class _Recorder:
    """A worker scorer's prediction log: keeps its calls for the server to replay."""

    def __init__(self, variant: int, calls: list[LogCall]) -> None:
        self.variant = variant
        self.calls = calls

    def append(self, columns: Mapping[str, Any], rows: int) -> None:
        self.calls.append(LogCall(self.variant, rows, columns=dict(columns)))

    def count_failed(self, rows: int, error: Exception) -> None:
        self.calls.append(LogCall(self.variant, rows, error=_portable(error)))


def _work(connection: Connection, models: tuple[WorkerModel, ...], nice_step: int) -> None:
    """A worker's life: lower its priority, load the models, then answer searches until the
    server's end of the pipe closes."""
    if hasattr(os, "nice"):
        os.nice(nice_step)
    calls: list[LogCall] = []
    try:
        loaded = [mlflow.pyfunc.load_model(model.path) for model in models]
        for index, (model, pyfunc) in enumerate(zip(models, loaded, strict=True)):
            if model.logged:
                pyfunc.unwrap_python_model().scorer.prediction_log = _Recorder(index, calls)
    except Exception as error:
        connection.send(f"{type(error).__name__}: {error}")
        return
    connection.send(READY)
    names = [model.variant for model in models]
    while True:
        try:
            search: Search = connection.recv()
        except EOFError:
            return
        calls.clear()
        try:
            predictions = score(loaded, names, search.frame, search.params, search.plan)
            outcome = Outcome(predictions, tuple(calls))
        except MlflowException as error:
            outcome = Outcome(None, tuple(calls), Refusal(error.message, error.error_code))
        except Exception as error:
            traceback.print_exc(file=sys.stderr)
            outcome = Outcome(None, tuple(calls), _portable(error))
        connection.send(outcome)


def _remaining(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())


class SearchWorker:
    """One worker process and the server's end of its pipe; used by one thread at a time.
    Started on first use (or by `start`); `run` kills and restarts it when a search passes
    its deadline or the process dies."""

    def __init__(self, models: tuple[WorkerModel, ...]) -> None:
        self.models = models
        self.process: BaseProcess | None = None
        self._connection: Connection | None = None
        self._ready = False

    def start(self) -> None:
        """Start the process (it loads the models in the background)."""
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)
        ours, theirs = context.Pipe()
        process = context.Process(
            target=_work,
            args=(theirs, self.models, WHATIF_NICE_STEP),
            name="usagecast-whatif",
            daemon=True,
        )
        process.start()
        theirs.close()
        self.process, self._connection, self._ready = process, ours, False

    def wait_ready(self, deadline: float) -> None:
        """Return once the models are loaded; SearchLate if not by `deadline` (a worker still
        loading is left to finish), WorkerUnavailable if it could not load them."""
        if self._connection is None:
            self.start()
        if self._ready:
            return
        assert self._connection is not None
        if not self._connection.poll(_remaining(deadline)):
            raise SearchLate("the whatif worker is still loading the models")
        try:
            message = self._connection.recv()
        except EOFError:
            message = "it exited"
        if message != READY:
            self.stop()
            raise WorkerUnavailable(f"the whatif worker could not load the models: {message}")
        self._ready = True

    def run(self, search: Search, deadline: float) -> Outcome:
        """The worker's outcome for `search`; past `deadline` the worker is killed, a new one
        started, and SearchLate raised."""
        self.wait_ready(deadline)
        assert self._connection is not None
        try:
            self._connection.send(search)
            if not self._connection.poll(_remaining(deadline)):
                self.restart()
                raise SearchLate("the whatif search passed its deadline")
            return self._connection.recv()
        except (EOFError, OSError):
            self.restart()
            raise WorkerUnavailable("the whatif worker stopped during the search") from None

    def restart(self) -> None:
        """Kill the process and start a new one."""
        self.stop()
        self.start()

    def stop(self) -> None:
        """Kill the process (a search may be running: nothing in it needs to finish)."""
        if self.process is not None:
            self.process.kill()
            self.process.join()
            self.process.close()
        if self._connection is not None:
            self._connection.close()
        self.process, self._connection, self._ready = None, None, False


class SearchWorkers:
    """`count` workers for the same models. The door lets at most `count` searches run at
    once, so a caller always finds a worker idle."""

    def __init__(self, models: tuple[WorkerModel, ...], count: int) -> None:
        self.workers = [SearchWorker(models) for _ in range(count)]
        self._idle: queue.SimpleQueue[SearchWorker] = queue.SimpleQueue()
        for worker in self.workers:
            self._idle.put(worker)

    def start(self, timeout_s: float) -> None:
        """Start every worker and wait until each has loaded the models (a failure to load is
        found at start, not by the first search)."""
        for worker in self.workers:
            worker.start()
        deadline = time.monotonic() + timeout_s
        try:
            for worker in self.workers:
                worker.wait_ready(deadline)
        except SearchLate:
            raise WorkerUnavailable(
                f"the whatif worker did not load the models within {timeout_s:g} s"
            ) from None

    def run(self, search: Search, deadline: float) -> Outcome:
        """Run `search` on an idle worker (see SearchWorker.run)."""
        worker = self._idle.get_nowait()
        try:
            return worker.run(search, deadline)
        finally:
            self._idle.put(worker)

    def close(self) -> None:
        """Stop every worker."""
        for worker in self.workers:
            worker.stop()
