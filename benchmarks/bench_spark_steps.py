"""A feature set with related-entity features on Spark: usagecast's steps (each CTE read twice
or more computed once) vs the same query as one Spark statement (Spark inlines every CTE at
each read), with DuckDB's time beside them. Peer: Spark's own plan of the one statement.

Simulates an export with organisations, teams and inviters, ingests it through the CLI, then
runs the spec's query in one process on one local Spark session: a warm-up query first (the
session's start is not timed), then the two Spark sides alternately `--repeats` times, then
DuckDB. Every side must return the same rows.

    .venv/bin/python benchmarks/bench_spark_steps.py [--users 4000] [--months 6] [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from contracts.workspace import event_store_path
from features.engines.duckdb import DuckDBEngine
from features.engines.spark import SparkEngine, spark_session, to_spark_sql
from features.featureset.catalog import load_spec
from features.featureset.compiler import compile_feature_query
from features.featureset.spec import FeatureSetSpec
from simulator import SimulationConfig, simulate_to_dir


def usagecast(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "usagecast_cli.main", *args], check=True)


def timed(run: Callable[[], pd.DataFrame]) -> tuple[float, pd.DataFrame]:
    started = time.perf_counter()
    rows = run()
    return time.perf_counter() - started, rows


def compare(spec: FeatureSetSpec, master: str, repeats: int) -> dict[str, list[float]]:
    """Seconds per side; asserts that every side gives the same rows."""
    query = compile_feature_query(spec, None, "timestamp")
    engine = SparkEngine(event_store_path(), session=spark_session(master))
    engine.query("SELECT count(*) AS n FROM events")
    sides: dict[str, Callable[[], pd.DataFrame]] = {
        "spark, one statement": lambda: engine.session.sql(to_spark_sql(query)).toPandas(),
        "spark, usagecast steps": lambda: engine.query(query),
    }
    seconds: dict[str, list[float]] = {name: [] for name in sides}
    reference = None
    for _ in range(repeats):
        for name, run in sides.items():
            took, rows = timed(run)
            seconds[name].append(took)
            if reference is None:
                reference = rows
            pd.testing.assert_frame_equal(rows, reference, check_dtype=False)
    duck = DuckDBEngine(event_store_path())
    took, rows = timed(lambda: duck.query(query))
    duck.close()
    pd.testing.assert_frame_equal(rows, reference, check_dtype=False)
    seconds["duckdb (in process)"] = [took]
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=4000)
    parser.add_argument("--months", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--spec", default="adoption_14d@v2")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=Path("bench_data/spark_steps"))
    args = parser.parse_args(argv)
    workdir = args.workdir / f"u{args.users}-m{args.months}-s{args.seed}"
    os.environ["USAGECAST_HOME"] = str((workdir / "home").resolve())
    data = workdir / "data"
    if not (data / "dataset.yaml").exists():
        config = SimulationConfig(n_users=args.users, months=args.months, seed=args.seed)
        simulate_to_dir(data, config, progress=False)
        usagecast("ingest", str(data / "dataset.yaml"), "--no-progress")
    seconds = compare(load_spec(args.spec), args.master, args.repeats)
    print(
        f"{args.spec} query, {args.users} simulated users, {args.months} months, Spark "
        f"{args.master}; median of {args.repeats} runs, same rows on every side"
    )
    print(f"{'side':<26} {'seconds':>8}")
    for name, runs in seconds.items():
        print(f"{name:<26} {statistics.median(runs):8.2f}")
    one, steps = (statistics.median(seconds[name]) for name in list(seconds)[:2])
    print(f"one statement / usagecast steps: x{one / steps:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
