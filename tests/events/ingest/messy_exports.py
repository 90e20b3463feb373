"""Messy export datasets made from a seeded `random.Random`, and the ingest invariants they check.

Shared by the Hypothesis test (test_fuzz_ingest.py, which hands in a Hypothesis-controlled
Random) and scripts/fuzz_ingest.py (the full count). Each dataset is a messy users.csv and one
messy events file (csv, jsonl or parquet): blank/whitespace and float-like ids, NUL and control
characters, quotes, delimiters and newlines inside fields, unicode, timestamps in several
formats, numbers with underscores/inf/nan, duplicate rows, unknown users, CRLF/LF mixes,
whitespace-only lines, BOMs, and now and then a file cut off mid-row or a repeated header.
"""

from __future__ import annotations

import csv
import io
import json
import random
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from tiny_datasets import make_config

from contracts.errors import UsagecastError
from events.ingest import ingest_dataset, validate
from events.ingest.starter import write_starter

FORMATS = ("csv", "jsonl", "parquet")
KNOWN_REASONS = frozenset(
    value
    for name, value in vars(validate).items()
    if name.isupper()
    and isinstance(value, str)
    and value.islower()
    and "_" in value
    and not name.endswith(("_COLUMN", "_PATTERN"))
)
IDS = [
    "1",
    "2",
    "3",
    " 4 ",
    "5.0",
    "5",
    "",
    "  ",
    "-1",
    "1e3",
    "x\x00y",
    "\x07",
    "ü",
    "a,b",
    'q"t',
    "line\nbreak",
    "42",
    "7.50",
]
TIMES = [
    "2024-02-01",
    "2024/02/01",
    "2024-02-01T10:00:00Z",
    "01-02-2024 10:00",
    "1706745600",
    "",
    "not a date",
    "2024-02-30",
    "2024-02-01 10:00:00.123+02:00",
    "  2024-02-03  ",
    "2024-02-01 10:00",
    "1706745600.5",
    "1_706_745_600",
    "2024-02-01\x00",
]
TYPES = ["PLAY", "PLAY", "SKIP", "NextSong", "Help", "DANCE", "", "PL\x00AY", " LOGIN "]
VALUES = [
    "10",
    "1_000",
    "inf",
    "nan",
    "-5",
    "1e3",
    "",
    " 1 000",
    "3.5",
    "+.5",
    "99999",
    "0x1",
    "1,5",
    "-0",
]
AREAS = [
    "home",
    "",
    "a,b",
    'say "hi"',
    "multi\nline",
    "\t",
    "日本",
    "\x00",
    "   \n  ",
    "é\r\nx",
    "'single'",
    "\\",
]
EVENT_COLUMNS = ("uid", "ts", "page", "length", "area")
USER_COLUMNS = ("id", "registration", "city")


@dataclass(frozen=True)
class MessyDataset:
    """A written dataset: its YAML, the events format, and the data rows each file holds.

    `rows` is None for a file that was cut off or has a repeated header (its count is unknown).
    """

    config: Path
    events_format: str
    rows: dict[str, int | None]


def _messy_rows(rng: random.Random, pools: list[list[str]], n: int) -> list[list[str]]:
    rows: list[list[str]] = []
    for _ in range(n):
        if rows and rng.random() < 0.1:
            rows.append(list(rng.choice(rows)))  # an exact duplicate
        else:
            rows.append([rng.choice(pool) for pool in pools])
    return rows


def _line_end(rng: random.Random, style: str) -> str:
    return {"lf": "\n", "crlf": "\r\n"}.get(style) or rng.choice(["\n", "\r\n"])


