"""Benchmark: building premium_30d@v1 on a Spark standalone cluster vs DuckDB.

Data: the seeded event store of benchmarks/bench_features.py (`generate_store`, canonical
tables laid out as `usagecast ingest` stores them), plus the Parquet copy an ingest writes for
Spark (events.store.write_parquet_copy; its time is reported as the ingest's added
cost). The cluster is a master and one worker on this machine, started with pyspark's
spark-class (features.engines.standalone); the Spark side builds with
`--spark-master spark://127.0.0.1:PORT`, so its SQL runs in the worker's executor.

Each side builds in its own subprocess (wall seconds include starting the Spark driver and
its session). Peak memory: the builder's own peak RSS (VmHWM), and the peak of the summed RSS
of every process involved, sampled every 0.25 s with psutil: the builder and its children
(Spark's driver JVM), plus for Spark the master, the worker and its executors. The rows of
the two sides are checked equal before the numbers are printed.

    .venv/bin/python benchmarks/bench_spark_cluster.py                    # 100M events
    .venv/bin/python benchmarks/bench_spark_cluster.py --events 2000000   # quick
    .venv/bin/python benchmarks/bench_spark_cluster.py --cores 4 --worker-memory 8g
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd
import psutil
from bench_features import generate_store  # benchmarks/bench_features.py
from peak_memory import peak_rss_mib  # benchmarks/peak_memory.py

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from events.store import write_parquet_copy  # noqa: E402
from features.engines.spark import MASTER_ENV  # noqa: E402
from features.engines.standalone import standalone_cluster  # noqa: E402
from features.featureset import build_feature_set, load_feature_set  # noqa: E402

REF = "premium_30d@v1"
SAMPLE_SECONDS = 0.25


class TreeMemory:
    """Samples the summed RSS of some processes and all their descendants; keeps the peak."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _total(self) -> int:
        total = 0
        for pid in self.pids:
            try:
                root = psutil.Process(pid)
                processes = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                continue
            for process in processes:
                with contextlib.suppress(psutil.NoSuchProcess):
                    total += process.memory_info().rss
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_bytes = max(self.peak_bytes, self._total())
            self._stop.wait(SAMPLE_SECONDS)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def child(engine: str, store: Path, output: Path) -> None:
    """Build in this process; print seconds, rows and this process's peak RSS as JSON."""
    started = time.perf_counter()
    build_feature_set(REF, engine=engine, store_path=store, force=True)
    frame = load_feature_set(REF)[0]
    seconds = time.perf_counter() - started
    frame.to_parquet(output, index=False)
    print(json.dumps({"seconds": seconds, "rows": len(frame), "peak_mib": peak_rss_mib()}))


def run_side(engine: str, store: Path, workdir: Path, env: dict, cluster_pids=()) -> dict:
    """One build in a subprocess, its memory and the cluster's sampled meanwhile."""
    output = workdir / f"{engine}.parquet"
    env = {**env, "USAGECAST_HOME": str(workdir / f"home-{engine}")}
    command = [sys.executable, __file__, "--child", engine, str(store), str(output)]
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    with (
        subprocess.Popen(command, env=env, **pipes) as process,
        TreeMemory([process.pid, *cluster_pids]) as memory,
    ):
        stdout, stderr = process.communicate()
    if process.returncode != 0:
        tail = stderr.strip().splitlines()[-1] if stderr.strip() else "killed"
        return {"failed": f"exit {process.returncode}: {tail}"}
    result = json.loads(stdout.strip().splitlines()[-1])
    return {**result, "total_peak_mib": memory.peak_bytes / 2**20, "output": output}


def same_rows(ours: Path, theirs: Path) -> bool:
    a = pd.read_parquet(ours).sort_values(["cutoff", "user_id"]).reset_index(drop=True)
    b = pd.read_parquet(theirs).sort_values(["cutoff", "user_id"]).reset_index(drop=True)
    try:
        pd.testing.assert_frame_equal(a, b, rtol=1e-12)
    except AssertionError as error:
        print(f"    MISMATCH: {str(error).splitlines()[0]}")
        return False
    return True


