"""Two real purchase-log shapes read as they are exported, every line accounted for.

(a) an e-shop's invoice lines: "C" invoice numbers are cancellations (derived event_type),
value = Quantity * UnitPrice (derived), float-like customer ids, blank customers, exact
duplicate lines and lines that differ only in Quantity; (b) a retailer's header-less,
whitespace-separated order file with zero-padded ids and YYYYMMDD dates; (c) a European
shop's semicolon export with decimal commas (UTF-8 BOM, CRLF). The expected counts are
computed here with pandas over what the test wrote, not by the ingest's rules.
"""

from __future__ import annotations

import io
import random

import pandas as pd
import pytest

from events.ingest import ingest_dataset

INVOICE_HEADER = (
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
)
CUSTOMERS = ["17850", "13047", "12583", "13748"]


def invoice_lines(rng: random.Random) -> list[str]:
    """Invoice lines as the e-shop exports them (US dates, float-like customer ids)."""
    lines = []
    for n in range(60):
        cancel = rng.random() < 0.2
        invoice = f"{'C' if cancel else ''}{536365 + n // 3}"
        quantity = rng.randint(1, 12) * (-1 if cancel else 1)
        customer = "" if rng.random() < 0.1 else f"{rng.choice(CUSTOMERS)}.0"
        day, minute = 1 + n // 10, 10 + n % 50
        lines.append(
            f'{invoice},85123A,"SET 2, TEA TOWELS",{quantity},12/{day:02d}/2010 08:{minute},'
            f"{rng.choice(['2.55', '3.39', '0.85'])},{customer},United Kingdom"
        )
    lines += rng.sample(lines, 6)  # exact duplicates
    for line in rng.sample(lines[:60], 5):  # the same line but for the quantity
        fields = line.split(",")
        fields[4] = str(int(fields[4]) + 100)
        lines.append(",".join(fields))
    rng.shuffle(lines)
    return lines


def invoice_config() -> dict:
    return {
        "name": "eshop",
        "events": {
            "files": "invoices.csv",
            "columns": {
                "user_id": "CustomerID",
                "timestamp": "InvoiceDate",
                "event_type": {
                    "expr": "CASE WHEN starts_with(InvoiceNo, 'C') THEN 'cancel' "
                    "ELSE 'purchase' END"
                },
                "item_id": "StockCode",
                "value": {"expr": "Quantity * UnitPrice"},
            },
            "timestamp_formats": ["%m/%d/%Y %H:%M"],
        },
        "users": {
            "files": "customers.csv",
            "columns": {"user_id": "id", "signup_time": "since"},
        },
    }


def test_invoice_lines_with_cancellations_and_duplicates(dataset, store, query):
    lines = invoice_lines(random.Random(7))
    users = "id,since\n" + "".join(f"{c},2010-01-01\n" for c in CUSTOMERS)
    text = INVOICE_HEADER + "\r\n" + "\r\n".join(lines) + "\r\n"
    path = dataset(files={"invoices.csv": text, "customers.csv": users}, config=invoice_config())
    summary = ingest_dataset(path, store, progress=False)

    frame = pd.read_csv(path.parent / "invoices.csv", dtype=str, keep_default_na=False)
    blank = frame["CustomerID"] == ""
    duplicate = frame.duplicated() & ~blank
    kept = frame[~blank & ~duplicate]
    counts = summary.tables["events"]
    assert counts.read == len(lines) == len(frame)
    assert counts.quarantined == {
        "missing_required_field": int(blank.sum()),
        "duplicate_event": int(duplicate.sum()),
    }
    assert counts.accepted == len(kept)
    value = kept["Quantity"].astype(float) * kept["UnitPrice"].astype(float)
    cancel = kept["InvoiceNo"].str.startswith("C")
    stored = query(
        store, "SELECT event_type, count(*), sum(value) FROM events GROUP BY 1 ORDER BY 1"
    )
    assert [(t, n) for t, n, _ in stored] == [
        ("cancel", int(cancel.sum())),
        ("purchase", int((~cancel).sum())),
    ]
    assert [v for *_, v in stored] == pytest.approx([value[cancel].sum(), value[~cancel].sum()])
    assert blank.sum() > 0 and duplicate.sum() > 0 and cancel.sum() > 0
    assert set(query(store, "SELECT DISTINCT user_id FROM events")) <= {(c,) for c in CUSTOMERS}


