"""scripts/reliability/cli_batch.py: several `usagecast` command lines run in one process,
each step's exit code, stdout and stderr read back on their own, the first refused step
named with its stderr."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from scripts.reliability.cli_batch import Step, read_results, run_steps

STEPS = (Step(("simulate", "--users", "10")), Step(("monitor", "m"), accepts=(0, 1)))


def _process(code: int = 0, stderr: str = "") -> subprocess.CompletedProcess:
    return subprocess.CompletedProcess([sys.executable], code, "", stderr)


def _left(folder: Path, index: int, stdout: str, stderr: str, code: int | None) -> None:
    """What the batch process leaves for step `index` (no code file: it died in the step)."""
    (folder / f"{index}.stdout").write_text(stdout)
    (folder / f"{index}.stderr").write_text(stderr)
    if code is not None:
        (folder / f"{index}.code").write_text(str(code))


def test_each_step_comes_back_with_its_own_code_and_output(tmp_path):
    _left(tmp_path, 0, "simulated\n", "", 0)
    _left(tmp_path, 1, "monitor m v1: ALERT\n", "a warning\n", 1)
    results = read_results(tmp_path, STEPS, _process())
    assert [(r.args, r.returncode, r.stdout, r.stderr) for r in results] == [
        (["usagecast", "simulate", "--users", "10"], 0, "simulated\n", ""),
        (["usagecast", "monitor", "m"], 1, "monitor m v1: ALERT\n", "a warning\n"),
    ]


def test_a_refused_code_names_the_step_and_the_end_of_its_stderr(tmp_path):
    _left(tmp_path, 0, "", "x" * 3000 + "error: no events\n", 2)
    with pytest.raises(RuntimeError) as raised:
        read_results(tmp_path, STEPS, _process())
    message = str(raised.value)
    assert message.startswith("usagecast simulate --users 10 failed:\n")
    assert message.endswith("error: no events\n")
    assert len(message) < 2100


def test_a_process_that_died_in_a_step_fails_that_step_even_with_an_accepted_code(tmp_path):
    _left(tmp_path, 0, "", "", 0)
    _left(tmp_path, 1, "", "half a line\n", None)
    for code, stderr in ((-11, ""), (1, "Traceback")):
        with pytest.raises(RuntimeError) as raised:
            read_results(tmp_path, STEPS, _process(code, stderr))
        assert str(raised.value) == (
            f"usagecast monitor m failed (the usagecast process exited {code} in it):\n"
            f"half a line\n{stderr}"
        )


def test_a_process_failing_outside_its_steps_is_an_error_with_its_stderr(tmp_path):
    with pytest.raises(RuntimeError, match=r"simulate --users 10 did not run: .* exited 1:\nBoom"):
        read_results(tmp_path, STEPS, _process(1, "Boom"))
    _left(tmp_path, 0, "", "", 0)
    _left(tmp_path, 1, "", "", 0)
    with pytest.raises(RuntimeError, match="exited -6 after its last step:\nAborted"):
        read_results(tmp_path, STEPS, _process(-6, "Aborted"))


@pytest.mark.slow
def test_steps_run_in_order_in_one_process_and_stop_at_the_first_refused(tmp_path):
    env = {"PATH": str(Path(sys.executable).parent), "HOME": str(tmp_path)}
    done = run_steps([Step(("--help",)), Step(("tune",), accepts=(2,))], tmp_path, env)
    assert done[0].returncode == 0 and done[0].stdout.startswith("usage: usagecast")
    assert done[1].returncode == 2 and done[1].stdout == ""
    assert "usagecast tune: error: the following arguments are required" in done[1].stderr
    refused = Step(("simulate", "--out", "first", "--bogus"))
    later = Step(("simulate", "--users", "5", "--months", "1", "--out", "later"))
    with pytest.raises(RuntimeError, match=r"first --bogus failed:\n(.|\n)*: --bogus"):
        run_steps([refused, later], tmp_path, env)
    assert not (tmp_path / "later").exists()
