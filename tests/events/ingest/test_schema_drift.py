"""Exports whose columns changed over time: a source's files need not all hold an optional
column (an event field but the id, time and type, or an attribute) that another file of the
source holds; it is read as missing in the files that lack it, and the report says where."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from events.ingest import ingest_dataset
from events.ingest.readers import SourceFileError

JANUARY = "uid,ts,page\n1,2024-01-05,PLAY\n"
FEBRUARY = "uid,ts,page,length,area\n1,2024-02-05,PLAY,3,home\n"
MARCH = "area,page,uid,ts,length,added_later\n search,SKIP,2,2024-03-05,4,x\n"


def _monthly(base_config, **source) -> dict:
    config = base_config()
    config["events"][0].update(
        files="events/*.csv",
        columns={
            "user_id": "uid",
            "timestamp": "ts",
            "event_type": "page",
            "value": "length",
            "area": "area",
        },
        **source,
    )
    return config


MONTHS = {"events/01.csv": JANUARY, "events/02.csv": FEBRUARY, "events/03.csv": MARCH}


def test_columns_added_in_later_files_are_missing_in_earlier_ones(
    dataset, base_config, store, query
):
    path = dataset(files=MONTHS, config=_monthly(base_config))
    summary = ingest_dataset(path, store, progress=False)

    assert (summary.tables["events"].read, summary.tables["events"].quarantined) == (3, {})
    assert query(store, "SELECT event_date::VARCHAR, value, area FROM events ORDER BY 1") == [
        ("2024-01-05", None, None),
        ("2024-02-05", 3.0, "home"),
        ("2024-03-05", 4.0, "search"),
    ]
    lines = [line for line in summary.quality_text.splitlines() if "read as missing" in line]
    assert lines == [
        "  events[0].columns.value: not in 1 of the source's 3 files, read as missing there "
        "(events/01.csv)",
        "  events[0].columns.area: not in 1 of the source's 3 files, read as missing there "
        "(events/01.csv)",
    ]


def test_an_attribute_added_later_is_missing_for_the_earlier_users(
    dataset, base_config, store, query
):
    config = base_config()
    config["users"]["files"] = "users/*.csv"
    path = dataset(
        files={
            "users/a.csv": "id,registration\n1,2014-01-02\n",
            "users/b.csv": "id,registration,city\n2,2014-01-03,Oslo\n",
            "events.csv": "uid,ts,page,length\n1,2014-04-22,PLAY,1\n2,2014-04-23,PLAY,1\n",
        },
        config=config,
    )
    ingest_dataset(path, store, progress=False)
    assert query(store, "SELECT user_id, city FROM users ORDER BY 1") == [
        ("1", None),
        ("2", "Oslo"),
    ]


def test_a_jsonl_key_no_record_of_a_file_has_is_missing_there(dataset, base_config, store, query):
    config = base_config(
        events=[
            {
                "files": "*.jsonl",
                "columns": {
                    "user_id": "u",
                    "timestamp": "t",
                    "event_type": "e",
                    "value": "properties.revenue",
                },
            }
        ]
    )
    path = dataset(
        files={
            "a.jsonl": '{"u": "1", "t": "2014-04-22", "e": "PLAY"}\n',
            "b.jsonl": '{"u": "2", "t": "2014-04-23", "e": "PLAY", "properties": {"revenue": 9}}'
            "\n",
        },
        config=config,
    )
    ingest_dataset(path, store, progress=False)
    assert query(store, "SELECT user_id, value FROM events ORDER BY 1") == [
        ("1", None),
        ("2", 9.0),
    ]


def test_an_items_file_without_the_item_id_column_is_fatal(dataset, base_config, store):
    config = base_config(
        items={"files": "items/*.csv", "columns": {"item_id": "track"}, "attributes": {}}
    )
    path = dataset(
        files={"items/a.csv": "track\nt1\n", "items/b.csv": "song\nt2\n"}, config=config
    )
    with pytest.raises(SourceFileError, match=r"items/b\.csv: column 'track' mapped in items"):
        ingest_dataset(path, store, progress=False)


def _parquet(table: dict) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.table(table), buffer)
    return buffer.getvalue()


def test_parquet_files_with_and_without_a_column(dataset, base_config, store, query):
    config = base_config(
        events=[
            {
                "files": "*.parquet",
                "columns": {"user_id": "u", "timestamp": "t", "event_type": "e", "area": "a"},
            }
        ]
    )
    path = dataset(
        files={
            "1.parquet": _parquet({"u": ["1"], "t": ["2014-04-22"], "e": ["PLAY"]}),
            "2.parquet": _parquet({"u": ["2"], "t": ["2014-04-23"], "e": ["SKIP"], "a": ["x"]}),
        },
        config=config,
    )
    ingest_dataset(path, store, progress=False)
    assert query(store, "SELECT user_id, area FROM events ORDER BY 1") == [("1", None), ("2", "x")]


@pytest.mark.parametrize(
    ("files", "source", "message"),
    [
        (  # a typo: no file has the column
            {"events/01.csv": JANUARY, "events/02.csv": JANUARY.replace("01-05", "02-05")},
            {},
            "events/01.csv: column 'length' mapped in events[0].columns.value is not in the file "
            "(3 columns in its header line); nor does any other of the source's 2 files",
        ),
        (  # an id, a time or a type is never read as missing
            {**MONTHS, "events/04.csv": "user,ts,page,length,area\n1,2024-04-05,PLAY,1,home\n"},
            {},
            "events/04.csv: column 'uid' mapped in events[0].columns.user_id is not in the file",
        ),
        (  # neither is a dedupe key
            MONTHS,
            {"dedupe": ["uid", "ts", "added_later"]},
            "events/01.csv: column 'added_later' mapped in events[0].dedupe is not in the file",
        ),
    ],
)
def test_what_a_file_cannot_lack_is_fatal_and_named(
    dataset, base_config, store, files, source, message
):
    path = dataset(files=files, config=_monthly(base_config, **source))
    with pytest.raises(SourceFileError) as error:
        ingest_dataset(path, store, progress=False)
    assert message in str(error.value)
