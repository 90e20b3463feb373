"""Execution engines: run a DuckDB-dialect SQL syntax tree and return a pandas DataFrame.

SQL is written once (as sqlglot trees in the DuckDB dialect) and executed by DuckDB, the
embedded default, or by Spark for data that outgrows one machine. Both engines read the same
canonical tables of the event store (events.store).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal, Protocol

import pandas as pd
import sqlglot.expressions as exp

EngineName = Literal["duckdb", "spark"]
ENGINE_NAMES: tuple[EngineName, ...] = ("duckdb", "spark")


class Engine(Protocol):
    """Runs SQL over the event store's tables."""

    name: EngineName

    def query(self, sql: exp.Expression | str) -> pd.DataFrame:
        """Execute one SELECT (a sqlglot tree or DuckDB-dialect text) and return its rows."""
        ...

    def close(self) -> None:
        """Release connections/sessions."""
        ...


def check_engine_name(name: str) -> EngineName:
    """Validate an engine name from a CLI flag or config."""
    if name not in ENGINE_NAMES:
        raise ValueError(f"engine {name!r} is not known; use one of: {', '.join(ENGINE_NAMES)}")
    return name  # type: ignore[return-value]


def open_engine(
    name: str,
    store_path: Path,
    *,
    connection=None,
    on_step: Callable[[str], None] | None = None,
) -> Engine:
    """The engine `name` over the event store at `store_path`: DuckDB (on `connection` when
    given), or Spark over the store's Parquet copy (features.engines.spark says where the
    session runs), which calls `on_step` as each of a query's steps starts."""
    if check_engine_name(name) == "duckdb":
        from features.engines.duckdb import DuckDBEngine

        return DuckDBEngine(store_path, connection=connection)
    from features.engines.spark import SparkEngine

    return SparkEngine(store_path, on_step=on_step)
