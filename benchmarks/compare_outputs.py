"""Run every benchmark on one source tree with small fixed arguments, or diff two such runs.

A refactor must leave the benchmarks' outputs unchanged except for speeds: rows, counts,
AUCs, errors, rankings and chosen parameters stay identical. `run` executes the named
benchmarks of TREE (its own benchmarks/ scripts, with PYTHONPATH=TREE, in TREE as the working
directory, each in a fresh work folder) and saves each one's stdout, stderr and exit code;
`diff` masks what varies run to run (timings, throughput, memory, time ratios, and the run's
own folders) and prints the differing lines per benchmark, then compares the content of every
Parquet table each benchmark left in its work folder (feature sets, peers' tables, results).

    python benchmarks/compare_outputs.py run --tree /path/to/before --out /tmp/cmp/before
    python benchmarks/compare_outputs.py run --tree . --out /tmp/cmp/after [--only tuning ...]
    python benchmarks/compare_outputs.py diff /tmp/cmp/before /tmp/cmp/after
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

# name -> (script in the tree's benchmarks/, arguments); "{work}" is the benchmark's own folder.
BENCHMARKS: dict[str, tuple[str, tuple[str, ...]]] = {
    "analytics": (
        "bench_analytics.py",
        ("--events", "300000", "--seed", "0", "--folder", "{work}", "--memory-cap-gib", "4"),
    ),
    "cdnow": ("bench_cdnow.py", ("--trials", "3", "--seed", "0", "--keep", "{work}/run")),
    "features": (
        "bench_features.py",
        (
            "--events",
            "300000",
            "--seed",
            "0",
            "--workdir",
            "{work}",
            "--repeats",
            "1",
            "--tasks",
            "features",
            "adoption",
            "related",
        ),
    ),
    "ingest": ("bench_ingest.py", ("--events", "100000", "--seed", "0", "--data-dir", "{work}")),
    "oracle_gap": (
        "bench_oracle_gap.py",
        ("--users", "1500", "--seed", "11", "--workdir", "{work}"),
    ),
    "org_effect": (
        "bench_org_effect.py",
        ("--users", "800", "--months", "10", "--seed", "7", "--workdir", "{work}"),
    ),
    "serving": (
        "bench_serving.py",
        (
            "--rows",
            "5000",
            "--features",
            "10",
            "--trees",
            "50",
            "--requests",
            "50",
            "--batch-rows",
            "10000",
            "--whatif-rows",
            "200",
            "--clients",
            "4",
            "--seed",
            "0",
        ),
    ),
    "spark_cluster": (
        "bench_spark_cluster.py",
        ("--events", "200000", "--seed", "0", "--workdir", "{work}"),
    ),
    "tuning": (
        "bench_tuning.py",
        ("--rows", "5000", "--features", "10", "--trials", "6", "--seeds", "1", "--threads", "1"),
    ),
    "tuning_workers": (
        "bench_tuning_workers.py",
        (
            "--workers",
            "2",
            "--trials",
            "4",
            "--users",
            "300",
            "--months",
            "6",
            "--seed",
            "0",
            "--storage",
            "sqlite:///{work}/optuna.db",
            "--tracking-uri",
            "sqlite:///{work}/mlflow.db",
        ),
    ),
    "value_channels": (
        "bench_value_channels.py",
        (
            "--users",
            "800",
            "--months",
            "10",
            "--seed",
            "7",
            "--tune-seeds",
            "0",
            "--trials",
            "3",
            "--workdir",
            "{work}",
        ),
    ),
    "whatif": ("bench_whatif.py", ("--rows", "10", "--users", "2000", "--seed", "0", "--no-dice")),
    "whatif_direction": (
        "bench_whatif_direction.py",
        (
            "--seeds",
            "1",
            "--users",
            "600",
            "--months",
            "6",
            "--trials",
            "3",
            "--replicas",
            "8",
            "--workdir",
            "{work}",
        ),
    ),
}

NUMBER = r"[-+]?\d[\d,_]*(?:\.\d+)?(?:e[-+]?\d+)?"
TIME = r"(?:ms|us|µs|s|sec|seconds|min|minutes|KiB|MiB|GiB|KB|MB|GB)"
RUN_ID = re.compile(r"\b(?:m-)?[0-9a-f]{32}\b")
# (pattern, replacement), applied in order to every line of every benchmark's stdout.
MASKS: tuple[tuple[re.Pattern[str], str], ...] = (
    # durations and memory, also as ranges: "2.12 s", "148 MiB", "(median of 3: 1.9-2.4 s)"
    (re.compile(rf"{NUMBER}(?:\s*-\s*{NUMBER})?\s*{TIME}(?![\w/])"), "<T>"),
    # throughput: "126,586 rows/s", "0.14 M events/s", "55.3 trials/min"
    (re.compile(rf"{NUMBER}\s*(?:[A-Za-z-]+\s+){{0,2}}[A-Za-z-]*/(?:s|min)\b"), "<T>"),
    # time and memory ratios: "x1.23", "1.30x", "memory ratio 0.76"
    (re.compile(rf"(?<![\w.])x{NUMBER}|{NUMBER}x(?!\w)"), "<R>"),
    (re.compile(rf"(memory ratio|speed-up)\s+{NUMBER}"), r"\1 <R>"),
    # a server's port
    (re.compile(r"(127\.0\.0\.1|localhost):\d+"), r"\1:<PORT>"),
    # MLflow's run and model ids
    (RUN_ID, "<ID>"),
    # the time stamp in a quality report's file name: "reports/20261205T013031-8f0a463f.md"
    (re.compile(r"\b\d{8}T\d{6}\b"), "<STAMP>"),
)
# Per benchmark, masks of speeds printed without a unit, applied before MASKS.
OWN_MASKS: dict[str, tuple[tuple[re.Pattern[str], str], ...]] = {
    # the table's last column: test ROC-AUC, seconds
    "cdnow": ((re.compile(r"^((?:usagecast \(CLI|plain pandas).*\d\.\d{4})\s+\S+$"), r"\1 <T>"),),
    # all timing but the servers' names and the whatif's status codes
    "serving": (
        (re.compile(r"^(\w+)\s+[\d.]+ ms\s+[\d.]+ ms\s+[\d.]+ ms\s.*$"), r"\1 <T>"),
        (re.compile(rf"\bx\s+{NUMBER}"), "<R>"),
        (re.compile(rf"\({NUMBER} vs"), "(<T> vs"),
        (re.compile(r"\b(?:MISSES|meets)\b"), "<VERDICT>"),
        (re.compile(r"(\d{3}): \d+"), r"\1: <N>"),
    ),
    "tuning_workers": ((re.compile(rf"(trials per minute: ){NUMBER}"), r"\1<R>"),),
    # the study table's columns: seed, pruner, wall s, trials/min, to best s, CPU s, AUC, pruned
    "tuning": (
        (re.compile(r"^(\s*\d+\s+(?:none|yes))(?:\s+\S+){4}(?=\s+\S+\s+\S+$)"), r"\1 <T>"),
    ),
    "whatif": (
        (
            re.compile(
                r"^(\s*(?:seconds / row|total seconds|seconds inside score_fn|raw predict, "
                r"[a-z ]*[a-z]|ratio total / raw [a-z ]*[a-z]))\s+\S+"
            ),
            r"\1 <T>",
        ),
    ),
}


FLOAT_DIGITS = 12


def mask_line(name: str, line: str, replacements: dict[str, str]) -> str:
    """`line` of benchmark `name` with the run's folders named, speeds and sizes masked, and
    runs of blanks made one (a column's width follows the masked number's)."""
    for path, placeholder in replacements.items():
        line = line.replace(path, placeholder)
    for pattern, mask in (*OWN_MASKS.get(name, ()), *MASKS):
        line = pattern.sub(mask, line)
    return " ".join(line.split())


def run_tree(tree: Path, out: Path, names: list[str]) -> None:
    """Run `names` of BENCHMARKS from `tree`, saving each one's stdout/stderr/rc under `out`."""
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONHASHSEED": "0"}
    env.pop("MLFLOW_TRACKING_URI", None)
    for name in names:
        script, arguments = BENCHMARKS[name]
        work = out / "work" / name
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        argv = [a.replace("{work}", str(work)) for a in arguments]
        command = [sys.executable, str(tree / "benchmarks" / script), *argv]
        started = time.monotonic()
        with (out / f"{name}.out").open("w") as stdout, (out / f"{name}.err").open("w") as stderr:
            done = subprocess.run(
                command,
                cwd=tree,
                env={**env, "USAGECAST_HOME": str(work / "home")},
                stdout=stdout,
                stderr=stderr,
                check=False,
            )
        (out / f"{name}.rc").write_text(f"{done.returncode}\n")
        (out / f"{name}.cmd").write_text(" ".join(command) + "\n")
        print(f"{name}: exit {done.returncode} in {time.monotonic() - started:.0f} s", flush=True)


