"""Text-table exports of many shapes, made from a seeded `random.Random`, for the starter.

The delimiter, the encoding (UTF-16 from Excel, latin-1, a BOM), line endings and quoting, a
report's title and footer, column names from several tools and languages, times in one of
several formats, amounts with a decimal comma or digit groups, ids as numbers, floats,
zero-padded or emails (now and then blank), and notes whose quoted fields hold delimiters,
quotes and line breaks. Each export is one events file; its writer returns how many rows it
wrote.
"""

from __future__ import annotations

import csv
import io
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

USER_IDS = ("user_id", "Customer ID", "uid", "Kundennummer", "Account ID", "userId")
TIMES = ("timestamp", "Created at", "ts", "Datum", "event_time", "Date")
EVENTS = ("event", "Event Type", "page", "event_name", "Action")
AMOUNTS = ("amount", "Betrag", "value", "revenue", "Total")
NOTES = ("Description", "comment", "Notes")
TIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%SZ",
    "%d/%m/%Y %H:%M",
    "%m/%d/%Y",
    "%d.%m.%Y %H:%M",
    "%Y-%m-%d",
    "%b %d, %Y",
    "epoch",
)
EVENT_NAMES = ("Login", "Purchase", "Add to Cart", "play", "PAGE_VIEW", "Café", "signup")
NOTE_TEXTS = ("fine", "two\nlines", 'say "hi"', "a;b|c,d\te", "", "Grüße", "x" * 50, "\n", "ok")
TITLE = "Usage report\nGenerated 2025-01-01\n\n"
FOOTER = '""\n"Total"\n"Confidential"\n'


def _user_id(rng: random.Random, shape: str) -> str:
    if rng.random() < 0.05:
        return ""
    n = rng.randrange(1, 40)
    return {"number": str(n), "float": f"{n}.0", "email": f"u{n}@example.com"}.get(
        shape, f"{n:06d}"
    )


def _time(rng: random.Random, fmt: str) -> str:
    moment = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(600_000))
    return str(int(moment.timestamp())) if fmt == "epoch" else moment.strftime(fmt)


def _amount(rng: random.Random, decimal: str, grouped: bool) -> str:
    text = f"{rng.choice([0, 1.5, 12.25, 1234.5, 99999.99, 3]):{',' if grouped else ''}.2f}"
    if decimal == ",":
        return text.translate(str.maketrans(",.", ".,"))
    return text


def write_text_export(rng: random.Random, folder: Path) -> int:
    """Write folder/events.csv of a random shape; return its number of rows."""
    folder.mkdir(parents=True, exist_ok=True)
    delimiter = rng.choice([",", ";", "\t", "|"])
    decimal = "," if delimiter != "," and rng.random() < 0.5 else "."
    grouped = rng.random() < 0.5
    time_format = rng.choice(TIME_FORMATS)
    id_shape = rng.choice(["number", "float", "email", "padded"])
    columns = [rng.choice(USER_IDS), rng.choice(TIMES), rng.choice(EVENTS)]
    columns += [rng.choice(AMOUNTS)] if rng.random() < 0.7 else []
    columns += [rng.choice(NOTES)] if rng.random() < 0.5 else []
    rng.shuffle(columns)
    make = {
        **dict.fromkeys(USER_IDS, lambda: _user_id(rng, id_shape)),
        **dict.fromkeys(TIMES, lambda: _time(rng, time_format)),
        **dict.fromkeys(EVENTS, lambda: rng.choice(EVENT_NAMES)),
        **dict.fromkeys(AMOUNTS, lambda: _amount(rng, decimal, grouped)),
        **dict.fromkeys(NOTES, lambda: rng.choice(NOTE_TEXTS)),
    }
    rows = [[make[column]() for column in columns] for _ in range(rng.randrange(3, 60))]
    table = io.StringIO()
    writer = csv.writer(
        table,
        delimiter=delimiter,
        lineterminator=rng.choice(["\n", "\r\n"]),
        quoting=rng.choice([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]),
    )
    writer.writerows([columns, *rows])
    title = TITLE if rng.random() < 0.2 else ""
    footer = FOOTER if rng.random() < 0.2 else ""
    trailing = "\n\n" if rng.random() < 0.2 else ""
    encoding = rng.choice(["utf-8", "utf-8-sig", "latin-1", "utf-16"])
    text = title + table.getvalue() + footer + trailing
    (folder / "events.csv").write_bytes(text.encode(encoding))
    return len(rows)
