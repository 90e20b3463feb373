"""Start each program given as arguments with `--help`, one after another in this interpreter,
the way its docs start it, and print one JSON object: per program, its exit code, what it
printed and any traceback.

`python -P tests/scripts/start_each_with_help.py PROGRAM...` from the repository root, where a
PROGRAM is a file (`benchmarks/x.py`, run as `python benchmarks/x.py` runs it: the file's folder
first on sys.path) or `-m:NAME` (run as `python -m NAME` runs it: the working folder first).
Before each program the project's own modules are forgotten, so its imports of the project
resolve again from that program's sys.path; third-party libraries stay loaded, so their import
cost is paid once instead of once per program.
"""

from __future__ import annotations

import io
import json
import runpy
import sys
import traceback
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

REPO = Path.cwd().resolve()
VENV = Path(sys.prefix).resolve()


def _is_project_module(module: object) -> bool:
    """Whether a loaded module (or namespace package) lies in the checkout, not its venv."""
    places = [getattr(module, "__file__", None), *getattr(module, "__path__", [])]
    return any(
        Path(place).resolve().is_relative_to(REPO)
        and not Path(place).resolve().is_relative_to(VENV)
        for place in places
        if place
    )


def _forget_project_modules() -> None:
    for name, module in list(sys.modules.items()):
        if _is_project_module(module):
            del sys.modules[name]


def _start(program: str) -> dict[str, object]:
    """Run `program --help` as its docs start it; its exit code, output and any traceback."""
    _forget_project_modules()
    module = program.removeprefix("-m:") if program.startswith("-m:") else None
    path_before = list(sys.path)  # a program may add to sys.path; the next one starts without
    sys.path.insert(0, str(REPO) if module else str((REPO / program).parent))
    sys.argv = [module or program, "--help"]
    printed, errors = io.StringIO(), io.StringIO()
    code: object = 0
    failure = ""
    try:
        with redirect_stdout(printed), redirect_stderr(errors):
            if module:
                runpy.run_module(module, run_name="__main__", alter_sys=True)
            else:
                runpy.run_path(str(REPO / program), run_name="__main__")
    except SystemExit as exit_:
        code = exit_.code or 0
    except BaseException:
        code, failure = 1, traceback.format_exc()
    finally:
        sys.path[:] = path_before
    return {"code": code, "stdout": printed.getvalue(), "stderr": errors.getvalue() + failure}


if __name__ == "__main__":
    results = {program: _start(program) for program in sys.argv[1:]}
    print(json.dumps(results))
