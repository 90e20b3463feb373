"""Ingestion: a dataset config (YAML) -> validated canonical tables, quarantine and counts."""

from events.ingest.config import ConfigError, DatasetConfig, parse_config
from events.ingest.load import StoreBusyError, ingest_dataset, read_config
from events.ingest.readers import SourceFileError
from events.ingest.summary import IngestSummary, TableCounts

__all__ = [
    "ConfigError",
    "DatasetConfig",
    "IngestSummary",
    "SourceFileError",
    "StoreBusyError",
    "TableCounts",
    "ingest_dataset",
    "parse_config",
    "read_config",
]
