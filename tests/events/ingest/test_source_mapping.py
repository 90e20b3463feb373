"""How a source file is read and mapped: derived columns, duplicates, delimiters, headers."""

from __future__ import annotations

from pathlib import Path

import pytest

from events.ingest import ConfigError, ingest_dataset, parse_config
from events.ingest.readers import SourceFileError
from events.ingest.validate import derived_sql, number_sql

USERS = "id,registration,city\n1,2014-01-02,Paris\n2,2014-01-03,Oslo\n"
LINES = "inv,qty,price,uid,ts\nC1,2,1.5,1,2014-04-22\n7,3,2,2,2014-04-23\n7,x,2,2,2014-04-24\n"


def _events(**source) -> list[dict]:
    columns = {
        "user_id": "uid",
        "timestamp": "ts",
        "event_type": {"expr": "CASE WHEN starts_with(inv, 'C') THEN 'SKIP' ELSE 'PLAY' END"},
        "value": {"expr": "qty * price"},
    }
    return [{"files": "events.csv", "columns": columns, **source}]


def test_derived_columns_and_a_value_that_does_not_convert(dataset, base_config, store, query):
    path = dataset(
        files={"users.csv": USERS, "events.csv": LINES}, config=base_config(events=_events())
    )
    summary = ingest_dataset(path, store, progress=False)
    assert query(store, "SELECT event_type, value FROM events ORDER BY event_id") == [
        ("SKIP", 3.0),
        ("PLAY", 6.0),
    ]
    ((row, reason, detail),) = query(store, "SELECT source_row, reason, detail FROM quarantine")
    assert (row, reason) == (3, "derived_value_error")
    assert (
        "value = qty * price" in detail and "'x'" not in detail and "x does not convert" in detail
    )
    assert summary.tables["events"].quarantined == {"derived_value_error": 1}


def test_a_derived_value_over_decimal_commas(dataset, base_config, store, query):
    lines = (
        "inv;qty;price;uid;ts\nC1;2;1,5;1;2014-04-22\n7;3;0,25;2;2014-04-23\n"
        "7;3;2.5;2;2014-04-24\n"
    )
    events = _events(delimiter=";", decimal=",")
    path = dataset(
        files={"users.csv": USERS, "events.csv": lines}, config=base_config(events=events)
    )
    ingest_dataset(path, store, progress=False)
    # the product is a number, not text: it is stored as computed, whatever the separator
    assert query(store, "SELECT value FROM events ORDER BY event_id") == [(3.0,), (0.75,)]
    assert query(store, "SELECT source_row, reason, detail FROM quarantine") == [
        (3, "derived_value_error", "value = qty * price: 2.5 does not convert")
    ]


def test_a_cast_that_fails_and_a_number_outside_the_plain_rule(dataset, base_config, store, query):
    events = _events()
    events[0]["columns"]["value"] = {"expr": "CAST(qty AS INTEGER) + price"}
    lines = (
        "inv,qty,price,uid,ts\n1,2,1_000,1,2014-04-22\n2,2.5,1,1,2014-04-22\n3,,1,1,2014-04-22\n"
    )
    path = dataset(
        files={"users.csv": USERS, "events.csv": lines}, config=base_config(events=events)
    )
    ingest_dataset(path, store, progress=False)
    # 1_000 is not a plain decimal; DuckDB casts "2.5" to INTEGER 3 (Spark does not: the docs
    # advise DOUBLE), and a missing qty gives a missing value, not an error
    assert query(store, "SELECT source_row, reason FROM quarantine") == [
        (1, "derived_value_error")
    ]
    assert query(store, "SELECT source_row, value FROM events ORDER BY 1") == [(2, 4.0), (3, None)]


def test_derived_expression_errors_name_the_field_and_columns(dataset, base_config, store):
    events = _events()
    events[0]["columns"]["value"] = {"expr": "Quantity * price"}
    path = dataset(
        files={"users.csv": USERS, "events.csv": LINES}, config=base_config(events=events)
    )
    with pytest.raises(SourceFileError) as raised:
        ingest_dataset(path, store, progress=False)
    message = str(raised.value)
    assert "events[0].columns.value" in message and "Quantity * price" in message
    assert "'Quantity'" in message and "inv, qty, price, uid, ts" in message


