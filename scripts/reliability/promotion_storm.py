"""Many `usagecast promote` processes at once against one model: a consistent end or a failure.

Logs tuning-run look-alikes with different test ROC-AUCs into a real MLflow store (one of
them, the most accurate, fails the calibration gate), starts `--promotes` concurrent
`usagecast promote RUN_ID --margin 0` processes over them and checks that:
- every process exits 0 (promoted) or 1 (refused) without a traceback, as its audit record says;
- registry/audit.jsonl holds one valid JSON line per attempt, each version once;
- replayed in file order, each record's champion_before is the champion of that moment and
  the registry's @champion / @previous end where the last record left them;
- @champion is a version of the best run that passes the gate (margin 0: any version at least
  as good as the champion is promoted, so the champion's ROC-AUC can only rise to the best).

    python -m scripts.reliability.promotion_storm --promotes 20
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from scripts.reliability.kill_tuning import usagecast_command, workspace_env

MODEL_NAME = "premium_30d"
GATE_FAILING_ECE = 0.5  # above PolicyConfig's default max_calibration_error
REPO = Path(__file__).resolve().parents[2]


def _log_tuning_run():
    """tests/registry/conftest.py's factory of promotable runs (tiny LightGBM, test set)."""
    path = REPO / "tests" / "registry" / "conftest.py"
    spec = importlib.util.spec_from_file_location("usagecast_tests_registry_conftest", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.log_tuning_run


@dataclass(frozen=True)
class Logged:
    """A logged run and whether it can pass the gate (its calibration error is in range)."""

    run_id: str
    gated: bool


def log_candidates(runs: int) -> list[Logged]:
    """`runs` finished runs in the current MLflow store: run 0 has the least label noise but
    fails the calibration gate; the others have increasing noise, so different ROC-AUCs."""
    log = _log_tuning_run()
    logged = [Logged(log(label_noise=0.0, seed=0, ece=GATE_FAILING_ECE), gated=False)]
    logged += [Logged(log(label_noise=0.04 * i, seed=i), gated=True) for i in range(1, runs)]
    return logged


@dataclass(frozen=True)
class Outcome:
    """One promote process: the run it promoted, its exit code and what it printed."""

    run_id: str
    exit_code: int
    stdout: str
    stderr: str


def promote_all(
    run_ids: Sequence[str], promotes: int, cwd: Path, env: dict[str, str]
) -> list[Outcome]:
    """Start `promotes` `usagecast promote` processes at once (run ids round-robin)."""
    chosen = [run_ids[i % len(run_ids)] for i in range(promotes)]
    processes = [
        subprocess.Popen(
            [*usagecast_command(), "promote", run_id, "--margin", "0"],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for run_id in chosen
    ]
    outputs = [process.communicate() for process in processes]
    return [
        Outcome(run_id, process.returncode, out, err)
        for run_id, process, (out, err) in zip(chosen, processes, outputs, strict=True)
    ]


def read_audit(path: Path) -> tuple[list[dict], list[str]]:
    """The audit records, and one problem line per line that is not a JSON object."""
    records, problems = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            problems.append(f"audit line {number} is not JSON ({error}): {line[:80]!r}")
            continue
        if not isinstance(record, dict):
            problems.append(f"audit line {number} is not an object")
            continue
        records.append(record)
    return records, problems


def replay(records: Sequence[dict]) -> tuple[str | None, str | None, list[str]]:
    """Walk the records in order: (champion, previous) at the end, and every inconsistency."""
    champion = previous = None
    problems = []
    for number, record in enumerate(records, start=1):
        if record.get("champion_before") != champion:
            problems.append(
                f"record {number} (v{record.get('version')}) saw champion "
                f"{record.get('champion_before')} but the champion then was {champion}"
            )
        if record.get("promoted"):
            previous = champion if champion is not None else previous
            champion = record.get("version")
        if (record.get("champion"), record.get("previous")) != (champion, previous):
            problems.append(
                f"record {number} (v{record.get('version')}) left champion/previous "
                f"{record.get('champion')}/{record.get('previous')}, "
                f"expected {champion}/{previous}"
            )
    return champion, previous, problems


def check_storm(logged: Sequence[Logged], outcomes: Sequence[Outcome], audit: Path) -> list[str]:
    """Every invariant of the module docstring; returns one line per violation."""
    from mlflow.tracking import MlflowClient

    from registry import names

    problems = [
        f"promote {o.run_id} exited {o.exit_code}: {o.stderr.strip()[-500:]}"
        for o in outcomes
        if o.exit_code not in (0, 1) or "Traceback" in o.stderr
    ]
    records, unreadable = read_audit(audit)
    problems += unreadable
    promotes = [r for r in records if r.get("action") == "promote"]
    if len(promotes) != len(outcomes) or len(records) != len(outcomes):
        problems.append(f"{len(records)} audit records for {len(outcomes)} promote attempts")
    if Counter(r.get("run_id") for r in promotes) != Counter(o.run_id for o in outcomes):
        problems.append("the audit's run ids differ from the promotes started")
    versions = sorted(int(r.get("version", 0)) for r in promotes)
    if versions != list(range(1, len(outcomes) + 1)):
        problems.append(f"audit versions {versions} are not 1..{len(outcomes)} once each")
    promoted_runs = Counter(r.get("run_id") for r in promotes if r.get("promoted"))
    succeeded = Counter(o.run_id for o in outcomes if o.exit_code == 0)
    if promoted_runs != succeeded:
        problems.append(f"exit 0 per run {dict(succeeded)} != promoted {dict(promoted_runs)}")
    champion, previous, inconsistent = replay(records)
    problems += inconsistent

    client = MlflowClient()
    aliases = client.get_registered_model(MODEL_NAME).aliases
    final = (aliases.get(names.CHAMPION), aliases.get(names.PREVIOUS))
    if tuple(str(v) if v is not None else None for v in final) != (champion, previous):
        problems.append(f"registry @champion/@previous {final} != audit's {champion}/{previous}")
    gated = {item.run_id for item in logged if item.gated}
    auc = {
        str(v.version): (v.run_id, float(v.tags[names.TAG_METRIC]))
        for v in client.search_model_versions(f"name = '{MODEL_NAME}'")
    }
    best = max(value for run_id, value in auc.values() if run_id in gated)
    if champion is None or auc[champion][0] not in gated or auc[champion][1] != best:
        problems.append(
            f"@champion v{champion} ({auc.get(champion or '')}) is not a best gated version "
            f"(best gated ROC-AUC {best:.6f})"
        )
    return problems


def summary(logged: Sequence[Logged], outcomes: Sequence[Outcome], audit: Path) -> str:
    """The numbers of a storm: processes, exit codes, champion changes, the champion."""
    records, _ = read_audit(audit)
    champion, _, _ = replay(records)
    runs = {item.run_id: index for index, item in enumerate(logged)}
    champion_run = next((r["run_id"] for r in records if r.get("version") == champion), None)
    return "\n".join(
        [
            f"runs logged: {len(logged)} (run 0 fails the calibration gate)",
            f"promote processes: {len(outcomes)}; exit codes "
            f"{dict(sorted(Counter(o.exit_code for o in outcomes).items()))}",
            f"audit records: {len(records)}; champion changes: "
            f"{sum(bool(r.get('promoted')) for r in records)}",
            f"final @champion: v{champion} (run {runs.get(champion_run)})",
        ]
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--promotes", type=int, default=20, help="concurrent promote processes")
    parser.add_argument("--runs", type=int, default=5, help="distinct runs to promote")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="usagecast-storm-") as tmp:
        root = (args.keep or Path(tmp)).resolve()
        root.mkdir(parents=True, exist_ok=True)
        env = workspace_env(root)
        os.environ.update(env)
        os.chdir(root)  # a SQLite store's default artifact root is ./mlruns
        logged = log_candidates(args.runs)
        outcomes = promote_all([item.run_id for item in logged], args.promotes, root, env)
        audit = Path(env["USAGECAST_HOME"]) / "registry" / "audit.jsonl"
        problems = check_storm(logged, outcomes, audit)
        print(summary(logged, outcomes, audit))
    print(f"wall time {time.monotonic() - started:.0f} s")
    print("FAILED:\n  " + "\n  ".join(problems) if problems else "all checks passed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
