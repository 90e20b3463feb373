"""Interrupts are held back during store writes and handled right after them."""

from __future__ import annotations

import os
import signal

from experiments.tracking import _interrupts_deferred


def test_sigterm_inside_a_deferred_block_is_handled_after_it():
    seen: list[str] = []

    def handler(signum: int, frame: object) -> None:
        seen.append("handled")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        with _interrupts_deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(1000):  # bytecodes at which an unblocked handler would have run
                pass
            seen.append("block finished")
        for _ in range(1000):
            pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert seen == ["block finished", "handled"]
    assert signal.SIGTERM not in signal.pthread_sigmask(signal.SIG_BLOCK, set())
