"""The Spark engine: the same SQL, transpiled by sqlglot, on a Spark session.

pyspark is imported lazily so the default install path never needs Java. Spark reads the
Parquet copy that `usagecast ingest` writes per dataset digest (events.store): the
accepted rows only, so the ingest's accounting (rows read = accepted + quarantined) stays the
one place rows are kept or rejected. Where the session runs:

- `master` (the CLI's `--spark-master`, else USAGECAST_SPARK_MASTER): `local[N]` (default
  `local[2]`), a standalone cluster `spark://HOST:PORT`, `yarn` or `k8s://...`;
- SPARK_REMOTE (`sc://HOST:PORT`): Spark Connect, which needs the `spark-connect` extra.
Executors read the copy by its absolute path, so on a cluster it must lie on storage every
executor sees at the same path (USAGECAST_PARQUET_ROOT).
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path

import pandas as pd
import sqlglot
import sqlglot.expressions as exp

from contracts.errors import UsagecastError
from contracts.workspace import SPARK_MASTER_ENV as MASTER_ENV
from events.store import latest_dataset_digest, open_store, parquet_copy_dir
from features.engines.spark_steps import spark_steps

REMOTE_ENV = "SPARK_REMOTE"
DEFAULT_MASTER = "local[2]"
# A local session's shuffle partitions where Spark's configuration (spark-defaults.conf, --conf,
# the builder that started a running session) names none; Spark's own default is 200.
SHUFFLE_PARTITIONS = "spark.sql.shuffle.partitions"
LOCAL_SHUFFLE_PARTITIONS = "4"
# The master URLs Spark accepts, spelled out so a typo is refused before a JVM starts.
MASTER_PATTERN = re.compile(
    r"local(\[(\*|\d+)(,\d+)?\])?|spark://[^\s/:]+:\d+(,[^\s/:]+:\d+)*|yarn|k8s://\S+"
)


# Numbers the temp views of each query this process runs, so that two engines sharing a
# session never drop each other's views.
_QUERY_NUMBERS = itertools.count()

# Modules the Spark Connect client imports (pyspark[connect]); pyspark's own check of them
# can end the process instead of raising.
CONNECT_MODULES = ("grpc", "grpc_status", "google.rpc", "zstandard")


class SparkSetupError(UsagecastError):
    """The Spark engine cannot start: a bad master URL, or no Parquet copy to read."""


def to_spark_sql(sql: exp.Expression | str, *, pretty: bool = False) -> str:
    """Transpile DuckDB-dialect SQL to Spark SQL.

    CTE materialisation hints (`AS [NOT] MATERIALIZED`, DuckDB planner advice) are dropped:
    Spark has no such syntax and decides reuse itself.
    """
    tree = sqlglot.parse_one(sql, read="duckdb") if isinstance(sql, str) else sql.copy()
    for cte in tree.find_all(exp.CTE):
        cte.set("materialized", None)
    return tree.sql(dialect="spark", pretty=pretty)


def spark_master(master: str | None = None) -> str | None:
    """The master URL to use: `master`, else USAGECAST_SPARK_MASTER, else local[2]; None under
    Spark Connect (SPARK_REMOTE), which a master URL would contradict."""
    chosen = master or os.environ.get(MASTER_ENV)
    if os.environ.get(REMOTE_ENV):
        if chosen:
            raise SparkSetupError(
                f"Spark master {chosen!r} and {REMOTE_ENV}={os.environ[REMOTE_ENV]!r} are both "
                f"set; use one: unset {REMOTE_ENV}, or drop --spark-master/{MASTER_ENV}"
            )
        return None
    chosen = chosen or DEFAULT_MASTER
    if not MASTER_PATTERN.fullmatch(chosen):
        raise SparkSetupError(
            f"Spark master {chosen!r} is not a master URL; use spark://HOST:PORT, local[N], "
            "yarn or k8s://URL (Spark Connect: set SPARK_REMOTE=sc://HOST:PORT instead)"
        )
    return chosen


def spark_session(master: str | None = None, settings: Mapping[str, str] | None = None):
    """A Spark session with UTC session time: on `spark_master(master)`, or Spark Connect.

    `settings`: further Spark settings (name -> value) for the session; a session already
    running takes only its runtime SQL ones. A session already running in this process is
    reused only when it has the same master. A local session gets 4 shuffle partitions unless
    Spark's configuration (spark-defaults.conf, --conf, `settings` when it started) names a
    number.
    """
    from pyspark.sql import SparkSession

    chosen = spark_master(master)
    if chosen is None:
        missing = [name for name in CONNECT_MODULES if not _importable(name)]
        if missing:
            raise SparkSetupError(
                f"{REMOTE_ENV} asks for Spark Connect, whose client needs {', '.join(missing)}: "
                "install usagecast's `spark-connect` extra (pyspark[connect]), or unset "
                f"{REMOTE_ENV} and use --spark-master"
            )
        remote = SparkSession.builder.remote(os.environ[REMOTE_ENV])
        remote = remote.config(map=dict(settings or {}))
        return remote.config("spark.sql.session.timeZone", "UTC").getOrCreate()
    session = (
        SparkSession.builder.appName("usagecast")
        .master(chosen)
        .config(map=dict(settings or {}))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    running = session.sparkContext.master
    if running != chosen:
        raise SparkSetupError(
            f"this process already runs a Spark session on {running!r}; it cannot also "
            f"use {chosen!r} (start a new process)"
        )
    configured = session.sparkContext.getConf().contains(SHUFFLE_PARTITIONS)
    if chosen.startswith("local") and not configured:
        session.conf.set(SHUFFLE_PARTITIONS, LOCAL_SHUFFLE_PARTITIONS)
    return session


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a missing parent package of a dotted name
        return False


def parquet_tables(store_path: Path) -> dict[str, Path]:
    """table -> Parquet file of the store's latest dataset, as ingest wrote them."""
    con = open_store(store_path)
    try:
        digest = latest_dataset_digest(con)
    finally:
        con.close()
    folder = parquet_copy_dir(store_path, digest)
    if not folder.is_dir():
        raise SparkSetupError(
            f"{folder}: no Parquet copy of the event store's dataset {digest[:16]} for Spark "
            "to read; run `usagecast ingest DATASET.yaml` (it writes the copy; for a store "
            "ingested by an older usagecast it writes just the copy), with the same "
            "USAGECAST_PARQUET_ROOT as here"
        )
    return {path.stem: path for path in sorted(folder.glob("*.parquet"))}


