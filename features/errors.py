"""The interrupt the CLI maps to the shell's exit code for the signal (the base error users
see is contracts.errors.UsagecastError)."""

from __future__ import annotations

import signal

__all__ = ["Interrupted"]


class Interrupted(KeyboardInterrupt):
    """A stop signal (SIGINT, SIGTERM) turned into an exception so cleanup code runs.

    A KeyboardInterrupt, so code that already cleans up after Ctrl-C handles it; the CLI exits
    with 128 + signum (130 for SIGINT, 143 for SIGTERM), the shell's code for that signal.
    """

    def __init__(self, signum: int, detail: str = "") -> None:
        self.signum = signum
        self.detail = detail
        super().__init__(f"received {signal.Signals(signum).name}{detail}")

    def __reduce__(self) -> tuple:
        # Rebuilt from (signum, detail), not from the message: it may cross process boundaries.
        return (type(self), (self.signum, self.detail))
