"""Kill `usagecast tune --resume` many times at random points, then check nothing was lost.

scripts/reliability/ holds fault-injection checks: each script breaks something on purpose and
exits 1 when an invariant does not hold (benchmarks/ holds speed measurements, which pass or
fail nothing). This one builds a tiny workspace of its own (simulate, ingest, premium_30d@v1),
then repeatedly starts `usagecast tune ... --resume true` and kills it after a random delay
with SIGTERM or SIGKILL (both drawn from a seeded generator), lets a last resume finish and
checks that:
- no MLflow run is left RUNNING (a killed run is ended as KILLED by the next start);
- the finished trials in the Optuna journal never decrease from one kill to the next;
- the study ends with exactly the requested number of finished trials and no RUNNING trial.
It prints the exit codes seen per signal and how often a kill left Optuna's journal lock.

    python -m scripts.reliability.kill_tuning --kills 50 --seed 0
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

FEATURE_SET_NAME = "premium_30d"  # its experiment and Optuna journal are named after it
FEATURE_SET = f"{FEATURE_SET_NAME}@v1"
SIGNALS = {"SIGTERM": signal.SIGTERM, "SIGKILL": signal.SIGKILL}


def usagecast_command() -> list[str]:
    """The `usagecast` console script of this interpreter's environment."""
    return [str(Path(sys.executable).parent / "usagecast")]


def workspace_env(root: Path) -> dict[str, str]:
    """Environment that points the workspace, MLflow store and specs into `root`."""
    return {
        **os.environ,
        "USAGECAST_HOME": str(root / "home"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
        "USAGECAST_SPECS": str(root / "specs"),
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        "MPLBACKEND": "Agg",
    }


def build_workspace(root: Path, env: dict[str, str], users: int, months: int, seed: int) -> None:
    """Simulate a small product, ingest it and build the feature set the kills tune on."""
    data = root / "data"
    steps = [
        [
            "simulate",
            "--users",
            str(users),
            "--months",
            str(months),
            "--seed",
            str(seed),
            "--out",
            str(data),
        ],
        ["ingest", str(data / "dataset.yaml")],
        ["features", "build", FEATURE_SET],
    ]
    for step in steps:
        subprocess.run(
            usagecast_command() + step, cwd=root, env=env, check=True, capture_output=True
        )


def journal_path(root: Path) -> Path:
    """The Optuna journal `usagecast tune` keeps for the feature set (experiments/study.py)."""
    return root / "home" / "optuna" / f"{FEATURE_SET_NAME}.journal"


def trial_states(journal: Path) -> Counter:
    """Trials per state name over every study in the journal (empty if there is none).

    Reading a journal takes no lock, so this works while a stale lock file is present.
    """
    if not journal.exists():
        return Counter()
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    storage = JournalStorage(JournalFileBackend(str(journal)))
    return Counter(
        trial.state.name
        for study in storage.get_all_studies()
        for trial in storage.get_all_trials(study._study_id, deepcopy=False)
    )


def finished(states: Counter) -> int:
    """Trials that count against the budget (experiments/study.py FINISHED_STATES)."""
    return states["COMPLETE"] + states["PRUNED"]


@dataclass(frozen=True)
class Attempt:
    """One start of `usagecast tune`: what was sent, how it ended, what the journal held."""

    signal: str | None  # None: the process exited before the kill was due
    delay_s: float
    exit_code: int
    traceback: bool
    lock_left: bool
    before: Counter
    after: Counter


def start_tune(root: Path, env: dict[str, str], trials: int, seed: int, log: Path):
    """Start one `usagecast tune` (resuming when the journal already holds the study)."""
    resume = "true" if _has_study(root) else "false"
    command = [
        *usagecast_command(),
        "tune",
        FEATURE_SET,
        *("--trials", str(trials), "--seed", str(seed), "--resume", resume),
    ]
    with log.open("w") as stderr:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            command, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=stderr
        )


def _has_study(root: Path) -> bool:
    journal = journal_path(root)
    if not journal.exists():
        return False
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    return bool(JournalStorage(JournalFileBackend(str(journal))).get_all_studies())


def attempt(
    root: Path, env: dict[str, str], args: argparse.Namespace, rng: random.Random, index: int
) -> Attempt:
    """Start a tune, kill it after a random delay with a random signal, wait for it to end."""
    before = trial_states(journal_path(root))
    delay = rng.uniform(0.0, args.max_delay)
    name = rng.choice(sorted(SIGNALS))
    log = root / "logs" / f"attempt-{index:03d}.err"
    process = start_tune(root, env, args.trials, args.seed, log)
    try:
        process.wait(timeout=delay)
        sent = None
    except subprocess.TimeoutExpired:
        process.send_signal(SIGNALS[name])
        sent = name
        try:
            process.wait(timeout=args.grace)
        except subprocess.TimeoutExpired:  # a SIGTERM not acted on: count it, then end it
            process.kill()
            process.wait()
            sent = f"{name} (ignored for {args.grace:.0f} s, then SIGKILL)"
    lock = journal_path(root).with_name(journal_path(root).name + ".lock")
    return Attempt(
        signal=sent,
        delay_s=delay,
        exit_code=process.returncode,
        traceback="Traceback" in log.read_text(errors="replace"),
        lock_left=os.path.lexists(lock),
        before=before,
        after=trial_states(journal_path(root)),
    )


