"""Descriptive product-analytics models over the event store (SQL, DuckDB or Spark)."""
