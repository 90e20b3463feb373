"""What an ingest did: per-table accounting, shown to people as a short text."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from events.ingest.validate import NOT_ERRORS
from events.quality import ReportFiles


@dataclass(frozen=True)
class TableCounts:
    """Rows read from a table's files, accepted into the store, and quarantined by reason.

    `quarantined` lists only the reasons that occurred (no zero entries).
    """

    read: int
    accepted: int
    quarantined: Mapping[str, int] = field(default_factory=dict)

    @property
    def quarantined_total(self) -> int:
        return sum(self.quarantined.values())

    def to_json(self) -> dict:
        return {
            "read": self.read,
            "accepted": self.accepted,
            "quarantined": dict(self.quarantined),
        }

    @classmethod
    def from_json(cls, data: Mapping) -> TableCounts:
        return cls(int(data["read"]), int(data["accepted"]), dict(data["quarantined"]))


@dataclass(frozen=True)
class IngestSummary:
    """The result of `ingest_dataset`; `reloaded` is False when the digest was already loaded."""

    dataset: str
    config_path: Path
    store_path: Path
    dataset_digest: str
    ingest_id: str
    reloaded: bool
    tables: Mapping[str, TableCounts]
    seconds: float
    report_files: ReportFiles | None = None
    quality_text: str = ""
    # With several events sources, each one's counts (`events[1] (payments.csv)`).
    sources: Mapping[str, TableCounts] = field(default_factory=dict)

    def describe(self) -> str:
        """Human-readable summary: read / accepted / quarantined by reason, per table."""
        if self.reloaded:
            head = f"ingested {self.dataset} into {self.store_path} in {self.seconds:.1f} s"
        else:
            head = (
                f"{self.dataset}: unchanged (digest {self.dataset_digest[:12]} already loaded "
                f"by ingest {self.ingest_id}); nothing reloaded"
            )
        lines = [head]
        for table, counts in self.tables.items():
            lines.append(
                f"  {table}: read {counts.read:,}  accepted {counts.accepted:,}  "
                f"quarantined {counts.quarantined_total:,}"
            )
            for reason, count in sorted(counts.quarantined.items()):
                lines.append(
                    f"    {reason}: {count:,}"
                    + (" (not an error)" if reason in NOT_ERRORS else "")
                )
            if table == "events":
                lines += [
                    f"    {name}: read {c.read:,}  accepted {c.accepted:,}  "
                    f"quarantined {c.quarantined_total:,}"
                    for name, c in self.sources.items()
                ]
        if self.quality_text:
            lines += ["", self.quality_text]
        if self.report_files is not None:
            lines.append(self.report_files.describe())
        return "\n".join(lines)