def running_runs(tracking_uri: str) -> list[str]:
    """Ids of MLflow runs (parents and nested trial runs) still marked RUNNING."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri)
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(experiments, filter_string="attributes.status = 'RUNNING'")
    return [run.info.run_id for run in runs]


@dataclass
class Report:
    """What the kills did and which invariants failed."""

    attempts: list[Attempt] = field(default_factory=list)
    final_exit: int | None = None
    final_states: Counter = field(default_factory=Counter)
    running: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def check(report: Report, trials: int) -> list[str]:
    """The invariants; returns one line per violation (empty: all hold)."""
    failures = []
    history = [a.before for a in report.attempts[:1]]
    history += [a.after for a in report.attempts] + [report.final_states]
    counts = [finished(states) for states in history]
    lost = [(i, a, b) for i, (a, b) in enumerate(itertools.pairwise(counts), start=1) if b < a]
    failures += [f"finished trials fell from {a} to {b} during start {i}" for i, a, b in lost]
    unexpected = [a for a in report.attempts if a.signal is None and a.exit_code != 0]
    failures += [f"a start exited by itself with code {a.exit_code}" for a in unexpected]
    if report.final_exit != 0:
        failures.append(f"the final resume exited with {report.final_exit}")
    if finished(report.final_states) != trials:
        failures.append(
            f"finished trials {finished(report.final_states)} != requested {trials} "
            f"({dict(report.final_states)})"
        )
    if report.final_states["RUNNING"]:
        failures.append(f"{report.final_states['RUNNING']} trial(s) left RUNNING in the journal")
    if report.running:
        failures.append(f"{len(report.running)} MLflow run(s) left RUNNING: {report.running}")
    return failures


def summary(report: Report, trials: int) -> str:
    """Human-readable numbers: exit codes per signal, locks left, trials, RUNNING runs."""
    codes: dict[str, Counter] = {}
    for a in report.attempts:
        codes.setdefault(a.signal or "none (exited first)", Counter())[a.exit_code] += 1
    tracebacks = Counter(a.signal for a in report.attempts if a.traceback)
    progressed = sum(finished(a.after) > finished(a.before) for a in report.attempts)
    lines = [
        f"kills: {sum(a.signal is not None for a in report.attempts)} of "
        f"{len(report.attempts)} starts ({progressed} of them finished new trials first)",
        *(f"  exit codes after {s}: {dict(sorted(c.items()))}" for s, c in sorted(codes.items())),
        f"  tracebacks on stderr: {dict(tracebacks) or 0}",
        f"  journal lock left behind: {sum(a.lock_left for a in report.attempts)}",
        f"final resume exit code: {report.final_exit}",
        f"trials requested {trials}; journal: {dict(sorted(report.final_states.items()))}",
        f"MLflow runs left RUNNING: {len(report.running)}",
    ]
    if report.failures:
        lines += ["FAILED:", *(f"  {line}" for line in report.failures)]
    else:
        lines.append("all checks passed: 0 runs RUNNING, 0 finished trials lost, exact count")
    return "\n".join(lines)


def run(args: argparse.Namespace, root: Path) -> Report:
    """Build the workspace, kill `args.kills` starts, finish with one uninterrupted resume."""
    env = workspace_env(root)
    (root / "logs").mkdir(parents=True, exist_ok=True)
    build_workspace(root, env, args.users, args.months, args.seed)
    rng = random.Random(args.seed)
    report = Report()
    while sum(a.signal is not None for a in report.attempts) < args.kills:
        report.attempts.append(attempt(root, env, args, rng, len(report.attempts)))
        if args.verbose:
            a = report.attempts[-1]
            print(
                f"{len(report.attempts):3d} {a.signal or '-':8s} after {a.delay_s:5.2f} s: "
                f"exit {a.exit_code}, finished {finished(a.before)} -> {finished(a.after)}"
                f"{', lock left' if a.lock_left else ''}",
                flush=True,
            )
        if len(report.attempts) > 3 * args.kills:
            report.failures.append("starts keep exiting before their kill is due")
            break
    final = start_tune(root, env, args.trials, args.seed, root / "logs" / "final.err")
    report.final_exit = final.wait()
    report.final_states = trial_states(journal_path(root))
    report.running = running_runs(env["MLFLOW_TRACKING_URI"])
    report.failures += check(report, args.trials)
    return report


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=50, help="starts to kill")
    parser.add_argument("--seed", type=int, default=0, help="seed of the kills, data and tune")
    parser.add_argument("--trials", type=int, default=300, help="trials the study must end with")
    parser.add_argument(
        "--max-delay", type=float, default=12.0, help="kill after uniform(0, this) seconds"
    )
    parser.add_argument(
        "--grace", type=float, default=60.0, help="seconds a signalled process may take to end"
    )
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--months", type=int, default=6)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    parser.add_argument("--verbose", action="store_true", help="one line per start")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="usagecast-kills-") as tmp:
        report = run(args, args.keep or Path(tmp))
    print(summary(report, args.trials))
    print(f"wall time {time.monotonic() - started:.0f} s")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
