"""Does `usagecast monitor` flag planted drift, and how often does it flag none?

Per seed and kind: simulate a product (`--drift KIND --drift-from DRIFT_FROM`, none for the
control), ingest it, build premium_30d@v1, tune a few trials, promote the run and monitor the
champion (calibration gate off) at the kind's cutoffs:
- tracking_bug (LIKE stops being recorded): the first month start whose 30-day window lies
  wholly after the drift date, so the previous check's window lies wholly before it;
- channel_mix (new signups come from other channels): the month start two months after the
  drift date (the acquisition window holds drifted signups only);
- lever_effect (ads change the purchase hazard): the latest cutoff; the monitor scores every
  labelled later cutoff, those after the drift date included;
- control: every cutoff above; one alert at any of them is a false alarm.
A kind is detected when the monitor exits 1 with a finding of the kind's expected measure and
subject. Prints one row per kind; exits 1 when a drift kind is missed in any seed or the
control's false-alarm rate exceeds --max-false-alarm-rate.

    python -m scripts.reliability.monitor_drift --seeds 20 --drift-seeds 3
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from experiments.monitor.checks import ACQUISITION, AUC_DROP, ECE, SINCE_PREVIOUS
from scripts.reliability.cli_batch import Step, run_steps
from scripts.reliability.kill_tuning import workspace_env

FEATURE_SET = "premium_30d@v1"
MODEL_NAME = "premium_30d"
DRIFT_FROM = "2024-07-01"
LATEST = None  # the monitor's default cutoff


@dataclass(frozen=True)
class Alert:
    """One ALERT line of the monitor's output."""

    subject: str
    measure: str


@dataclass(frozen=True)
class Kind:
    """A planted drift (or none), where to monitor it and which alert shows it."""

    name: str
    cutoffs: tuple[str | None, ...]
    expected: Callable[[Alert], bool]


KINDS = {
    "tracking_bug": Kind(
        "tracking_bug",
        ("2024-08-01",),
        lambda a: a.measure == SINCE_PREVIOUS and a.subject.startswith("count_LIKE_"),
    ),
    "channel_mix": Kind(
        "channel_mix",
        ("2024-09-01",),
        lambda a: a.measure == ACQUISITION and a.subject == "channel",
    ),
    "lever_effect": Kind("lever_effect", (LATEST,), lambda a: a.measure in (AUC_DROP, ECE)),
}
CONTROL = Kind(
    "control",
    tuple(dict.fromkeys(c for kind in KINDS.values() for c in kind.cutoffs)),
    lambda a: False,
)
MEASURES = (SINCE_PREVIOUS, ACQUISITION, AUC_DROP, ECE)


@dataclass(frozen=True)
class Outcome:
    """One seed of one kind: the alerts at each monitored cutoff."""

    kind: str
    seed: int
    alerts: dict[str, tuple[Alert, ...]]  # cutoff ("latest" for the default) -> alerts

    @property
    def flagged(self) -> bool:
        return any(self.alerts.values())

    def detected(self, kind: Kind) -> bool:
        return any(kind.expected(a) for alerts in self.alerts.values() for a in alerts)


def parse_alerts(output: str) -> tuple[Alert, ...]:
    """The ALERT lines of `usagecast monitor`'s summary ("ALERT: SUBJECT MEASURE VALUE > T")."""
    alerts = []
    for line in output.splitlines():
        text = line.strip()
        if not text.startswith("ALERT: "):
            continue
        body = text.removeprefix("ALERT: ").rsplit(" > ", 1)[0].rsplit(" ", 1)[0]
        measure = next(m for m in MEASURES if body.endswith(" " + m))
        alerts.append(Alert(body.removesuffix(" " + measure), measure))
    return tuple(alerts)


