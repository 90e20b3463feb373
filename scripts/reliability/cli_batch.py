"""Run several `usagecast` command lines in one fresh process, each captured on its own.

A check that drives the pipeline (simulate, ingest, build, tune, promote, monitor) as one
`usagecast` process per command pays the imports of MLflow, LightGBM, scikit-learn and SHAP
(seconds of CPU) once per command. `run_steps` starts one Python process, in the given working
directory and environment, that calls `usagecast_cli.main.main(argv)` (what the `usagecast`
console script runs) for each step in turn. File descriptors 1 and 2 point at a file of the
step's own while it runs, so its stdout and stderr hold what a process of its own would have
printed, native code and spawned workers included. The process stops after the first step
that exits with a code the step does not accept. Later steps share what earlier ones left in
the process (imported modules, caches), as the steps of `make demo` do.

The process runs this file by path (scripts/ is not installed), with `-P` so that its folder
is not put on sys.path.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

STEPS_FILE = "steps.json"
STDERR_TAIL = 2000


@dataclass(frozen=True)
class Step:
    """One command line (without `usagecast`) and the exit codes that let the next one run."""

    argv: tuple[str, ...]
    accepts: tuple[int, ...] = (0,)


def _output(folder: Path, index: int, stream: str) -> Path:
    return folder / f"{index}.{stream}"


def read_results(
    folder: Path, steps: Sequence[Step], process: subprocess.CompletedProcess
) -> tuple[subprocess.CompletedProcess, ...]:
    """Each step's exit code, stdout and stderr as the batch process left them in `folder`.

    Raises RuntimeError naming the first step that exited with a code it does not accept or
    during which the process died (then with the process's exit code and stderr too), or the
    process itself when it failed outside any step (it exits 0 when it stops at a refused
    step).
    """
    results = []
    for index, step in enumerate(steps):
        command = ["usagecast", *step.argv]
        if not _output(folder, index, "stdout").exists():
            raise RuntimeError(
                f"{' '.join(command)} did not run: the usagecast process exited "
                f"{process.returncode}:\n{process.stderr[-STDERR_TAIL:]}"
            )
        stdout, stderr = (
            _output(folder, index, s).read_text(encoding="utf-8", errors="replace")
            for s in ("stdout", "stderr")
        )
        code_file = _output(folder, index, "code")
        if not code_file.exists():
            raise RuntimeError(
                f"{' '.join(command)} failed (the usagecast process exited "
                f"{process.returncode} in it):\n{(stderr + process.stderr)[-STDERR_TAIL:]}"
            )
        code = int(code_file.read_text())
        if code not in step.accepts:
            raise RuntimeError(f"{' '.join(command)} failed:\n{stderr[-STDERR_TAIL:]}")
        results.append(subprocess.CompletedProcess(command, code, stdout, stderr))
    if process.returncode != 0:
        raise RuntimeError(
            f"the usagecast process exited {process.returncode} after its last step:\n"
            f"{process.stderr[-STDERR_TAIL:]}"
        )
    return tuple(results)


def run_steps(
    steps: Sequence[Step], cwd: Path, env: dict[str, str]
) -> tuple[subprocess.CompletedProcess, ...]:
    """Run `steps` in order in one new process; see `read_results` for what comes back."""
    with tempfile.TemporaryDirectory(prefix="usagecast-steps-") as tmp:
        folder = Path(tmp)
        spec = [{"argv": list(s.argv), "accepts": list(s.accepts)} for s in steps]
        (folder / STEPS_FILE).write_text(json.dumps(spec), encoding="utf-8")
        process = subprocess.run(
            [sys.executable, "-P", __file__, str(folder)],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
        )
        return read_results(folder, steps, process)


def _exit_code(error: SystemExit) -> int:
    """The status a process ending with `error` exits with (a message: printed, then 1)."""
    if error.code is None or isinstance(error.code, int):
        return error.code or 0
    print(error.code, file=sys.stderr)
    return 1


def _flush() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    ctypes.CDLL(None).fflush(None)  # C stdio buffers of native code


def _run_step(argv: list[str], stdout: Path, stderr: Path) -> int:
    """`usagecast ARGV` with descriptors 1 and 2 on the two files; its exit code."""
    from usagecast_cli.main import main as usagecast

    _flush()
    saved = os.dup(1), os.dup(2)
    with stdout.open("wb") as out, stderr.open("wb") as err:
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        try:
            return usagecast(argv)
        except SystemExit as error:  # argparse's usage errors and --help
            return _exit_code(error)
        except Exception:  # a bug: traceback and exit 1, as the console script would
            traceback.print_exc()
            return 1
        finally:
            _flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def _batch(folder: Path) -> None:
    spec = json.loads((folder / STEPS_FILE).read_text(encoding="utf-8"))
    for index, step in enumerate(spec):
        code = _run_step(
            step["argv"], _output(folder, index, "stdout"), _output(folder, index, "stderr")
        )
        _output(folder, index, "code").write_text(str(code), encoding="utf-8")
        if code not in step["accepts"]:
            return


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Run the usagecast command lines of FOLDER/steps.json in this process "
        "(what run_steps starts): FOLDER/N.stdout, N.stderr and N.code per step."
    )
    parser.add_argument("folder", type=Path, metavar="FOLDER")
    _batch(parser.parse_args(argv).folder)


if __name__ == "__main__":
    main()
