"""The Spark engine: the same SQL, transpiled by sqlglot, on a Spark session.

pyspark is imported lazily so the default install path never needs Java. Tables are handed to
Spark as Parquet files exported once per dataset digest from the event store, so a cluster
reads them in parallel; point SPARK_REMOTE or `master` at a cluster to leave this machine.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import sqlglot
import sqlglot.expressions as exp

from features.event_store import (
    EVENTS,
    ITEMS,
    USERS,
    latest_dataset_digest,
    open_store,
)

SPARK_TABLES = (EVENTS, USERS, ITEMS, "user_attributes", "item_attributes")


def to_spark_sql(sql: exp.Expression | str, *, pretty: bool = False) -> str:
    """Transpile DuckDB-dialect SQL to Spark SQL.

    CTE materialisation hints (`AS [NOT] MATERIALIZED`, DuckDB planner advice) are dropped:
    Spark has no such syntax and decides reuse itself.
    """
    tree = sqlglot.parse_one(sql, read="duckdb") if isinstance(sql, str) else sql.copy()
    for cte in tree.find_all(exp.CTE):
        cte.set("materialized", None)
    return tree.sql(dialect="spark", pretty=pretty)


def export_tables(store_path: Path, export_root: Path) -> dict[str, Path]:
    """Export the store's tables to Parquet once per dataset digest; return table -> path."""
    con = open_store(store_path)
    try:
        digest = latest_dataset_digest(con)
        target = export_root / digest[:16]
        present = {
            row[0]
            for row in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
        paths: dict[str, Path] = {}
        for table in SPARK_TABLES:
            if table not in present:
                continue
            path = target / f"{table}.parquet"
            if not path.exists():
                target.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(".tmp")
                con.execute(f"COPY {table} TO '{tmp}' (FORMAT parquet)")
                tmp.rename(path)
            paths[table] = path
        return paths
    finally:
        con.close()


def local_spark_session(master: str = "local[2]"):
    """A small local Spark session (or SPARK_REMOTE when set) with UTC session time."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("usagecast")
    if not os.environ.get("SPARK_REMOTE"):
        builder = builder.master(master)
    return (
        builder.config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )


class SparkEngine:
    """Runs transpiled SQL on Spark over Parquet exports of the event store."""

    name = "spark"

    def __init__(self, store_path: Path, export_root: Path, session=None) -> None:
        self.session = session or local_spark_session()
        for table, path in export_tables(store_path, export_root).items():
            self.session.read.parquet(str(path)).createOrReplaceTempView(table)

    def query(self, sql: exp.Expression | str) -> pd.DataFrame:
        return self.session.sql(to_spark_sql(sql)).toPandas()

    def close(self) -> None:
        """Leave the session running: tests and notebooks share one per process."""