@pytest.mark.parametrize(
    ("expr", "words"),
    [
        ("(SELECT 1)", "subqueries"),
        ("sum(qty)", "aggregates"),
        ("read_csv('/etc/passwd')", "is not allowed"),
        ("qty *", "not valid SQL"),
    ],
)
def test_refused_expressions(expr, words):
    raw = {
        "events": {
            "files": "e.csv",
            "columns": {"user_id": "u", "timestamp": "t", "event_type": {"expr": expr}},
        },
        "users": {"files": "u.csv", "columns": {"user_id": "id", "signup_time": "s"}},
    }
    with pytest.raises(ConfigError) as raised:
        parse_config(raw, Path("/d/dataset.yaml"))
    assert "events[0].columns.event_type.expr" in str(raised.value)
    assert words in str(raised.value)


def test_names_are_checked_against_derived_columns_at_load():
    raw = {
        "events": {
            "files": "e.txt",
            "header": False,
            "names": ["u", "t"],
            "columns": {"user_id": "u", "timestamp": "t", "event_type": {"expr": "upper(kind)"}},
        },
        "users": {"files": "u.csv", "columns": {"user_id": "id", "signup_time": "s"}},
    }
    with pytest.raises(ConfigError, match=r"reads 'kind'.*its columns: u, t"):
        parse_config(raw, Path("/d/dataset.yaml"))


@pytest.mark.parametrize(
    ("source", "why"),
    [
        ({"delimiter": "\\s+"}, "one character"),
        ({"delimiter": '"'}, "one character"),
        ({"header": False}, "required with `header: false`"),
        ({"names": ["a"]}, "only for a file without a header"),
        ({"header": False, "names": ["a", "a"]}, "distinct"),
        ({"dedupe": []}, "non-empty list"),
        ({"dedupe": "yes"}, "true, false"),
    ],
)
def test_reading_options_refused(source, why):
    raw = {
        "events": {
            "files": "e.csv",
            "columns": {"user_id": "u", "timestamp": "t", "event_type": "e"},
            **source,
        },
        "users": {"files": "u.csv", "columns": {"user_id": "id", "signup_time": "s"}},
    }
    with pytest.raises(ConfigError, match="events\\[0\\]") as raised:
        parse_config(raw, Path("/d/dataset.yaml"))
    assert why in str(raised.value)


DUPLICATES = (
    "uid,ts,page,qty,price\n"
    "1,2014-04-22,PLAY,1,2.5\n"
    "1,2014-04-22,PLAY,3,2.5\n"  # differs only in qty: not a duplicate by default
    "1,2014-04-22,PLAY,1,2.5\n"  # repeats row 1
)


@pytest.mark.parametrize(
    ("where", "dedupe", "duplicates"),
    [
        (None, None, [3]),
        ("source", False, []),
        ("rules", False, []),
        ("source", ["uid", "ts", "price"], [2, 3]),
        ("rules", ["uid"], [2, 3]),
    ],
)
def test_dedupe(dataset, base_config, store, query, where, dedupe, duplicates):
    config = base_config()
    config["events"][0]["columns"]["value"] = "price"
    if where == "source":
        config["events"][0]["dedupe"] = dedupe
    elif where == "rules":
        config["rules"]["dedupe"] = dedupe
    path = dataset(files={"users.csv": USERS, "events.csv": DUPLICATES}, config=config)
    # With a key of few columns most of the 3 rows are duplicates: below the safe-ingest share.
    ingest_dataset(path, store, progress=False, allow_partial=True)
    assert query(store, "SELECT source_row FROM quarantine WHERE reason = 'duplicate_event'") == [
        (r,) for r in duplicates
    ]


def test_dedupe_on_a_column_the_file_lacks_is_fatal(dataset, base_config, store):
    config = base_config()
    config["events"][0]["dedupe"] = ["order_id"]
    path = dataset(config=config)
    with pytest.raises(SourceFileError, match="'order_id'"):
        ingest_dataset(path, store, progress=False)


