"""Start many `usagecast tune` processes at once on fresh workspaces; count what fails.

A new user's first command often runs several times at once (a shell loop, a scheduler, a
notebook). Each round copies a built workspace (events and the feature set, no MLflow store,
no Optuna journal) to a fresh folder, starts `--processes` tune processes together on it with
MLFLOW_TRACKING_URI unset (the workspace's default SQLite store) and checks that:
- every process exits 0;
- the store opens afterwards, at MLflow's schema head, and holds one FINISHED tuning run per
  process and no RUNNING run.
It prints the failures per round and in all, and exits 1 when there is any.

    python -m scripts.reliability.concurrent_first_use --rounds 20 --processes 8
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from scripts.reliability.kill_tuning import (
    FEATURE_SET,
    FEATURE_SET_NAME,
    build_workspace,
    usagecast_command,
)

# What a built workspace holds that a tuning run reads; the rest (stores) starts fresh.
COPIED = ("events.duckdb", "feature_sets")
# A traceback's closing line: `module.Error: message`.
EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception)\b")


@dataclass
class Round:
    """One round: exit codes, the last stderr line of each failed process, store problems."""

    exit_codes: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    store_problems: list[str] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return sum(code != 0 for code in self.exit_codes) + len(self.store_problems)


def fresh_env(home: Path) -> dict[str, str]:
    """A process environment whose workspace is `home` and whose store is its default one."""
    env = {
        **os.environ,
        "USAGECAST_HOME": str(home),
        "USAGECAST_SPECS": str(home.parent / "specs"),
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        "MPLBACKEND": "Agg",
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def prepare_template(root: Path, users: int, months: int, seed: int) -> Path:
    """Build a workspace once (simulate, ingest, the feature set); its home folder."""
    root.mkdir(parents=True, exist_ok=True)
    env = {**fresh_env(root / "home"), "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'build.db'}"}
    build_workspace(root, env, users, months, seed)
    return root / "home"


def copy_workspace(template: Path, home: Path) -> None:
    """The template's events and feature sets in a new, store-less workspace `home`."""
    home.mkdir(parents=True)
    for name in COPIED:
        source = template / name
        if source.is_dir():
            shutil.copytree(source, home / name)
        else:
            shutil.copy2(source, home / name)


def check_store(home: Path, processes: int) -> list[str]:
    """What is wrong with the workspace's store after the round (empty: nothing)."""
    from mlflow.store.db.utils import _get_latest_schema_revision
    from mlflow.tracking import MlflowClient

    from contracts.workspace import schema_marker_path

    path = home / "mlflow.db"
    try:
        client = MlflowClient(f"sqlite:///{path}")
        experiment = client.get_experiment_by_name(FEATURE_SET_NAME)
        runs = client.search_runs(
            [experiment.experiment_id], filter_string="tags.`usagecast.kind` = 'tuning'"
        )
    except Exception as error:  # any failure to read the store is what this counts
        return [f"store unusable: {type(error).__name__}: {error}"[:300]]
    problems = []
    statuses = sorted(run.info.status for run in runs)
    if statuses != ["FINISHED"] * processes:
        problems.append(f"tuning runs {statuses}, expected {processes} FINISHED")
    marker = schema_marker_path(path)
    if not marker.exists() or marker.read_text().strip() != _get_latest_schema_revision():
        problems.append("the store's schema marker is missing or not at MLflow's head")
    return problems


def start_together(
    command: list[str], count: int, home: Path, env: dict[str, str]
) -> list[subprocess.Popen]:
    """Start `count` copies of `command` at once beside the workspace `home` (stderr kept)."""
    return [
        subprocess.Popen(
            command,
            cwd=home.parent,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]


def error_line(stderr: str) -> str:
    """The line of a failed process's stderr that names the error: its last exception line
    (SQLAlchemy appends a "Background on this error" hint after it), else its last line."""
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    named = [line for line in lines if EXCEPTION_LINE.match(line)]
    return (named or lines or ["(no stderr)"])[-1]


def run_round(
    template: Path, home: Path, processes: int, trials: int, stderr_dir: Path | None
) -> Round:
    """Start `processes` tune processes together on a fresh copy of the template; the stderr of
    each failed process is written under `stderr_dir` when given."""
    copy_workspace(template, home)
    env = fresh_env(home)
    command = [*usagecast_command(), "tune", FEATURE_SET, "--trials", str(trials), "--folds", "1"]
    started = start_together(command, processes, home, env)
    result = Round()
    for number, process in enumerate(started, start=1):
        stderr = process.communicate()[1]
        result.exit_codes.append(process.returncode)
        if process.returncode != 0:
            result.errors.append(f"exit {process.returncode}: {error_line(stderr)}")
            if stderr_dir is not None:
                stderr_dir.mkdir(parents=True, exist_ok=True)
                (stderr_dir / f"{home.parent.name}-process{number}.stderr").write_text(stderr)
    result.store_problems = check_store(home, processes)
    return result


def run(args: argparse.Namespace, root: Path) -> list[Round]:
    """Build the template once, then run `args.rounds` rounds, printing one line per round."""
    template = prepare_template(root / "template", args.users, args.months, args.seed)
    rounds = []
    for index in range(args.rounds):
        started = time.monotonic()
        home = root / f"round{index + 1}" / "home"
        result = run_round(template, home, args.processes, args.trials, args.stderr_dir)
        rounds.append(result)
        print(
            f"round {index + 1:2d}: {result.failures} failure(s), exit codes "
            f"{sorted(result.exit_codes)}, {time.monotonic() - started:.0f} s",
            flush=True,
        )
        for line in result.errors + result.store_problems:
            print(f"    {line}", flush=True)
        if not args.keep:
            shutil.rmtree(home.parent)
    return rounds


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--processes", type=int, default=8, help="tune processes per round")
    parser.add_argument("--trials", type=int, default=1, help="trials per tune process")
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulated data")
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--months", type=int, default=6)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    parser.add_argument(
        "--stderr-dir", type=Path, help="write the full stderr of each failed process here"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="usagecast-first-use-") as tmp:
        rounds = run(args, args.keep or Path(tmp))
    failures = sum(r.failures for r in rounds)
    processes = args.rounds * args.processes
    print(f"{failures} failure(s) in {args.rounds} rounds x {args.processes} processes")
    print(f"({processes} tune processes); wall time {time.monotonic() - started:.0f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