def spark_conf_dir(workdir: Path, settings: dict[str, str]) -> Path:
    """A SPARK_CONF_DIR whose spark-defaults.conf holds `settings` (where a deployment sizes
    its driver, executors and shuffles too)."""
    folder = workdir / "spark-conf"
    folder.mkdir(exist_ok=True)
    text = "".join(f"{key} {value}\n" for key, value in settings.items())
    (folder / "spark-defaults.conf").write_text(text)
    return folder


def line(name: str, n_events: int, result: dict) -> str:
    if "failed" in result:
        return f"  {name:<18} {result['failed']}"
    return (
        f"  {name:<18} {result['seconds']:8.1f} s  {n_events / result['seconds'] / 1e6:6.2f} "
        f"M events/s  builder peak {result['peak_mib']:7.0f} MiB  all processes peak "
        f"{result['total_peak_mib']:7.0f} MiB  rows {result['rows']}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--events", type=int, default=100_000_000, help="events to generate (100M)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--cores", type=int, default=1, help="cores of the Spark worker")
    parser.add_argument("--worker-memory", default="2g", help="memory of the Spark worker")
    parser.add_argument("--executor-memory", default="2g")
    parser.add_argument("--driver-memory", default="1g")
    parser.add_argument(
        "--shuffle-partitions",
        type=int,
        default=None,
        help="spark.sql.shuffle.partitions (default 4 per worker core; Spark's own is 200)",
    )
    parser.add_argument("--child", nargs=3, metavar=("ENGINE", "STORE", "OUT"))
    args = parser.parse_args(argv)
    if args.child:
        engine, store, output = args.child
        child(engine, Path(store), Path(output))
        return 0
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench_spark_cluster-"))
    workdir = workdir.resolve() / f"n{args.events}-s{args.seed}"
    store = workdir / "data" / "events.duckdb"
    store.parent.mkdir(parents=True, exist_ok=True)
    print(f"bench_spark_cluster: {args.events:,} events, workdir {workdir}")
    if not store.exists():
        started = time.perf_counter()
        generate_store(store, args.events, args.seed)
        print(f"  generated the store in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    copy = write_parquet_copy(store, replace=True)
    size = sum(path.stat().st_size for path in copy.iterdir()) / 2**20
    seconds = time.perf_counter() - started
    print(f"  Parquet copy (ingest's added step): {seconds:.1f} s, {size:.0f} MiB")

    env = {key: value for key, value in os.environ.items() if key != "SPARK_REMOTE"}
    duck = run_side("duckdb", store, workdir, env)
    print(line("duckdb", args.events, duck))
    settings = {
        "spark.executor.memory": args.executor_memory,
        "spark.driver.memory": args.driver_memory,
        "spark.sql.shuffle.partitions": str(args.shuffle_partitions or 4 * args.cores),
    }
    conf = spark_conf_dir(workdir, settings)
    with standalone_cluster(
        workdir / "cluster", cores=args.cores, memory=args.worker_memory
    ) as cluster:
        spark_env = {**env, MASTER_ENV: cluster.url, "SPARK_CONF_DIR": str(conf)}
        spark_env["SPARK_LOCAL_IP"] = "127.0.0.1"
        spark = run_side("spark", store, workdir, spark_env, cluster.pids)
    name = f"spark ({args.cores} core{'s' * (args.cores > 1)})"
    print(line(name, args.events, spark))
    if "failed" in duck or "failed" in spark:
        return 1
    equal = same_rows(spark["output"], duck["output"])
    print(
        f"  spark / duckdb: time x{spark['seconds'] / duck['seconds']:.1f}, all-process memory "
        f"x{spark['total_peak_mib'] / duck['total_peak_mib']:.1f}; same rows: "
        f"{'yes' if equal else 'NO'}"
    )
    return 0 if equal else 1


if __name__ == "__main__":
    sys.exit(main())
