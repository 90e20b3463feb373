"""Ctrl-C and SIGTERM during a tuning run: noted at once, acted on at safe points.

Raising from a signal handler puts the exception wherever the main thread happens to be.
Seen here (the traceback of an interrupted run), SIGTERM landed inside SQLAlchemy's connection
check-in while a trial run was being written; in about 1 run in 10 such an interrupted write
kept SQLite's lock, so the process could not then mark its own run KILLED ("database is
locked") and the run stayed RUNNING. So the handler only records the signal, and
`StopRequest.check()` raises `RunTerminated` at points where no write is in flight: every
LightGBM boosting iteration and between the steps of a run. A second signal stops at once.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from features.errors import Interrupted

HANDLED_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class RunTerminated(Interrupted):
    """SIGTERM or Ctrl-C arrived during a run; handled like Ctrl-C so cleanup code runs."""


@dataclass
class StopRequest:
    """The signal received inside `deferred_stop()`, if any; `check()` acts on it."""

    signum: int | None = None

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def check(self) -> None:
        """Raise RunTerminated if a stop was requested (call only where no write is open)."""
        if self.signum is not None:
            raise RunTerminated(self.signum)


def _notice(signum: int) -> bytes:
    name = signal.Signals(signum).name
    return f"\n{name}: stopping at the next safe point (send it again to stop at once)\n".encode()


@contextmanager
def deferred_stop() -> Iterator[StopRequest]:
    """Within the block, SIGTERM/SIGINT set a StopRequest; a second one raises at once.

    Outside the main thread signals cannot be handled: the request then never fires.
    """
    stop = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum: int, frame: object) -> None:
        if stop.requested:
            raise RunTerminated(signum, " twice")
        stop.signum = signum
        os.write(2, _notice(signum))  # not print(): the main thread may be inside a write

    previous = {signum: signal.signal(signum, handler) for signum in HANDLED_SIGNALS}
    try:
        yield stop
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def _drop_interrupt_traceback(record: logging.LogRecord) -> bool:
    """Keep the record, without the traceback of a stop (the CLI reports the stop in one line)."""
    if record.exc_info and isinstance(record.exc_info[1], KeyboardInterrupt):
        record.exc_info = None
        record.exc_text = None
    return True


@contextmanager
def quiet_stop_tracebacks(logger_name: str) -> Iterator[None]:
    """Within the block, `logger_name` logs a stopped task in one line, without its traceback.

    Optuna logs a trial that ends with an exception, a KeyboardInterrupt included, with its
    traceback before re-raising it; a stop is not a bug, so its traceback is noise.
    """
    logger = logging.getLogger(logger_name)
    logger.addFilter(_drop_interrupt_traceback)
    try:
        yield
    finally:
        logger.removeFilter(_drop_interrupt_traceback)
