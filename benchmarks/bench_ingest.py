"""Ingest throughput vs DuckDB's plain read (the floor) and pandas on the same files, one run.

Simulates a music-streaming export of about --events event rows (simulator, reused
from --data-dir when already there), or takes a dataset config of your own (--dataset: an
export of many small files shows the per-file cost), then measures in three fresh
subprocesses:

- usagecast: `ingest_dataset` of its dataset.yaml into an empty store (reading, validating,
  quarantining, deduplicating, storing and writing the quality report);
- duckdb (the floor): DuckDB's own plain read of exactly the files the config names, with
  their encodings, each into an in-memory table (read_csv / read_json with its type
  detection, no validation), one file at a time like the pandas side;
- pandas: `pd.read_csv` with the config's delimiter (and `pd.read_json(lines=True)` for
  JSONL files) of the same files, and nothing else.

Prints rows/s of each, the ingest's ratio to the floor and to pandas, and each process's
peak RSS (VmHWM read in the child) with the ingest's ratio to pandas.
Usage: .venv/bin/python benchmarks/bench_ingest.py [--events 10000000] [--seed 0]
       .venv/bin/python benchmarks/bench_ingest.py --dataset my_export/dataset.yaml
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from peak_memory import peak_rss_mib  # benchmarks/peak_memory.py

PILOT_USERS = 300


def _child_ingest(dataset_yaml: Path, work: Path) -> dict:
    from events.ingest import ingest_dataset

    os.environ["USAGECAST_HOME"] = str(work)
    started = time.perf_counter()
    summary = ingest_dataset(dataset_yaml, work / "events.duckdb", progress=False)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": sum(c.read for c in summary.tables.values())}


def _source_files(dataset_yaml: Path) -> list[tuple[str, str, str]]:
    """(file name, encoding, delimiter) of every file the config names: users, events,
    items."""
    from events.ingest import read_config

    config = read_config(dataset_yaml)
    sources = [s for s in (config.users, *config.events, config.items) if s is not None]
    return [
        (name, source.encoding, source.delimiter)
        for source in sources
        for name in sorted(glob.glob(str(config.base_dir / source.files)))
    ]


def _child_pandas(dataset_yaml: Path, work: Path) -> dict:
    import pandas as pd

    files = _source_files(dataset_yaml)
    started = time.perf_counter()
    rows = 0
    for name, encoding, delimiter in files:
        if name.endswith(".jsonl"):
            frame = pd.read_json(name, lines=True, encoding=encoding)
        else:
            frame = pd.read_csv(name, encoding=encoding, sep=delimiter)
        rows += len(frame)
    return {"seconds": time.perf_counter() - started, "rows": rows}


def _child_duckdb(dataset_yaml: Path, work: Path) -> dict:
    import duckdb

    from events.ingest.readers import DUCKDB_CSV_ENCODINGS, sql_string, text_encoding

    files = _source_files(dataset_yaml)
    started = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"SET temp_directory = {sql_string(str(work))}")
    rows = 0
    for name, encoding, _ in files:
        path = sql_string(name)
        if name.endswith(".jsonl"):
            reader = f"read_json({path}, format = 'newline_delimited')"
        else:
            native = DUCKDB_CSV_ENCODINGS[text_encoding(Path(name), encoding)]
            reader = f"read_csv({path}, encoding = {sql_string(native)})"
        rows += con.execute(f"CREATE OR REPLACE TABLE t AS SELECT * FROM {reader}").fetchone()[0]
    return {"seconds": time.perf_counter() - started, "rows": rows}


CHILDREN = {"ingest": _child_ingest, "duckdb": _child_duckdb, "pandas": _child_pandas}
LABELS = {
    "ingest": "usagecast ingest",
    "duckdb": "duckdb plain read",
    "pandas": "pandas read_csv/json",
}


def _measure(kind: str, dataset_yaml: Path) -> dict:
    """Run one measurement in a fresh interpreter so peak memory is its own."""
    with tempfile.TemporaryDirectory(prefix=f"bench-ingest-{kind}-") as work:
        done = subprocess.run(
            [sys.executable, __file__, "--child", kind, str(dataset_yaml), work],
            check=True,
            capture_output=True,
            text=True,
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _simulated_dataset(events: int, seed: int, fault_rate: float, data_dir: Path) -> Path:
    """dataset.yaml of a simulated export with about `events` event rows (cached on disk)."""
    from simulator import SimulationConfig, simulate_to_dir

    with tempfile.TemporaryDirectory() as pilot_dir:
        pilot = simulate_to_dir(
            Path(pilot_dir) / "pilot",
            SimulationConfig(n_users=PILOT_USERS, seed=seed),
            progress=False,
        )
    per_user = (
        pilot.rows["events"] + pilot.rows["purchases"] + pilot.rows["logins"]
    ) / PILOT_USERS
    n_users = max(1, math.ceil(events / per_user))
    out = data_dir / f"users{n_users}_seed{seed}_faults{fault_rate}"
    if not (out / "dataset.yaml").exists():
        print(f"simulating {n_users:,} users (~{events:,} events) into {out}", flush=True)
        summary = simulate_to_dir(
            out, SimulationConfig(n_users=n_users, seed=seed, fault_rate=fault_rate)
        )
        print(summary.describe(), flush=True)
    return out / "dataset.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000, help="event rows (approx.)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fault-rate", type=float, default=0.01)
    parser.add_argument(
        "--dataset", type=Path, help="a dataset config to measure instead of a simulated one"
    )
    parser.add_argument(
        "--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "usagecast_bench_ingest"
    )
    parser.add_argument(
        "--child", nargs=3, metavar=("KIND", "DATASET", "WORK"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        kind, dataset_yaml, work = args.child
        result = CHILDREN[kind](Path(dataset_yaml), Path(work))
        print(json.dumps({**result, "peak_rss_mib": peak_rss_mib()}))
        return

    dataset_yaml = (
        args.dataset.resolve()
        if args.dataset
        else _simulated_dataset(args.events, args.seed, args.fault_rate, args.data_dir)
    )
    results = {kind: _measure(kind, dataset_yaml) for kind in ("duckdb", "pandas", "ingest")}
    print(f"\ndataset: {dataset_yaml}")
    for kind, r in results.items():
        print(
            f"{LABELS[kind]:22s} rows {r['rows']:>12,}  {r['seconds']:7.1f} s  "
            f"{r['rows'] / r['seconds']:>12,.0f} rows/s  peak RSS {r['peak_rss_mib']:8,.0f} MiB"
        )
    speed = {kind: r["rows"] / r["seconds"] for kind, r in results.items()}
    for peer in ("duckdb", "pandas"):
        print(f"throughput ratio ingest / {peer}: {speed['ingest'] / speed[peer]:.2f}x")
    memory = results["ingest"]["peak_rss_mib"] / results["pandas"]["peak_rss_mib"]
    print(f"peak memory ratio ingest / pandas: {memory:.2f}x")


if __name__ == "__main__":
    main()
