"""A stage bar for feature builds: which step a long build is in, and for how long.

A Spark build can spend a minute in one query; the bar names the stage and, on a terminal,
its elapsed time keeps ticking, so a silent wait never looks like a hang.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from tqdm import tqdm

TICK_SECONDS = 1.0


class Stages(Protocol):
    """Called as each stage starts; `within=True` names a step inside the current stage (a
    Spark query's CTE) without counting a stage."""

    def __call__(self, stage: str, *, within: bool = False) -> None: ...


@contextmanager
def stage_progress(label: str, total: int, enabled: bool) -> Iterator[Stages]:
    """A bar of `total` stages on stderr; call the yielded function as each stage starts."""
    with tqdm(total=total, desc=label, unit="stage", disable=not enabled) as bar:
        done = threading.Event()
        ticker = threading.Thread(target=_tick, args=(bar, done), daemon=True)
        if enabled and sys.stderr.isatty():
            ticker.start()

        started: list[str] = []

        def begin(stage: str, *, within: bool = False) -> None:
            if within:
                bar.set_postfix_str(f"{started[-1]}: {stage}")
                return
            if started:
                bar.update()
            started.append(stage)
            bar.set_postfix_str(stage)

        try:
            yield begin
            bar.update(total - bar.n)
        except BaseException:
            bar.leave = False  # erase the bar: the error message is what the user should see
            raise
        finally:
            done.set()
            if ticker.is_alive():
                ticker.join()


def _tick(bar: tqdm, done: threading.Event) -> None:
    """Redraw the bar (its elapsed time) until the build ends."""
    while not done.wait(TICK_SECONDS):
        bar.refresh()
