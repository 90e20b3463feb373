"""The embedded default engine: DuckDB over the event store file."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import sqlglot.expressions as exp

from events.store import open_store


class DuckDBEngine:
    """Runs DuckDB-dialect SQL against the event store (read-only) or a given connection."""

    name = "duckdb"

    def __init__(self, store_path: Path | None = None, *, connection=None) -> None:
        if connection is None and store_path is None:
            raise ValueError("DuckDBEngine needs a store path or an open connection")
        self._owned = connection is None
        self.connection: duckdb.DuckDBPyConnection = connection or open_store(store_path)

    def query(self, sql: exp.Expression | str) -> pd.DataFrame:
        text = sql if isinstance(sql, str) else sql.sql(dialect="duckdb")
        return self.connection.execute(text).fetch_df()

    def close(self) -> None:
        if self._owned:
            self.connection.close()
