"""Tuning workers at once: a shared Optuna storage (and tracking store) vs the SQLite default.

Starts `--workers` `usagecast tune premium_30d@v1 --study bench` processes together, once per
side, each side in a fresh copy of one built workspace, and prints per side the failed
processes, the finished trials (exactly `--trials` when nothing was lost or repeated), the
wall time and the finished trials per minute, then the ratio of the two rates.
- default: the workspace's defaults, a SQLite MLflow store and an Optuna journal file;
- candidate: `--storage URL` for Optuna and `--tracking-uri URI` for MLflow (for example
  both `postgresql://...`; a `sqlite:///...` URL works too, to try the script).

Run: .venv/bin/python benchmarks/bench_tuning_workers.py --storage postgresql://u@h/optuna
     --tracking-uri postgresql://u@h/mlflow [--workers 16] [--trials 160]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import optuna

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # scripts/ is the repository's, not an installed package
    sys.path.insert(0, str(REPO))

from experiments.study import default_storage_url, open_storage  # noqa: E402
from scripts.reliability.concurrent_first_use import (  # noqa: E402
    copy_workspace,
    fresh_env,
    prepare_template,
    start_together,
)
from scripts.reliability.kill_tuning import (  # noqa: E402
    FEATURE_SET,
    FEATURE_SET_NAME,
    usagecast_command,
)

STUDY = "bench"


@dataclass(frozen=True)
class Side:
    """One measured configuration: what failed, what finished, how long it took."""

    name: str
    failures: int
    finished: int
    wall_s: float

    @property
    def trials_per_minute(self) -> float:
        return 60 * self.finished / self.wall_s


def run_side(
    name: str, home: Path, workers: int, trials: int, storage: str | None, tracking: str | None
) -> Side:
    """`workers` tune processes on one study in the workspace `home`; counted afterwards."""
    env = fresh_env(home)
    if tracking:
        env["MLFLOW_TRACKING_URI"] = tracking
    command = [*usagecast_command(), "tune", FEATURE_SET, "--study", STUDY, "--folds", "1"]
    command += ["--trials", str(trials), *(["--storage", storage] if storage else [])]
    started = time.monotonic()
    processes = start_together(command, workers, home, env)
    failures = 0
    for process in processes:
        stderr = process.communicate()[1]
        if process.returncode != 0:
            failures += 1
            lines = stderr.strip().splitlines()
            print(f"  {name}: exit {process.returncode}: {lines[-1] if lines else ''}")
    wall_s = time.monotonic() - started
    url = storage or default_storage_url(home / "optuna", FEATURE_SET_NAME)
    study = optuna.load_study(study_name=STUDY, storage=open_storage(url))
    finished = study.get_trials(
        deepcopy=False, states=(optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    )
    return Side(name, failures, len(finished), wall_s)


def describe(side: Side, trials: int) -> str:
    return (
        f"{side.name:9s}: {side.failures} failed process(es), {side.finished}/{trials} trials "
        f"finished, {side.wall_s:.0f} s, {side.trials_per_minute:.1f} trials/min"
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=16, help="tune processes per side")
    parser.add_argument("--trials", type=int, default=160, help="trials per side (total)")
    parser.add_argument("--storage", required=True, help="the candidate's Optuna storage URL")
    parser.add_argument(
        "--tracking-uri",
        default=None,
        help="the candidate's MLflow tracking URI (default: the workspace's SQLite store)",
    )
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--months", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")
    with tempfile.TemporaryDirectory(prefix="usagecast-bench-workers-") as tmp:
        root = Path(tmp)
        template = prepare_template(root / "template", args.users, args.months, args.seed)
        sides = []
        for name, storage, tracking in [
            ("default", None, None),
            ("candidate", args.storage, args.tracking_uri),
        ]:
            home = root / name / "home"
            copy_workspace(template, home)
            sides.append(run_side(name, home, args.workers, args.trials, storage, tracking))
            print(describe(sides[-1], args.trials), flush=True)
    default, candidate = sides
    print(
        f"candidate / default trials per minute: "
        f"{candidate.trials_per_minute / default.trials_per_minute:.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