class SparkEngine:
    """Runs transpiled SQL on Spark over the Parquet copy of the event store."""

    name = "spark"

    def __init__(
        self,
        store_path: Path,
        session=None,
        on_step: Callable[[str], None] | None = None,
    ) -> None:
        tables = parquet_tables(store_path)
        self.session = session or spark_session()
        self.on_step = on_step
        for table, path in tables.items():
            self.session.read.parquet(str(path)).createOrReplaceTempView(table)

    def query(self, sql: exp.Expression | str) -> pd.DataFrame:
        """Run `sql` with its top-level CTEs as temp views (spark_steps): one read twice or
        more is computed once (a local checkpoint, kept by the executors until the views go);
        the others stay inlined as Spark would have them. `on_step` hears of each checkpoint as
        it starts, then of the final statement."""
        plan = spark_steps(sql, f"usagecast_{next(_QUERY_NUMBERS)}_")
        shared = [step.cte for step in plan.steps if step.materialize]
        try:
            for step in plan.steps:
                rows = self.session.sql(to_spark_sql(step.query))
                if step.materialize:
                    self._report(f"{step.cte} ({shared.index(step.cte) + 1} of {len(shared)})")
                    rows = rows.localCheckpoint(eager=True)
                rows.createOrReplaceTempView(step.view)
            if shared:
                self._report("the rows")
            return self.session.sql(to_spark_sql(plan.final)).toPandas()
        finally:
            for step in plan.steps:
                self.session.catalog.dropTempView(step.view)

    def _report(self, part: str) -> None:
        if self.on_step is not None:
            self.on_step(f"computing {part}")

    def close(self) -> None:
        """Leave the session running: tests and notebooks share one per process."""
