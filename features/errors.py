"""The error type users see as a clean one-line message, and the interrupt the CLI maps."""

from __future__ import annotations

import signal


class UsagecastError(Exception):
    """A problem with the user's input or setup; the message names the file/column/row/key."""


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