def run_kind(kind: Kind, seed: int, root: Path, users: int, months: int, trials: int) -> Outcome:
    """Simulate with the kind's drift, train and promote a champion, monitor it.

    The steps run as `usagecast` command lines in one process of their own (cli_batch), so
    the heavy imports are paid once per kind, not once per command.
    """
    root.mkdir(parents=True, exist_ok=True)
    data = root / "data"
    drift = [] if kind is CONTROL else ["--drift", kind.name, "--drift-from", DRIFT_FROM]
    steps = [
        [
            *("simulate", "--users", str(users), "--months", str(months), "--seed", str(seed)),
            *("--out", str(data), "--no-progress", *drift),
        ],
        ["ingest", str(data / "dataset.yaml"), "--no-progress"],
        ["features", "build", FEATURE_SET, "--no-progress"],
        ["tune", FEATURE_SET, "--trials", str(trials), "--seed", str(seed)],
        # The monitor watches whatever was promoted; the calibration gate is not under test.
        ["promote", "--latest", "--feature-set", FEATURE_SET, "--max-calibration-error", "1"],
    ]
    monitors = [
        Step(("monitor", MODEL_NAME, *(["--cutoff", cutoff] if cutoff else [])), accepts=(0, 1))
        for cutoff in kind.cutoffs
    ]
    results = run_steps([*(Step(tuple(s)) for s in steps), *monitors], root, workspace_env(root))
    alerts = {}
    for cutoff, done in zip(kind.cutoffs, results[len(steps) :], strict=True):
        if not done.stdout.startswith(f"monitor {MODEL_NAME}"):
            raise RuntimeError(f"{' '.join(done.args)} failed:\n{done.stderr[-2000:]}")
        alerts[cutoff or "latest"] = parse_alerts(done.stdout)
    return Outcome(kind.name, seed, alerts)


def _describe(outcome: Outcome) -> str:
    return "; ".join(
        f"{cutoff}: " + ", ".join(f"{a.subject} {a.measure}" for a in alerts)
        for cutoff, alerts in outcome.alerts.items()
        if alerts
    )


def summary(outcomes: list[Outcome]) -> tuple[str, list[str]]:
    """The table (one row per kind) and the failed checks."""
    lines = [f"{'kind':<14} {'seeds':>5} {'flagged':>8} {'detected':>9}  alerts"]
    problems = []
    for kind in (CONTROL, *KINDS.values()):
        rows = [o for o in outcomes if o.kind == kind.name]
        if not rows:
            continue
        flagged = sum(o.flagged for o in rows)
        detected = sum(o.detected(kind) for o in rows)
        lines.append(
            f"{kind.name:<14} {len(rows):>5} {flagged:>8} "
            f"{'-' if kind is CONTROL else detected:>9}  "
            + (" | ".join(f"seed {o.seed}: {_describe(o)}" for o in rows if o.flagged) or "none")
        )
        if kind is not CONTROL and detected < len(rows):
            problems.append(f"{kind.name}: detected in {detected} of {len(rows)} seeds")
    return "\n".join(lines), problems


def false_alarm_rate(outcomes: list[Outcome]) -> float:
    controls = [o for o in outcomes if o.kind == CONTROL.name]
    return sum(o.flagged for o in controls) / len(controls) if controls else float("nan")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=20, help="control seeds")
    parser.add_argument("--drift-seeds", type=int, default=3, help="seeds per drift kind")
    parser.add_argument("--first-seed", type=int, default=1, help="seeds count up from it")
    parser.add_argument("--kinds", nargs="*", default=list(KINDS), choices=list(KINDS))
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--months", type=int, default=10)
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--max-false-alarm-rate", type=float, default=0.1)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    return parser.parse_args(argv)


def run(args: argparse.Namespace, root: Path) -> list[Outcome]:
    """Every seed of the control and of each drift kind, each in its own workspace."""
    first = args.first_seed
    plan = [(KINDS[k], s) for s in range(first, first + args.drift_seeds) for k in args.kinds]
    plan += [(CONTROL, seed) for seed in range(first, first + args.seeds)]
    outcomes = []
    for kind, seed in plan:
        outcome = run_kind(
            kind, seed, root / f"{kind.name}-{seed}", args.users, args.months, args.trials
        )
        print(f"{kind.name} seed {seed}: {_describe(outcome) or 'no alert'}", flush=True)
        outcomes.append(outcome)
    return outcomes


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="usagecast-drift-") as tmp:
        root = (args.keep or Path(tmp)).resolve()
        root.mkdir(parents=True, exist_ok=True)
        outcomes = run(args, root)
    table, problems = summary(outcomes)
    rate = false_alarm_rate(outcomes)
    print(table)
    print(f"control false-alarm rate: {rate:.2f} over {args.seeds} seeds")
    if rate > args.max_false_alarm_rate:
        problems.append(f"false-alarm rate {rate:.2f} > {args.max_false_alarm_rate}")
    print(f"wall time {time.monotonic() - started:.0f} s")
    print("FAILED:\n  " + "\n  ".join(problems) if problems else "all checks passed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