def order_lines(rng: random.Random) -> list[str]:
    """`00001 19970101 1 11.77`: customer, date, quantity, amount, padded with blanks/tabs."""
    lines = []
    for n in range(40):
        customer = f"{1 + n % 7:05d}"
        date = f"1997{1 + n % 12:02d}{1 + n % 28:02d}" if n != 13 else "19971332"
        gap = rng.choice([" ", "  ", "\t", " \t "])
        lines.append(
            f"{rng.choice(['', '  '])}{customer}{gap}{date}{gap}{rng.randint(1, 5)}"
            f"{gap}{rng.randint(100, 9999) / 100:.2f}{rng.choice(['', ' '])}"
        )
    lines += rng.sample(lines, 4)  # exact duplicates
    lines.insert(20, "")  # a blank line is not a row
    return lines


def test_whitespace_separated_headerless_orders(dataset, store, query):
    lines = order_lines(random.Random(3))
    users = "id,since\n" + "".join(f"{n:05d},1997-01-01\n" for n in range(1, 8))
    config = {
        "name": "orders",
        "events": {
            "files": "orders.txt",
            "format": "csv",
            "delimiter": "whitespace",
            "header": False,
            "names": ["customer", "date", "quantity", "amount"],
            "event_type": "purchase",
            "columns": {"user_id": "customer", "timestamp": "date", "value": "amount"},
            "timestamp_formats": ["%Y%m%d"],
        },
        "users": {"files": "users.csv", "columns": {"user_id": "id", "signup_time": "since"}},
    }
    text = "\r\n".join(lines) + "\r\n"
    path = dataset(files={"orders.txt": text, "users.csv": users}, config=config)
    summary = ingest_dataset(path, store, progress=False)

    frame = pd.read_csv(
        path.parent / "orders.txt", sep=r"\s+", header=None, dtype=str, skip_blank_lines=True
    )
    bad_date = pd.to_datetime(frame[1], format="%Y%m%d", errors="coerce").isna()
    duplicate = frame.duplicated() & ~bad_date
    counts = summary.tables["events"]
    assert counts.read == len(frame) == len(lines) - 1
    assert counts.quarantined == {
        "unparseable_timestamp": int(bad_date.sum()),
        "duplicate_event": int(duplicate.sum()),
    }
    assert counts.accepted == int((~bad_date & ~duplicate).sum())
    assert bad_date.sum() > 0 and duplicate.sum() > 0
    kept = frame[~bad_date & ~duplicate]
    assert query(store, "SELECT count(DISTINCT user_id), round(sum(value), 2) FROM events") == [
        (kept[0].nunique(), round(kept[3].astype(float).sum(), 2))
    ]
    assert query(store, "SELECT min(user_id) FROM events") == [("00001",)]
    # quarantined rows name the line's data row number (the blank line is not a row)
    bad_row = [i + 1 for i, b in enumerate(bad_date) if b]
    assert query(
        store, "SELECT source_row FROM quarantine WHERE reason = 'unparseable_timestamp'"
    ) == [(r,) for r in bad_row]


def european_config() -> dict:
    source = {"delimiter": ";", "decimal": ","}
    return {
        "name": "webshop_eu",
        "events": {
            "files": "bestellungen.csv",
            **source,
            "columns": {
                "user_id": "Kundennr",
                "timestamp": "Zeit_ms",
                "event_type": "Ereignis",
                "value": "Betrag",
            },
            "timestamp_formats": ["epoch_ms"],
        },
        "users": {
            "files": "kunden.csv",
            **source,
            "columns": {"user_id": "Kundennr", "signup_time": "Seit"},
            "attributes": {
                "guthaben": {"column": "Guthaben", "kind": "static", "dtype": "numeric"}
            },
        },
    }