def _text_file(rng: random.Random, lines: list[str], style: str) -> tuple[bytes, bool]:
    """Lines joined with LF/CRLF/mixed endings, whitespace lines sprinkled in, maybe a BOM,
    maybe cut off. Returns the bytes and whether the file was cut off."""
    out = []
    for line in lines:
        out.append(line + _line_end(rng, style))
        if rng.random() < 0.05:
            out.append(rng.choice(["", "   ", "\t "]) + _line_end(rng, style))
    text = ("\ufeff" if rng.random() < 0.15 else "") + "".join(out)
    data = text.encode("utf-8")
    if len(data) > 1 and rng.random() < 0.05:
        return data[: rng.randrange(len(data) // 2, len(data))], True
    return data, False


def _csv_lines(header: tuple[str, ...], rows: list[list[str]]) -> list[str]:
    """One CSV record per entry (a record may span lines inside quotes)."""
    lines = []
    for record in [list(header), *rows]:
        buffer = io.StringIO()
        # The terminator holds CR and LF so that fields holding either are quoted.
        csv.writer(buffer, lineterminator="\r\n").writerow(record)
        lines.append(buffer.getvalue().removesuffix("\r\n"))
    return lines


def _csv_file(
    rng: random.Random, header: tuple[str, ...], rows: list[list[str]]
) -> tuple[bytes, bool]:
    lines = _csv_lines(header, rows)
    if rng.random() < 0.03:
        lines[0] += "," + header[0]  # a repeated header column
        return _text_file(rng, lines, rng.choice(["lf", "crlf", "mixed"]))[0], True
    return _text_file(rng, lines, rng.choice(["lf", "crlf", "mixed"]))


def _json_value(rng: random.Random, text: str):
    """Mostly the text; sometimes a JSON number or null, as real exports mix them."""
    roll = rng.random()
    if roll < 0.1:
        try:
            return json.loads(text)
        except ValueError:
            return text
    if roll < 0.15:
        return None
    return text


def _jsonl_file(rng: random.Random, rows: list[list[str]]) -> tuple[bytes, bool]:
    lines = [
        json.dumps(
            {k: _json_value(rng, v) for k, v in zip(EVENT_COLUMNS, row, strict=True)},
            ensure_ascii=rng.random() < 0.5,
        )
        for row in rows
    ]
    return _text_file(rng, lines, rng.choice(["lf", "crlf", "mixed"]))


def _parquet_file(rng: random.Random, rows: list[list[str]]) -> bytes:
    columns = {name: [row[i] for row in rows] for i, name in enumerate(EVENT_COLUMNS)}
    arrays = {name: pa.array([v or None for v in values]) for name, values in columns.items()}
    if rng.random() < 0.5:
        floats = []
        for text in columns["length"]:
            try:
                floats.append(float(text))
            except ValueError:
                floats.append(None)
        arrays["length"] = pa.array(floats, type=pa.float64())
    buffer = io.BytesIO()
    pq.write_table(pa.table(arrays), buffer)
    return buffer.getvalue()


def write_messy_dataset(rng: random.Random, folder: Path, events_format: str) -> MessyDataset:
    """Write users.csv, events.<format> and dataset.yaml into folder."""
    folder.mkdir(parents=True, exist_ok=True)
    users = _messy_rows(rng, [IDS, TIMES, AREAS], rng.randrange(0, 12))
    events = _messy_rows(rng, [IDS, TIMES, TYPES, VALUES, AREAS], rng.randrange(0, 40))
    users_bytes, users_broken = _csv_file(rng, USER_COLUMNS, users)
    (folder / "users.csv").write_bytes(users_bytes)
    events_name = f"events.{events_format}"
    if events_format == "csv":
        events_bytes, events_broken = _csv_file(rng, EVENT_COLUMNS, events)
    elif events_format == "jsonl":
        events_bytes, events_broken = _jsonl_file(rng, events)
    else:
        events_bytes, events_broken = _parquet_file(rng, events), False
    (folder / events_name).write_bytes(events_bytes)
    formats = rng.sample(["iso", "epoch_s", "%d-%m-%Y %H:%M", "%Y/%m/%d"], rng.randrange(1, 4))
    config = make_config(name="messy")
    config["events"][0].update(files=events_name, timestamp_formats=formats)
    config["events"][0]["columns"]["area"] = "area"
    config["users"]["timestamp_formats"] = formats
    path = folder / "dataset.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    rows = {
        "users": None if users_broken else len(users),
        "events": None if events_broken else len(events),
    }
    return MessyDataset(path, events_format, rows)


STORED_TABLES = ("events", "users", "user_attributes", "quarantine")


def stored_tables(config: Path, store: Path) -> dict[str, list[tuple]] | str:
    """Ingest (a partial ingest allowed); every stored table's rows in stored order, or the
    kind of refusal (refusal_kind)."""
    try:
        ingest_dataset(config, store, progress=False, allow_partial=True)
    except UsagecastError as error:
        return refusal_kind(error)
    con = duckdb.connect(str(store), read_only=True)
    try:
        return {table: con.execute(f"SELECT * FROM {table}").fetchall() for table in STORED_TABLES}
    finally:
        con.close()


def refusal_kind(error: UsagecastError) -> str:
    """A short, stable label for a refusal: the error type and the message without paths."""
    message = str(error).split(": ", 1)[-1]
    for marker in ("line ", "column ", "cannot read as"):
        if marker in message:
            message = marker + message.split(marker, 1)[1]
            break
    kind = "".join("N" if c.isdigit() else c for c in message)
    return f"{type(error).__name__}: {kind[:80]}"


def check_ingest(dataset: MessyDataset, store: Path) -> str | None:
    """Ingest and check the invariants; None when it ingested, else the refusal kind.

    Any exception other than a UsagecastError propagates (a crash). Checked on success:
    rows read = accepted + quarantined per table, every reason known, rows read = rows
    written for intact files, and no stored text holding a NUL.
    """
    try:
        summary = ingest_dataset(dataset.config, store, progress=False, allow_partial=True)
    except UsagecastError as error:
        return refusal_kind(error)
    for table, counts in summary.tables.items():
        assert counts.read == counts.accepted + counts.quarantined_total, (table, counts)
        assert set(counts.quarantined) <= KNOWN_REASONS, (table, counts.quarantined)
        written = dataset.rows.get(table)
        assert written is None or counts.read == written, (table, counts.read, written)
    con = duckdb.connect(str(store), read_only=True)
    try:
        nul = con.execute(
            "SELECT count(*) FROM events WHERE contains(concat(user_id, area, event_type), chr(0))"
        ).fetchone()[0]
        stored = con.execute("SELECT reason, count(*) FROM quarantine GROUP BY ALL").fetchall()
    finally:
        con.close()
    assert nul == 0
    assert sum(n for _, n in stored) == sum(c.quarantined_total for c in summary.tables.values())
    return None


def check_starter(dataset: MessyDataset, store: Path) -> str | None:
    """Replace the dataset's hand-written config (which ingested) with the one `dataset new`
    drafts from its files, and ingest that with check_ingest's invariants; it must not be
    refused. None when it ingested, else why the starter wrote no config (no column named
    like a user id or a time)."""
    dataset.config.unlink()
    try:
        drafted, _ = write_starter([dataset.config.parent], None, None)
    except UsagecastError as error:
        assert "no file reads as events" in str(error), error
        return refusal_kind(error)
    refused = check_ingest(MessyDataset(drafted, dataset.events_format, dataset.rows), store)
    assert refused is None, f"the drafted config was refused: {refused}"
    return None
