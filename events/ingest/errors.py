"""The ingest's error for a source file it cannot read (readers.py, archives.py, load.py)."""

from __future__ import annotations

from contracts.errors import UsagecastError


class SourceFileError(UsagecastError):
    """A source file is missing, matches nothing, cannot be decoded or lacks a column."""