@pytest.mark.parametrize(
    ("delimiter", "text"),
    [
        ("tab", "uid\tts\tpage\tlength\n1\t2014-04-22\tPLAY\t1\n2\t2014-04-23\tSKIP\t2\n"),
        ("\t", "uid\tts\tpage\tlength\r\n1\t2014-04-22\tPLAY\t1\r\n2\t2014-04-23\tSKIP\t2\r\n"),
        ("|", "uid|ts|page|length\n1|2014-04-22|PLAY|1\n2|2014-04-23|SKIP|2\n"),
        (" ", "uid ts page length\n1 2014-04-22 PLAY 1\n2 2014-04-23 SKIP 2\n"),
        ("whitespace", "uid  ts page\tlength\r\n 1\t2014-04-22  PLAY 1 \n2 2014-04-23 SKIP 2\n"),
    ],
)
def test_delimiters(dataset, base_config, store, query, delimiter, text):
    config = base_config()
    config["events"][0]["delimiter"] = delimiter
    path = dataset(files={"users.csv": USERS, "events.csv": text}, config=config)
    ingest_dataset(path, store, progress=False)
    assert query(store, "SELECT user_id, event_type, value FROM events ORDER BY event_id") == [
        ("1", "PLAY", 1.0),
        ("2", "SKIP", 2.0),
    ]


@pytest.mark.parametrize("delimiter", [",", "whitespace"])
def test_headerless_file_with_names(dataset, base_config, store, query, delimiter):
    config = base_config()
    config["events"][0].update(header=False, names=["uid", "ts", "page", "length"])
    config["events"][0]["delimiter"] = delimiter
    sep = "," if delimiter == "," else "   "
    text = f"1{sep}2014-04-22{sep}PLAY{sep}1\r\n\r\n2{sep}2014-04-23{sep}SKIP{sep}x\r\n"
    path = dataset(files={"users.csv": USERS, "events.csv": text}, config=config)
    summary = ingest_dataset(path, store, progress=False)
    assert summary.tables["events"].read == 2
    assert query(store, "SELECT source_row, reason FROM quarantine") == [(2, "unparseable_value")]


def test_whitespace_line_with_a_wrong_field_count_is_fatal(dataset, base_config, store):
    config = base_config()
    config["events"][0]["delimiter"] = "whitespace"
    text = "uid ts page length\n1 2014-04-22 PLAY 1\n\n2 2014-04-23 SKIP\n"
    path = dataset(files={"users.csv": USERS, "events.csv": text}, config=config)
    with pytest.raises(
        SourceFileError, match=r"line 4: 3 whitespace-separated fields, expected 4"
    ):
        ingest_dataset(path, store, progress=False)


@pytest.mark.spark
def test_derived_expressions_give_the_same_values_in_spark(spark_session):
    import duckdb

    expressions = [
        "CASE WHEN starts_with(inv, 'C') THEN 'cancel' ELSE 'purchase' END",
        "qty * price",
        "-(qty) + 1",
        "COALESCE(inv, 'none') || '-' || substring(inv, 1, 2)",
        "CAST(qty AS DOUBLE) / 2",
        "round(price * 4, 1)",
    ]
    rows = [("C536379", "6", "2.55"), ("536365", "-2", "0.85"), (None, "x", None)]
    for text in expressions:
        duck, _ = derived_sql(text, lambda name: f'"{name}"', lambda sql: number_sql(sql, "."))
        values = "VALUES " + ", ".join(
            "(" + ", ".join("NULL" if v is None else f"'{v}'" for v in row) + ")" for row in rows
        )
        expected = duckdb.sql(f"SELECT {duck} FROM ({values}) AS t(inv, qty, price)").fetchall()
        spark, _ = derived_sql(
            text, lambda name: f"`{name}`", lambda sql: f"TRY_CAST({sql} AS DOUBLE)", "spark"
        )
        frame = spark_session.createDataFrame(rows, "inv string, qty string, price string")
        got = [tuple(r) for r in frame.selectExpr(spark).collect()]
        assert got == expected, text
