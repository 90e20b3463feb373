"""Every benchmark and script starts the way its docs say (`python benchmarks/X.py`,
`python scripts/X.py`, `python -m scripts.reliability.X`): their imports resolve from a plain
checkout, not only under pytest's paths. `--help` runs the module's imports and stops."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _runnable(folder: str) -> list[str]:
    """The files in `folder` that run as a program (they have a `__main__` block)."""
    return sorted(
        str(path.relative_to(REPO))
        for path in (REPO / folder).glob("*.py")
        if 'if __name__ == "__main__":' in path.read_text()
    )


COMMANDS = [
    *([path] for path in _runnable("benchmarks")),
    *([path] for path in _runnable("scripts")),
    *(
        ["-m", f"scripts.reliability.{Path(path).stem}"]
        for path in _runnable("scripts/reliability")
    ),
]


def test_the_runnable_files_are_found():
    names = {command[-1] for command in COMMANDS}
    assert {"benchmarks/bench_tuning_workers.py", "scripts/fuzz_ingest.py"} <= names
    assert "scripts.reliability.kill_tuning" in names


@pytest.mark.slow
@pytest.mark.parametrize("command", COMMANDS, ids=lambda command: command[-1])
def test_it_starts_from_a_checkout(command, tmp_path):
    done = subprocess.run(
        [sys.executable, *command, "--help"],
        cwd=REPO,
        env={"PATH": str(Path(sys.executable).parent), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout
