"""`usagecast dataset new` (events/ingest/starter.py): a dataset config guessed from an
export's files, which the ingest then reads (the guesses are checked against configs written
by hand, among them the walkthrough's for the export real_export writes)."""

from __future__ import annotations

import gzip
import json
import re
import zipfile
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from real_export import write_export

from events.ingest import SourceFileError, ingest_dataset, read_config
from events.ingest.config import ZONE_ABBREVIATIONS, FillDown
from events.ingest.starter import (
    SAMPLE_BYTES,
    STRPTIME_CANDIDATES,
    StarterError,
    _encoding,
    _event_type_constant,
    id_shape,
    timestamp_formats,
    write_starter,
)
from events.ingest.summary import TableCounts
from events.ingest.validate import timestamp_sql
from usagecast_cli.main import main

WALKTHROUGH = Path(__file__).resolve().parents[2] / "docs" / "bring-your-own-data.md"
TABLES = ("events", "users", "user_attributes", "quarantine")


def _query(store: Path, sql: str) -> list[tuple]:
    """One query's rows, the store opened read-only."""
    with duckdb.connect(str(store), read_only=True) as con:
        return con.execute(sql).fetchall()


def _stored(config: Path, store: Path) -> dict[str, list[tuple]]:
    ingest_dataset(config, store, progress=False)
    return {t: _query(store, f"SELECT * FROM {t} ORDER BY ALL") for t in TABLES}


def test_the_walkthroughs_export_gets_the_walkthroughs_config(tmp_path):
    export = tmp_path / "export"
    write_export(export, users=200)
    out, starter = write_starter([export], None, "trial_app")
    doc = re.search(
        r"```yaml\n# file: export/dataset.yaml\n(.*?)```", WALKTHROUGH.read_text(), re.S
    )
    by_hand = tmp_path / "by_hand" / "dataset.yaml"
    by_hand.parent.mkdir()
    by_hand.write_text(doc.group(1), encoding="utf-8")

    # The walkthrough's one edit: its Plan is the plan chosen at signup, drafted as a snapshot.
    draft = out.read_text(encoding="utf-8")
    edited = draft.replace("{column: Plan, kind: snapshot,", "{column: Plan, kind: static,")
    assert edited != draft
    out.write_text(edited, encoding="utf-8")
    guessed, written = read_config(out), read_config(by_hand)
    assert (guessed.name, guessed.events, guessed.users) == (
        written.name,
        written.events,
        written.users,
    )
    for name in ("users.csv", "logins.csv"):
        (by_hand.parent / name).write_bytes((export / name).read_bytes())
    assert _stored(out, tmp_path / "a.duckdb") == _stored(by_hand, tmp_path / "b.duckdb")
    assert any("LastSeen as snapshot" in check for check in starter.checks)
    assert any(
        "Plan as snapshot (its name reads as a state that changes: today's, at export time)"
        in check
        for check in starter.checks
    )


def test_hourly_gzipped_json_files_with_a_key_added_later(tmp_path, monkeypatch):
    export = tmp_path / "export"
    export.mkdir()
    for hour in range(3):
        records = [
            {
                "user_id": None if n == 0 else str(n),
                "device_id": f"d{n}",
                "event_time": f"2024-07-01 0{hour}:0{n}:00.123000",
                "event_type": "Play Song",
                "event_properties": {"genre": "pop"},
                **({"revenue": 9.99} if hour == 2 else {}),
            }
            for n in range(4)
        ]
        lines = "\n".join(json.dumps(r) for r in records) + "\n"
        (export / f"1_2024070100_{hour}.json.gz").write_bytes(
            gzip.compress(lines.encode(), mtime=0)
        )
    out, starter = write_starter([export], None, None)

    config = read_config(out)
    (source,) = config.events
    assert source.files == "*.json.gz"
    assert dict(source.columns) == {
        "user_id": "user_id",
        "timestamp": "event_time",
        "anonymous_id": "device_id",
        "event_type": "event_type",
        "value": "revenue",
        "properties": "event_properties",
    }
    monkeypatch.setenv("USAGECAST_HOME", str(tmp_path / "home"))
    summary = ingest_dataset(out, tmp_path / "store.duckdb", progress=False, allow_partial=True)
    assert summary.tables["events"].accepted == 9
    assert summary.tables["events"].quarantined == {"unidentified_anonymous_id": 3}
    anonymous = "an event without user_id takes the user its device_id"
    assert any(anonymous in check for check in starter.checks)


def _mixpanel_record(n: int, event: str, **extra: object) -> dict:
    """A line of Mixpanel's raw export: the user id and the time inside `properties`."""
    identified = n % 3 == 0  # `$user_id` only once the user logged in
    return {
        "event": event,
        "properties": {
            "time": 1709632800 + 60 * n,
            "distinct_id": f"u{n % 7}",
            "$insert_id": f"i{n}",
            **({"$user_id": f"u{n % 7}"} if identified else {}),
            "mp_processing_time_ms": 1709632900000 + n,
            **extra,
        },
    }


def test_mixpanels_export_keeps_ids_times_and_revenue_in_properties(tmp_path):
    export = tmp_path / "export"
    export.mkdir()
    records = [_mixpanel_record(n, "Song Played") for n in range(300)]
    records += [_mixpanel_record(300 + n, "Plan Purchased", amount=9.99) for n in range(2)]
    resent = [
        {**r, "properties": {**r["properties"], "mp_processing_time_ms": 1}} for r in records[-3:]
    ]
    lines = [json.dumps(r) for r in records + resent]
    (export / "export.json").write_text("\n".join(lines) + "\n", encoding="utf-8")
    people = [
        {"$distinct_id": f"u{n}", "$properties": {"$created": "2024-03-01T08:00:00", "plan": "x"}}
        for n in range(7)
    ]
    (export / "people.json").write_text("\n".join(map(json.dumps, people)), encoding="utf-8")
    out, starter = write_starter([export], None, "mixpanel")

    (source,) = read_config(out).events
    assert dict(source.columns) == {
        "user_id": "properties.distinct_id",
        "timestamp": "properties.time",
        "event_type": "event",
        "value": "properties.amount",  # first met in line 301, after the first 200 lines
        "properties": "properties",
    }
    assert source.timestamp_formats == ("epoch_s",)
    config = read_config(out)
    assert config.rules.rename_event_types == {  # the second first met in line 301
        "Song Played": "Song_Played",
        "Plan Purchased": "Plan_Purchased",
    }
    assert dict(config.users.columns) == {
        "user_id": "$distinct_id",
        "signup_time": "$properties.$created",
    }
    assert [(a.name, a.column) for a in config.users.attributes] == [("plan", "$properties.plan")]
    assert source.dedupe == (
        "event",
        "properties.distinct_id",
        "properties.time",
        "properties.$insert_id",
    )
    assert any(
        "user id properties.distinct_id of the columns named like one" in check
        and "properties.$user_id in 67" in check
        for check in starter.checks
    )
    summary = ingest_dataset(out, tmp_path / "store" / "events.duckdb", progress=False)
    assert summary.tables["events"].accepted == 302
    assert summary.tables["events"].quarantined == {"duplicate_event": 3}
    assert summary.tables["users"].accepted == 7
    assert "a spec cannot name" not in summary.quality_text


def test_segments_user_id_stays_ahead_of_the_anonymous_id_it_fills_most(tmp_path):
    export = tmp_path / "export"
    export.mkdir()
    records = [
        {
            "messageId": f"m{n}",
            "anonymousId": f"a{n % 5}",
            "userId": None if n % 4 == 0 else f"u{n % 5}",
            "event": "Order Completed",
            "timestamp": f"2024-03-05T09:{n:02d}:00.000Z",
            "properties": {"revenue": 9.99},
        }
        for n in range(40)
    ]
    lines = [json.dumps(r) for r in [*records, records[5]]]
    (export / "tracks.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    out, starter = write_starter([export], None, "segment")

    (source,) = read_config(out).events
    assert (source.columns["user_id"], source.columns["value"]) == ("userId", "properties.revenue")
    assert source.dedupe == ("event", "userId", "timestamp", "messageId")
    assert any(
        "of 41 sampled rows: userId in 31, anonymousId in 41)" in check for check in starter.checks
    )
    assert source.columns["anonymous_id"] == "anonymousId"
    summary = ingest_dataset(out, tmp_path / "store" / "events.duckdb", progress=False)
    # each anonymousId is only ever seen with one userId, before or at its first event
    assert summary.tables["events"].accepted == 40
    assert summary.tables["events"].quarantined == {"duplicate_event": 1}
    assert "attributed to a user by their anonymous_id: 10 " in summary.quality_text


def test_semicolons_month_first_dates_a_json_array_and_parquet(tmp_path):
    export = tmp_path / "export"
    export.mkdir()
    orders = (
        "sep=;\nCustomerID;OrderDate;Amount\n17;03/04/2024 10:15;4,50\n18;03/05/2024 11:00;3\n"
    )
    (export / "orders.csv").write_bytes(orders.encode("cp1252"))
    (export / "api.json").write_text(
        json.dumps([{"uid": "17", "at": 1711929600123, "action": "open"}], indent=2)
    )
    table = pa.table({"member_id": ["18"], "ts": ["2024-04-02T10:00:00Z"], "type": ["x"]})
    pq.write_table(table, export / "clicks.parquet")
    out, starter = write_starter([export], None, "shop")

    sources = {s.files: s for s in read_config(out).events}
    orders = sources["orders.csv"]
    assert (orders.delimiter, dict(orders.columns)) == (
        ";",
        {"user_id": "CustomerID", "timestamp": "OrderDate", "value": "Amount"},
    )
    assert orders.event_type == "ORDER" and orders.timestamp_formats == ("%d/%m/%Y %H:%M",)
    assert orders.decimal == ","
    assert any("day-first or month-first" in check for check in starter.checks)
    assert sources["api.json"].timestamp_formats == ("epoch_ms",)
    assert dict(sources["api.json"].columns)["event_type"] == "action"
    assert dict(sources["clicks.parquet"].columns)["user_id"] == "member_id"


def test_a_warehouse_parquet_with_zoned_times_and_structs_and_a_workspace_beside_it(tmp_path):
    export = tmp_path / "export"
    (export / ".usagecast" / "events_parquet").mkdir(parents=True)
    zoned = pa.array([datetime(2024, 3, 5, 9, tzinfo=UTC)], type=pa.timestamp("us", tz="UTC"))
    properties = pa.array([{"revenue": 9.99, "sku": "A-1"}])
    pq.write_table(
        pa.table(
            {"user_id": [101], "event_ts": zoned, "event": ["buy"], "properties": properties}
        ),
        export / "events.parquet",
    )
    # a store's Parquet copy, as a workspace in the export's folder holds one: not the export
    pq.write_table(
        pa.table({"user_id": ["9"], "event_time": ["2024-01-01"], "event_type": ["x"]}),
        export / ".usagecast" / "events_parquet" / "events.parquet",
    )
    out, _ = write_starter([export], None, None)

    (source,) = read_config(out).events
    assert source.files == "events.parquet"
    assert dict(source.columns) == {
        "user_id": "user_id",
        "timestamp": "event_ts",
        "event_type": "event",
        "item_id": "properties.sku",
        "value": "properties.revenue",
        "properties": "properties",
    }
    assert source.timestamp_formats == ("iso",)
    store = tmp_path / "store" / "events.duckdb"
    ingest_dataset(out, store, progress=False)
    with duckdb.connect(str(store), read_only=True) as con:
        stored = "SELECT user_id, event_time, event_type, value, item_id FROM events"
        assert con.execute(stored).fetchall() == [
            ("101", datetime(2024, 3, 5, 9), "buy", 9.99, "A-1")
        ]


def test_ga4s_bigquery_export_as_parquet(tmp_path):
    export = tmp_path / "export"
    export.mkdir()
    ecommerce = pa.array([None, {"purchase_revenue": 9.99, "transaction_id": "t1"}])
    table = pa.table(
        {
            "event_date": ["20240305", "20240305"],
            "event_timestamp": [1709632800000000, 1709632900000000],
            "event_name": ["page_view", "purchase"],
            "user_pseudo_id": ["1001.17", "1001.17"],
            "user_id": pa.array([None, None], pa.string()),  # blank until a site sets it
            "traffic_source": [{"medium": "cpc"}, {"medium": "cpc"}],
            "ecommerce": ecommerce,
            "event_params": [
                [{"key": "ga_session_id", "value": {"string_value": None, "int_value": 7}}],
                [{"key": "ga_session_id", "value": {"string_value": None, "int_value": 7}}],
            ],
        }
    )
    pq.write_table(table, export / "events_20240305.parquet")
    out, _ = write_starter([export], None, "ga4")

    (source,) = read_config(out).events
    assert dict(source.columns) == {
        "user_id": "user_pseudo_id",
        "timestamp": "event_timestamp",
        "event_type": "event_name",
        "session_id": "event_params.ga_session_id",
        "value": "ecommerce.purchase_revenue",
    }
    assert source.timestamp_formats == ("epoch_us",)
    summary = ingest_dataset(out, tmp_path / "store" / "events.duckdb", progress=False)
    assert summary.tables["events"].accepted == 2


def test_an_empty_file_is_left_out_with_a_check_not_a_stop(tmp_path):
    export = tmp_path / "export"
    export.mkdir()
    (export / "events.csv").write_text("user_id,event,ts\n1,login,2024-03-05\n")
    (export / "crashed.csv").write_bytes(b"")
    (export / "empty.jsonl.gz").write_bytes(gzip.compress(b""))
    out, starter = write_starter([export], None, None)
    assert [source.files for source in read_config(out).events] == ["events.csv"]
    for name in ("crashed.csv", "empty.jsonl.gz"):
        assert (
            f"{name}: left out: empty (no bytes, not even a header line); the ingest would "
            "stop at it: fix it, or move it out of the export"
        ) in starter.checks


def test_a_second_download_of_a_file_is_one_source_and_named_as_a_copy(tmp_path):
    orders = "customer_id,created_at,total\n1,2025-01-03 10:00:00,5\n2,2025-01-04 11:00:00,7\n"
    out, starter = _starter_for(tmp_path, {"orders.csv": orders, "orders (1).csv": orders})
    (source,) = read_config(out).events
    assert (source.files, source.event_type) == ("*.csv", "ORDER")
    assert (
        "orders (1).csv: the same bytes as orders.csv (a second download?): its rows repeat "
        "that file's, and the ingest quarantines them as duplicate_event; delete it"
    ) in starter.checks
    summary = ingest_dataset(out, tmp_path / "store" / "events.duckdb", progress=False)
    assert summary.tables["events"] == TableCounts(4, 2, {"duplicate_event": 2})


@pytest.mark.parametrize(
    "name",
    [
        "orders (1).csv",
        "orders - Copy.csv",
        "orders - Copy (2).csv",
        "orders copy 2.csv",
        "orders_report.csv",  # the words of an export are not the kind of event either
        "Orders Report 2024-06.csv",
        "orders_data.csv",
        "orders-download (3).csv",
    ],
)
def test_the_mark_of_a_copy_is_not_part_of_the_event_type(name):
    assert _event_type_constant(Path(name)) == "ORDER"


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("Bestellungen Bericht.csv", "BESTELLUNG"),
        ("Käufe_Auswertung.csv", "KAUFE"),  # accents dropped, not a word cut in two
        ("Straßenverkäufe.csv", "STRASSENVERKAUFE"),
        ("commandes_rapport_2025.csv", "COMMANDE"),
        ("pedidos-informe.csv", "PEDIDO"),
        ("metadata.csv", "METADATA"),  # a word that ends in one is still the kind
    ],
)
def test_a_reports_word_in_another_language_is_not_the_kind_either(name, kind):
    assert _event_type_constant(Path(name)) == kind


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("orders_page_001.json", "ORDER"),  # an API's replies saved page by page
        ("events_part-3.json", "EVENT"),
        ("tracks_batch_12.json", "TRACK"),
        ("pages_001.csv", "PAGE"),  # Segment's page calls, numbered: still their kind
        ("homepage_2.csv", "HOMEPAGE"),
    ],
)
def test_a_numbered_page_part_or_batch_is_not_the_kind(name, kind):
    assert _event_type_constant(Path(name)) == kind


def test_an_unreadable_file_is_left_out_with_its_reason(tmp_path):
    export = tmp_path / "export"
    export.mkdir()
    (export / "events.csv").write_text("user_id,event,ts\n1,login,2024-03-05\n")
    (export / "legacy.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest")
    (export / "cut.parquet").write_bytes(b"PAR1")
    out, starter = write_starter([export], None, None)
    assert [source.files for source in read_config(out).events] == ["events.csv"]
    assert (
        "legacy.xls: left out: an Excel 97-2003 workbook (.xls), which the ingest does not "
        "read; save it as .xlsx or CSV; the ingest would stop at it: fix it, or move it out "
        "of the export"
    ) in starter.checks
    assert any(
        c.startswith("cut.parquet: left out: not readable as parquet") for c in starter.checks
    )


MONGO_USERS = (  # mongoexport's canonical Extended JSON: dates as epoch milliseconds
    '{"_id":{"$oid":"64b000000000000000000001"},"email":"a@x.io",'
    '"createdAt":{"$date":{"$numberLong":"1704000000000"}}}\n'
    '{"_id":{"$oid":"64b000000000000000000002"},"email":"b@x.io",'
    '"createdAt":{"$date":{"$numberLong":"1704100000000"}}}\n'
)
MONGO_EVENTS = (  # its relaxed form (the default): dates as ISO text
    '{"_id":{"$oid":"65a0000000000000000000a1"},"userId":{"$oid":"64b000000000000000000001"},'
    '"type":"login","createdAt":{"$date":"2024-01-03T10:00:00.000Z"}}\n'
    '{"_id":{"$oid":"65a0000000000000000000a2"},"userId":{"$oid":"64b000000000000000000002"},'
    '"type":"purchase","createdAt":{"$date":"2024-01-04T10:00:00.000Z"},'
    '"amount":{"$numberDecimal":"19.99"}}\n'
)


def test_mongoexport_extended_json_is_read_through_its_wrappers(tmp_path):
    files = {"users.json": MONGO_USERS, "events.json": MONGO_EVENTS}
    out, _ = _starter_for(tmp_path, files)
    config = read_config(out)
    (events,) = config.events
    assert dict(events.columns) == {
        "user_id": "userId.$oid",
        "timestamp": "createdAt.$date",
        "event_type": "type",
        "value": "amount.$numberDecimal",
    }
    assert dict(config.users.columns) == {
        "user_id": "_id.$oid",
        "signup_time": "createdAt.$date.$numberLong",
    }
    assert config.users.timestamp_formats == ("epoch_ms",)
    store = tmp_path / "store" / "events.duckdb"
    summary = ingest_dataset(out, store, progress=False)
    assert (summary.tables["users"].accepted, summary.tables["events"].accepted) == (2, 2)
    assert _query(store, "SELECT user_id, event_time, value FROM events ORDER BY 2") == [
        ("64b000000000000000000001", datetime(2024, 1, 3, 10), None),
        ("64b000000000000000000002", datetime(2024, 1, 4, 10), 19.99),
    ]


@pytest.mark.parametrize(
    ("header", "roles"),
    [
        ("Kundennummer;Datum;Ereignis;Betrag", ("Kundennummer", "Datum", "Ereignis", "Betrag")),
        (
            "N° client;Horodatage;Événement;Montant",
            ("N° client", "Horodatage", "Événement", "Montant"),
        ),
        ("ID Cliente;Fecha;Evento;Importe", ("ID Cliente", "Fecha", "Evento", "Importe")),
        ("ID Cliente;Data;Evento;Valor", ("ID Cliente", "Data", "Evento", "Valor")),
    ],
)
def test_a_spreadsheet_in_german_french_or_spanish_reads_its_roles(tmp_path, header, roles):
    rows = "1001;03.01.2025 10:00;login;\n1002;04.01.2025 11:00;kauf;19,99\n"
    out, starter = _starter_for(tmp_path, {"export.csv": f"{header}\n{rows}"})
    (source,) = read_config(out).events
    columns = source.columns
    found = (columns["user_id"], columns["timestamp"], columns["event_type"], columns["value"])
    assert found == roles
    assert (source.decimal, source.timestamp_formats) == (",", ("%d.%m.%Y %H:%M",))
    assert not any("day-first or month-first" in check for check in starter.checks)
    summary = ingest_dataset(out, tmp_path / "store" / "events.duckdb", progress=False)
    assert summary.tables["events"] == TableCounts(2, 2, {})


def test_a_windows_export_with_a_euro_sign_past_the_sample_keeps_it(tmp_path):
    """Excel's German CSV (cp1252, `;`, `Kunden-Nr.`, `Registriert am`) whose first
    megabyte holds umlauts only: read as latin-1, the euro sign and dash further down stop
    the ingest."""
    export = tmp_path / "export"
    export.mkdir()
    plans = ("Basis", "Prämie", "Familie")
    users = "".join(
        f"{1000 + n};{1 + n % 28:02d}.01.2024 10:00;{plans[n % 3]}\r\n" for n in range(40_000)
    )
    users += "99999;02.02.2024 11:30;Prämie – 9,99 €\r\n"
    assert len(users) > SAMPLE_BYTES
    (export / "kunden.csv").write_bytes(
        ("Kunden-Nr.;Kunde seit;Tarif\r\n" + users).encode("cp1252")
    )
    events = "Kunden-Nr.;Zeitpunkt;Ereignis\r\n1000;03.01.2024 10:00:00;Gefällt mir\r\n"
    (export / "ereignisse.csv").write_bytes(events.encode("cp1252"))
    out, starter = write_starter([export], None, "de")
    config = read_config(out)
    assert (config.users.encoding, config.events[0].encoding) == ("cp1252", "cp1252")
    assert dict(config.users.columns) == {"user_id": "Kunden-Nr.", "signup_time": "Kunde seit"}
    assert "kunden.csv: not UTF-8; read as cp1252" in starter.checks
    store = tmp_path / "store" / "events.duckdb"
    summary = ingest_dataset(out, store, progress=False)
    assert summary.tables["users"] == TableCounts(40_001, 40_001, {})
    assert _query(store, "SELECT tarif FROM users WHERE user_id = '99999'") == [
        ("Prämie – 9,99 €",)
    ]
    assert _query(store, "SELECT event_type FROM events") == [("Gefallt_mir",)]  # renamed


@pytest.mark.parametrize(
    ("head", "encoding"),
    [
        ("Zürich;Café".encode("cp1252"), "cp1252"),
        ("Zürich – 9 €".encode("cp1252"), "cp1252"),
        (b"Z\xfcrich\x81", "latin-1"),  # 0x81: no cp1252 character
        ("Zürich".encode(), "utf-8"),
    ],
)
def test_a_text_not_utf8_is_cp1252_unless_it_cannot_be(head, encoding):
    assert _encoding(head) == encoding


def test_a_json_payload_named_data_is_no_time(tmp_path):
    events = (
        '{"customer": "cus_1", "type": "charge.succeeded", "data": {"amount": 5}, '
        '"created": 1700000000}\n'
    )
    out, _ = _starter_for(tmp_path, {"events.jsonl": events * 2})
    assert read_config(out).events[0].columns["timestamp"] == "created"


def test_a_header_naming_a_column_twice_is_named_before_the_ingest_refuses_it(tmp_path):
    lines = "user_id,event,ts,ts\n1,login,2024-03-05,2024-03-05\n2,login,2024-03-06,2024-03-06\n"
    out, starter = _starter_for(tmp_path, {"events.csv": lines})
    assert (
        "events.csv: the header names 'ts' more than once: the ingest stops at it (one of the "
        "columns would be read silently); rename or drop the repeated column in the file first"
    ) in starter.checks
    with pytest.raises(SourceFileError, match="names column 'ts' more than once"):
        ingest_dataset(out, tmp_path / "store" / "events.duckdb", progress=False)


def test_a_delimiter_at_the_end_of_every_line_is_named_as_such(tmp_path):
    lines = "user_id,ts,event,\n1,2024-03-05,a,\n2,2024-03-06,b,\n"
    out, starter = _starter_for(tmp_path, {"events.csv": lines})
    unnamed = "not mapped: a last column without a name (each line ends with a delimiter)"
    assert any(unnamed in check for check in starter.checks)
    summary = ingest_dataset(out, tmp_path / "store" / "events.duckdb", progress=False)
    assert summary.tables["events"].accepted == 2


def test_a_users_tables_column_without_a_name_is_no_attribute(tmp_path):
    users = "id,registration,city,\n1,2024-03-01,Oslo,\n2,2024-03-02,Bergen,\n"
    events = "user_id,ts,event\n1,2024-03-05,a\n2,2024-03-06,b\n"
    out, starter = _starter_for(tmp_path, {"users.csv": users, "events.csv": events})
    assert [attribute.name for attribute in read_config(out).users.attributes] == ["city"]
    unnamed = "users.csv: not an attribute: a last column without a name (each line ends with"
    assert any(unnamed in check for check in starter.checks)
    summary = ingest_dataset(out, tmp_path / "store" / "events.duckdb", progress=False)
    assert summary.tables["users"].accepted == 2


def test_excel_workbooks_and_an_open_workbooks_lock_file(tmp_path):
    export = tmp_path / "export"
    export.mkdir()
    customers = openpyxl.Workbook()
    customers.active.title = "Customers"
    customers.active.append(["Customer ID", "Signup Date", "Country"])
    customers.active.append([17, date(2024, 3, 5), "DE"])
    customers.create_sheet("Notes").append(["exported by the CRM"])
    customers.save(export / "customers.xlsx")
    orders = openpyxl.Workbook()
    orders.active.append(["customer_id", "ordered_at", "total"])
    orders.active.append([17, datetime(2024, 3, 8, 10, 15), 4.5])
    orders.save(export / "orders.xlsx")
    (export / "~$orders.xlsx").write_bytes(b"\x00" * 165)  # Excel's lock file: not a workbook
    out, starter = write_starter([export], None, "crm")

    config = read_config(out)
    assert config.users.sheet == "Customers"
    assert dict(config.users.columns) == {"user_id": "Customer ID", "signup_time": "Signup Date"}
    (orders_source,) = config.events
    assert (orders_source.files, orders_source.event_type) == ("orders.xlsx", "ORDER")
    assert dict(orders_source.columns) == {
        "user_id": "customer_id",
        "timestamp": "ordered_at",
        "value": "total",
    }
    assert "customers.xlsx[Notes]: left out: no column reads as a user id" in starter.checks
    store = tmp_path / "store" / "events.duckdb"
    summary = ingest_dataset(out, store, progress=False)
    assert (summary.tables["users"].accepted, summary.tables["events"].accepted) == (1, 1)


SALESFORCE_REPORT = (  # a report export: amounts as shown, then its totals and notices
    '"Opportunity Name","Account ID","Stage","Amount","Close Date"\n'
    '"Acme - Renewal","0015g00000AbCdE","Closed Won","$12,000.00","1/15/2025"\n'
    '"Globex - New","0015g00000FgHiJ","Closed Lost","$4,500.00","2/20/2025"\n'
    '"Acme - Upsell","0015g00000AbCdE","Closed Won","$3,000.00","4/1/2025"\n'
)
SALESFORCE_FOOTER = (
    '""\n"Total",,,"$19,500.00",\n""\n"Confidential Information - Do Not Distribute"\n'
    '"Copyright (c) 2000-2025 salesforce.com, inc. All rights reserved."\n'
)


@pytest.mark.parametrize("rows", [0, 30_000])  # in the sampled head, or past it
def test_a_reports_footer_is_found_and_left_out(tmp_path, rows):
    lines = "".join(
        f'"Deal {n}","0015g00000KlMnO","Closed Won","$1,000.00","5/2/2025"\n' for n in range(rows)
    )
    report = SALESFORCE_REPORT + lines + SALESFORCE_FOOTER
    out, starter = _starter_for(tmp_path, {"report1700000000000.csv": report})
    (source,) = read_config(out).events
    assert (source.footer_lines, source.columns["user_id"]) == (5, "Account ID")
    assert any(
        c.startswith(
            "report1700000000000.csv: the last 5 lines are a footer ('\"\"'; "
            '\'"Total",,,"$19,500.00",\''
        )
        for c in starter.checks
    )
    summary = ingest_dataset(out, tmp_path / "store" / "events.duckdb", progress=False)
    assert summary.tables["events"].read == 3 + rows


def test_a_short_reports_delimiter_is_read_above_its_footer(tmp_path):
    report = (
        "Report: logins\n\nuser_id;login_at;amount\n1;2025-03-01 09:00;1,50\n"
        "2;2025-03-02 10:00;2,50\n" + SALESFORCE_FOOTER
    )
    out, _ = _starter_for(tmp_path, {"logins.csv": report})
    (source,) = read_config(out).events
    assert (source.delimiter, source.skip_lines, source.footer_lines) == (";", 2, 5)
    summary = ingest_dataset(out, tmp_path / "store" / "events.duckdb", progress=False)
    assert (summary.tables["events"].read, summary.tables["events"].accepted) == (2, 2)


@pytest.mark.parametrize(
    ("times", "named"),
    [
        ("Date,Time,Time Zone\n01/03/2024,09:15:22,PST\n03/12/2024,23:59:01,PDT\n", True),
        (
            "Created,Timezone\n2024-01-03T17:15:22Z,America/Los_Angeles\n"
            "2024-03-13T06:59:01Z,America/Los_Angeles\n",
            False,
        ),  # instants: the device's zone
    ],
)
def test_a_zone_column_beside_times_without_an_offset_is_named(tmp_path, times, named):
    header, *rows = times.splitlines()
    sales = "\n".join([f"Customer ID,Event,{header}", *(f"C1,Purchase,{r}" for r in rows)])
    _, starter = _starter_for(tmp_path, {"sales.csv": sales + "\n"})
    assert any("names a time zone per row" in c for c in starter.checks) == named


TICKETS = (  # a helpdesk export: a ticket's description keeps its line breaks
    "Customer ID,Created at,Status,Description\n"
    '7,2025-03-01 09:00,solved,"Login fails"\n'
    '8,2025-03-02 10:30,open,"Steps:\nopen the app\ntap Pay"\n'
)


@pytest.mark.parametrize("rows", [0, 30_000])  # in the sampled head, or past it
@pytest.mark.parametrize(
    "last",
    [
        '9,2025-03-03 11:00,open,"Thanks\nAnn"\n',  # a row's last lines read alone as one field
        # A description holding a pasted table and a note, its quote opened above the file's
        # last 64 KiB: those bytes alone read as rows, then a footer.
        '9,2025-03-03 11:00,open,"pasted:\n' + "a,b,c,d\n" * 9_000 + 'Total\nend"\n',
    ],
)
def test_a_quoted_field_over_several_lines_at_the_end_is_no_footer(tmp_path, rows, last):
    lines = "".join(f'{n % 5},2025-03-01 12:00,solved,"Fine {n}"\n' for n in range(rows))
    out, _ = _starter_for(tmp_path, {"tickets.csv": TICKETS + lines + last})
    (source,) = read_config(out).events
    assert source.footer_lines == 0
    summary = ingest_dataset(out, tmp_path / "store" / "events.duckdb", progress=False)
    assert summary.tables["events"].read == 3 + rows


def test_a_report_title_above_the_table_is_skipped_in_a_text_file_and_a_sheet(tmp_path):
    export = tmp_path / "export"
    export.mkdir()
    (export / "logins.csv").write_text(
        "Logins by user\nExported 2025-02-01 by admin\n\n"
        "user_id,event,timestamp\n1,login,2025-01-03 10:00:00\n2,login,2025-01-04 11:00:00\n"
    )
    book = openpyxl.Workbook()
    book.active.append(["Orders report"])
    book.active.append([])
    book.active.append(["customer_id", "ordered_at", "total"])
    book.active.append([1, datetime(2025, 1, 8, 10, 15), 4.5])
    book.save(export / "orders.xlsx")
    out, starter = write_starter([export], None, "report")
    logins, orders = sorted(read_config(out).events, key=lambda source: source.files)
    assert (logins.skip_lines, orders.skip_lines) == (3, 2)
    assert (
        "logins.csv: the first 3 lines are a title above the table ('Logins by user'; "
        "'Exported 2025-02-01 by admin'), not rows: skip_lines 3 (each file of this source "
        "must have as many)"
    ) in starter.checks
    assert any(c.startswith("orders.xlsx: the first 2 rows are a title") for c in starter.checks)
    summary = ingest_dataset(out, tmp_path / "store" / "events.duckdb", progress=False)
    assert summary.tables["events"] == TableCounts(3, 3, {})


def test_a_sheet_s_n_a_errors_in_a_column_of_amounts_read_as_missing(tmp_path):
    export = tmp_path / "export"
    export.mkdir()
    book = openpyxl.Workbook()
    book.active.append(["customer_id", "ordered_at", "total"])
    book.active.append([1, datetime(2025, 1, 8, 10, 15), 4.5])
    book.active.append([2, datetime(2025, 1, 9, 10, 15), "#N/A"])  # a lookup that found nothing
    book.save(export / "orders.xlsx")
    out, _ = write_starter([export], None, "orders")
    assert read_config(out).events[0].missing_texts == ("#N/A",)
    summary = ingest_dataset(out, tmp_path / "store" / "events.duckdb", progress=False)
    assert summary.tables["events"] == TableCounts(2, 2, {})
    query = "SELECT user_id, value FROM events ORDER BY 1"
    assert _query(tmp_path / "store" / "events.duckdb", query) == [("1", 4.5), ("2", None)]


def test_a_workbook_of_a_users_sheet_and_event_sheets_is_a_source_each(tmp_path):
    export = tmp_path / "export"
    export.mkdir()
    book = openpyxl.Workbook()
    book.active.title = "Users"
    book.active.append(["user_id", "signed_up"])
    book.active.append([1, datetime(2024, 3, 1, 9, 0)])
    book.active.append([2, datetime(2024, 3, 2, 9, 0)])
    orders = book.create_sheet("Orders")
    orders.append(["user_id", "ordered_at", "amount"])
    orders.append([1, datetime(2024, 3, 8, 10, 15), 4.5])
    logins = book.create_sheet("Logins")
    logins.append(["user_id", "login_time"])
    logins.append([2, datetime(2024, 3, 9, 8, 0)])
    logins.append([1, datetime(2024, 3, 9, 8, 5)])
    book.save(export / "shop.xlsx")
    out, _ = write_starter([export], None, "shop")

    config = read_config(out)
    assert (config.users.files, config.users.sheet) == ("shop.xlsx", "Users")
    assert [(s.sheet, s.event_type) for s in config.events] == [
        ("Orders", "ORDER"),
        ("Logins", "LOGIN"),
    ]
    summary = ingest_dataset(out, tmp_path / "store" / "events.duckdb", progress=False)
    assert summary.tables["events"] == TableCounts(3, 3, {})


@pytest.mark.parametrize(
    ("values", "formats", "check"),
    [
        (["2024-01-02", "2024-01-03 10:00:00Z"], ["iso"], None),
        (["1704067200", "1704153600"], ["epoch_s"], None),
        (["1704067200000"], ["epoch_ms"], None),
        (["23/01/2024 16:31", "01/02/2024 10:00"], ["%d/%m/%Y %H:%M"], None),
        (["01/02/2024", "03/04/2024"], ["%d/%m/%Y"], "day-first or month-first"),
        (["2024-01-02 10:00", "05-01-2024 10:00"], ["iso", "%d-%m-%Y %H:%M"], None),
        (  # a warehouse's text: fraction, a blank, then the offset
            ["2024-03-05 14:23:11.123 +0000", "2024-03-05 09:00:00.5 -0500"],
            ["%Y-%m-%d %H:%M:%S.%f %z"],
            None,
        ),
        (["2024/03/05 14:23", "2024/12/31 09:05"], ["%Y/%m/%d %H:%M"], None),
        (["05-MAR-2024", "17-Dec-2023"], ["%d-%b-%Y"], None),  # Oracle's DD-MON-YYYY
        (["5 Mar 2024", "17 Dec 2023"], ["%d %b %Y"], None),
        (["Mar 5, 2024, 2:23 PM", "Dec 17, 2023, 11:05 AM"], ["%b %d, %Y, %I:%M %p"], None),
        (["March 5, 2024", "December 17, 2023"], ["%B %d, %Y"], None),
        (["2025-1-3 9:05", "2025-01-14 11:00"], ["%Y-%m-%d %H:%M"], None),
        (["2025-01-03 09:05", "2025-01-14 11:00"], ["iso"], None),
        (
            ["2025-01-03 10:00:00 PST", "Fri Jan 03 10:00:00 EST 2025"],
            ["%Y-%m-%d %H:%M:%S %Z", "%a %b %d %H:%M:%S %Z %Y"],
            None,
        ),
        (  # RFC 2822, as mail and HTTP logs write it
            ["Fri, 03 Jan 2025 10:00:00 +0000", "Sat, 04 Jan 2025 11:30:00 -0500"],
            ["%a, %d %b %Y %H:%M:%S %z"],
            None,
        ),
        (["Fri, 03 Jan 2025 10:00:00 GMT"], ["%a, %d %b %Y %H:%M:%S %Z"], None),
        (["1735898400123456789"], ["epoch_ns"], None),
        (  # more milliseconds than seconds: the smaller unit still goes first
            ["1735898400123", "1735898401123", "1735898400"],
            ["epoch_s", "epoch_ms"],
            None,
        ),
        (
            ["03/Jan/2025:10:00:00 +0000", "14/Feb/2025:09:05:00 -0500"],
            ["%d/%b/%Y:%H:%M:%S %z"],
            None,
        ),
        (
            ["Jan 3, 2025 @ 10:00:00.000", "Feb 14, 2025 @ 09:05:00.123"],
            ["%b %d, %Y @ %H:%M:%S.%f"],
            None,
        ),
        (["03/Jan/25 10:00 AM", "14/Feb/25 9:05 PM"], ["%d/%b/%y %I:%M %p"], None),
        (["45292", "45293.5"], ["excel_days"], None),
        (["1/3/25 10:00", "12/14/25 9:05"], ["%m/%d/%y %H:%M"], None),
        (["1/13/2025 10:00", "12/14/25 9:05"], ["%m/%d/%Y %H:%M", "%m/%d/%y %H:%M"], None),
        (["Jan  3 2025 10:00AM", "Jan 13 2025 1:05PM"], ["%b %d %Y %I:%M%p"], None),
        (["4/4/25 12:06 AM", "6/19/25 12:40 PM"], ["%m/%d/%y %I:%M %p"], None),
        (["13/01/2025 2:05 PM", "3/02/2025 9:00 AM"], ["%d/%m/%Y %I:%M %p"], None),
        (["13/01/25 2:05:09 PM"], ["%d/%m/%y %I:%M:%S %p"], None),
        (["3 Jan 2025 10:05:33", "17 Dec 2024 09:00:00"], ["%d %b %Y %H:%M:%S"], None),
        (["January 3, 2025 at 10:05 AM"], ["%B %d, %Y at %I:%M %p"], None),
        (["Friday, January 3, 2025", "Monday, March 3, 2025"], ["%A, %B %d, %Y"], None),
        (["2025.01.03 10:05", "2025.12.31 23:59"], ["%Y.%m.%d %H:%M"], None),
        (["03-JAN-25", "14-FEB-25"], ["%d-%b-%y"], None),
        (["12", "45293.5"], ["excel_days"], "values like '12' fit none"),
        (["yesterday"], ["iso"], "no known format fits"),
        ([], ["iso"], "no value sampled"),
    ],
)
def test_timestamp_formats_read_every_sampled_value(values, formats, check):
    found, note = timestamp_formats(values)
    assert found == formats
    assert (note is None) if check is None else (check in note)


@pytest.mark.parametrize(
    ("value", "fmt"),
    [
        ("05-MAR-2024", "%d-%b-%Y"),
        ("5 Mar 2024", "%d %b %Y"),
        ("Mar 5, 2024, 2:23 PM", "%b %d, %Y, %I:%M %p"),
        ("Mar 5, 2024 2:23:11 PM", "%b %d, %Y %I:%M:%S %p"),
        ("March 5, 2024", "%B %d, %Y"),
        ("2025-1-3 9:05", "%Y-%m-%d %H:%M"),
        ("2025-1-3 9:05:07", "%Y-%m-%d %H:%M:%S"),
        ("Jan 3, 2025 @ 10:00:00.000", "%b %d, %Y @ %H:%M:%S.%f"),  # Kibana: no padding
        ("3/Jan/25 9:05 PM", "%d/%b/%y %I:%M %p"),
        ("Jan  3 2025 10:00AM", "%b %d %Y %I:%M%p"),  # SQL Server pads the day with a blank
        ("03-JAN-25 10.00.00.000000 PM", "%d-%b-%y %I.%M.%S.%f %p"),  # Oracle, upper case
        ("1/3/69 9:05", "%m/%d/%y %H:%M"),  # 1969: the two-digit years' pivot agrees
        ("1/3/68 9:05", "%m/%d/%y %H:%M"),  # 2068
    ],
)
def test_a_month_name_or_an_unpadded_day_reads_in_the_ingest_as_in_python(value, fmt):
    """The property test below writes padded days and title-case months only."""
    with duckdb.connect() as con:
        (read,) = con.execute(f"SELECT {timestamp_sql('?', [fmt], '.')}", [value]).fetchone()
    assert read == datetime.strptime(value, fmt)


@settings(max_examples=60, deadline=None)
@given(
    fmt=st.sampled_from(STRPTIME_CANDIDATES),
    moment=st.datetimes(datetime(1971, 1, 1), datetime(2099, 12, 31)),
    offset_minutes=st.integers(-12 * 60, 14 * 60),
    abbreviation=st.sampled_from(sorted(ZONE_ABBREVIATIONS)),
)
def test_a_format_the_starter_proposes_reads_in_the_ingest_as_in_python(
    fmt, moment, offset_minutes, abbreviation
):
    """Every strptime candidate, on a value Python writes with it: the ingest's SQL reads the
    instant Python's strptime reads (in UTC when the value carries an offset; a %Z pattern's
    zone abbreviation is written, and read by Python, as its offset)."""
    zone = timezone(timedelta(minutes=offset_minutes))
    if "%Z" in fmt:
        text = moment.strftime(fmt.replace("%Z", abbreviation))
        offset = text.replace(abbreviation, ZONE_ABBREVIATIONS[abbreviation])
        expected = datetime.strptime(offset, fmt.replace("%Z", "%z"))
    else:
        text = moment.replace(tzinfo=zone).strftime(fmt)
        expected = datetime.strptime(text, fmt)
    if expected.tzinfo is not None:
        expected = expected.astimezone(UTC).replace(tzinfo=None)
    with duckdb.connect() as con:
        sql = f"SELECT {timestamp_sql('t', [fmt], '.')} FROM (SELECT ?::VARCHAR AS t)"
        read = con.execute(sql, [text]).fetchone()[0]
    assert read == expected, text


def test_the_command_never_overwrites_and_keeps_files_under_the_config(tmp_path, capsys):
    export = tmp_path / "export"
    write_export(export, users=20)
    assert main(["dataset", "new", str(export)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"wrote {export / 'dataset.yaml'}") and "next:" in out
    assert main(["dataset", "new", str(export)]) == 2
    assert "exists" in capsys.readouterr().err
    with pytest.raises(StarterError, match="outside"):
        write_starter([export], tmp_path / "elsewhere" / "dataset.yaml", None)


def test_files_without_a_user_or_a_time_are_left_out_or_refused(tmp_path):
    export = tmp_path / "export"
    export.mkdir()
    (export / "items.csv").write_text("track_id,title\nt1,Song\n")
    with pytest.raises(StarterError, match="no file reads as events"):
        write_starter([export], None, None)
    (export / "plays.csv").write_text("uid,played_at\n1,2024-01-01T10:00:00\n")
    (export / "notes.csv").write_text("title,body\nHello,First note\n")
    out, starter = write_starter([export], None, None)
    assert [s.files for s in read_config(out).events] == ["plays.csv"]
    assert read_config(out).items.files == "items.csv"
    assert "notes.csv: left out: no column reads as a user id" in starter.checks
    assert yaml.safe_load(out.read_text())["events"][0]["event_type"] == "PLAY"


# A European shop's catalogue: semicolons, decimal commas.
CATALOGUE = "product_id;title;price;category;added_at\n" + "".join(
    f"p{k};Item number {k};{k},50;{('kitchen', 'garden')[k % 2]};2024-01-0{k % 9 + 1}\n"
    for k in range(12)
)


def test_a_product_catalogue_is_the_items_table_with_its_price_as_a_number(tmp_path):
    out, starter = _starter_for(
        tmp_path,
        {
            "orders.csv": "customer_id,created_at,product_id,amount\n"
            "c1,2024-01-03 10:00:00,p1,1.50\nc2,2024-01-04 11:00:00,p2,2.50\n"
            "c1,2024-02-03 10:00:00,p10,10.50\n",
            "products.csv": CATALOGUE,
            "reviews.csv": "product_id,stars\np1,5\np1,4\n",  # ids repeat: no catalogue
            "prices.csv": "product_id,price,dbt_valid_from\np1,1.50,2024-01-01\n"
            "p1,1.75,2024-02-01\n",
        },
    )
    config = read_config(out)
    assert config.items.files == "products.csv" and config.items.decimal == ","
    attributes = {a.name: (a.column, a.kind, a.dtype) for a in config.items.attributes}
    assert attributes == {
        "price": ("price", "static", "numeric"),
        "category": ("category", "static", "categorical"),
    }
    assert any(
        c.startswith("products.csv: an items table keyed by product_id (distinct on the 12 ")
        and c.endswith("not attributes: title, added_at (a time, a text per item, or a picture's)")
        for c in starter.checks
    )
    assert "reviews.csv: left out: no column reads as a user id" in starter.checks
    assert any(  # a catalogue of versions too; a plain catalogue is preferred
        c.startswith("prices.csv: left out: another items table (a dataset has one: products")
        for c in starter.checks
    )
    store = tmp_path / "store" / "events.duckdb"
    summary = ingest_dataset(out, store, progress=False)
    assert (summary.tables["items"].accepted, summary.tables["events"].accepted) == (12, 3)
    prices = _query(store, "SELECT item_id, price FROM items ORDER BY item_id")
    assert prices[:3] == [("p0", 0.5), ("p1", 1.5), ("p10", 10.5)]


def _catalogue_export(export: Path, messy: bool) -> None:
    """Orders of six customers over six months, their products and the customers. Messy, as
    exported by hand: the catalogue in latin-1 with accents and its ids as floats (`1001.0`),
    date-only order days, one exact duplicate order line and one line without a customer."""
    export.mkdir()
    ids = [f"{1000 + k}" for k in range(12)]
    lines = [
        f"{k % 6 + 1},2024-0{k % 6 + 1}-{k % 27 + 1:02d}"
        f"{'' if messy else ' 10:00:00'},{ids[k % 12]},{k}.00"
        for k in range(60)
    ]
    if messy:
        lines += [lines[0], f",2024-02-03,{ids[1]},5.00"]
    (export / "orders.csv").write_text(
        "customer_id,created_at,product_id,amount\n" + "".join(f"{line}\n" for line in lines)
    )
    catalogue = "product_id;title;price;category\n" + "".join(
        f"{i}{'.0' if messy else ''};Tasse n°{k};{k},50;{('Küche', 'Garten')[k % 2]}\n"
        for k, i in enumerate(ids)
    )
    (export / "products.csv").write_text(catalogue, encoding="latin-1" if messy else "utf-8")
    (export / "customers.csv").write_text(
        "customer_id,signed_up_at\n" + "".join(f"{k},2023-12-0{k}\n" for k in range(1, 7))
    )


@pytest.mark.parametrize("messy", [False, True], ids=["clean", "messy"])
def test_a_catalogues_price_is_averaged_over_the_items_of_a_starter_spec(tmp_path, capsys, messy):
    """dataset new, ingest, features new and features build: the catalogue's numeric static
    attribute becomes item_mean features with values where users bought items."""
    _catalogue_export(tmp_path / "export", messy)
    out, starter = write_starter([tmp_path / "export"], None, "shop")
    assert ("products.csv: not UTF-8; read as cp1252" in starter.checks) == messy
    assert main(["ingest", str(out), "--no-progress"]) == 0
    ingested = capsys.readouterr().out
    assert "items: read 12  accepted 12  quarantined 0" in ingested
    assert f"events: read {62 if messy else 60}  accepted 60  quarantined {2 if messy else 0}" in (
        ingested
    )
    assert main(["features", "new", "repeat"]) == 0
    said = capsys.readouterr().out
    assert "the mean price of the items in users' events (item_mean)" in said
    spec = yaml.safe_load((tmp_path / "specs" / "repeat" / "v1.yaml").read_text())
    item_means = [f for f in spec["features"] if f["kind"] == "item_mean"]
    assert [(f["attribute"], f["windows"]) for f in item_means] == [("price", [7, 30, 90])]
    assert main(["features", "build", "repeat@v1", "--no-progress"]) == 0
    rows = pd.read_parquet(
        next((tmp_path / "usagecast_home").glob("feature_sets/repeat/v1/*/data.parquet"))
    )
    assert rows["mean_item_price_30d"].notna().any()


def test_a_catalogue_of_versions_gives_each_order_the_price_of_its_day(tmp_path, capsys):
    """A dbt snapshot of the products (latin-1, ids as floats, one version exported twice)
    beside the orders: dataset new maps it with its valid-from time, the ingest keeps every
    version (the repeated one quarantined), and item_mean reads each order's price as it was
    on the order's day, never a later one."""
    export = tmp_path / "export"
    _catalogue_export(export, messy=True)
    (export / "products.csv").unlink()
    versions = [
        (f"{1000 + k}.0", f"Tasse n°{k}", price, valid_from, valid_to)
        for k in range(12)
        for price, valid_from, valid_to in (
            (f"{k},50", "2024-01-01", "2024-03-15"),
            (f"{k + 20},50", "2024-03-15", ""),
        )
    ]
    rows = [*versions, versions[0]]
    (export / "products.csv").write_text(
        "product_id;title;price;dbt_valid_from;dbt_valid_to\n"
        + "".join(";".join(row) + "\n" for row in rows),
        encoding="latin-1",
    )
    out, starter = write_starter([export], None, "shop")
    assert any(
        c.startswith("products.csv: a catalogue of versions: product_id with dbt_valid_from")
        for c in starter.checks
    )
    assert main(["ingest", str(out), "--no-progress"]) == 0
    assert "items: read 25  accepted 24  quarantined 1" in capsys.readouterr().out
    assert main(["features", "new", "repeat"]) == 0
    assert main(["features", "build", "repeat@v1", "--no-progress"]) == 0
    capsys.readouterr()
    built = pd.read_parquet(
        next((tmp_path / "usagecast_home").glob("feature_sets/repeat/v1/*/data.parquet"))
    )
    orders = pd.read_csv(export / "orders.csv", dtype=str).dropna().drop_duplicates()
    orders["day"] = pd.to_datetime(orders["created_at"])
    k = orders["product_id"].astype(int) - 1000
    orders["price"] = k + 0.5 + 20 * (orders["day"] >= "2024-03-15")
    for row in built.itertuples():
        window = orders[
            (orders["customer_id"] == row.user_id)
            & (orders["day"] >= row.cutoff - pd.Timedelta(days=30))
            & (orders["day"] < row.cutoff)
        ]
        expected = window["price"].mean() if len(window) else None
        actual = row.mean_item_price_30d
        assert (pd.isna(actual) and expected is None) or actual == pytest.approx(expected)
    assert built["mean_item_price_30d"].gt(20).any() and built["mean_item_price_30d"].lt(20).any()


def test_a_pandas_index_column_is_named_in_the_checks_and_read_as_data(tmp_path):
    export = tmp_path / "export"
    export.mkdir()
    (export / "events.csv").write_text(",user_id,ts,event\n0,1,2024-03-05,a\n1,2,2024-03-06,b\n")
    out, starter = write_starter([export], None, None)
    assert any("not mapped: a column without a name (a pandas index?" in c for c in starter.checks)
    summary = ingest_dataset(out, tmp_path / "store" / "events.duckdb", progress=False)
    assert summary.tables["events"].accepted == 2


def test_the_row_index_pandas_saved_in_parquet_is_named_as_such(tmp_path):
    """A frame filtered before `to_parquet` keeps its index as `__index_level_0__`."""
    export = tmp_path / "export"
    export.mkdir()
    frame = pd.DataFrame(
        {
            "user_id": ["1", "2", "3", "4"],
            "ts": ["2024-03-05", "2024-03-06", "2024-03-07", "2024-03-08"],
        }
    ).assign(event=["a", "b", "a", "a"])
    frame[frame["event"] == "a"].to_parquet(export / "events.parquet")
    assert "__index_level_0__" in pq.read_schema(export / "events.parquet").names
    out, starter = write_starter([export], None, None)
    (check,) = [c for c in starter.checks if "not mapped" in c]
    assert "__index_level_0__ (the row index pandas saved; to_parquet(index=False)" in check
    summary = ingest_dataset(out, tmp_path / "store" / "events.duckdb", progress=False)
    assert summary.tables["events"].accepted == 3


SHOPIFY_ORDERS = (
    "Name,Email,Financial Status,Total,Created at,Lineitem name,Lineitem sku,Id\n"
    "#1001,ann@example.com,paid,48.20,2024-03-05 14:23:11 -0500,Blue Mug,MUG-B,5501\n"
    "#1001,ann@example.com,,,2024-03-05 14:23:11 -0500,Tea,TEA-1,5501\n"
    '#1002,bob@example.com,paid,"1,234.50",2024-03-06 08:59:40 -0500,Espresso,ESP,5502\n'
    "#1003, Ann@Example.com ,paid,26.60,2024-04-01 09:58:00 -0400,Blue Mug,MUG-B,5503\n"
)


def test_a_shopify_orders_export_keyed_by_email_with_digit_grouped_totals(tmp_path):
    export = tmp_path / "export"
    export.mkdir()
    (export / "orders_export.csv").write_text(SHOPIFY_ORDERS, encoding="utf-8")
    out, starter = write_starter([export], None, "shop")

    config = read_config(out)
    assert config.users is None  # a `Created at` per order, ann's twice: not a users table
    (source,) = config.events
    assert dict(source.columns) == {
        "timestamp": "Created at",
        "item_id": "Lineitem sku",
        "value": "Total",
    }
    # normalised by sqlglot; the order name `#1001` is no event type, its status makes one
    assert source.derived == {
        "user_id": 'LOWER("Email")',
        "event_type": "'ORDER_' || UPPER(\"Financial Status\")",
    }
    # Financial Status is on an order's first line only: read for each of its lines
    assert source.fill_down == FillDown("Id", ("Financial Status",))
    assert (source.thousands, source.timestamp_formats) == (",", ("%Y-%m-%d %H:%M:%S %z",))
    assert any("user id from the email column Email, lower-cased" in c for c in starter.checks)
    lines = (
        "orders_export.csv: Id repeats on rows without a Total, an order's further line items: "
        "each row is an event"
    )
    (check,) = [c for c in starter.checks if c.startswith(lines)]
    assert 'set dedupe: ["Email", "Created at", "Id"]' in check
    assert "would be kept" not in check  # 3 of 4 rows
    store = tmp_path / "store" / "events.duckdb"
    summary = ingest_dataset(out, store, progress=False)
    assert summary.tables["events"].accepted == 4
    rows = _query(
        store, "SELECT user_id, event_type, value FROM events ORDER BY event_time, source_row"
    )
    users = _query(store, "SELECT count(*) FROM users")
    assert users == [(2,)]  # Ann@Example.com is ann@example.com
    assert rows == [
        ("ann@example.com", "ORDER_PAID", 48.2),
        ("ann@example.com", "ORDER_PAID", None),
        ("bob@example.com", "ORDER_PAID", 1234.5),
        ("ann@example.com", "ORDER_PAID", 26.6),
    ]
    config_text = out.read_text()
    out.write_text(
        config_text.replace(
            "\n  columns:", '\n  dedupe: ["Email", "Created at", "Id"]\n  columns:', 1
        )
    )
    summary = ingest_dataset(out, store, progress=False)  # the check's advice, as written
    assert summary.tables["events"] == TableCounts(4, 3, {"duplicate_event": 1})


# As Shopify writes it: the order's `Id`, `Financial Status` and `Cancelled at` on its first
# line only, its `Name` on every line, a delivery status on every line.
SHOPIFY_ORDER_LINES = (
    "Name,Email,Financial Status,Total,Created at,Lineitem sku,Lineitem fulfillment status,"
    "Cancelled at,Id\n"
    "#1001,ann@example.com,paid,20.00,2024-03-05 14:23:11 -0500,MUG,fulfilled,,5501\n"
    "#1001,ann@example.com,,,2024-03-05 14:23:11 -0500,TEA,fulfilled,,\n"
    "#1002,bob@example.com,refunded,9.00,2024-03-06 08:59:40 -0500,CUP,fulfilled,,5502\n"
    "#1002,bob@example.com,,,2024-03-06 08:59:40 -0500,TEA,pending,,\n"
    "#1002,bob@example.com,,,2024-03-06 08:59:40 -0500,MUG,fulfilled,,\n"
    "#1003,ann@example.com,voided,6.00,2024-04-01 09:58:00 -0400,TEA,pending,"
    "2024-04-02 10:00:00 -0400,5503\n"
)


def test_an_orders_payment_status_on_its_first_line_is_each_lines_event_type(tmp_path):
    out, starter = _starter_for(tmp_path, {"orders_export_1.csv": SHOPIFY_ORDER_LINES})
    source, cancelled = read_config(out).events
    # the payment's status, not the delivery's; its order by Name, as Id is on one line too
    assert source.derived["event_type"] == "'ORDER_' || UPPER(\"Financial Status\")"
    assert source.fill_down == FillDown("Name", ("Financial Status",))
    # a cancellation is dated: an event of its own (no status says `cancelled`, so the
    # payment's status stays the event type)
    assert (cancelled.event_type, cancelled.columns["timestamp"]) == (
        "ORDER_CANCELLED",
        "Cancelled at",
    )
    assert cancelled.blank_time == "no_event"
    checks = "\n".join(starter.checks)
    assert "fill_down by Name gives it to the order's further lines" in checks
    assert "Lineitem fulfillment status, Id" in checks  # not mapped; Name is read
    assert "not mapped: Name" not in checks
    store = tmp_path / "store" / "events.duckdb"
    summary = ingest_dataset(out, store, progress=False)
    assert summary.tables["events"] == TableCounts(12, 7, {"no_event_time": 5})
    kinds = _query(store, "SELECT event_type, count(*) FROM events GROUP BY ALL ORDER BY ALL")
    assert kinds == [
        ("ORDER_CANCELLED", 1),
        ("ORDER_PAID", 2),
        ("ORDER_REFUNDED", 3),
        ("ORDER_VOIDED", 1),
    ]


SHOPIFY_CUSTOMERS = (
    "Customer ID,First Name,Email,Accepts Email Marketing,Default Address Country Code,"
    "Total Spent,Total Orders\n"
    "'7001,Ann,ann@example.com,yes,FR,20.00,1\n"
    "'7002,Bob,BOB@example.com,no,DE,9.00,1\n"
    "'7003,Cid,cid@example.com,no,FR,0.00,0\n"
)


def test_a_shops_customers_export_without_signups_is_the_users_table(tmp_path):
    """Shopify's customers export has no creation date: its customers sign up at their first
    order, a customer without one is counted apart; the country is a trait, the rest is
    as of the export."""
    files = {"customers_export.csv": SHOPIFY_CUSTOMERS, "orders_export_1.csv": SHOPIFY_ORDER_LINES}
    out, _ = _starter_for(tmp_path, files)
    users = read_config(out).users
    assert dict(users.derived) == {"user_id": 'LOWER("Email")'}  # as the orders are keyed
    assert "signup_time" not in users.columns
    kinds = {a.name: a.kind for a in users.attributes}
    assert kinds.pop("default_address_country_code") == "static"
    assert set(kinds.values()) == {"snapshot"}
    store = tmp_path / "store" / "events.duckdb"
    summary = ingest_dataset(out, store, progress=False)
    assert summary.tables["users"] == TableCounts(3, 2, {"user_without_events": 1})
    signups = _query(
        store, "SELECT user_id, strftime(signup_time, '%Y-%m-%d %H:%M') FROM users ORDER BY 1"
    )
    # the store keeps UTC wall-clock times: 14:23 at -05:00
    assert signups == [
        ("ann@example.com", "2024-03-05 19:23"),
        ("bob@example.com", "2024-03-06 13:59"),
    ]


STRIPE_SUBSCRIPTIONS = (
    "id,Customer ID,Plan,Amount,Status,Created (UTC),Canceled At (UTC),Ended At (UTC)\n"
    "sub_1,cus_A,basic,10.00,active,2024-01-05 10:00,,\n"
    "sub_2,cus_B,pro,30.00,canceled,2024-01-07 11:00,2024-03-20 09:00,2024-04-07 11:00\n"
    "sub_3,cus_A,pro,30.00,past_due,2024-02-01 08:00,,\n"
)


def test_a_subscriptions_status_dated_by_its_own_columns_is_no_event_type(tmp_path):
    """Stripe's subscriptions export: `Status` canceled is as of the export; read as the event
    type it would date the cancellation at the subscription's creation. The creation, the
    cancellation and the end are events of their own, each at its time."""
    out, starter = _starter_for(tmp_path, {"subscriptions.csv": STRIPE_SUBSCRIPTIONS})
    created, canceled, ended = read_config(out).events
    assert (created.event_type, created.columns["timestamp"]) == ("SUBSCRIPTION", "Created (UTC)")
    assert "event_type" not in created.derived
    assert [(s.event_type, s.columns["timestamp"], s.blank_time) for s in (canceled, ended)] == [
        ("SUBSCRIPTION_CANCELED", "Canceled At (UTC)", "no_event"),
        ("SUBSCRIPTION_ENDED", "Ended At (UTC)", "no_event"),
    ]
    assert any(
        c.startswith("subscriptions.csv: Status is as of the export and its 'canceled' is dated")
        for c in starter.checks
    )
    store = tmp_path / "store" / "events.duckdb"
    summary = ingest_dataset(out, store, progress=False)
    assert summary.tables["events"] == TableCounts(9, 5, {"no_event_time": 4})
    events = _query(
        store,
        "SELECT user_id, event_type, strftime(event_time, '%Y-%m-%d') FROM events "
        "ORDER BY event_time",
    )
    assert events == [
        ("cus_A", "SUBSCRIPTION", "2024-01-05"),
        ("cus_B", "SUBSCRIPTION", "2024-01-07"),
        ("cus_A", "SUBSCRIPTION", "2024-02-01"),
        ("cus_B", "SUBSCRIPTION_CANCELED", "2024-03-20"),
        ("cus_B", "SUBSCRIPTION_ENDED", "2024-04-07"),
    ]


HUBSPOT_CONTACTS = (
    "Record ID,Email,Create Date,Lifecycle Stage,Became a Customer Date,Became a Lead Date,"
    "Country\n"
    "101,ann@x.io,2024-01-05 10:00,customer,2024-03-01 09:00,2024-01-05 10:00,France\n"
    "102,bob@x.io,2024-01-07 11:00,lead,,2024-01-07 11:00,Germany\n"
)
SITE_EVENTS = (
    "email,timestamp,event\n"
    "ann@x.io,2024-01-06 10:00,page_view\n"
    "bob@x.io,2024-01-08 10:00,page_view\n"
)


def test_a_crms_dates_of_change_are_events_and_its_stage_a_snapshot(tmp_path):
    """HubSpot's contacts: `Became a Customer Date` is when each contact converted, an event
    of its own (the label a CRM asks about), not a static attribute known from signup on;
    `Lifecycle Stage` is today's stage, a snapshot."""
    files = {"contacts.csv": HUBSPOT_CONTACTS, "events.csv": SITE_EVENTS}
    out, _ = _starter_for(tmp_path, files)
    config = read_config(out)
    kinds = {a.name: a.kind for a in config.users.attributes}
    assert kinds == {"record_id": "static", "lifecycle_stage": "snapshot", "country": "static"}
    became = [(s.event_type, s.columns["timestamp"], s.blank_time) for s in config.events[:2]]
    assert became == [
        ("BECAME_CUSTOMER", "Became a Customer Date", "no_event"),
        ("BECAME_LEAD", "Became a Lead Date", "no_event"),
    ]
    store = tmp_path / "store" / "events.duckdb"
    summary = ingest_dataset(out, store, progress=False)
    assert summary.tables["events"] == TableCounts(6, 5, {"no_event_time": 1})
    assert _query(
        store, "SELECT user_id, event_time FROM events WHERE event_type = 'BECAME_CUSTOMER'"
    ) == [("ann@x.io", datetime(2024, 3, 1, 9))]


WOOCOMMERCE_ORDERS = (
    '"Order ID","Order Status","Order Date","Customer User ID","Billing Email",'
    '"Order Total Amount","Item SKU"\n'
    '"1201","wc-completed","2024-05-02 10:11","15","ann@x.io","35.00","MUG"\n'
    '"1201","wc-completed","2024-05-02 10:11","15","ann@x.io","35.00","TEA"\n'
    '"1202","wc-refunded","2024-05-03 09:00","0","guest1@y.io","12.00","TEA"\n'
    '"1203","wc-processing","2024-05-04 12:30","22","bob@x.io","20.00","CUP"\n'
    '"1204","wc-completed","2024-05-05 14:00","0","Guest2@y.io","8.00","TEA"\n'
)


def test_a_woocommerce_export_keys_guests_by_email_and_reads_plain_statuses(tmp_path):
    """WooCommerce writes 0 as a guest's user id, `wc-` before each status and the order's
    total on each of its lines."""
    out, starter = _starter_for(tmp_path, {"orders.csv": WOOCOMMERCE_ORDERS})
    (source,) = read_config(out).events
    assert source.derived["user_id"] == 'LOWER("Billing Email")'
    assert dict(source.columns) == {
        "timestamp": "Order Date",
        "item_id": "Item SKU",
        "value": "Order Total Amount",
    }
    checks = "\n".join(starter.checks)
    assert "Customer User ID is '0' for 2 different Billing Email values" in checks
    assert "Order ID repeats with the same Order Total Amount on each of its lines" in checks
    store = tmp_path / "store" / "events.duckdb"
    ingest_dataset(out, store, progress=False)
    assert _query(store, "SELECT user_id, event_type FROM events ORDER BY event_time") == [
        ("ann@x.io", "ORDER_COMPLETED"),
        ("ann@x.io", "ORDER_COMPLETED"),
        ("guest1@y.io", "ORDER_REFUNDED"),
        ("bob@x.io", "ORDER_PROCESSING"),
        ("guest2@y.io", "ORDER_COMPLETED"),
    ]


def test_a_helpdesks_solved_tickets_are_dated_by_their_solved_at(tmp_path):
    tickets = (
        "ticket_id,user_id,created_at,solved_at,status\n"
        "1,u1,2024-03-01 10:00,2024-03-02 09:00,solved\n"
        "2,u2,2024-03-03 10:00,,open\n"
        "3,u1,2024-03-05 10:00,,pending\n"
    )
    out, _ = _starter_for(tmp_path, {"tickets.csv": tickets})
    created, solved = read_config(out).events
    assert (created.event_type, solved.event_type) == ("TICKET", "TICKET_SOLVED")
    assert solved.columns["timestamp"] == "solved_at"
    assert "event_type" not in created.derived  # `solved` is dated: not read at creation


def test_a_messy_subscriptions_export_gives_a_churn_spec_through_the_cli(tmp_path, capsys):
    """Saved from Excel in cp1252 with pandas' float ids, day-only cancellations, a row with
    no customer and a row exported twice: dataset new, ingest, features new --label churn and
    features build run as a user would, and churn is the dated cancellation."""
    export = tmp_path / "export"
    export.mkdir()
    rows = ["1.0,Prämie,30.00,canceled,2024-01-07 11:00,2024-03-20"]
    rows += [f"{n}.0,Basis,10.00,active,2024-0{1 + n % 6}-05 10:00," for n in range(2, 40)]
    rows += [",Basis,10.00,active,2024-02-01 08:00,", rows[1]]  # no customer; a repeat
    rows += [
        f"{n}.0,Basis,10.00,canceled,2024-01-1{n % 9} 09:00,2024-0{2 + n % 5}-0{1 + n % 9}"
        for n in range(40, 60)
    ]
    text = "Customer ID,Plan,Amount,Status,Created (UTC),Canceled At (UTC)\n" + "\n".join(rows)
    (export / "subscriptions.csv").write_bytes((text + "\n").encode("cp1252"))
    assert main(["dataset", "new", str(export)]) == 0
    out = export / "dataset.yaml"
    assert main(["ingest", str(out), "--no-progress"]) == 0
    ingested = capsys.readouterr().out
    # 61 rows read by each of two sources: the creations lose the row without a customer and
    # the repeat; the cancellations keep the 21 rows with a time (those two have none)
    assert "events: read 122  accepted 80  quarantined 42" in ingested
    assert "events[0] (subscriptions.csv): read 61  accepted 59  quarantined 2" in ingested
    assert "events[1] (subscriptions.csv): read 61  accepted 21  quarantined 40" in ingested
    assert "    missing_required_field: 1\n    no_event_time: 40 (not an error)\n" in ingested
    assert main(["features", "new", "renewals"]) == 0  # the default question says churn's
    hint = "also: your store holds SUBSCRIPTION_CANCELED; `usagecast features new NAME --label"
    assert hint in capsys.readouterr().out
    assert main(["features", "new", "churn", "--label", "churn"]) == 0
    assert hint not in capsys.readouterr().out
    spec = yaml.safe_load((tmp_path / "specs" / "churn" / "v1.yaml").read_text())
    assert spec["label"] == {
        "kind": "event_within",
        "event_type": "SUBSCRIPTION_CANCELED",
        "horizon_days": 30,
    }
    assert main(["features", "build", "churn@v1", "--no-progress"]) == 0
    built = pd.read_parquet(
        next((tmp_path / "usagecast_home").glob("feature_sets/churn/v1/*/data.parquet"))
    )
    assert built["label"].sum() > 0
    assert set(built["user_id"]) <= {str(n) for n in range(1, 60)}  # `1.0` read as `1`


def test_a_subscriptions_file_sampling_each_customer_once_is_no_users_table(tmp_path):
    """A large subscriptions export's sample rarely holds a customer twice; with its
    `Created` column it read as a users table of duplicate customers. Named like events, it
    is events."""
    rows = "".join(
        f"sub_{n},cus_{n},10.00,active,2024-01-0{1 + n % 9} 10:00,\n" for n in range(30)
    )
    header = "id,Customer ID,Amount,Status,Created (UTC),Canceled At (UTC)\n"
    out, starter = _starter_for(tmp_path, {"subscriptions.csv": header + rows})
    config = read_config(out)
    assert config.users is None
    # no sampled row is canceled, yet a plain Status beside Canceled At holds cancellations
    assert [s.event_type for s in config.events] == ["SUBSCRIPTION", "SUBSCRIPTION_CANCELED"]
    assert (
        "subscriptions.csv: Status is as of the export and its changes are dated by Canceled "
        "At (UTC): not the event type" in "\n".join(starter.checks)
    )


def test_an_apps_users_table_dates_confirmations_and_deletions_as_events(tmp_path):
    """A users table as a web framework keeps it (Devise's `confirmed_at`, a soft delete's
    `deleted_at`): each is when the user changed, an event of its own."""
    users = (
        "id,email,created_at,updated_at,confirmed_at,sign_in_count,deleted_at\n"
        "1,ann@x.io,2024-01-05 10:00:00,2024-06-01 10:00:00,2024-01-05 10:05:00,42,\n"
        "2,bob@x.io,2024-01-07 11:00:00,2024-03-01 10:00:00,,3,2024-03-01 10:00:00\n"
    )
    logins = "user_id,timestamp\n1,2024-01-06 10:00:00\n2,2024-01-08 10:00:00\n"
    out, _ = _starter_for(tmp_path, {"users.csv": users, "logins.csv": logins})
    config = read_config(out)
    dated = {
        s.event_type: s.columns["timestamp"] for s in config.events if s.blank_time != "error"
    }
    assert dated == {"USER_CONFIRMED": "confirmed_at", "USER_DELETED": "deleted_at"}
    kinds = {a.name: a.kind for a in config.users.attributes}
    assert kinds == {"email": "static", "updated_at": "snapshot", "sign_in_count": "snapshot"}


def test_a_users_table_without_signups_beside_one_with_them_is_left_out(tmp_path):
    files = {
        "users.csv": "user_id,signed_up_at\nu1,2024-01-01\nu2,2024-01-02\n",
        "customers.csv": "user_id,country\nu1,FR\nu2,DE\n",
        "logins.csv": "user_id,timestamp\nu1,2024-01-03 10:00\nu2,2024-01-04 10:00\n",
    }
    out, starter = _starter_for(tmp_path, files)
    assert read_config(out).users.files == "users.csv"
    customers = [c for c in starter.checks if c.startswith("customers.csv")]
    assert customers == ["customers.csv: left out: another users table, without signup times"]


def test_a_delivery_status_is_no_event_type(tmp_path):
    orders = (
        "Order ID,Email,Created at,Shipping Status,Total\n"
        "1,ann@example.com,2024-03-05 14:23,shipped,20.00\n"
        "2,bob@example.com,2024-03-06 08:59,delivered,9.00\n"
        "3,ann@example.com,2024-03-07 10:00,shipped,4.00\n"
    )
    out, _ = _starter_for(tmp_path, {"orders.csv": orders})
    (source,) = read_config(out).events
    assert (source.event_type, source.fill_down) == ("ORDER", None)
    assert "event_type" not in source.derived


def test_order_lines_mostly_without_the_orders_value_say_what_their_dedupe_would_keep(tmp_path):
    lines = "".join(
        f"{order},{user},2024-03-0{order} 10:00,{total},SKU{n}\n"
        for order, user, totals in ((1, "ann", ("30.00", "", "")), (2, "bob", ("12.50", "")))
        for n, total in enumerate(totals)
    )
    orders = "Id,Email,Created at,Total,Lineitem sku\n" + lines
    _, starter = _starter_for(tmp_path, {"orders_export.csv": orders})
    (check,) = [c for c in starter.checks if "an order's further line items" in c]
    assert check.endswith(
        "duplicate_event; about 40% of the sampled rows would be kept, under "
        "rules.min_accepted_share 0.5: lower it too)"
    )


def test_stripes_charges_with_a_created_utc_column(tmp_path):
    export = tmp_path / "export"
    export.mkdir()
    (export / "charges.csv").write_text(
        "id,Created (UTC),Amount,Status,Customer ID\n"
        'ch_1,2024-03-05 14:23:11,"1,020.00",Paid,cus_A\n'
        "ch_2,2024-04-05 14:23:11,20.00,Paid,cus_A\n"
        "ch_3,2024-04-06 09:00:00,15.00,Refunded,cus_B\n",
        encoding="utf-8",
    )
    out, _ = write_starter([export], None, "billing")

    (source,) = read_config(out).events
    assert dict(source.columns) == {
        "user_id": "Customer ID",
        "timestamp": "Created (UTC)",  # `created`, then a zone word
        "value": "Amount",
    }
    # a refund is no purchase: the status is part of the event type
    assert (source.event_type, source.thousands) == (None, ",")
    assert source.derived == {"event_type": "'CHARGE_' || UPPER(\"Status\")"}
    # the name says UTC: the source says so too, whatever zone the dataset is given later
    assert yaml.safe_load(out.read_text())["events"][0]["timezone"] == "UTC"
    store = tmp_path / "store" / "events.duckdb"
    summary = ingest_dataset(out, store, progress=False)
    assert summary.tables["events"].accepted == 3
    kinds = _query(store, "SELECT event_type FROM events ORDER BY event_time")
    assert kinds == [("CHARGE_PAID",), ("CHARGE_PAID",), ("CHARGE_REFUNDED",)]


STRIPE_PAYMENTS = (
    "id,Created (UTC),Amount,Status,Customer ID,user_id (metadata)\n"
    "ch_1,2024-03-05 14:23:11,20.00,Paid,cus_NffrFeUfNV2Hib,1001\n"
    "ch_2,2024-04-05 14:23:11,20.00,Partially refunded,cus_NffrFeUfNV2Hib,1001\n"
    "ch_3,2024-04-06 09:00:00,15.00,Failed,cus_OyqfHnd5VZCRQe,1002\n"
)
PRODUCT_USERS = "id,created_at\n1001,2024-03-01T10:00:00Z\n1002.0,2024-03-02T10:00:00Z\n"


def test_stripe_payments_are_keyed_by_the_id_shaped_like_the_users_tables(tmp_path):
    """Stripe's `Customer ID` (cus_...) names no product user; the app's own id travels in
    a metadata column, `user_id (metadata)`, whose numbers match the users table's."""
    out, starter = _starter_for(
        tmp_path, {"payments.csv": STRIPE_PAYMENTS, "users.csv": PRODUCT_USERS}
    )
    config = read_config(out)
    (source,) = config.events
    assert source.columns["user_id"] == "user_id (metadata)"
    assert config.rules.rename_event_types == {
        "PAYMENT_PARTIALLY REFUNDED": "PAYMENT_PARTIALLY_REFUNDED"
    }
    assert not any("users table's ids are" in c for c in starter.checks)
    summary = ingest_dataset(out, tmp_path / "store" / "events.duckdb", progress=False)
    assert summary.tables["events"] == TableCounts(3, 3, {})


def test_an_events_id_unlike_the_users_tables_is_named_in_the_checks(tmp_path):
    payments = "\n".join(
        ",".join(row.split(",")[:5]) for row in STRIPE_PAYMENTS.splitlines()
    )  # without the metadata column
    _, starter = _starter_for(tmp_path, {"payments.csv": payments, "users.csv": PRODUCT_USERS})
    assert (
        "payments.csv: Customer ID holds ids like cus_..., the users table's ids are numbers: "
        "an event is kept only when its user id is in the users table"
    ) in "\n".join(starter.checks)


def test_a_plan_change_log_is_a_source_whose_area_is_the_new_plan(tmp_path):
    changes = "account,changed_at,new_plan,seats\n7,2024-01-02,free,1\n7,2024-02-09,team,5\n"
    events = "account_id,ts,event\n7,2024-01-03 10:00,Login\n7,2024-02-10 11:00,Export\n"
    out, starter = _starter_for(tmp_path, {"plan_changes.csv": changes, "events.csv": events})
    changes_source = next(s for s in read_config(out).events if s.event_type == "PLAN_CHANGE")
    assert (changes_source.columns["user_id"], changes_source.columns["area"]) == (
        "account",
        "new_plan",
    )
    assert (
        "plan_changes.csv: new_plan as area, what each PLAN_CHANGE moved the user to: "
        "{kind: last, field: area, event_types: [PLAN_CHANGE]} reads it as of each cutoff"
    ) in starter.checks


DBT_SNAPSHOT = """\
id,created_at,plan,country,dbt_scd_id,dbt_updated_at,dbt_valid_from,dbt_valid_to
1,2024-01-02 09:00,pro,DE,a1,2024-03-01 00:00,2024-03-01 00:00,
1,2024-01-02 09:00,free,DE,a0,2024-01-02 09:00,2024-01-02 09:00,2024-03-01 00:00
2,2024-01-05 10:00,free,US,b0,2024-01-05 10:00,2024-01-05 10:00,
"""


def test_a_dbt_snapshot_of_users_is_a_table_of_versions_and_its_plan_changes(tmp_path):
    events = "user_id,ts,event\n1,2024-01-03 10:00,Login\n2,2024-03-06 10:00,Login\n"
    out, starter = _starter_for(tmp_path, {"users.csv": DBT_SNAPSHOT, "events.csv": events})
    config = read_config(out)
    assert config.users.columns["valid_from"] == "dbt_valid_from"
    assert [a.name for a in config.users.attributes] == ["plan", "country"]
    plan = next(s for s in config.events if s.event_type == "PLAN")
    assert (plan.files, plan.columns["timestamp"], plan.columns["area"]) == (
        "users.csv",
        "dbt_valid_from",
        "plan",
    )
    assert any(
        "not attributes: dbt_scd_id, dbt_updated_at, dbt_valid_to" in c for c in starter.checks
    )
    summary = ingest_dataset(out, tmp_path / "store" / "events.duckdb", progress=False)
    assert summary.tables["users"] == TableCounts(3, 2, {"later_version": 1})
    assert summary.tables["events"].accepted == 5


@pytest.mark.parametrize(
    ("value", "shape"),
    [
        ("1003", "numbers"),
        ("1003.0", "numbers"),
        (" Ann@Example.com ", "email addresses"),
        ("8f14e45f-ceea-467f-a8ad-0d7c7e1f0b1e", "UUIDs"),
        ("8f14e45fceea467fa8ad0d7c7e1f0b1e", "UUIDs"),
        ("cus_NffrFeUfNV2Hib", "ids like cus_..."),
        ("$device:18f2a", "other text"),
        ("anna", "other text"),
    ],
)
def test_id_shape(value, shape):
    assert id_shape(value) == shape


def test_shopify_customers_are_keyed_by_email_as_the_orders_are(tmp_path):
    export = tmp_path / "export"
    export.mkdir()
    (export / "orders_export.csv").write_text(SHOPIFY_ORDERS, encoding="utf-8")
    (export / "customers_export.csv").write_text(
        "Customer ID,Email,Total Spent,Created at\n"
        '7001,ann@example.com,"1,274.80",2024-03-01 10:00:00 -0500\n'
        '7002,Bob@Example.com,"1,234.50",2024-03-02 10:00:00 -0500\n',
        encoding="utf-8",
    )
    out, starter = write_starter([export], None, "shop")

    users = read_config(out).users
    assert users.derived == {"user_id": 'LOWER("Email")'}  # the customer id matches no order
    assert users.thousands == ","
    spent = {a.name: a for a in users.attributes}["total_spent"]
    assert (spent.dtype, spent.kind) == ("numeric", "snapshot")
    assert "customers_export.csv: keyed by Email, as the events are by email" in starter.checks
    store = tmp_path / "store" / "events.duckdb"
    summary = ingest_dataset(out, store, progress=False)
    assert (summary.tables["users"].accepted, summary.tables["events"].accepted) == (2, 4)
    assert summary.tables["events"].quarantined == {}


SHOPIFY_PRODUCTS = (
    "Handle,Title,Vendor,Type,Option1 Name,Option1 Value,Variant SKU,Variant Inventory Qty,"
    "Variant Price,Image Src,Image Position,Status\n"
    "blue-mug,Blue Mug,Acme,Mugs,Size,Small,MUG-B,12,14.00,https://cdn.example/a.jpg,1,active\n"
    "blue-mug,,,,,Large,MUG-B-L,3,18.00,,,\n"
    "blue-mug,,,,,,,,,https://cdn.example/b.jpg,2,\n"
    "tea,Tea,Leafco,Tea,Title,Default Title,TEA-1,40,6.00,https://cdn.example/t.jpg,1,active\n"
    "tea,,,,,,,,,https://cdn.example/t2.jpg,2,\n"
    'espresso,Espresso,Brewco,Machines,Title,Default Title,ESP,2,"1,234.50",'
    "https://cdn.example/e.jpg,1,active\n"
    "espresso,,,,,,,,,https://cdn.example/e2.jpg,2,\n"
)


def test_a_shopify_products_export_is_the_catalogue_its_image_rows_rows_of_no_item(tmp_path):
    """Shopify's products export: a row per variant (keyed by Variant SKU, as the orders'
    line items are) and one per further image, with the handle alone."""
    out, starter = _starter_for(
        tmp_path,
        {"orders_export_1.csv": SHOPIFY_ORDERS, "products_export_1.csv": SHOPIFY_PRODUCTS},
        "shop",
    )
    items = read_config(out).items
    assert dict(items.columns) == {"item_id": "Variant SKU"}
    attributes = {a.name: a for a in items.attributes}
    assert attributes["variant_inventory_qty"].kind == "snapshot"  # stock at export time
    assert not {"image_src", "image_position"} & set(attributes)  # the pictures' columns
    # Written on a product's first row only; Option1 Value is each variant's own.
    fill = ("Title", "Vendor", "Type", "Option1 Name", "Status")
    assert items.fill_down == FillDown("Handle", fill)  # the attributes' columns
    assert (attributes["variant_price"].dtype, items.thousands) == ("numeric", ",")
    assert (
        "products_export_1.csv: 3 of the 7 sampled rows have no Variant SKU, rows of no item"
        in "\n".join(starter.checks)
    )
    store = tmp_path / "store" / "events.duckdb"
    summary = ingest_dataset(out, store, progress=False)
    assert summary.tables["items"] == TableCounts(7, 4, {"item_without_id": 3})
    prices = _query(
        store,
        "SELECT e.item_id, i.variant_price FROM events e JOIN items i USING (item_id) "
        "ORDER BY e.event_time",
    )
    variants = _query(
        store,
        "SELECT item_id, vendor, option_1_value FROM items WHERE handle = 'blue-mug' "
        "ORDER BY item_id",
    )
    assert prices == [("MUG-B", 14.0), ("TEA-1", 6.0), ("ESP", 1234.5), ("MUG-B", 14.0)]
    assert variants == [("MUG-B", "Acme", "Small"), ("MUG-B-L", "Acme", "Large")]


def test_a_catalogue_whose_key_is_always_set_is_preferred_to_one_with_rows_of_no_item(tmp_path):
    """A stock sheet with a sparse sku column, named first, beside the product catalogue."""
    sheet = "sku,shelf\nMUG-B,A1\n,A2\nTEA-1,B1\n"
    catalogue = "sku,price\nMUG-B,14.00\nTEA-1,6.00\nESP,1234.50\n"
    files = {"a_stock.csv": sheet, "orders_export.csv": SHOPIFY_ORDERS, "products.csv": catalogue}
    out, starter = _starter_for(tmp_path, files, "shop")
    assert read_config(out).items.files == "products.csv"
    assert (
        "a_stock.csv: left out: another items table (a dataset has one: "
        "products.csv); point items: at it instead to read its attributes"
    ) in starter.checks


def _starter_for(tmp_path: Path, files: dict[str, str], name: str | None = None):
    """write_starter over an export folder holding `files` (relative path -> UTF-8 text)."""
    export = tmp_path / "export"
    export.mkdir()
    for file_name, text in files.items():
        (export / file_name).parent.mkdir(parents=True, exist_ok=True)
        (export / file_name).write_text(text, encoding="utf-8")
    return write_starter([export], None, name)


def _zip_of(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_amplitudes_export_zip_of_hourly_gzipped_json(tmp_path, capsys):
    events = [
        {
            "amplitude_id": 9000 + n,
            "user_id": None if n % 5 == 0 else f"u{n % 7}",
            "device_id": f"d{n % 7}",
            "event_time": f"2024-03-0{1 + n // 24} {n % 24:02d}:15:00.250000",
            "event_type": "Upgrade Premium" if n % 11 == 0 else "play song",
            "$insert_id": f"i{n}",
            "event_properties": {"genre": "jazz"},
        }
        for n in range(48)
    ]
    members = {
        f"187520/187520_2024-03-0{1 + h // 24}_{h % 24}#0.json.gz": gzip.compress(
            (json.dumps(events[h]) + "\n").encode(), mtime=0
        )
        for h in range(48)
    }
    members["__MACOSX/187520/._187520_2024-03-01_0#0.json.gz"] = b"\0\5\26\7 Finder"
    export = tmp_path / "export"
    export.mkdir()
    _zip_of(export / "export.zip", members)

    assert main(["dataset", "new", str(export / "export.zip")]) == 0
    printed = capsys.readouterr().out
    assert "an Amplitude export (it has amplitude_id) writes its times in UTC" in printed
    config = yaml.safe_load((export / "dataset.yaml").read_text())
    (source,) = config["events"]
    assert (source["files"], "members" in source) == ("export.zip", False)
    assert (source["timezone"], source["dedupe"]) == (
        "UTC",
        ["event_type", "user_id", "event_time", "$insert_id"],
    )
    store = tmp_path / "store" / "events.duckdb"
    summary = ingest_dataset(export / "dataset.yaml", store, progress=False)
    assert summary.tables["events"].accepted == 48
    assert summary.tables["events"].quarantined == {}
    assert "attributed to a user by their anonymous_id: 10 " in summary.quality_text
    with duckdb.connect(str(store), read_only=True) as con:
        assert con.execute("SELECT min(source_file), min(event_time) FROM events").fetchone() == (
            "export.zip:187520/187520_2024-03-01_0#0.json.gz",
            datetime(2024, 3, 1, 0, 15, 0, 250000),
        )


def test_a_zip_of_a_users_table_event_files_and_a_readme_names_its_members(tmp_path):
    table = pa.table({"uid": ["1", "2"], "ts": ["2024-03-05 10:00", "2024-03-06 11:00"]})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    export = tmp_path / "export"
    export.mkdir()
    _zip_of(
        export / "crm.zip",
        {
            "README.txt": b"Exported from the CRM",
            "users.csv": b"customer_id,signup_date\n1,2024-01-02\n2,2024-01-03\n",
            "events/page_views.csv": b"customer_id,viewed_at,page\n1,2024-03-01 09:00,home\n",
            "events/more_views.csv": b"customer_id,viewed_at,page\n2,2024-03-02 09:30,pricing\n",
            "logins.parquet": sink.getvalue().to_pybytes(),
        },
    )
    out, _ = write_starter([export], None, "crm")

    config = yaml.safe_load(out.read_text())
    assert [(s["files"], s["members"], s["event_type"]) for s in config["events"]] == [
        ("crm.zip", "events/more_views.csv", "MORE_VIEW"),  # a constant each: two kinds?
        ("crm.zip", "events/page_views.csv", "PAGE_VIEW"),
        ("crm.zip", "logins.parquet", "LOGIN"),
    ]
    assert (config["users"]["files"], config["users"]["members"]) == ("crm.zip", "users.csv")
    summary = ingest_dataset(out, tmp_path / "store" / "events.duckdb", progress=False)
    assert (summary.tables["events"].accepted, summary.tables["users"].accepted) == (4, 2)


def test_revenuecats_transactions_with_a_prefixed_user_id_and_a_usd_price(tmp_path):
    lines = [
        "rc_original_app_user_id,product_identifier,start_time,store,price_in_usd,"
        "price_in_purchased_currency,is_trial_period"
    ]
    lines += [
        f"$RCAnonymousID:{n % 4},premium_monthly,2024-03-{1 + n:02d} 08:00:00,app_store,"
        f"{0 if n % 3 == 0 else 9.99},{0 if n % 3 == 0 else 8.99},{str(n % 3 == 0).lower()}"
        for n in range(12)
    ]
    out, _ = _starter_for(tmp_path, {"transactions.csv": "\n".join(lines) + "\n"})

    (source,) = read_config(out).events
    assert (source.columns["user_id"], source.columns["timestamp"], source.columns["value"]) == (
        "rc_original_app_user_id",
        "start_time",
        "price_in_usd",
    )
    store = tmp_path / "store" / "events.duckdb"
    summary = ingest_dataset(out, store, progress=False)
    assert summary.tables["events"].accepted == 12
    with duckdb.connect(str(store), read_only=True) as con:
        types = con.execute(
            "SELECT event_type, count(*) FROM events GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert types == [("TRANSACTION", 8), ("TRANSACTION_TRIAL", 4)]  # by is_trial_period


def test_snowplows_enriched_events_take_the_derived_time_and_the_filled_domain_userid(tmp_path):
    lines = ["app_id,etl_tstamp,collector_tstamp,event,user_id,domain_userid,derived_tstamp"]
    lines += [
        f"web,2024-03-06 00:00:00.000,2024-03-05 10:{n:02d}:01.500,page_view,"
        f"{'' if n % 3 else 'u7'},{'d' + str(n % 5)},2024-03-05 10:{n:02d}:00.900"
        for n in range(30)
    ]
    out, starter = _starter_for(tmp_path, {"events.csv": "\n".join(lines) + "\n"})

    (source,) = read_config(out).events
    assert (source.columns["user_id"], source.columns["timestamp"]) == (
        "domain_userid",
        "derived_tstamp",
    )
    assert any("domain_userid in 30, user_id in 10" in check for check in starter.checks)
    summary = ingest_dataset(out, tmp_path / "store" / "events.duckdb", progress=False)
    assert summary.tables["events"].accepted == 30


def test_hubspots_contacts_export_is_the_users_table_with_its_create_date(tmp_path):
    files = {
        "hubspot-crm-exports-all-contacts-2024-03-05.csv": "Record ID,Email,Create Date,"
        "Lifecycle Stage\n101,Ann@Example.com,2024-01-02 09:00,lead\n"
        "102,bo@example.com,2024-01-03 10:30,customer\n",
        "logins.csv": "email,logged_in_at\nann@example.com,2024-03-01 08:00\n"
        "bo@example.com,2024-03-02 09:00\n",
    }
    out, _ = _starter_for(tmp_path, files, "crm")

    users = read_config(out).users
    assert (users.derived["user_id"], users.columns["signup_time"]) == (
        'LOWER("Email")',
        "Create Date",
    )
    summary = ingest_dataset(out, tmp_path / "store" / "events.duckdb", progress=False)
    assert (summary.tables["users"].accepted, summary.tables["events"].accepted) == (2, 2)


def test_a_csv_whose_properties_column_holds_json_maps_paths_inside_it(tmp_path):
    rows = [
        ("e1", "$pageview", {"$current_url": "/pricing"}, "d1"),
        ("e2", "purchase", {"revenue": 29, "plan": "pro"}, "d1"),
        ("e3", "$pageview", {"$current_url": "/"}, "d2"),
    ]
    lines = ["uuid,event,properties,timestamp,distinct_id"] + [
        f'{uuid},{event},"{json.dumps(props).replace(chr(34), chr(34) * 2)}",'
        f"2024-03-05T10:0{n}:00Z,{user}"
        for n, (uuid, event, props, user) in enumerate(rows)
    ]
    out, _ = _starter_for(tmp_path, {"events.csv": "\n".join(lines) + "\n"})

    (source,) = read_config(out).events
    assert (source.columns["value"], source.columns["properties"]) == (
        "properties.revenue",
        "properties",
    )
    store = tmp_path / "store" / "events.duckdb"
    ingest_dataset(out, store, progress=False)
    with duckdb.connect(str(store), read_only=True) as con:
        assert con.execute("SELECT sum(value), count(*) FROM events").fetchone() == (29.0, 3)


def test_ids_excel_shortened_to_scientific_notation_are_named_and_quarantined(tmp_path):
    orders = (
        "customer_id,order_date,amount\n"
        "1.23457E+18,2024-03-01,10\n1.23457E+18,2024-03-02,12\n17,2024-03-03,9\n"
    )
    out, starter = _starter_for(tmp_path, {"orders.csv": orders})

    assert any("2 sampled ids such as 1.23457E+18" in check for check in starter.checks)
    summary = ingest_dataset(
        out, tmp_path / "store" / "events.duckdb", progress=False, allow_partial=True
    )
    assert summary.tables["events"].quarantined == {"scientific_notation_id": 2}


def test_files_split_into_date_folders_are_one_source_with_a_glob(tmp_path):
    export = tmp_path / "export"
    for day in (1, 2, 3):
        folder = export / "segment-logs" / "src1" / f"2024-03-0{day}"
        folder.mkdir(parents=True)
        records = [
            {"userId": f"u{day}", "event": "Song Played", "timestamp": f"2024-03-0{day}T10:00Z"}
        ]
        (folder / "tracks.json.gz").write_bytes(
            gzip.compress("".join(json.dumps(r) + "\n" for r in records).encode(), mtime=0)
        )
    hive = export / "warehouse" / "date=2024-03-01"
    hive.mkdir(parents=True)
    pq.write_table(
        pa.table({"user_id": ["u1"], "event_time": ["2024-03-01 11:00"], "kind": ["LOGIN"]}),
        hive / "part-0.parquet",
    )
    (export / "warehouse" / "date=2024-03-02").mkdir()
    pq.write_table(
        pa.table({"user_id": ["u2"], "event_time": ["2024-03-02 11:00"], "kind": ["LOGIN"]}),
        export / "warehouse" / "date=2024-03-02" / "part-0.parquet",
    )
    out, starter = write_starter([export], None, None)

    assert sorted(source.files for source in read_config(out).events) == [
        "segment-logs/src1/*/*.json.gz",
        "warehouse/*/*.parquet",
    ]
    partition = "not mapped: date (the key of the partition folders, date=...)"
    assert any(c.startswith("warehouse/*/*.parquet: ") and partition in c for c in starter.checks)
    summary = ingest_dataset(out, tmp_path / "store" / "events.duckdb", progress=False)
    assert summary.tables["events"].accepted == 5


def test_segments_page_and_identify_calls_take_their_type_as_event_type(tmp_path):
    calls = [
        {"type": "identify", "userId": "u1", "traits": {"plan": "pro"}},
        {"type": "page", "userId": "u1", "name": "Pricing"},
        {"type": "track", "userId": "u1", "event": "Order Completed"},
        {"type": "track", "userId": "u2", "event": "Song Played"},
    ]
    lines = "".join(
        json.dumps({**call, "timestamp": f"2024-03-05T10:0{n}:00Z", "messageId": f"m{n}"}) + "\n"
        for n, call in enumerate(calls)
    )
    out, starter = _starter_for(tmp_path, {"calls.jsonl": lines})

    (source,) = read_config(out).events
    assert source.derived["event_type"] == 'COALESCE("event", "type")'
    assert any("event type event, else type where event is blank" in c for c in starter.checks)
    store = tmp_path / "store" / "events.duckdb"
    ingest_dataset(out, store, progress=False)
    with duckdb.connect(str(store), read_only=True) as con:
        assert con.execute("SELECT event_type FROM events ORDER BY event_time").fetchall() == [
            ("identify",),
            ("page",),
            ("Order_Completed",),
            ("Song_Played",),
        ]


def test_ga4s_bigquery_export_as_json_lines(tmp_path):
    def param(key: str, **typed: object) -> dict:
        return {"key": key, "value": {"string_value": None, "int_value": None, **typed}}

    records = [
        {
            "event_timestamp": f"17096328{n}0000000",
            "event_name": "purchase" if n == 2 else "page_view",
            "user_pseudo_id": "1001.17",
            "user_id": None,
            "event_params": [
                param("ga_session_id", int_value="1709632800"),
                *([param("value", double_value=9.99)] if n == 2 else []),
            ],
        }
        for n in range(3)
    ]
    out, _ = _starter_for(
        tmp_path, {"events.json": "".join(json.dumps(r) + "\n" for r in records)}
    )

    (source,) = read_config(out).events
    assert (source.columns["session_id"], source.columns["value"]) == (
        "event_params.ga_session_id",
        "event_params.value",
    )
    store = tmp_path / "store" / "events.duckdb"
    ingest_dataset(out, store, progress=False)
    with duckdb.connect(str(store), read_only=True) as con:
        assert con.execute(
            "SELECT count(DISTINCT session_id), sum(value) FROM events"
        ).fetchone() == (
            1,
            9.99,
        )


def test_mixpanels_device_distinct_ids_give_way_to_user_id_and_device_id(tmp_path):
    def record(n: int, identified: bool) -> dict:
        ids = (
            {"distinct_id": "u1", "$user_id": "u1"}
            if identified
            else {"distinct_id": "$device:d1"}
        )
        properties = {
            "time": 1709632800 + 60 * n,
            "$device_id": "d1",
            "$insert_id": f"i{n}",
            **ids,
        }
        return {"event": "Signed Up" if n == 3 else "Page View", "properties": properties}

    records = [record(n, identified=n >= 3) for n in range(5)]  # distinct_id fills more rows
    out, starter = _starter_for(
        tmp_path, {"export.json": "".join(json.dumps(r) + "\n" for r in records)}
    )

    (source,) = read_config(out).events
    assert (source.columns["user_id"], source.columns["anonymous_id"]) == (
        "properties.$user_id",
        "properties.$device_id",
    )
    assert any("such as $device:d1 name anonymous devices" in check for check in starter.checks)
    store = tmp_path / "store" / "events.duckdb"
    summary = ingest_dataset(out, store, progress=False)
    assert summary.tables["events"].accepted == 5  # the three events before the login are u1's
    with duckdb.connect(str(store), read_only=True) as con:
        assert con.execute("SELECT DISTINCT user_id FROM events").fetchall() == [("u1",)]


def test_monthly_zip_archives_of_one_shape_are_one_source(tmp_path):
    export = tmp_path / "export" / "exports"
    export.mkdir(parents=True)
    for month, user in (("2024-03", "1"), ("2024-04", "2")):
        rows = f"customer_id,viewed_at,page\n{user},{month}-05 09:00,home\n".encode()
        _zip_of(export / f"export_{month}.zip", {"events/page_views.csv": rows})
    out, _ = write_starter([tmp_path / "export"], None, None)

    (source,) = read_config(out).events
    assert (source.files, source.members) == ("exports/*.zip", None)
    summary = ingest_dataset(out, tmp_path / "store" / "events.duckdb", progress=False)
    assert summary.tables["events"].accepted == 2


def _posthog_event(n: int) -> dict:
    return {
        "uuid": f"0190{n:04d}",
        "event": "$pageview" if n % 4 else "subscribed",
        "distinct_id": f"user{n % 40}",
        "timestamp": f"2024-03-{1 + n % 28:02d}T10:00:00.000000+00:00",
        "properties": {"$current_url": "https://example.com/" + "x" * 150},
    }


def test_api_pages_are_read_from_their_records_array(tmp_path):
    """PostHog's events API replies {"next": ..., "results": [...]}: saved pretty-printed
    and larger than the starter's sample, the page is still read by its records."""
    events = [_posthog_event(n) for n in range(5_000)]
    page = {"next": "https://app.posthog.com/api/events?after=x", "results": events}
    out, starter = _starter_for(tmp_path, {"events_page_001.json": json.dumps(page, indent=2)})
    assert (tmp_path / "export" / "events_page_001.json").stat().st_size > (1 << 20)

    (source,) = read_config(out).events
    assert source.records == "results"
    assert dict(source.columns) == {
        "user_id": "distinct_id",
        "timestamp": "timestamp",
        "event_type": "event",
        "properties": "properties",
    }
    assert any("the elements of each page's 'results' array" in c for c in starter.checks)
    summary = ingest_dataset(out, tmp_path / "store" / "events.duckdb", progress=False)
    assert summary.tables["events"] == TableCounts(5_000, 5_000, {})


def test_a_record_with_a_list_inside_is_no_page(tmp_path):
    """An order with its line items has a time of its own: a record, not a page. A line
    item's `updated_at` dates its keeping, no event: the orders stay the events."""
    orders = [
        {"id": n, "customer_id": n % 3, "created_at": "2024-03-05T10:00:00Z",
         "line_items": [{"sku": "A", "updated_at": "2024-03-05T10:00:00Z"}]}
        for n in range(4)
    ]  # fmt: skip
    out, starter = _starter_for(tmp_path, {"orders.jsonl": "\n".join(map(json.dumps, orders))})
    (source,) = read_config(out).events
    assert source.records is None
    assert source.columns["user_id"] == "customer_id"
    assert any("`records: line_items` and `parent: order`" in c for c in starter.checks)


def test_a_page_whose_events_sit_one_object_down_is_read_by_their_path(tmp_path):
    """A page `{"data": {"events": [...]}}` (no list at its top, so no API page the starter
    knows): the events are the list's elements, read by its path, with no `parent:` since the
    page holds nothing else."""
    events = [{"id": n, "user_id": 1, "ts": "2024-03-05T10:00:00Z"} for n in range(3)]
    out, starter = _starter_for(
        tmp_path, {"events.json": json.dumps({"data": {"events": events}})}
    )
    (source,) = read_config(out).events
    assert (source.records, source.parent) == ("data.events", None)
    assert any(c.endswith("read a row each with `records: data.events`") for c in starter.checks)
    summary = ingest_dataset(out, tmp_path / "store" / "events.duckdb", progress=False)
    assert summary.tables["events"] == TableCounts(3, 3, {})


def _mongo_users(sessions_per_user: Sequence[int]) -> str:
    """mongoexport's lines of a users collection whose documents hold their sessions."""
    users = [
        {"_id": {"$oid": f"64b{n:021d}"}, "createdAt": {"$date": "2024-01-05T10:00:00Z"},
         "plan": "free",
         "activity": {"streak": n, "sessions": [
             {"startedAt": {"$date": f"2024-02-{1 + k:02d}T08:00:00Z"}, "screen": "home"}
             for k in range(count)]}}
        for n, count in enumerate(sessions_per_user)
    ]  # fmt: skip
    return "\n".join(map(json.dumps, users))


def test_user_documents_with_embedded_sessions_give_the_users_table_and_its_events(tmp_path):
    """A MongoDB users collection whose documents hold their sessions: the documents are the
    users table, each session (a time of its own) an event keyed by its document's id."""
    sessions = [2, 0, 3, 1, 1]
    out, starter = _starter_for(tmp_path, {"users.json": _mongo_users(sessions)})
    config = read_config(out)
    (source,) = config.events
    assert (source.records, source.parent, source.event_type) == (
        "activity.sessions",
        "user",
        "SESSION",
    )
    assert dict(source.columns) == {
        "user_id": "user._id.$oid",
        "timestamp": "startedAt.$date",
        "area": "screen",
    }
    assert config.users.columns["user_id"] == "_id.$oid"
    assert {a.name: a.kind for a in config.users.attributes} == {
        "plan": "snapshot",
        "streak": "snapshot",  # today's streak would leak into every past cutoff
    }
    assert any(
        "the events are the elements of the 'activity.sessions' list in each user's record "
        "(the users table)" in c
        for c in starter.checks
    )
    assert not any("activity.sessions as" in c for c in starter.checks)  # no attribute

    store = tmp_path / "store" / "events.duckdb"
    summary = ingest_dataset(out, store, progress=False)
    assert summary.tables["users"] == TableCounts(5, 5, {})
    assert summary.tables["events"] == TableCounts(7, 7, {})
    with duckdb.connect(str(store), read_only=True) as con:
        per_user = con.execute(
            "SELECT u.user_id, count(e.user_id) FROM users u LEFT JOIN events e USING (user_id) "
            "GROUP BY u.user_id ORDER BY u.user_id"
        ).fetchall()
    assert [count for _, count in per_user] == sessions


def _matomo_visits() -> list[dict]:
    """Matomo's Live.getLastVisitsDetails reply: visits, each with its actions and their own
    unix times; `userId` set after a login, `visitorId` (the cookie's) always."""
    visits = []
    for n in range(6):
        start = 1_709_280_000 + n * 90_000  # 2024-03-01 08:00 UTC, then a day and an hour on
        actions = [
            {"type": "action", "url": "https://app.example.com/editor", "timestamp": start + 5},
            {"type": "ecommerceOrder", "revenue": "49.00", "timestamp": start + 60},
        ][: 1 + n % 2]
        visits.append({
            "idVisit": str(100 + n), "visitorId": f"{n % 3:016x}",
            "userId": None if n == 0 else f"user{n % 3}@example.com",
            "serverDate": f"2024-03-0{1 + n}", "serverTimestamp": start,
            "deviceType": "Desktop", "referrerType": "search", "actionDetails": actions,
        })  # fmt: skip
    return visits


def test_a_visits_actions_with_their_own_times_are_the_events(tmp_path):
    """Matomo's visits log: each visit's actions are the events (they have their own time),
    read with the visit's fields under `visit.`; the cookie id stands in for a user id until
    a login. Read = accepted + quarantined; every accepted row is an action."""
    visits = _matomo_visits()
    out, starter = _starter_for(tmp_path, {"visits_001.json": json.dumps(visits)})
    (source,) = read_config(out).events
    assert (source.records, source.parent) == ("actionDetails", "visit")
    assert dict(source.columns) == {
        "user_id": "visit.userId",
        "timestamp": "timestamp",
        "anonymous_id": "visit.visitorId",
        "event_type": "type",
        "value": "revenue",
    }
    assert source.timestamp_formats == ("epoch_s",)
    assert {a.name: a.column for a in source.user_attributes} == {
        "device_type": "visit.deviceType",
        "referrer_type": "visit.referrerType",  # how each user came, on their first visit
    }
    assert any(
        "the events are the elements of the 'actionDetails' list in each record" in c
        for c in starter.checks
    )

    store = tmp_path / "store" / "events.duckdb"
    summary = ingest_dataset(out, store, progress=False)
    actions = sum(len(v["actionDetails"]) for v in visits)
    counts = summary.tables["events"]
    assert counts.read == actions == counts.accepted + sum(counts.quarantined.values())
    with duckdb.connect(str(store), read_only=True) as con:
        rows = con.execute(
            "SELECT user_id, event_type, value, event_time FROM events ORDER BY event_time"
        ).fetchall()
    assert counts.quarantined == {}
    # the first visit's action, before any login, is its cookie's user's (linked by the time
    # that user is first seen, their signup without a users table)
    assert rows[0][:3] == ("user0@example.com", "action", None)
    assert rows[2][:3] == ("user1@example.com", "ecommerceOrder", 49.0)
    assert rows[2][3] == datetime(2024, 3, 2, 9, 1)  # the action's own second, not the visit's


def test_segments_saved_batches_are_read_message_by_message(tmp_path):
    """Segment's HTTP API batches saved a line each ({"batch": [...], "sentAt": ...}): the
    messages are the events; the parent key is not `batch`, the list's own name."""
    batches = [
        {"batch": [{"type": "track", "event": "Song Played", "userId": str(n % 2),
                    "messageId": f"m-{n}-{k}", "timestamp": f"2024-03-0{1 + n}T1{k}:00:00Z"}
                   for k in range(1 + n)],
         "sentAt": f"2024-03-0{1 + n}T19:00:00Z", "writeKey": "abc"}
        for n in range(3)
    ]  # fmt: skip
    out, _ = _starter_for(tmp_path, {"batch_0001.jsonl": "\n".join(map(json.dumps, batches))})
    (source,) = read_config(out).events
    assert (source.records, source.parent) == ("batch", "record")
    assert (source.columns["user_id"], source.columns["timestamp"]) == ("userId", "timestamp")
    summary = ingest_dataset(out, tmp_path / "store" / "events.duckdb", progress=False)
    assert summary.tables["events"] == TableCounts(6, 6, {})


def test_the_change_events_of_a_report_skip_its_title_too(tmp_path):
    """A subscriptions report with a title above its table: the cancellations read from the
    same lines, so they skip the same title."""
    rows = [
        f"sub_{n},cus_{n % 4},2024-03-{1 + n:02d} 10:00:00,"
        + ("2024-05-01 10:00:00" if n % 3 == 0 else "")
        for n in range(9)
    ]
    report = "Subscriptions report\nGenerated 2024-06-01\n\nid,Customer ID,Created,Canceled At\n"
    out, _ = _starter_for(tmp_path, {"subscriptions.csv": report + "\n".join(rows) + "\n"})
    sources = read_config(out).events
    assert [(s.event_type, s.skip_lines) for s in sources] == [
        ("SUBSCRIPTION", 3),
        ("SUBSCRIPTION_CANCELED", 3),
    ]
    summary = ingest_dataset(out, tmp_path / "store" / "events.duckdb", progress=False)
    assert summary.tables["events"] == TableCounts(18, 12, {"no_event_time": 6})


def test_a_subscription_apps_transactions_tell_trials_payments_and_unsubscribes(tmp_path):
    """RevenueCat's transactions export: a trial's start is no payment (its own event type,
    by `is_trial_period`), and turning auto-renewal off (`unsubscribe_detected_at`) is an
    event of its own, the churn signal, at the time it was seen."""
    header = (
        "rc_original_app_user_id,start_time,is_trial_period,price_in_usd,"
        "unsubscribe_detected_at,refunded_at\n"
    )
    rows = [
        "u1,2024-03-01 10:00:00,true,0.00,,",
        "u1,2024-03-08 10:00:00,false,9.99,2024-04-05 08:00:00,",
        "u2,2024-03-02 10:00:00,TRUE,0.00,2024-03-06 09:00:00,",
        "u3,2024-03-03 10:00:00,false,9.99,,2024-03-04 10:00:00",
    ]
    csv = header + "\n".join(rows) + "\n"
    out, starter = _starter_for(tmp_path, {"revenuecat_transactions.csv": csv})
    store = tmp_path / "store" / "events.duckdb"
    summary = ingest_dataset(out, store, progress=False)
    assert summary.tables["events"] == TableCounts(12, 7, {"no_event_time": 5})
    with duckdb.connect(str(store), read_only=True) as con:
        events = con.execute(
            "SELECT user_id, event_type, value FROM events ORDER BY event_time"
        ).fetchall()
    assert events == [
        ("u1", "REVENUECAT_TRANSACTION_TRIAL", 0.0),
        ("u2", "REVENUECAT_TRANSACTION_TRIAL", 0.0),
        ("u3", "REVENUECAT_TRANSACTION", 9.99),
        ("u3", "REVENUECAT_TRANSACTION_REFUNDED", None),
        ("u2", "REVENUECAT_TRANSACTION_UNSUBSCRIBE", None),
        ("u1", "REVENUECAT_TRANSACTION", 9.99),
        ("u1", "REVENUECAT_TRANSACTION_UNSUBSCRIBE", None),
    ]
    trials = "a row whose is_trial_period is true is REVENUECAT_TRANSACTION_TRIAL"
    assert any(trials in c for c in starter.checks)


def _users_page_and_events(tmp_path: Path, name: str, page: dict, user_ids: Sequence[str]):
    """_starter_for over an identity provider's users page saved as `name` and an app's
    events, one `open` a day from 2024-03-05 by each of `user_ids`."""
    events = [
        {"user_id": user, "event": "open", "ts": f"2024-03-{5 + n:02d}T10:00:00Z"}
        for n, user in enumerate(user_ids)
    ]
    files = {
        name: json.dumps(page, indent=2),
        "events.jsonl": "\n".join(map(json.dumps, events)),
    }
    return _starter_for(tmp_path, files)


def test_firebase_auths_users_export_is_keyed_by_the_uid_and_keeps_no_credential(tmp_path):
    """`firebase auth:export users.json`: {"users": [...]} keyed by `localId`, the uid the
    app's events carry (not the email); its password hash and salt are never attributes."""
    users = [
        {"localId": f"uid{n:025d}", "email": f"p{n}@example.com", "emailVerified": n % 2 == 0,
         "passwordHash": "c2VjcmV0==", "salt": "c2FsdA==", "createdAt": str(1_709_280_000_000 + n)}
        for n in range(4)
    ]  # fmt: skip
    ids = [f"uid{n % 4:025d}" for n in range(6)]
    out, starter = _users_page_and_events(tmp_path, "users.json", {"users": users}, ids)
    config = read_config(out)
    assert config.users.columns["user_id"] == "localId"
    assert {a.column for a in config.users.attributes} == {"email", "emailVerified"}
    secrets = "users.json: left out: passwordHash, salt, credentials: never an attribute"
    assert any(c.startswith(secrets) for c in starter.checks)
    summary = ingest_dataset(out, tmp_path / "store" / "events.duckdb", progress=False)
    assert summary.tables["events"] == TableCounts(6, 6, {})


def test_cognitos_users_are_keyed_by_username_with_their_name_value_attributes(tmp_path):
    """AWS Cognito's ListUsers pages: `Username` the id the app's events carry,
    `UserCreateDate` the signup, and the `Attributes` list of {Name, Value} pairs read by
    name as GA4's {key, value} lists are (a user without a pair reads no value)."""
    users = [
        {"Username": f"sub-{n}", "UserCreateDate": f"2024-03-0{1 + n}T10:00:00.123000+00:00",
         "Attributes": [{"Name": "sub", "Value": f"sub-{n}"},
                        {"Name": "custom:team", "Value": ["red", "blue"][n % 2]},
                        *([{"Name": "email", "Value": f"u{n}@example.com"}] if n else [])],
         "UserStatus": "CONFIRMED"}
        for n in range(4)
    ]  # fmt: skip
    ids = [f"sub-{n}" for n in range(4)]
    out, _ = _users_page_and_events(tmp_path, "cognito_users.json", {"Users": users}, ids)
    config = read_config(out)
    assert dict(config.users.columns) == {"user_id": "Username", "signup_time": "UserCreateDate"}
    assert {a.name: a.column for a in config.users.attributes if a.name != "user_status"} == {
        "sub": "Attributes.sub",
        "custom_team": "Attributes.custom:team",
        "email": "Attributes.email",
    }
    store = tmp_path / "store" / "events.duckdb"
    summary = ingest_dataset(out, store, progress=False)
    assert summary.tables["users"] == TableCounts(4, 4, {})
    assert summary.tables["events"] == TableCounts(4, 4, {})
    with duckdb.connect(str(store), read_only=True) as con:
        rows = con.execute("SELECT user_id, custom_team, email FROM users ORDER BY 1").fetchall()
    assert rows == [
        ("sub-0", "red", None),
        ("sub-1", "blue", "u1@example.com"),
        ("sub-2", "red", "u2@example.com"),
        ("sub-3", "blue", "u3@example.com"),
    ]


def test_a_backends_events_keyed_by_the_tokens_subject_and_named_by_name(tmp_path):
    """Auth0's users export beside a backend's event log: `sub` (the token's subject,
    `auth0|...`) is the user id, `name` the event type; a `name` that is each user's own
    on every row of theirs stays no event type."""
    users = [
        {"user_id": f"auth0|{n:024x}", "email": f"a{n}@example.com",
         "created_at": "2024-03-01T10:00:00.000Z", "logins_count": n}
        for n in range(3)
    ]  # fmt: skip
    names = ["project_created", "invite_sent", "project_created", "checkout"]
    events = [
        {"sub": f"auth0|{n % 3:024x}", "name": names[n % 4], "time": f"2024-03-0{2 + n}T10:00:00Z"}
        for n in range(8)
    ]
    out, _ = _starter_for(
        tmp_path,
        {
            "auth0_users.json": "\n".join(map(json.dumps, users)),
            "product_events.jsonl": "\n".join(map(json.dumps, events)),
        },
    )
    (source,) = read_config(out).events
    assert dict(source.columns) == {"user_id": "sub", "timestamp": "time", "event_type": "name"}
    summary = ingest_dataset(out, tmp_path / "store" / "events.duckdb", progress=False)
    assert summary.tables["events"] == TableCounts(8, 8, {})

    people = "user_id,name,ts\n" + "".join(
        f"{n % 3},{['Ann Lee', 'Bo Chan', 'Cy Diaz'][n % 3]},2024-03-0{1 + n} 10:00:00\n"
        for n in range(9)
    )
    (tmp_path / "people").mkdir()
    out, _ = _starter_for(tmp_path / "people", {"events.csv": people})
    (source,) = read_config(out).events
    assert source.event_type == "EVENT"  # the users' names are no event type


def test_a_users_tables_id_is_the_column_shaped_as_the_events_ids(tmp_path):
    """An identity provider's users export whose id column has a name the starter does not
    know (`profile_id`) beside `email`: keyed by email, no event would match; the column
    whose ids have the events' shape is the id, and the check says why."""
    users = "email,profile_id,created_at\n" + "".join(
        f"u{n}@example.com,{n:08x}c0ffee{n:02d},2024-03-0{1 + n} 10:00:00\n" for n in range(4)
    )
    events = "user_id,event,ts\n" + "".join(
        f"{n % 4:08x}c0ffee{n % 4:02d},open,2024-03-0{5 + n} 10:00:00\n" for n in range(4)
    )
    out, starter = _starter_for(tmp_path, {"users.csv": users, "events.csv": events})
    assert read_config(out).users.columns["user_id"] == "profile_id"
    assert any(
        c.startswith("users.csv: user id profile_id, not email: its ids are shaped as the")
        for c in starter.checks
    )
    summary = ingest_dataset(out, tmp_path / "store" / "events.duckdb", progress=False)
    assert summary.tables["events"] == TableCounts(4, 4, {})


def test_kafka_connects_json_with_its_schema_reads_the_payload(tmp_path):
    """Kafka Connect's S3 sink with the JSON converter's schemas: each line is {"schema",
    "payload"} and the file is named topic+partition+offset; the fields are the payload's,
    the schema's `fields` list is no rows, and the topic names the events."""
    schema = {"type": "struct", "fields": [{"field": "user_id", "type": "string"}]}
    lines = [
        {"schema": schema,
         "payload": {"user_id": f"u{n % 3}", "occurred_at": 1_709_280_000_000 + n * 60_000}}
        for n in range(6)
    ]  # fmt: skip
    out, starter = _starter_for(
        tmp_path, {"logins+0+0000000000.json": "\n".join(map(json.dumps, lines))}
    )
    (source,) = read_config(out).events
    assert (source.event_type, dict(source.columns)) == (
        "LOGIN",
        {"user_id": "payload.user_id", "timestamp": "payload.occurred_at"},
    )
    assert not any("schema.fields" in c for c in starter.checks)
    unmapped = "logins+0+0000000000.json: not mapped: schema (one that describes"
    assert any(c.startswith(unmapped) for c in starter.checks)  # the payload is read
    summary = ingest_dataset(out, tmp_path / "store" / "events.duckdb", progress=False)
    assert summary.tables["events"] == TableCounts(6, 6, {})


def test_a_time_with_the_time_of_day_is_taken_over_a_column_of_dates(tmp_path):
    """Two columns named like times, the first of dates only: the event time is the one that
    holds the time of day, and the check names the one passed over."""
    lines = [
        {"userId": n % 2, "serverDate": "2024-03-05", "serverTimestamp": 1_709_633_000 + n}
        for n in range(4)
    ]
    out, starter = _starter_for(tmp_path, {"visits.jsonl": "\n".join(map(json.dumps, lines))})
    (source,) = read_config(out).events
    assert source.columns["timestamp"] == "serverTimestamp"
    assert "visits.jsonl: serverTimestamp is the event time; serverDate holds dates only" in (
        starter.checks
    )


def test_the_change_events_of_api_pages_read_the_pages_records(tmp_path):
    """Stripe's subscriptions list: each `canceled_at` is an event of its own, read from
    the same pages' `data` records (not the pages themselves)."""
    subscriptions = [
        {"id": f"sub_{n}", "customer": f"cus_{n % 3}", "created": "2024-03-01T10:00:00Z",
         "canceled_at": "2024-04-01T10:00:00Z" if n % 2 else None}
        for n in range(6)
    ]  # fmt: skip
    page = json.dumps({"object": "list", "data": subscriptions, "has_more": False})
    out, _ = _starter_for(tmp_path, {"subscriptions.json": page})
    sources = read_config(out).events
    assert [(s.event_type, s.records) for s in sources] == [
        ("SUBSCRIPTION", "data"),
        ("SUBSCRIPTION_CANCELED", "data"),
    ]
    summary = ingest_dataset(out, tmp_path / "store" / "events.duckdb", progress=False)
    assert summary.tables["events"] == TableCounts(12, 9, {"no_event_time": 3})


def test_the_line_items_of_api_pages_of_orders_are_rows_as_the_check_says(tmp_path):
    """Shopify's Admin API pages {"orders": [...]}: an order is a record (one purchase); the
    check says how to read its line items as rows instead, and doing so gives a row each."""
    orders = [
        {"id": n, "created_at": f"2024-03-0{1 + n}T10:00:00Z", "financial_status": "paid",
         "total_price": "9.50", "customer": {"id": 7 + n % 2},
         "line_items": [{"sku": f"SKU-{k}", "price": "9.50"} for k in range(1 + n % 3)]}
        for n in range(6)
    ]  # fmt: skip
    pages = [{"orders": orders[:3]}, {"orders": orders[3:]}]
    files = {f"orders_{i}.json": json.dumps(page) for i, page in enumerate(pages)}
    out, starter = _starter_for(tmp_path, files)
    (source,) = read_config(out).events
    assert source.records == "orders"
    assert source.columns["value"] == "total_price"  # the order's, taxed
    assert any(
        "each record holds a list of objects at 'line_items'" in c
        and "`records: orders[].line_items` and `parent: order`" in c
        for c in starter.checks
    )

    config = yaml.safe_load(out.read_text())
    config["events"][0].update(
        records="orders[].line_items",
        parent="order",
        columns={
            "user_id": "order.customer.id",
            "timestamp": "order.created_at",
            "event_type": "order.financial_status",
            "item_id": "sku",
            "value": "price",
        },
    )
    out.write_text(yaml.safe_dump(config))
    summary = ingest_dataset(out, tmp_path / "store" / "events.duckdb", progress=False)
    items = sum(len(order["line_items"]) for order in orders)
    assert summary.tables["events"] == TableCounts(items, items, {})


def test_a_users_history_dated_by_its_update_time_is_a_table_of_versions(tmp_path):
    users = (
        "user_id,created_at,plan,updated_at\n"
        "1,2024-01-02 10:00:00,pro,2024-02-01 09:00:00\n"
        "1,2024-01-02 10:00:00,free,2024-01-02 10:00:00\n"
        "2,2024-01-03 10:00:00,free,2024-01-03 10:00:00\n"
    )
    events = "user_id,event,ts\n1,open,2024-01-05 10:00:00\n2,open,2024-01-06 10:00:00\n"
    out, starter = _starter_for(tmp_path, {"users.csv": users, "events.csv": events})
    config = read_config(out)
    assert {a.name: a.kind for a in config.users.attributes} == {"plan": "static"}
    assert config.users.columns["valid_from"] == "updated_at"
    assert any(
        "users.csv: user_id repeats, updated_at dates each row" in c for c in starter.checks
    )
    store = tmp_path / "store" / "events.duckdb"
    summary = ingest_dataset(out, store, progress=False)
    assert summary.tables["users"] == TableCounts(3, 2, {"later_version": 1})
    with duckdb.connect(str(store), read_only=True) as con:
        assert con.execute("SELECT plan FROM users WHERE user_id = '1'").fetchall() == [("free",)]
        changes = "SELECT area FROM events WHERE event_type = 'PLAN' ORDER BY event_time"
        assert con.execute(changes).fetchall() == [("free",), ("free",), ("pro",)]


@pytest.mark.parametrize(
    ("name", "encoding", "bom"),
    [
        ("events.txt", "utf-16-le", b"\xff\xfe"),  # Excel's "Unicode Text"
        ("events.txt", "utf-16-be", b"\xfe\xff"),
        ("events.tsv", "utf-8", b""),
    ],
)
def test_tab_delimited_text_files_and_excels_utf16(tmp_path, name, encoding, bom):
    text = (
        "Customer\tAction\tTime\r\n"
        "José\tÖffnen\t2024-03-05 10:00:00\r\n"
        "Zoë\tKlick\t2024-03-06 11:00:00\r\n"
    )
    export = tmp_path / "export"
    export.mkdir()
    (export / name).write_bytes(bom + text.encode(encoding))
    (export / "README.md").write_text("not data")
    out, _ = write_starter([export], None, "excel")

    (source,) = read_config(out).events
    assert (source.files, source.delimiter) == (name, "\t")
    assert source.encoding == ("utf-16" if bom else "utf-8")
    store = tmp_path / "store" / "events.duckdb"
    assert ingest_dataset(out, store, progress=False).tables["events"] == TableCounts(2, 2, {})
    with duckdb.connect(str(store), read_only=True) as con:
        users = con.execute("SELECT user_id FROM users ORDER BY 1").fetchall()
    assert users == [("José",), ("Zoë",)]


CDNOW_LINES = (  # CDNOW_master.txt as the lifetimes wheel ships it: blanks, CRLF, a header
    " customer_id  date number_of_cds  dollar_value\r\n"
    " 00001 19970101  1   11.77\r\n"
    " 00002 19970112  1   12.00\r\n"
    " 00002 19970112  5   77.00\r\n"
    " 00003 19970102  2   20.76\r\n"
)


def test_a_whitespace_separated_text_table_such_as_cdnow(tmp_path):
    out, _ = _starter_for(tmp_path, {"CDNOW_master.txt": CDNOW_LINES})
    (source,) = read_config(out).events
    assert (source.delimiter, source.timestamp_formats) == ("whitespace", ("%Y%m%d",))
    assert dict(source.columns) == {
        "user_id": "customer_id",
        "timestamp": "date",
        "value": "dollar_value",  # `number_of_cds` is a count, not the order's value
    }
    store = tmp_path / "store" / "events.duckdb"
    assert ingest_dataset(out, store, progress=False).tables["events"] == TableCounts(4, 4, {})
    with duckdb.connect(str(store), read_only=True) as con:
        orders = con.execute("SELECT user_id, value FROM events ORDER BY ALL").fetchall()
    assert orders == [("00001", 11.77), ("00002", 12.0), ("00002", 77.0), ("00003", 20.76)]


def test_an_order_line_repeated_on_a_day_is_quarantined_and_the_ingest_says_it_may_be_two(
    tmp_path,
):
    """CDNOW holds 255 lines equal to an earlier one of the same customer and day: with dates
    only, a resent line and a second equal order look the same, so the ingest says which
    setting keeps them."""
    out, _ = _starter_for(
        tmp_path, {"CDNOW_master.txt": CDNOW_LINES + " 00003 19970102  2   20.76\r\n"}
    )
    summary = ingest_dataset(out, tmp_path / "events.duckdb", progress=False)
    assert summary.tables["events"] == TableCounts(5, 4, {"duplicate_event": 1})
    assert "1 event was quarantined as duplicate_event" in summary.quality_text
    assert "set `dedupe: false` on their events source" in summary.quality_text


@pytest.mark.parametrize(
    ("log", "formats", "first"),
    [
        (
            "Date,Time,User,Action\n05/03/2024,14:23:11,1001,open\n17/03/2024,09:05:00,1002,click\n",
            ("%d/%m/%Y %H:%M:%S",),
            datetime(2024, 3, 5, 14, 23, 11),
        ),
        (
            "user_id,event,event_time,event_date\n"
            "1,open,2:23 PM,3/5/2024\n2,open,11:05 AM,3/17/2024\n",
            ("%m/%d/%Y %I:%M %p",),
            datetime(2024, 3, 5, 14, 23),
        ),
    ],
)
def test_a_date_and_a_time_of_day_in_two_columns_make_the_event_time(
    tmp_path, log, formats, first
):
    times = _times_from_two_columns(tmp_path, log, formats, "holds times of day")
    assert times[0] == first


def _times_from_two_columns(
    tmp_path: Path, log: str, formats: tuple[str, ...], check: str
) -> list[datetime]:
    """The event times, earliest first, of a two-row log whose starter derives each time from
    two columns with `formats` and says `check`; both rows accepted."""
    out, starter = _starter_for(tmp_path, {"log.csv": log})
    (source,) = read_config(out).events
    assert "timestamp" in source.derived and source.timestamp_formats == formats
    assert any(check in c for c in starter.checks)
    store = tmp_path / "store" / "events.duckdb"
    assert ingest_dataset(out, store, progress=False).tables["events"] == TableCounts(2, 2, {})
    with duckdb.connect(str(store), read_only=True) as con:
        return [t for (t,) in con.execute("SELECT event_time FROM events ORDER BY 1").fetchall()]


@pytest.mark.parametrize(
    ("log", "formats", "times"),
    [
        (  # Google Analytics' custom report: a date and the hour, a row per hour's events
            "Client ID,Date,Hour,Event Action\n123.456,20250103,09,signup\n"
            "123.456,20250103,23,play\n",
            ("%Y%m%d %H:%M:%S",),
            [datetime(2025, 1, 3, 9), datetime(2025, 1, 3, 23)],
        ),
        (
            "user_id,event,date,hour of day\n1,open,2025-01-03,9\n2,open,2025-01-04,0\n",
            ("%Y-%m-%d %H:%M:%S",),
            [datetime(2025, 1, 3, 9), datetime(2025, 1, 4)],
        ),
    ],
)
def test_a_date_and_its_hour_in_two_columns_make_the_event_time(tmp_path, log, formats, times):
    check = "the hour of each: the event time is both"
    assert _times_from_two_columns(tmp_path, log, formats, check) == times


def test_an_hour_column_of_other_numbers_is_no_time_of_day(tmp_path):
    log = "user_id,event,date,hour\n1,open,2025-01-03,9\n2,open,2025-01-04,31\n"
    out, _ = _starter_for(tmp_path, {"log.csv": log})
    assert read_config(out).events[0].columns["timestamp"] == "date"


def test_a_time_column_of_whole_timestamps_is_read_alone(tmp_path):
    log = "Date,Time,User,Action\n05/03/2024,2024-03-05 14:23:11,1001,open\n"
    out, _ = _starter_for(tmp_path, {"log.csv": log})
    (source,) = read_config(out).events
    assert source.columns["timestamp"] == "Time" and "timestamp" not in source.derived


def test_a_warehouse_unload_without_a_header_gets_roles_from_its_values(tmp_path):
    """Snowflake's and Redshift's unloads write no header by default."""
    rows = [
        "8f14e45f-ceea-467f-a8ad-0d7c7e1f0b1e,page_view,2024-03-05 14:23:11,,web",
        "8f14e45f-ceea-467f-a8ad-0d7c7e1f0b1e,purchase,2024-03-05 14:25:00,29.90,android",
        "0b7c7e1f-ceea-467f-a8ad-8f14e45f0d7c,page_view,2024-03-06 09:05:00,,ios",
    ]
    export = tmp_path / "export"
    export.mkdir()
    (export / "data_0_0_0.csv.gz").write_bytes(gzip.compress("\n".join(rows).encode(), mtime=0))
    out, starter = write_starter([export], None, "unload")

    (source,) = read_config(out).events
    assert (source.header, source.names) == (False, tuple(f"column_{i}" for i in range(1, 6)))
    assert dict(source.columns) == {
        "user_id": "column_1",
        "timestamp": "column_3",
        "event_type": "column_2",  # fewer distinct names than column_5
        "value": "column_4",
    }
    assert any("no header line (its first line holds data)" in c for c in starter.checks)
    store = tmp_path / "store" / "events.duckdb"
    assert ingest_dataset(out, store, progress=False).tables["events"] == TableCounts(3, 3, {})


def test_dates_the_sample_cannot_tell_day_first_from_month_first_are_still_times(tmp_path):
    """A sorted export's first rows fall on a month's first days: `01/02/2024` reads both
    ways. Such a column is the time, with the check, whether named like a time (`Login
    Date`) or found by its values in a file without a header."""
    logins = "user,action,Login Date\nm1,login,01/02/2024\nm2,login,03/04/2024\n"
    out, starter = _starter_for(tmp_path, {"logins.csv": logins})
    (source,) = read_config(out).events
    assert (source.columns["timestamp"], source.timestamp_formats) == ("Login Date", ("%d/%m/%Y",))
    assert (
        "logins.csv: Login Date: values like '01/02/2024' read day-first or month-first: check "
        "'%d/%m/%Y' against '%m/%d/%Y'"
    ) in starter.checks
    unload = tmp_path / "unload"
    unload.mkdir()
    rows = "user_17,login,01/02/2024 10:00\nuser_18,play,03/04/2024 11:00\n"
    (unload / "events.csv").write_text(rows)  # no number on the first line: no header
    out, _ = write_starter([unload], None, "unload")
    (source,) = read_config(out).events
    assert (source.header, source.columns["timestamp"]) == (False, "column_3")


def test_a_12_hour_clock_after_a_slashed_date_says_when_it_reads_both_ways(tmp_path):
    activities = (
        "Contact ID,Activity,When\n0031,Call,01/03/2025 10:00 AM\n0032,Email,07/04/2025 9:30 PM\n"
    )
    out, starter = _starter_for(tmp_path, {"activities.csv": activities})
    assert read_config(out).events[0].timestamp_formats == ("%m/%d/%Y %I:%M %p",)
    assert (
        "activities.csv: When: values like '01/03/2025 10:00 AM' read day-first or month-first: "
        "check '%m/%d/%Y %I:%M %p' against '%d/%m/%Y %I:%M %p'"
    ) in starter.checks


@pytest.mark.parametrize(
    ("name", "text", "columns", "decimal"),
    [
        (  # a Spanish spreadsheet saved as CSV: commas between fields, decimal commas quoted
            "eventos.csv",
            'id_usuario,fecha,evento,importe\n17,2025-01-03 10:00,compra,"12,50"\n'
            "18,2025-01-04 11:00,visita,\n",
            ("id_usuario", "fecha", "evento", "importe"),
            ",",
        ),
        (
            "evenements.csv",
            "identifiant client;date;événement;montant\n17;03/01/2025 10:00;achat;12,50\n"
            "18;14/01/2025 11:00;visite;\n",
            ("identifiant client", "date", "événement", "montant"),
            ",",
        ),
        (
            "gebeurtenissen.csv",
            "klantnummer;datum;gebeurtenis;bedrag\n17;03-01-2025 10:00;aankoop;12,50\n"
            "18;14-01-2025 11:00;bezoek;\n",
            ("klantnummer", "datum", "gebeurtenis", "bedrag"),
            ",",
        ),
        (  # a US export: digit groups, quoted in a comma-delimited file
            "orders.csv",
            'user_id,date,event,amount\n17,2025-01-03,buy,"1,234.50"\n18,2025-01-04,buy,12.50\n',
            ("user_id", "date", "event", "amount"),
            ".",
        ),
    ],
)
def test_exports_of_localised_tools_map_their_columns_and_numbers(
    tmp_path, name, text, columns, decimal
):
    out, _ = _starter_for(tmp_path, {name: text})
    (source,) = read_config(out).events
    roles = ("user_id", "timestamp", "event_type", "value")
    assert tuple(source.columns[role] for role in roles) == columns
    assert source.decimal == decimal
    summary = ingest_dataset(out, tmp_path / "events.duckdb", progress=False)
    assert summary.tables["events"].accepted == 2


def test_segments_warehouse_tables_identifies_and_a_users_table_without_signups(tmp_path):
    """Segment's warehouse sync: `identifies` are events (IDENTIFY), `users` has an id, the
    last identify's `received_at` and traits, but no signup: the users table, not USER
    events, each user signed up at their first event, every trait as of the export."""
    identifies = (
        "id,anonymous_id,user_id,received_at,timestamp,email\n"
        "i1,a1,u1,2024-03-05 10:00:01,2024-03-05 10:00:00,u1@x.com\n"
        "i2,a2,u2,2024-03-06 10:00:01,2024-03-06 10:00:00,u2@x.com\n"
    )
    users = (
        "id,received_at,email,plan\n"
        "u1,2024-05-01 00:00:00,u1@x.com,premium\nu2,2024-05-02 00:00:00,u2@x.com,free\n"
    )
    out, starter = _starter_for(tmp_path, {"identifies.csv": identifies, "users.csv": users})
    config = read_config(out)
    assert dict(config.users.columns) == {"user_id": "id"}
    assert {a.name: a.kind for a in config.users.attributes} == {
        "received_at": "snapshot",
        "email": "snapshot",
        "plan": "snapshot",  # today's plan: at a past cutoff it would leak
    }
    assert [(s.files, s.event_type) for s in config.events] == [("identifies.csv", "IDENTIFY")]
    assert any(
        c.startswith("users.csv: a users table without a signup time: each user signs up at")
        for c in starter.checks
    )


def test_heap_connects_all_events_and_users(tmp_path):
    all_events = (
        "user_id,event_id,session_id,time,event_table_name\n"
        "8812,1,77,2024-03-05 10:00:00,app_signed_up\n"
        "8812,2,77,2024-03-05 10:01:00,app_viewed_pricing\n"
    )
    users = (
        "user_id,identity,joindate,last_modified\n"
        "8812,ann@x.com,2024-03-05 09:59:00,2024-04-01 00:00:00\n"
    )
    out, _ = _starter_for(tmp_path, {"all_events.csv": all_events, "users.csv": users})
    config = read_config(out)
    assert config.users.columns == {"user_id": "user_id", "signup_time": "joindate"}
    (source,) = config.events
    assert source.columns["event_type"] == "event_table_name"
    assert source.columns["session_id"] == "session_id"


def test_posthogs_person_id_keys_the_events_not_its_distinct_ids(tmp_path):
    events = (
        "uuid,event,distinct_id,person_id,timestamp\n"
        "e1,$pageview,anon-7f3a,0190c2d1-aaaa-7000-8000-000000000001,2024-03-05T10:00:00Z\n"
        "e2,signed_up,ann@x.com,0190c2d1-aaaa-7000-8000-000000000001,2024-03-05T10:02:00Z\n"
    )
    out, _ = _starter_for(tmp_path, {"posthog_events.csv": events})
    (source,) = read_config(out).events
    assert source.columns["user_id"] == "person_id"


def test_without_a_users_table_columns_that_describe_the_user_are_user_attributes(tmp_path):
    """Online Retail's Country on every invoice line, GA4's nested geo and device: each
    user's value on their first event."""
    invoices = (
        "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        "536365,85123A,6,12/1/2010 8:26,2.55,17850.0,United Kingdom\n"
        "536366,22633,6,12/1/2010 8:28,1.85,17850.0,United Kingdom\n"
        "536367,84879,32,12/1/2010 8:34,1.69,13047.0,France\n"
    )
    ga4 = "\n".join(
        json.dumps(
            {
                "event_name": "page_view",
                "event_timestamp": 1709632800000000 + n,
                "user_pseudo_id": f"p{n % 2}",
                "geo": {"country": "Germany", "city": "Berlin"},
                "device": {"category": "mobile", "operating_system": "Android"},
            }
        )
        for n in range(3)
    )
    out, starter = _starter_for(tmp_path, {"invoices.csv": invoices, "ga4.jsonl": ga4})
    by_file = {s.files: s for s in read_config(out).events}
    assert {a.name: a.column for a in by_file["invoices.csv"].user_attributes} == {
        "country": "Country"
    }
    assert {a.name: a.column for a in by_file["ga4.jsonl"].user_attributes} == {
        "country": "geo.country",
        "city": "geo.city",
        "device_category": "device.category",
        "operating_system": "device.operating_system",
    }
    assert all(
        (a.kind, a.dtype) == ("static", "categorical")
        for s in by_file.values()
        for a in s.user_attributes
    )
    assert any(
        "user attributes country: each user's value on their first" in c for c in starter.checks
    )
    store = tmp_path / "store" / "events.duckdb"
    ingest_dataset(out, store, progress=False)
    with duckdb.connect(str(store), read_only=True) as con:
        countries = con.execute("SELECT user_id, country FROM users ORDER BY 1").fetchall()
    assert countries == [
        ("13047", "France"),
        ("17850", "United Kingdom"),
        ("p0", "Germany"),
        ("p1", "Germany"),
    ]


def test_sampling_many_files_shows_a_bar_unless_asked_not_to(tmp_path, capsys):
    export = tmp_path / "export"
    export.mkdir()
    for n in range(50):
        (export / f"hour_{n:02d}.csv").write_text(f"user_id,event,ts\n{n},open,2024-03-05 10:00\n")
    assert main(["dataset", "new", str(export), "--out", str(tmp_path / "a.yaml")]) == 0
    assert "sampling: 100%" in capsys.readouterr().err
    new = ["dataset", "new", str(export), "--out", str(tmp_path / "b.yaml"), "--no-progress"]
    assert main(new) == 0
    assert "sampling" not in capsys.readouterr().err


def test_files_of_one_kind_each_are_sources_of_their_own_not_one_glob(tmp_path):
    """An export split by event type with no event-type column: a glob over the folder would
    give every purchase the first file's name. Partitions of one name stay one glob."""
    files = {
        f"{day}/{kind}.csv": f"user_id,ts\n{n},2024-03-0{n} 10:00\n"
        for n, day in enumerate(["2024-03-01", "2024-03-02"], start=1)
        for kind in ("page_views", "purchases")
    }
    files |= {f"hourly/hour_{h:02d}.csv": f"user_id,ts\n1,2024-03-05 {h:02d}:00\n" for h in (0, 1)}
    files |= {f"orders/2024-03-0{d}.csv": f"user_id,ts\n1,2024-03-0{d} 10:00\n" for d in (1, 2)}
    files["shop/orders_export_1.csv"] = "user_id,ts\n1,2024-03-05 10:00\n"  # Shopify's name
    out, _ = _starter_for(tmp_path, files)
    assert [(s.files, s.event_type) for s in read_config(out).events] == [
        ("*/page_views.csv", "PAGE_VIEW"),
        ("*/purchases.csv", "PURCHASE"),
        ("hourly/*.csv", "HOUR"),
        ("orders/*.csv", "ORDER"),
        ("shop/orders_export_1.csv", "ORDER"),
    ]


def test_values_in_several_currencies_are_named(tmp_path):
    charges = (
        "id,Created (UTC),Amount,Currency,Customer ID\n"
        "ch_1,2024-03-05 14:23:11,20.00,usd,cus_A\nch_2,2024-03-06 09:00:00,15.00,eur,cus_B\n"
        "ch_3,2024-03-07 09:00:00,15.00,usd,cus_A\n"  # a customer twice: charges, not users
    )
    _, starter = _starter_for(tmp_path, {"charges.csv": charges})
    assert (
        "charges.csv: Amount is in EUR, USD (sampled): values are summed as they are"
        in "\n".join(starter.checks)
    )


ONLINE_RETAIL = (  # UCI's Online Retail: order lines, a cancellation's quantity negative
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
    "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/1/2010 8:26,2.55,17850.0,United "
    "Kingdom\n"
    "536365,71053,WHITE METAL LANTERN,6,12/1/2010 8:26,3.39,17850.0,United Kingdom\n"
    "C536379,D,Discount,-1,12/1/2010 9:41,27.50,14527.0,United Kingdom\n"
    "536380,22961,JAM MAKING SET PRINTED,24,12/1/2010 9:41,1.45,,United Kingdom\n"
)


def test_an_order_lines_value_is_its_quantity_times_its_unit_price(tmp_path):
    out, starter = _starter_for(tmp_path, {"Online Retail.csv": ONLINE_RETAIL})
    (source,) = read_config(out).events
    assert source.columns["item_id"] == "StockCode"
    assert source.derived["value"] == '"Quantity" * "UnitPrice"'
    assert any("value = Quantity × UnitPrice, each line's amount" in c for c in starter.checks)
    summary = ingest_dataset(out, tmp_path / "events.duckdb", progress=False)
    assert summary.tables["events"] == TableCounts(4, 3, {"missing_required_field": 1})
    with duckdb.connect(str(tmp_path / "events.duckdb"), read_only=True) as con:
        values = con.execute("SELECT item_id, value FROM events ORDER BY value").fetchall()
    assert [item for item, _ in values] == ["D", "85123A", "71053"]
    assert [value for _, value in values] == pytest.approx([-27.5, 15.3, 20.34])


def test_a_line_amount_with_decimal_commas_and_digit_groups_reads_in_the_ingest(tmp_path):
    export = (
        "Invoice;Customer;Date;Quantity;UnitPrice\n"
        "A1;7;05.03.2024;2;9,50\n"
        "A2;8;06.03.2024;-1;1.234,50\n"
    )
    out, starter = _starter_for(tmp_path, {"orders.csv": export})
    (source,) = read_config(out).events
    assert source.derived["value"] == '"Quantity" * "UnitPrice"'
    assert (source.decimal, source.thousands) == (",", ".")
    assert any("Quantity, UnitPrice: numbers with digit groups" in c for c in starter.checks)
    summary = ingest_dataset(out, tmp_path / "events.duckdb", progress=False)
    assert summary.tables["events"] == TableCounts(2, 2, {})
    with duckdb.connect(str(tmp_path / "events.duckdb"), read_only=True) as con:
        values = con.execute("SELECT value FROM events ORDER BY value").fetchall()
    assert [value for (value,) in values] == pytest.approx([-1234.5, 19.0])


@pytest.mark.parametrize(
    ("amounts", "thousands", "values"),
    [
        (("1.234,50", "2.000,00"), ".", [1234.5, 2000.0]),
        (("1 234,50", "12 000,75"), " ", [1234.5, 12000.75]),
    ],
)
def test_amounts_all_in_digit_groups_still_tell_a_decimal_comma(
    tmp_path, amounts, thousands, values
):
    """No amount without digit groups to show the comma plainly (a report of large sums)."""
    export = "timestamp;event;amount;user_id\n" + "".join(
        f"2024-01-0{day};Login;{amount};{day}\n" for day, amount in enumerate(amounts, start=1)
    )
    out, _ = _starter_for(tmp_path, {"events.csv": export})
    (source,) = read_config(out).events
    assert (source.decimal, source.thousands) == (",", thousands)
    summary = ingest_dataset(out, tmp_path / "events.duckdb", progress=False)
    assert summary.tables["events"] == TableCounts(2, 2, {})
    with duckdb.connect(str(tmp_path / "events.duckdb"), read_only=True) as con:
        found = con.execute("SELECT value FROM events ORDER BY value").fetchall()
    assert [value for (value,) in found] == pytest.approx(values)


@pytest.mark.parametrize(
    ("name", "export", "user_id"),
    [
        (  # Zendesk's tickets: the ticket's own Id first, the customer in Requester id
            "tickets.csv",
            "Id,Requester,Requester id,Subject,Status,Created at\n"
            "101,Ann Lee,3901,Cannot log in,solved,2025-01-03 10:00\n"
            "102,Bob Roy,3902,Refund,open,2025-01-04 11:30\n"
            "103,Ann Lee,3901,Invoice,pending,2025-01-09 09:00\n",
            "Requester id",
        ),
        (  # Recurly's subscriptions: the account is its account_code
            "subscriptions.csv",
            "uuid,account_code,plan_code,state,activated_at\n"
            "5f1a,acct-1,pro,active,2025-01-03T10:00:00Z\n"
            "5f1b,acct-2,basic,canceled,2025-01-04T11:30:00Z\n",
            "account_code",
        ),
    ],
)
def test_a_helpdesks_requester_and_a_billing_tools_account_code_are_user_ids(
    tmp_path, name, export, user_id
):
    out, _ = _starter_for(tmp_path, {name: export})
    (source,) = read_config(out).events
    assert source.columns["user_id"] == user_id
    summary = ingest_dataset(out, tmp_path / "events.duckdb", progress=False)
    assert summary.tables["events"].accepted == export.count("\n") - 1


def test_times_with_zone_abbreviations_read_as_their_offsets(tmp_path):
    activities = (  # a CRM's activity report: US times with the zone's abbreviation
        "Contact ID,Activity Type,Activity Date\n"
        "0031,Call,01/03/2025 10:00 AM PST\n"
        "0032,Email,07/04/2025 09:30 PM PDT\n"
        "0031,Meeting,03/10/2025 08:15 AM CST\n"
    )
    out, starter = _starter_for(tmp_path, {"activities.csv": activities})
    (source,) = read_config(out).events
    assert source.columns["event_type"] == "Activity Type"
    assert source.timestamp_formats == ("%m/%d/%Y %I:%M %p %Z",)
    assert (
        "activities.csv: Activity Date: zone abbreviations read as fixed offsets: CST -0600, "
        "PDT -0700, PST -0800; CST as the US Central zone's"
    ) in starter.checks
    ingest_dataset(out, tmp_path / "events.duckdb", progress=False)
    assert _query(tmp_path / "events.duckdb", "SELECT event_time FROM events ORDER BY 1") == [
        (datetime(2025, 1, 3, 18, 0),),
        (datetime(2025, 3, 10, 14, 15),),
        (datetime(2025, 7, 5, 4, 30),),
    ]


def test_excel_serial_days_in_a_saved_spreadsheet_read_as_times(tmp_path):
    logins = "Member ID,Event,Date\n7,login,45292.5\n8,login,45293\n7,purchase,45300.25\n"
    members = "Member ID,Joined,Plan\n7,45200,pro\n8,45201.75,free\n"
    out, starter = _starter_for(tmp_path, {"logins.csv": logins, "members.csv": members})
    config = read_config(out)
    assert config.events[0].timestamp_formats == config.users.timestamp_formats == ("excel_days",)
    assert any(c.startswith("logins.csv: Date: numbers read as Excel's") for c in starter.checks)
    ingest_dataset(out, tmp_path / "events.duckdb", progress=False)
    store = tmp_path / "events.duckdb"
    assert _query(store, "SELECT user_id, event_time FROM events ORDER BY 2") == [
        ("7", datetime(2024, 1, 1, 12)),
        ("8", datetime(2024, 1, 2)),
        ("7", datetime(2024, 1, 9, 6)),
    ]
    assert _query(store, "SELECT user_id, signup_time FROM users ORDER BY 1") == [
        ("7", datetime(2023, 10, 1)),
        ("8", datetime(2023, 10, 2, 18)),
    ]


PAYMENTS_WITH_SYMBOLS = (  # a billing tool's payments, amounts formatted for a spreadsheet
    "Customer ID,Date,Description,Amount,Currency\n"
    'cus_001,2025-01-03,Pro plan,"$1,200.00",usd\n'
    "cus_002,2025-01-04,Starter plan,$49.00,usd\n"
    "cus_004,2025-03-01,Refund,-$49.00,usd\n"
)
POUNDS_LINE = "cus_005,2025-03-02,Starter plan,£39.00,gbp\n"


def test_amounts_with_a_currency_symbol_read_as_numbers(tmp_path):
    out, starter = _starter_for(tmp_path, {"payments.csv": PAYMENTS_WITH_SYMBOLS})
    (source,) = read_config(out).events
    assert (source.columns["value"], source.currency_symbol, source.thousands) == (
        "Amount",
        "$",
        ",",
    )
    assert (
        "payments.csv: Amount: amounts written with '$': read as numbers with currency_symbol "
        "'$' (an amount with another symbol is quarantined as unparseable_value)"
    ) in starter.checks
    (tmp_path / "export" / "payments.csv").write_text(
        PAYMENTS_WITH_SYMBOLS + POUNDS_LINE, encoding="utf-8"
    )
    summary = ingest_dataset(out, tmp_path / "events.duckdb", progress=False)
    assert summary.tables["events"] == TableCounts(4, 3, {"unparseable_value": 1})
    store = tmp_path / "events.duckdb"
    assert _query(store, "SELECT user_id, value FROM events ORDER BY event_time") == [
        ("cus_001", 1200.0),
        ("cus_002", 49.0),
        ("cus_004", -49.0),
    ]
    assert _query(store, "SELECT detail FROM quarantine") == [
        ("value £39.00 is not a finite number",)
    ]


# An accounting tool's transaction list as a spreadsheet saves it: refunds in parentheses.
TRANSACTIONS_IN_PARENTHESES = (
    "Customer,Date,Transaction Type,Amount\n"
    'Acme Ltd,01/13/2025,Invoice,"$1,200.00"\n'
    "Brick Co,01/14/2025,Invoice,$49.00\n"
    'Acme Ltd,03/13/2025,Refund,"($1,200.00)"\n'
)


def test_amounts_in_parentheses_read_as_negative_numbers(tmp_path):
    out, starter = _starter_for(tmp_path, {"transactions.csv": TRANSACTIONS_IN_PARENTHESES})
    (source,) = read_config(out).events
    assert source.columns["event_type"] == "Transaction Type"
    assert (source.columns["value"], source.currency_symbol, source.negatives) == (
        "Amount",
        "$",
        "parentheses",
    )
    assert (
        "transactions.csv: Amount: negative numbers written as ($1,200.00): read with "
        "negatives 'parentheses' (a minus sign still reads)"
    ) in starter.checks
    with_other_ways = TRANSACTIONS_IN_PARENTHESES + "Brick Co,03/14/2025,Refund,-$49.00\n"
    with_other_ways += "Brick Co,03/15/2025,Refund,$49.00-\n"
    (tmp_path / "export" / "transactions.csv").write_text(with_other_ways, encoding="utf-8")
    summary = ingest_dataset(out, tmp_path / "events.duckdb", progress=False)
    assert summary.tables["events"] == TableCounts(5, 4, {"unparseable_value": 1})
    store = tmp_path / "events.duckdb"
    assert _query(store, "SELECT value FROM events ORDER BY event_time") == [
        (1200.0,),
        (49.0,),
        (-1200.0,),
        (-49.0,),
    ]
    assert _query(store, "SELECT detail FROM quarantine") == [
        ("value $49.00- is not a finite number",)  # a source writes negatives one way
    ]


def test_an_sap_export_s_trailing_minus_reads_as_a_negative_number(tmp_path):
    """SAP writes a negative amount's sign after it, and dates day-first with dots."""
    billing = (
        "Sold-To Party;Billing Date;Billing Type;Net Value\n"
        "100042;03.01.2025;F2;1.200,00\n"
        "100043;04.01.2025;F2;49,00\n"
        "100042;01.03.2025;G2;1.200,00-\n"
    )
    out, starter = _starter_for(tmp_path, {"billing.csv": billing})
    (source,) = read_config(out).events
    assert (source.columns["user_id"], source.columns["event_type"]) == (
        "Sold-To Party",
        "Billing Type",
    )
    assert (source.columns["value"], source.decimal, source.thousands, source.negatives) == (
        "Net Value",
        ",",
        ".",
        "trailing_minus",
    )
    assert any(
        "written as 1.200,00-: read with negatives 'trailing_minus'" in c for c in starter.checks
    )
    ingest_dataset(out, tmp_path / "events.duckdb", progress=False)
    store = tmp_path / "events.duckdb"
    assert _query(store, "SELECT value FROM events ORDER BY event_time") == [
        (1200.0,),
        (49.0,),
        (-1200.0,),
    ]


def test_a_psql_copy_s_null_marks_read_as_missing_values(tmp_path):
    """`\\copy events TO 'events.tsv'`: tab-separated, no header, `\\N` for NULL."""
    copy = (
        "1\tlogin\t2025-01-03 10:00:00+00\t\\N\n"
        "2\tpurchase\t2025-01-04 11:00:00+00\t49.00\n"
        "\\N\tlogin\t2025-01-05 12:00:00+00\t\\N\n"
        "1\tpurchase\t2025-02-05 12:00:00.123456+00\t9.5\n"
    )
    out, starter = _starter_for(tmp_path, {"events.tsv": copy})
    (source,) = read_config(out).events
    assert (source.header, source.missing_texts) == (False, ("\\N",))
    assert source.columns["value"] == "column_4"
    assert (
        "events.tsv: fields written \\N: read as missing values (as a blank is) in every "
        "column of this source"
    ) in starter.checks
    summary = ingest_dataset(out, tmp_path / "events.duckdb", progress=False)
    assert summary.tables["events"] == TableCounts(4, 3, {"missing_required_field": 1})
    store = tmp_path / "events.duckdb"
    assert _query(store, "SELECT user_id, event_type, value FROM events ORDER BY event_time") == [
        ("1", "login", None),
        ("2", "purchase", 49.0),
        ("1", "purchase", 9.5),
    ]
    assert _query(store, "SELECT source_row, detail FROM quarantine") == [(3, "user_id is empty")]


def test_sql_server_s_null_and_r_s_na_read_as_missing_where_they_mark_it(tmp_path):
    """SSMS's "Save Results As" writes NULL in any column; R's write.csv writes NA, which in
    a column of words is data (Namibia), so only a column of numbers makes it a mark."""
    ssms = (
        "UserId,EventName,EventTime,Amount\n"
        "7,login,2025-01-03 10:00:00.000,NULL\n"
        "NULL,login,2025-01-04 10:00:00.000,NULL\n"
        "8,purchase,2025-01-05 11:00:00.000,49.00\n"
    )
    r_export = (
        '"","user_id","event","ts","amount","country"\n'
        '"1",7,"login","2025-01-03 10:00:00",NA,"NA"\n'
        '"2",8,"purchase","2025-01-04 11:00:00",49.5,"US"\n'
    )
    r_words = '"user_id","event","ts","country"\n7,"login","2025-01-03 10:00:00","NA"\n'
    out, _ = _starter_for(
        tmp_path, {"ssms/events.csv": ssms, "r/events.csv": r_export, "words/events.csv": r_words}
    )
    texts = {s.files: s.missing_texts for s in read_config(out).events}
    assert texts == {"ssms/events.csv": ("NULL",), "r/events.csv": ("NA",), "words/events.csv": ()}


def test_a_reports_dash_for_an_empty_amount_reads_as_missing(tmp_path):
    """A BI report writes `-` where a row has no revenue: kept as text, every login was
    quarantined as unparseable_value. A dash among words is data."""
    report = (
        "user_id,event,timestamp,revenue,plan\n"
        "1,login,2025-01-03 10:00,-,-\n"
        "2,buy,2025-01-04 11:00,9.50,pro\n"
        "3,login,2025-01-05 10:00,\u2013,free\n"
    )
    out, starter = _starter_for(tmp_path, {"events.csv": report})
    assert read_config(out).events[0].missing_texts == ("-", "\u2013")
    assert (
        "events.csv: fields written -, \u2013: read as missing values (as a blank is) in every "
        "column of this source"
    ) in starter.checks
    summary = ingest_dataset(out, tmp_path / "events.duckdb", progress=False)
    assert summary.tables["events"] == TableCounts(3, 3, {})
    words = "user_id,event,timestamp,plan\n1,login,2025-01-03 10:00,-\n2,buy,2025-01-04,pro\n"
    (tmp_path / "words").mkdir()
    (tmp_path / "words" / "events.csv").write_text(words)
    out, _ = write_starter([tmp_path / "words"], tmp_path / "words.yaml", None)
    assert read_config(out).events[0].missing_texts == ()


def test_a_tracker_s_placeholder_user_ids_are_sentinels_and_their_device_stands_in(tmp_path):
    """A hand-rolled tracking pipeline writes JavaScript's `undefined` and GA's `(not set)`
    for a visitor without a user id: kept as ids, they were one user holding every visit."""
    tracks = (
        "userId,anonymousId,event,timestamp\n"
        "u_1,a1,signup,2025-01-03T10:00:00Z\n"
        "undefined,a1,page,2025-01-03T11:00:00Z\n"
        "u_2,a2,signup,2025-01-04T10:00:00Z\n"
        "u_2,a2,page,2025-01-04T10:05:00Z\n"
        "(not set),a9,page,2025-01-04T12:00:00Z\n"
        "undefined,,page,2025-01-04T13:00:00Z\n"
    )
    out, starter = _starter_for(tmp_path, {"tracks.csv": tracks})
    assert read_config(out).rules.sentinel_ids == ("undefined", "(not set)")
    assert any(
        c.startswith("rules.sentinel_ids: user ids 'undefined', '(not set)'")
        for c in starter.checks
    )
    summary = ingest_dataset(out, tmp_path / "events.duckdb", progress=False)
    assert summary.tables["events"] == TableCounts(
        6, 4, {"unidentified_anonymous_id": 1, "sentinel_id": 1}
    )
    store = tmp_path / "events.duckdb"
    assert _query(store, "SELECT source_row, user_id FROM events ORDER BY 1") == [
        (1, "u_1"),
        (2, "u_1"),
        (3, "u_2"),
        (4, "u_2"),
    ]


def test_exports_joined_with_cat_keep_their_header_out_of_the_guesses(tmp_path):
    january = (
        "user_id,event,ts,amount\n1,login,2025-01-03 10:00:00,\n2,buy,2025-01-04 11:00:00,49\n"
    )
    february = (
        "user_id,event,ts,amount\n3,login,2025-02-03 10:00:00,\n1,buy,2025-02-05 12:00:00,9.5\n"
    )
    out, starter = _starter_for(tmp_path, {"events.csv": january + february})
    assert read_config(out).events[0].timestamp_formats == ("iso",)
    assert not any("fit none of" in c for c in starter.checks)
    assert (
        "events.csv: 1 sampled line(s) repeat the header (exports joined one after another?): "
        "the ingest counts such lines as repeated_header, not as errors"
    ) in starter.checks
    summary = ingest_dataset(out, tmp_path / "events.duckdb", progress=False)
    assert summary.tables["events"] == TableCounts(5, 4, {"repeated_header": 1})


def test_a_grouped_reports_subtotals_stay_out_of_the_guesses(tmp_path):
    """Subtotal lines under each customer's orders: their label is no customer and their
    blank date no time, so the guesses are the orders'; the check says how they are read."""
    report = (
        "Customer,Order Date,Amount\nC1,2025-01-03,49.00\nC1,2025-01-09,9.50\n"
        ",Subtotal,58.50\nC2,2025-02-01,19.00\n,Subtotal,19.00\nGrand Total,,77.50\n"
    )
    out, starter = _starter_for(tmp_path, {"orders.csv": report})
    (source,) = read_config(out).events
    assert source.columns["user_id"] == "Customer"
    assert source.timestamp_formats == ("iso",)
    assert (
        "orders.csv: 3 sampled line(s) are a report's totals (a Total label, then only "
        "figures): the ingest counts such lines as totals_row, not as errors"
    ) in starter.checks
    summary = ingest_dataset(out, tmp_path / "events.duckdb", progress=False)
    assert summary.tables["events"] == TableCounts(6, 3, {"totals_row": 3})


def test_nanoseconds_since_1970_as_pandas_writes_a_datetime_viewed_as_int64(tmp_path):
    events = "user_id,event,ts\n1,login,1735898400123456789\n2,buy,1735990200999999999\n"
    out, _ = _starter_for(tmp_path, {"events.csv": events})
    assert read_config(out).events[0].timestamp_formats == ("epoch_ns",)
    ingest_dataset(out, tmp_path / "events.duckdb", progress=False)
    assert _query(tmp_path / "events.duckdb", "SELECT event_time FROM events ORDER BY 1") == [
        (datetime(2025, 1, 3, 10, 0, 0, 123456),),
        (datetime(2025, 1, 4, 11, 30, 0, 999999),),
    ]


def test_customer_numbers_zero_padded_in_one_file_only_are_read_without_the_zeros(tmp_path):
    """SAP's billing export pads the Sold-To Party to ten digits; the customer list, saved
    from a spreadsheet, lost the zeros."""
    billing = "Sold-To Party,Billing Date,Net Value\n0000100042,2025-01-03,49.00\n"
    billing += "0000100043,2025-01-04,12.50\n"
    customers = "Customer,Created On,Country\n100042,2024-11-02,DE\n100043,2024-12-01,AT\n"
    out, starter = _starter_for(tmp_path, {"billing.csv": billing, "customers.csv": customers})
    assert read_config(out).rules.strip_leading_zeros is True
    assert any(
        c.startswith("rules.strip_leading_zeros: the user ids of billing.csv")
        for c in starter.checks
    )
    summary = ingest_dataset(out, tmp_path / "events.duckdb", progress=False)
    assert summary.tables["events"] == TableCounts(2, 2, {})
    padded = customers.replace("\n1000", "\n00001000")  # both files pad: nothing to read
    (tmp_path / "both").mkdir()
    out, _ = _starter_for(tmp_path / "both", {"billing.csv": billing, "customers.csv": padded})
    assert read_config(out).rules.strip_leading_zeros is False


APPSFLYER_EVENTS = (  # AppsFlyer's raw in-app events, some columns left out
    "Install Time,Event Time,Event Name,Event Revenue,Event Revenue Currency,"
    "Event Revenue USD,Media Source,AppsFlyer ID,Customer User ID,Platform\n"
    "2025-01-02 09:05:00,2025-01-03 10:00:00,af_purchase,9.99,USD,9.99,Facebook Ads,"
    "1735898400-111,u_1,ios\n"
    "2025-01-02 09:05:00,2025-01-03 11:00:00,af_login,,,,organic,1735898400-111,,ios\n"
    "2025-01-02 09:06:00,2025-01-03 12:00:00,af_purchase,8.99,EUR,9.36,googleadwords_int,"
    "1735898400-222,u_2,android\n"
)


def test_appsflyer_events_take_the_usd_revenue_and_the_device_stands_in(tmp_path):
    out, starter = _starter_for(tmp_path, {"in_app_events.csv": APPSFLYER_EVENTS})
    (source,) = read_config(out).events
    assert (source.columns["value"], source.columns["anonymous_id"]) == (
        "Event Revenue USD",
        "AppsFlyer ID",
    )
    assert (
        "in_app_events.csv: value Event Revenue USD, the amounts converted to one currency (not "
        "Event Revenue, each in its row's own)"
    ) in starter.checks
    ingest_dataset(out, tmp_path / "events.duckdb", progress=False)
    query = "SELECT user_id, event_type, value FROM events ORDER BY event_time"
    assert _query(tmp_path / "events.duckdb", query) == [
        ("u_1", "af_purchase", 9.99),
        ("u_1", "af_login", None),  # its AppsFlyer ID was seen with u_1 an hour before
        ("u_2", "af_purchase", 9.36),
    ]


PAYPAL_HEADER = (
    '"Date","Time","TimeZone","Name","Type","Status","Currency","Gross","Fee","Net",'
    '"From Email Address","To Email Address","Transaction ID","Balance Impact"\n'
)


def test_a_paypal_activity_export_keys_each_row_by_the_other_side_of_the_account(tmp_path):
    """PayPal's activity download names no user: each row is between the account that
    exported it and a payer (or a payee: a refund, a bill it paid)."""
    rows = [
        '"01/13/2024","10:15:02","PST","Jane Doe","Website Payment","Completed","USD","49.00",'
        '"-1.72","47.28","Jane@Example.com","shop@example.com","1AB","Credit"',
        '"01/15/2024","09:01:44","PST","Bob Roe","Website Payment","Completed","USD","19.00",'
        '"-0.85","18.15","bob@example.com","shop@example.com","2AB","Credit"',
        '"01/18/2024","11:00:00","PST","Acme","General Payment","Completed","USD","-25.00",'
        '"0.00","-25.00","Shop@example.com","billing@acme.example","3AB","Debit"',
        '"01/19/2024","08:30:00","PST","Bob Roe","Payment Refund","Completed","USD","-19.00",'
        '"0.85","-18.15","shop@example.com","bob@example.com","4AB","Debit"',
    ]
    out, starter = _starter_for(tmp_path, {"Download.CSV": PAYPAL_HEADER + "\n".join(rows)})
    (source,) = read_config(out).events
    assert source.columns["value"] == "Gross"
    assert "From Email Address" in source.derived["user_id"]
    assert any("user id: the other side of shop@example.com" in c for c in starter.checks)
    store = tmp_path / "store" / "events.duckdb"
    ingest_dataset(out, store, progress=False)
    with duckdb.connect(str(store), read_only=True) as con:
        found = con.execute("SELECT user_id, value FROM events ORDER BY event_time").fetchall()
    assert found == [
        ("jane@example.com", 49.0),
        ("bob@example.com", 19.0),
        ("billing@acme.example", -25.0),
        ("bob@example.com", -19.0),
    ]


def test_transfers_between_users_have_no_counterparty(tmp_path):
    """From and To columns with no account on every row (users paying each other) name no
    user: the file is left out, not keyed by a guess."""
    rows = [
        "2024-01-13 10:00:00,a@x.com,b@x.com,5.00",
        "2024-01-14 10:00:00,b@x.com,c@x.com,7.00",
        "2024-01-15 10:00:00,c@x.com,a@x.com,9.00",
    ]
    header = "Created,From Email Address,To Email Address,Amount\n"
    with pytest.raises(StarterError, match="no file reads as events"):
        _starter_for(tmp_path, {"transfers.csv": header + "\n".join(rows)})


def test_ga4s_flattened_bigquery_export_has_its_value_and_user_attributes(tmp_path):
    """GA4's BigQuery export flattened to CSV: `geo_country`, `device_category` describe the
    user; `event_value_in_usd` (empty on most events) is the value."""
    events = (
        "event_date,event_timestamp,event_name,user_pseudo_id,geo_country,device_category,"
        "device_operating_system,event_value_in_usd\n"
        "20240301,1709251200000000,first_open,1217360849.9349454546,Germany,mobile,Android,\n"
        "20240301,1709251260000000,level_up,1217360849.9349454546,Germany,mobile,Android,\n"
        "20240302,1709337600000000,in_app_purchase,1217360849.9349454546,Germany,mobile,"
        "Android,4.99\n"
        "20240302,1709337660000000,first_open,7767326798.6508888920,India,tablet,iOS,\n"
    )
    out, _ = _starter_for(tmp_path, {"events_export.csv": events})
    (source,) = read_config(out).events
    assert source.columns["value"] == "event_value_in_usd"
    assert {a.name: a.column for a in source.user_attributes} == {
        "country": "geo_country",
        "device_category": "device_category",
        "operating_system": "device_operating_system",
    }
    store = tmp_path / "store" / "events.duckdb"
    ingest_dataset(out, store, progress=False)
    with duckdb.connect(str(store), read_only=True) as con:
        users = con.execute("SELECT user_id, country FROM users ORDER BY 1").fetchall()
        values = con.execute("SELECT sum(value) FROM events").fetchone()
    assert users == [("1217360849.9349454546", "Germany"), ("7767326798.6508888920", "India")]
    assert values == (4.99,)


@pytest.mark.parametrize(
    ("header", "value", "check"),
    [
        ("Amount,Currency,Converted Amount", "Converted Amount", "converted to one currency"),
        ("price_in_usd,price,currency", "price_in_usd", "converted to one currency"),
        ("Amount,Currency", "Amount", "Amount is in EUR, USD (sampled): values are summed"),
    ],
)
def test_amounts_in_several_currencies_are_taken_converted_or_named(
    tmp_path, header, value, check
):
    rows = {"Amount,Currency,Converted Amount": ["20.00,usd,20.00", "18.00,eur,19.50"]}
    rows["price_in_usd,price,currency"] = ["20.00,20.00,USD", "19.50,18.00,EUR"]
    rows["Amount,Currency"] = ["20.00,usd", "18.00,eur"]
    lines = [f"cus_{i},2024-03-0{i + 1} 10:00:00,{row}" for i, row in enumerate(rows[header])]
    payments = f"Customer ID,Created,{header}\n" + "\n".join(lines) + "\n"
    out, starter = _starter_for(tmp_path, {"payments.csv": payments})
    assert read_config(out).events[0].columns["value"] == value
    (found,) = [c for c in starter.checks if "currenc" in c and "not mapped" not in c]
    assert check in found


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("Tax Amount,Order Amount", "Order Amount"),
        ("Shipping Total,Invoice Total", "Invoice Total"),
        ("Discount Amount,Sale Amount (USD)", "Sale Amount (USD)"),
        ("Tax Amount,Shipping Total", None),  # parts of an order, none its value
    ],
)
def test_an_amount_or_total_of_the_whole_order_is_the_value(tmp_path, header, value):
    orders = f"Customer,Order Date,{header}\nC1,2025-01-03,1.20,49.00\nC2,2025-01-04,0,9.50\n"
    out, _ = _starter_for(tmp_path, {"orders.csv": orders})
    assert read_config(out).events[0].columns.get("value") == value


def test_a_users_state_that_changes_is_drafted_as_a_snapshot(tmp_path):
    """A users table of one row per user holds its states as of the export: today's plan
    would carry a conversion into every past cutoff. Traits stay static."""
    users = "user_id,signup_date,country,plan,is_premium,subscription_status,industry\n"
    users += "1,2024-01-02,DE,pro,true,active,retail\n2,2024-02-03,FR,free,false,canceled,media\n"
    events = "user_id,event,ts\n1,login,2024-03-05\n2,login,2024-03-06\n"
    out, _ = _starter_for(tmp_path, {"users.csv": users, "events.csv": events})
    kinds = {a.name: a.kind for a in read_config(out).users.attributes}
    assert kinds == {
        "country": "static",
        "plan": "snapshot",
        "is_premium": "snapshot",
        "subscription_status": "snapshot",
        "industry": "static",
    }


DAILY_ACTIVITY = (  # a BI tool's export: a row per user and day, a count per action
    "user_id,date,age,songs_played,ads_seen,revenue\n"
    "1,2025-01-03,34,14,3,0\n"
    "1,2025-01-04,34,5,0,9.99\n"
    "2,2025-01-03,27,20,6,0\n"
    "2,2025-01-05,27,2,,0\n"
)


def test_daily_totals_per_user_read_as_an_event_series_per_count(tmp_path):
    out, starter = _starter_for(tmp_path, {"daily_activity.csv": DAILY_ACTIVITY})
    sources = {s.event_type: s for s in read_config(out).events}
    assert list(sources) == ["DAILY_ACTIVITY", "SONGS_PLAYED", "ADS_SEEN"]  # not the ages
    played = sources["SONGS_PLAYED"]
    assert (played.columns["value"], played.blank_time) == ("songs_played", "no_event")
    assert any("each count column is an event series of its own" in c for c in starter.checks)
    assert [c for c in starter.checks if "not mapped" in c] == [
        "daily_activity.csv: not mapped: age (one that describes the user can be a user "
        "attribute, see docs/reference/data.md)"
    ]
    summary = ingest_dataset(out, tmp_path / "events.duckdb", progress=False)
    assert summary.tables["events"] == TableCounts(12, 10, {"no_event_time": 2})
    query = "SELECT event_type, user_id, event_time, value FROM events WHERE event_type <> "
    query += "'DAILY_ACTIVITY' ORDER BY ALL"
    assert _query(tmp_path / "events.duckdb", query) == [
        ("ADS_SEEN", "1", datetime(2025, 1, 3), 3.0),
        ("ADS_SEEN", "2", datetime(2025, 1, 3), 6.0),
        ("SONGS_PLAYED", "1", datetime(2025, 1, 3), 14.0),
        ("SONGS_PLAYED", "1", datetime(2025, 1, 4), 5.0),
        ("SONGS_PLAYED", "2", datetime(2025, 1, 3), 20.0),
        ("SONGS_PLAYED", "2", datetime(2025, 1, 5), 2.0),
    ]  # a zero or blank count is no event


@pytest.mark.parametrize(
    ("edit", "why"),
    [
        (lambda t: t.replace("2025-01-03,", "2025-01-03 10:00,"), "times of day, not days"),
        (lambda t: t.replace("1,2025-01-04", "1,2025-01-03"), "a user with two rows of a day"),
        (lambda t: t.replace(",3,0\n", ",x,0\n"), "one count left: ads_seen holds text"),
    ],
)
def test_a_table_that_is_no_daily_totals_keeps_one_source(tmp_path, edit, why):
    out, _ = _starter_for(tmp_path, {"daily_activity.csv": edit(DAILY_ACTIVITY)})
    assert len(read_config(out).events) == 1, why


def test_a_time_named_like_a_day_it_happened_on(tmp_path):
    invoices = "Customer,Paid On,Amount\n7,2025-01-03,49.00\n8,2025-01-04,99.00\n"
    out, _ = _starter_for(tmp_path, {"invoices.csv": invoices})
    (source,) = read_config(out).events
    assert (source.columns["timestamp"], source.event_type) == ("Paid On", "INVOICE")


def test_amounts_in_several_currencies_get_a_check_and_no_symbol(tmp_path):
    export = PAYMENTS_WITH_SYMBOLS + POUNDS_LINE
    out, starter = _starter_for(tmp_path, {"payments.csv": export})
    (source,) = read_config(out).events
    assert (source.columns["value"], source.currency_symbol) == ("Amount", None)
    assert (
        "payments.csv: Amount: amounts in $, £ (sampled): a source reads one currency_symbol; "
        "set it to keep that currency's rows (the others are quarantined as unparseable_value), "
        "or convert them to one first"
    ) in starter.checks


def test_a_phone_number_with_blanks_is_no_numeric_attribute(tmp_path):
    users = "user_id,signup_date,phone,zip,seats\n7,2024-01-02,612 345 678,28001,3\n"
    users += "8,2024-02-03,699 111 222,08001,12\n"
    events = "user_id,event,ts\n7,login,2024-03-05\n8,login,2024-03-06\n"
    out, _ = _starter_for(tmp_path, {"users.csv": users, "events.csv": events})
    dtypes = {a.column: a.dtype for a in read_config(out).users.attributes}
    assert dtypes == {"phone": "categorical", "zip": "categorical", "seats": "numeric"}


def test_swiss_amounts_with_apostrophes_between_digit_groups(tmp_path):
    orders = "Order,Customer,Date,Total\nA1,7,2024-03-05,CHF 1'234.50\nA2,8,2024-03-06,CHF 9.90\n"
    out, _ = _starter_for(tmp_path, {"orders.csv": orders})
    (source,) = read_config(out).events
    assert (source.decimal, source.thousands, source.currency_symbol) == (".", "'", "CHF")
    ingest_dataset(out, tmp_path / "events.duckdb", progress=False)
    assert _query(tmp_path / "events.duckdb", "SELECT value FROM events ORDER BY 1") == [
        (9.9,),
        (1234.5,),
    ]


def test_rupee_amounts_in_the_indian_grouping(tmp_path):
    orders = (
        "Order,Customer,Date,Total\n"
        'A1,7,2024-03-05,"₹1,00,000.00"\n'
        'A2,8,2024-03-06,"₹12,499.50"\n'
        "A3,9,2024-03-07,₹499.00\n"
    )
    out, starter = _starter_for(tmp_path, {"orders.csv": orders})
    (source,) = read_config(out).events
    assert (source.decimal, source.thousands, source.currency_symbol) == (".", ",", "₹")
    assert any("digit groups such as 1,00,000.00" in c for c in starter.checks)
    ingest_dataset(out, tmp_path / "events.duckdb", progress=False)
    assert _query(tmp_path / "events.duckdb", "SELECT value FROM events ORDER BY 1") == [
        (499.0,),
        (12499.5,),
        (100000.0,),
    ]


def test_amounts_with_no_break_spaces_between_digit_groups(tmp_path):
    """French Excel writes `1 234,56 €` with no-break spaces: U+202F in the groups, U+00A0
    before the symbol."""
    orders = (
        "Order;Customer;Date;Total\n"
        "A1;7;05.03.2024;1\u202f234,56\u00a0€\n"
        "A2;8;06.03.2024;19,90\u00a0€\n"
    )
    out, starter = _starter_for(tmp_path, {"orders.csv": orders})
    (source,) = read_config(out).events
    assert (source.decimal, source.thousands, source.currency_symbol) == (",", " ", "€")
    assert any(
        "digit groups such as 1 234,56: read with thousands ' '" in c for c in starter.checks
    )
    ingest_dataset(out, tmp_path / "events.duckdb", progress=False)
    store = tmp_path / "events.duckdb"
    assert _query(store, "SELECT value FROM events ORDER BY 1") == [(19.9,), (1234.56,)]


def test_euro_amounts_with_decimal_commas_and_a_users_amount_attribute(tmp_path):
    orders = "Order;Customer;Date;Total\nA1;7;05.03.2024;1.234,50 €\nA2;8;06.03.2024;19,90 €\n"
    users = "user_id,signup_date,plan,mrr\n7,2024-01-02,pro,$49.00\n8,2024-02-03,team,$1.5\n"
    out, _ = _starter_for(tmp_path, {"orders.csv": orders, "users.csv": users})
    config = read_config(out)
    (source,) = config.events
    assert (source.columns["value"], source.decimal, source.thousands) == ("Total", ",", ".")
    assert source.currency_symbol == "€"
    (mrr,) = [a for a in config.users.attributes if a.column == "mrr"]
    assert (mrr.dtype, config.users.currency_symbol) == ("numeric", "$")
    ingest_dataset(out, tmp_path / "events.duckdb", progress=False)
    store = tmp_path / "events.duckdb"
    assert _query(store, "SELECT value FROM events ORDER BY 1") == [(19.9,), (1234.5,)]
    assert _query(store, f"SELECT {mrr.name} FROM users ORDER BY 1") == [(1.5,), (49.0,)]


def test_a_line_amount_of_prices_with_a_currency_symbol_reads_in_the_ingest(tmp_path):
    lines = "user,time,quantity,price\n7,2024-03-05 10:00,2,$9.50\n8,2024-03-06 11:00,-1,$1.25\n"
    out, _ = _starter_for(tmp_path, {"orders.csv": lines})
    assert read_config(out).events[0].currency_symbol == "$"
    ingest_dataset(out, tmp_path / "events.duckdb", progress=False)
    values = _query(tmp_path / "events.duckdb", "SELECT value FROM events ORDER BY 1")
    assert values == [(-1.25,), (19.0,)]


@pytest.mark.parametrize(
    ("header", "line", "value"),
    [
        ("user,time,Qty,Unit Price", "7,2024-03-05 10:00,2,9.5", '"Qty" * "Unit Price"'),
        ("user,time,quantity,price,total", "7,2024-03-05 10:00,2,9.5,19", "total"),  # it says
        ("user;time;quantity;price", "7;2024-03-05 10:00;2;9,5", '"quantity" * "price"'),
        ("user,time,quantity,price", "7,2024-03-05 10:00,2,$9.50", '"quantity" * "price"'),
        # A price that is no number stays the guess, with a check.
        ("user,time,quantity,price", "7,2024-03-05 10:00,2,~9.50", "price"),
        ("user,time,quantity", "7,2024-03-05 10:00,2", None),  # no price: a count is no value
    ],
)
def test_a_line_amount_is_proposed_only_from_plain_quantities_and_prices(
    tmp_path, header, line, value
):
    out, starter = _starter_for(tmp_path, {"orders.csv": f"{header}\n{line}\n{line}\n"})
    (source,) = read_config(out).events
    assert source.columns.get("value", source.derived.get("value")) == value
    unit_price = any("may be a unit price beside quantity" in c for c in starter.checks)
    assert unit_price == (value == "price")


EXPOSURE_LOGS = {
    # Statsig's first exposures: the unit randomized, a time named like no time (read by its
    # values).
    "statsig": (
        "unit_id,unit_type,experiment_name,group_name,first_exposure_utc\n"
        "7,user_id,pricing_v2,Control,2024-03-01 10:05:38\n"
        "8,user_id,pricing_v2,Test,2024-03-02 11:00:00\n",
        ("unit_id", "first_exposure_utc", "experiment_name", "group_name"),
    ),
    # GrowthBook's exposure log: every exposure again, arms by number.
    "growthbook": (
        "timestamp,user_id,experiment_id,variation_id\n"
        "2024-03-01T10:05:38Z,7,pricing_v2,0\n"
        "2024-03-03T10:05:38Z,7,pricing_v2,0\n"
        "2024-03-02T11:00:00Z,8,pricing_v2,1\n",
        ("user_id", "timestamp", "experiment_id", "variation_id"),
    ),
    # Optimizely's decisions: its own account's id, the same on every row, beside the
    # visitor's.
    "optimizely": (
        "timestamp,account_id,visitor_id,experiment_id,variation_id\n"
        + "".join(
            f"2024-03-{day:02d}T10:00:00Z,12345678,{7 + day % 2},3001,{4001 + day % 2}\n"
            for day in range(1, 25)
        ),
        ("visitor_id", "timestamp", "experiment_id", "variation_id"),
    ),
}


@pytest.mark.parametrize("platform", sorted(EXPOSURE_LOGS))
def test_an_experiment_platforms_exposures_are_a_logged_experiment(tmp_path, platform):
    text, (user, time, experiment, arm) = EXPOSURE_LOGS[platform]
    export = tmp_path / "export"
    export.mkdir()
    (export / "exposures.csv").write_text(text, encoding="utf-8")
    (export / "events.csv").write_text(
        "user_id,timestamp,event,page\n"
        "7,2024-02-20T09:00:00Z,page_view,/reports/export\n"
        "8,2024-03-05T09:00:00Z,subscription_started,/settings/billing\n",
        encoding="utf-8",
    )
    out, starter = write_starter([export], None, "app")
    by_hand = tmp_path / "by_hand.yaml"
    by_hand.write_text(
        "name: app\nevents:\n"
        "- files: events.csv\n"
        "  columns: {user_id: user_id, timestamp: timestamp, event_type: event, area: page}\n"
        "- files: exposures.csv\n  event_type: EXPERIMENT_ASSIGNED\n"
        f"  columns: {{user_id: {user}, timestamp: {time}, item_id: {experiment}, "
        f"area: {arm}}}\n",
        encoding="utf-8",
    )
    (tmp_path / "events.csv").write_bytes((export / "events.csv").read_bytes())
    (tmp_path / "exposures.csv").write_bytes((export / "exposures.csv").read_bytes())
    assert _stored(out, tmp_path / "a.duckdb") == _stored(by_hand, tmp_path / "b.duckdb")
    assert any("an experiment platform's exposures" in check for check in starter.checks)


def test_optimizely_holdback_rows_are_the_holdback_arm_and_its_control(tmp_path, capsys):
    # Optimizely's decisions for a personalization campaign: visitors held back saw the
    # original, whatever variation their row names; `True`/`False` as Optimizely writes them.
    decisions = "timestamp,account_id,visitor_id,experiment_id,variation_id,is_holdback\n"
    decisions += "".join(
        f"2024-03-01T10:{n:02d}:00Z,12345678,v{n},3001,{4001 + n % 2},{n % 3 == 0}\n"
        for n in range(30)
    )
    events = "visitor_id,timestamp,event\n" + "".join(
        f"v{n},2024-03-0{2 + n % 5}T09:00:00Z,{'purchase' if n % 4 == 0 else 'view'}\n"
        for n in range(30)
    )
    (tmp_path / "decisions.csv").write_text(decisions, encoding="utf-8")
    (tmp_path / "events.csv").write_text(events, encoding="utf-8")
    out, starter = write_starter([tmp_path], None, "campaign")
    assert any("a row whose is_holdback is true is arm 'holdback'" in c for c in starter.checks)
    store = tmp_path / "store.duckdb"
    ingest_dataset(out, store, progress=False)
    arms = dict(
        _query(
            store,
            "SELECT user_id, area FROM events WHERE event_type = 'EXPERIMENT_ASSIGNED'",
        )
    )
    assert arms == {f"v{n}": "holdback" if n % 3 == 0 else str(4001 + n % 2) for n in range(30)}
    assert main(["ingest", str(out)]) == 0
    args = ["ab", "analyze", "--experiment", "3001", "--metric", "event_within purchase 1d"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    # The holdback is the control; each variation is compared with it.
    assert re.search(r"holdback\s+4001\s+10\s", printed)
    assert re.search(r"holdback\s+4002\s+10\s", printed)


def test_a_file_with_two_columns_of_times_named_like_none_is_left_out_naming_them(tmp_path):
    (tmp_path / "sends.csv").write_text(
        "user_id,queued,delivered\n7,2024-03-01 10:05,2024-03-01 10:07\n", encoding="utf-8"
    )
    with pytest.raises(StarterError, match="queued, delivered all read as times"):
        write_starter([tmp_path], None, "app")


def _mixpanel_with_exposures(export: Path) -> None:
    """Mixpanel's export: plays on screens, and `$experiment_started` with its experiment
    and variant in properties."""
    records = [
        _mixpanel_record(n, "Song Played", screen=("home", "search")[n % 2]) for n in range(60)
    ] + [
        _mixpanel_record(
            60 + n, "$experiment_started", **{"Experiment name": "paywall", "Variant name": arm}
        )
        for n, arm in enumerate(["control", "B"] * 3)
    ]
    (export / "export.json").write_text("\n".join(map(json.dumps, records)), encoding="utf-8")


def _posthog_with_exposures(export: Path) -> None:
    """PostHog's CSV export: pageviews, and `$feature_flag_called` with the flag and the
    user's variant as columns of their own."""
    lines = ["event,distinct_id,timestamp,$feature_flag,$feature_flag_response"]
    lines += [f"$pageview,u{n % 7},2024-03-05T10:{n:02d}:00Z,," for n in range(40)]
    lines += [
        f"$feature_flag_called,u{n},2024-03-05T11:{n:02d}:00Z,paywall,{('control', 'B')[n % 2]}"
        for n in range(6)
    ]
    (export / "events.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _amplitude_with_late_exposures(export: Path) -> None:
    """Amplitude's export: plays on screens, then, past the rows whose values are sampled,
    `$exposure` with the flag and the variant in event_properties."""
    records = [
        {
            "amplitude_id": n % 7,
            "user_id": f"u{n % 7}",
            "event_time": f"2024-03-05 10:{n % 60:02d}:{n // 60:02d}.000000",
            "event_type": "Song Played",
            "event_properties": {"screen": ("home", "search")[n % 2]},
        }
        for n in range(250)
    ] + [
        {
            "amplitude_id": n,
            "user_id": f"u{n}",
            "event_time": f"2024-03-05 11:{n:02d}:00.000000",
            "event_type": "$exposure",
            "event_properties": {"flag_key": "paywall", "variant": ("control", "B")[n % 2]},
        }
        for n in range(6)
    ]
    (export / "export.json").write_text("\n".join(map(json.dumps, records)), encoding="utf-8")


@pytest.mark.parametrize(
    "write",
    [_mixpanel_with_exposures, _posthog_with_exposures, _amplitude_with_late_exposures],
)
def test_a_product_analytics_tools_exposure_events_are_a_logged_experiment(tmp_path, write):
    export = tmp_path / "export"
    export.mkdir()
    write(export)
    out, starter = write_starter([export], None, "app")
    config = read_config(out)
    assert not any(
        name.startswith("$experiment") or "flag" in name
        for name in (config.rules.rename_event_types or {})
    )
    assert any("are an experiment's exposures: EXPERIMENT_ASSIGNED" in c for c in starter.checks)
    store = tmp_path / "store" / "events.duckdb"
    summary = ingest_dataset(out, store, progress=False)
    assert not summary.tables["events"].quarantined
    exposures = _query(
        store,
        "SELECT user_id, item_id, area FROM events "
        "WHERE event_type = 'EXPERIMENT_ASSIGNED' ORDER BY ALL",
    )
    assert len(exposures) == 6
    assert {(item, area) for _, item, area in exposures} == {
        ("paywall", "control"),
        ("paywall", "B"),
    }
    others = _query(
        store,
        "SELECT count(*), count(item_id) FROM events WHERE event_type <> 'EXPERIMENT_ASSIGNED'",
    )
    assert others[0][0] > 0 and others[0][1] == 0
    screens = _query(store, "SELECT DISTINCT area FROM events WHERE event_type = 'Song_Played'")
    assert sorted(screens) == ([("home",), ("search",)] if "on screens" in write.__doc__ else [])