def masked(out: Path, name: str) -> list[str]:
    """The masked stdout of one benchmark run, preceded by its exit code."""
    replacements = {str(out / "work" / name): "<WORK>", str(out): "<OUT>"}
    lines = (out / f"{name}.out").read_text().splitlines()
    rc = (out / f"{name}.rc").read_text().strip()
    return [f"exit {rc}", *(mask_line(name, line, replacements) for line in lines)]


def table_digests(out: Path, name: str) -> dict[str, str]:
    """Content digests of the Parquet tables a benchmark left in its work folder, by path.

    Rows are compared as sorted text, so a table written in another row order (DuckDB writes
    in parallel) still matches; floats to FLOAT_DIGITS significant digits, so a sum taken in
    another order by a multi-threaded engine (polars' means differ in the last bit from run
    to run of one commit) still matches. MLflow's random run ids in a path read <ID>; the
    tables under such paths are listed together, sorted.
    """
    import pandas as pd

    work = out / "work" / name
    digests: dict[str, list[str]] = {}
    for path in sorted(work.rglob("*.parquet")):
        frame = pd.read_parquet(path)
        for column in frame.columns[frame.dtypes.map(pd.api.types.is_float_dtype)]:
            frame[column] = frame[column].map(lambda value: f"{value:.{FLOAT_DIGITS}g}")
        frame = frame.astype(str)
        rows = sorted(frame.itertuples(index=False, name=None))
        text = repr((list(frame.columns), rows)).replace(str(out), "<OUT>")
        key = RUN_ID.sub("<ID>", str(path.relative_to(work)))
        digests.setdefault(key, []).append(hashlib.sha256(text.encode()).hexdigest()[:16])
    return {key: " ".join(sorted(found)) for key, found in digests.items()}


def diff_runs(before: Path, after: Path, names: list[str]) -> int:
    """Print, per benchmark, identical or what differs (masked stdout lines, Parquet tables)."""
    differing = 0
    for name in names:
        if not (before / f"{name}.rc").exists() or not (after / f"{name}.rc").exists():
            print(f"{name}: not run on both sides")
            differing += 1
            continue
        a, b = masked(before, name), masked(after, name)
        tables_a, tables_b = table_digests(before, name), table_digests(after, name)
        tables = sorted(set(tables_a) | set(tables_b))
        changed = [t for t in tables if tables_a.get(t) != tables_b.get(t)]
        if a == b and not changed:
            print(f"{name}: identical ({len(a) - 1} stdout lines, {len(tables)} Parquet tables)")
            continue
        differing += 1
        print(f"{name}: DIFFERENT")
        diff = difflib.unified_diff(a, b, str(before / name), str(after / name), lineterm="", n=0)
        for line in diff:
            print(f"    {line}")
        for table in changed:
            digests = (tables_a.get(table, "absent"), tables_b.get(table, "absent"))
            print(f"    table {table}: {' / '.join(digests)}")
    return 1 if differing else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the benchmarks of one source tree")
    run.add_argument("--tree", type=Path, required=True, help="the source tree's root")
    run.add_argument("--out", type=Path, required=True, help="where outputs are saved")
    diff = commands.add_parser("diff", help="diff two runs' outputs with timings masked")
    diff.add_argument("before", type=Path)
    diff.add_argument("after", type=Path)
    for sub in (run, diff):
        sub.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), default=list(BENCHMARKS))
    args = parser.parse_args(argv)
    if args.command == "run":
        run_tree(args.tree.resolve(), args.out.resolve(), args.only)
        return 0
    return diff_runs(args.before.resolve(), args.after.resolve(), args.only)


if __name__ == "__main__":
    sys.exit(main())
