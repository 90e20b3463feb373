"""Every benchmark and script starts the way its docs say (`python benchmarks/X.py`,
`python scripts/X.py`, `python -m scripts.reliability.X`): their imports resolve from a plain
checkout, not only under pytest's paths. `--help` runs the module's imports and stops.

All of them start in one new interpreter (tests/scripts/start_each_with_help.py), each with
the sys.path its own start gives and with the project's modules forgotten in between, so the
third-party libraries they share are imported once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STARTER = Path(__file__).with_name("start_each_with_help.py")


def _runnable(folder: str) -> list[str]:
    """The files in `folder` that run as a program (they have a `__main__` block)."""
    return sorted(
        str(path.relative_to(REPO))
        for path in (REPO / folder).glob("*.py")
        if 'if __name__ == "__main__":' in path.read_text()
    )


PROGRAMS = [
    *_runnable("benchmarks"),
    *_runnable("scripts"),
    *(f"-m:scripts.reliability.{Path(path).stem}" for path in _runnable("scripts/reliability")),
]


def test_the_runnable_files_are_found():
    assert {"benchmarks/bench_tuning_workers.py", "scripts/fuzz_ingest.py"} <= set(PROGRAMS)
    assert "-m:scripts.reliability.kill_tuning" in PROGRAMS


@pytest.fixture(scope="module")
def started(tmp_path_factory) -> dict[str, dict]:
    """Each program's exit code, output and traceback after `--help`, from one interpreter
    started from the checkout with no project path set (`-P`, a bare environment)."""
    done = subprocess.run(
        [sys.executable, "-P", str(STARTER), *PROGRAMS],
        cwd=REPO,
        env={
            "PATH": str(Path(sys.executable).parent),
            "HOME": str(tmp_path_factory.mktemp("home")),
        },
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


@pytest.mark.slow
def test_a_project_import_that_only_an_earlier_program_made_fails_again(tmp_path):
    """`python benchmarks/X.py` cannot import `scripts` (only the working folder has it): the
    starter says so even after a `-m scripts...` program has loaded it and a benchmark has put
    the checkout on sys.path for itself."""
    broken = REPO / "benchmarks" / f"_broken_{tmp_path.name}.py"
    broken.write_text("import scripts.reliability.cli_batch\n")
    earlier = ["-m:scripts.reliability.cli_batch", "benchmarks/bench_tuning_workers.py"]
    try:
        done = subprocess.run(
            [sys.executable, "-P", str(STARTER), *earlier, str(broken.relative_to(REPO))],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        broken.unlink()
    results = json.loads(done.stdout)
    assert [results[program]["code"] for program in earlier] == [0, 0]
    result = results[str(broken.relative_to(REPO))]
    assert result["code"] == 1 and "No module named 'scripts'" in result["stderr"]


@pytest.mark.slow
@pytest.mark.parametrize("program", PROGRAMS)
def test_it_starts_from_a_checkout(program, started):
    result = started[program]
    assert result["code"] == 0, result["stderr"][-2000:]
    assert "usage:" in result["stdout"]
