"""What `usagecast tune` and `promote` print, run as a user runs them (a new process): their
own lines, where the plots are, the next command, and none of MLflow's chatter."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from features.quiet import QUIET_ENV

NOISE = ("Warning", "Downloading artifacts", " INFO ")


def _usagecast(*argv: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in QUIET_ENV}
    return subprocess.run(
        [sys.executable, "-m", "usagecast_cli.main", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_tune_and_promote_print_no_noise_and_say_where_the_plots_are(synthetic_ref):
    tuned = _usagecast("tune", synthetic_ref, "--trials", "4", "--seed", "1")
    assert tuned.returncode == 0, tuned.stderr
    # The last line is the command to run next, run here as printed.
    program, *next_argv = shlex.split(tuned.stdout.splitlines()[-1].removeprefix("next: "), True)
    assert program == "usagecast" and next_argv[0] == "promote"
    promoted = _usagecast(*next_argv)
    assert promoted.returncode == 0, promoted.stderr
    (run_id,) = [line for line in tuned.stdout.splitlines() if line.startswith("parent run: ")]
    assert f"(run {run_id.split()[2]})" in promoted.stdout
    for output in (tuned.stdout, tuned.stderr, promoted.stdout, promoted.stderr):
        noisy = [line for line in output.splitlines() if any(word in line for word in NOISE)]
        assert not noisy
    (plots_line,) = [line for line in tuned.stdout.splitlines() if line.startswith("plots: ")]
    plots = Path(plots_line.removeprefix("plots: "))
    assert plots.is_absolute() and {"roc.png", "calibration.png"} <= {
        path.name for path in plots.glob("*.png")
    }
    assert "serve it: PATH=" in promoted.stdout
