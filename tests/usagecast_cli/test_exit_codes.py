"""One exit-code table for every command (usagecast_cli.main): how a command ends -> its code."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from contracts.errors import UsagecastError
from features.errors import Interrupted
from usagecast_cli import features_commands
from usagecast_cli.main import COMMAND_GC_THRESHOLDS, main

ROOT = Path(__file__).resolve().parents[2]


def _raising(error: BaseException):
    def handler(args):
        raise error

    return handler


@pytest.mark.parametrize(
    ("error", "code", "message"),
    [
        (UsagecastError("spec x: bad"), 2, "error: spec x: bad\n"),
        (KeyboardInterrupt(), 130, "stopped: received SIGINT\n"),
        (Interrupted(signal.SIGINT), 130, "stopped: received SIGINT\n"),
        (Interrupted(signal.SIGTERM), 143, "stopped: received SIGTERM\n"),
    ],
)
def test_how_a_command_ends_sets_its_exit_code(monkeypatch, capsys, error, code, message):
    monkeypatch.setattr(features_commands, "_list", _raising(error))
    assert main(["features", "list"]) == code
    assert capsys.readouterr().err == message


def test_refused_is_1_and_other_errors_keep_their_traceback(monkeypatch):
    monkeypatch.setattr(features_commands, "_list", lambda args: 1)
    assert main(["features", "list"]) == 1
    monkeypatch.setattr(features_commands, "_list", _raising(ValueError("a bug")))
    with pytest.raises(ValueError, match="a bug"):
        main(["features", "list"])


def test_a_command_runs_with_the_commands_collector_thresholds(monkeypatch):
    seen = []
    monkeypatch.setattr(features_commands, "_list", lambda args: seen.append(gc.get_threshold()))
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    try:
        assert main(["features", "list"]) == 0
    finally:
        gc.set_threshold(*before)
    assert seen == [COMMAND_GC_THRESHOLDS]


def test_sigterm_during_any_command_exits_143_after_cleanup(monkeypatch, capsys):
    cleaned = []

    def handler(args):
        try:
            signal.raise_signal(signal.SIGTERM)
        finally:
            cleaned.append(True)

    before = signal.getsignal(signal.SIGTERM)
    monkeypatch.setattr(features_commands, "_list", handler)
    assert main(["features", "list"]) == 143
    assert cleaned == [True]
    assert capsys.readouterr().err == "stopped: received SIGTERM\n"
    assert signal.getsignal(signal.SIGTERM) is before  # main() leaves the process as it was


def test_a_closed_stdout_ends_quietly_with_141():
    process = subprocess.Popen(
        [sys.executable, "-m", "usagecast_cli.main", "features", "sql", "premium_30d@v1"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    process.stdout.close()  # like `usagecast ... | head -0`: the reader is gone before output
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 141, stderr
    assert stderr == ""