def _export(lines: list[str]) -> bytes:
    """As a spreadsheet writes it: a UTF-8 byte order mark and CRLF line endings."""
    return "\ufeff".encode() + "".join(line + "\r\n" for line in lines).encode()


def test_semicolon_export_with_decimal_commas(dataset, store, query):
    users = ["Kundennr;Seit;Guthaben", "1;2024-01-15;10,5", "2;2024-02-01;0", "3;2024-03-10;-2,25"]
    amounts = ["9,99", "", "12,50", "0,5", "", "1.234,50", "1299,00", "", "4,75"]
    events = ["Kundennr;Ereignis;Zeit_ms;Betrag"] + [
        f"{1 + n % 3};{'Kauf' if amount else 'Ansicht'};{1717200000000 + n * 60000};{amount}"
        for n, amount in enumerate(amounts)
    ]
    path = dataset(
        files={"bestellungen.csv": _export(events), "kunden.csv": _export(users)},
        config=european_config(),
    )
    summary = ingest_dataset(path, store, progress=False)

    bad = amounts.index("1.234,50")
    good = pd.read_csv(
        io.StringIO("\n".join(events[: bad + 1] + events[bad + 2 :])), sep=";", decimal=","
    )
    counts = summary.tables["events"]
    assert (counts.read, counts.accepted, counts.quarantined) == (
        len(amounts),
        len(amounts) - 1,
        {"unparseable_value": 1},
    )
    assert counts.read == counts.accepted + counts.quarantined_total
    stored = query(store, "SELECT value FROM events ORDER BY event_id")
    assert [v for (v,) in stored] == [None if pd.isna(v) else v for v in good["Betrag"]]
    assert query(store, "SELECT source_row, reason, detail FROM quarantine") == [
        (
            bad + 1,
            "unparseable_value",
            'value 1.234,50 is not a finite number (digit groups? set thousands: "." on this '
            "source)",
        )
    ]
    kunden = pd.read_csv(io.StringIO("\n".join(users)), sep=";", decimal=",")
    assert summary.tables["users"].accepted == summary.tables["users"].read == len(kunden)
    assert query(store, "SELECT guthaben FROM users ORDER BY user_id") == [
        (v,) for v in kunden["Guthaben"]
    ]


def test_digit_groups_read_as_pandas_reads_them_with_thousands(dataset, store, query):
    amounts = ["9,99", "1.234,50", "1.234.567", "1299,00", "12.5", "1.2345", ".5", "-3.000,1"]
    events = ["Kundennr;Ereignis;Zeit_ms;Betrag"] + [
        f"1;Kauf;{1717200000000 + n * 60000};{amount}" for n, amount in enumerate(amounts)
    ]
    config = european_config()
    config["events"]["thousands"] = config["users"]["thousands"] = "."
    path = dataset(
        files={
            "bestellungen.csv": _export(events),
            "kunden.csv": _export(["Kundennr;Seit;Guthaben", "1;2024-01-15;1.000,5"]),
        },
        config=config,
    )
    summary = ingest_dataset(path, store, progress=False)

    # "12.5", "1.2345" and ".5" are not groups of three: quarantined, never read as 125
    refused = {"12.5", "1.2345", ".5"}
    assert summary.tables["events"].quarantined == {"unparseable_value": len(refused)}
    kept = [a for a in amounts if a not in refused]
    pandas = pd.read_csv(
        io.StringIO("\n".join(["Betrag", *kept])), sep=";", decimal=",", thousands="."
    )
    assert query(store, "SELECT guthaben FROM users") == [(1000.5,)]  # attributes alike
    stored = query(store, "SELECT value FROM events ORDER BY event_id")
    assert (
        [v for (v,) in stored]
        == list(pandas["Betrag"])
        == [9.99, 1234.5, 1234567.0, 1299.0, -3000.1]
    )
