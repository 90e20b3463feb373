"""`skip_lines`: a report's title above the table (lines of a text file, rows of a sheet);
`footer_lines`: its totals and notice below it."""

from __future__ import annotations

import re

import pytest
from test_excel import workbook_bytes

from events.ingest import ConfigError, SourceFileError, ingest_dataset, parse_config
from events.ingest.excel import WorkbookError, sheet_columns, title_rows
from events.ingest.starter import _footer_length, _table_start

TITLE = "Weekly activity report\nGenerated 2014-05-01 by admin@example.com\n\n"
EVENTS = "uid,ts,page,length\n1,2014-04-22 03:53,PLAY,10\n2,yesterday,SKIP,3.5\n"


def _events(**source) -> list[dict]:
    columns = {"user_id": "uid", "timestamp": "ts", "event_type": "page", "value": "length"}
    return [{"files": "events.csv", "columns": columns, **source}]


def test_a_broken_line_below_the_title_is_named_by_its_line_in_the_file(
    dataset, base_config, store
):
    broken = TITLE + EVENTS + "3,2014-04-24,PLAY,1,extra\n"
    path = dataset(files={"events.csv": broken}, config=base_config(events=_events(skip_lines=3)))
    with pytest.raises(SourceFileError, match=r"events\.csv: .*: line 7: Expected Number"):
        ingest_dataset(path, store, progress=False)


def test_too_few_lines_skipped_is_fatal_and_names_the_missing_column(dataset, base_config, store):
    path = dataset(
        files={"events.csv": TITLE + EVENTS}, config=base_config(events=_events(skip_lines=1))
    )
    with pytest.raises(SourceFileError, match=r"'uid' .*header line, line 2 after skip_lines 1"):
        ingest_dataset(path, store, progress=False)


def test_a_whitespace_table_below_a_title(dataset, base_config, store, query):
    table = "Export of 2014-05-01\n\nuid  ts          page  length\n1    2014-04-22  PLAY  10\n"
    events = _events(skip_lines=2, delimiter="whitespace")
    path = dataset(files={"events.csv": table}, config=base_config(events=events))
    ingest_dataset(path, store, progress=False)
    assert query(store, "SELECT user_id, event_type, value FROM events") == [("1", "PLAY", 10.0)]


def test_a_sheet_below_its_title_rows(dataset, base_config, store, query):
    book = workbook_bytes(
        (
            "Report",
            [
                ["Weekly activity report"],
                [],
                ["uid", "ts", "page", "length"],
                [1, "2014-04-22 03:53", "PLAY", 10],
            ],
        )
    )
    events = [{**_events(skip_lines=2)[0], "files": "events.xlsx"}]
    path = dataset(files={"events.xlsx": book}, config=base_config(events=events))
    ingest_dataset(path, store, progress=False)
    assert query(store, "SELECT source_row, user_id, value FROM events") == [(1, "1", 10.0)]


def test_a_sheet_title_without_skip_lines_says_to_set_it(tmp_path):
    rows = [
        [("Weekly activity report", None)],
        [("uid", None), ("ts", None)],
        [(1, None), (2, None)],
    ]
    with pytest.raises(WorkbookError, match=r"no name in row 1; name it \(a title .*skip_lines"):
        sheet_columns(rows, tmp_path / "r.xlsx", ".")
    assert title_rows(rows) == 1
    assert sheet_columns(rows, tmp_path / "r.xlsx", ".", 1) == {"uid": ["1"], "ts": ["2"]}


def test_skip_lines_on_a_json_file_is_refused(dataset, base_config, store):
    events = [{**_events(skip_lines=1)[0], "files": "events.jsonl"}]
    records = '{"uid": "1", "ts": "2014-04-22", "page": "PLAY", "length": "1"}\n'
    path = dataset(files={"events.jsonl": records}, config=base_config(events=events))
    with pytest.raises(SourceFileError, match="`skip_lines` is for text tables"):
        ingest_dataset(path, store, progress=False)


@pytest.mark.parametrize("value", [-1, True, "3"])
def test_skip_lines_must_be_a_count(base_config, tmp_path, value):
    with pytest.raises(ConfigError, match=r"events\[0\]\.skip_lines` is"):
        parse_config(base_config(events=_events(skip_lines=value)), tmp_path / "dataset.yaml")


@pytest.mark.parametrize(
    ("lines", "start"),
    [
        (["a,b,c", "1,2,3", "4,5,6"], 0),
        (["Report", "Generated today", "", "a,b,c", "1,2,3", "4,5,6"], 3),
        (["# ---", "# All Web Site Data", "# ---", "", "Day;Users", "1/1/19;12", "1/2/19;15"], 4),
        (["a,b,c", "1,2,x", '4,5,"y;z"', '7,8,"u;v"'], 0),  # a table by commas from line 1
        (["a,b,c", "1,2", "3,4"], 0),  # ragged: read as it is
        (["Report", "a,b"], 0),  # one line is no table
        ([f"title {n}" for n in range(11)] + ["a,b", "1,2"], 0),  # too long for a title
        (["Report", "", "a,b,c", '1,2,"x', 'y"', "4,5,6"], 2),  # a quoted line break in a row
        (["Report", "", "a;b", "1;2", "3;4", '""', '"Total"'], 2),  # and a footer below
    ],
)
def test_the_starter_finds_a_table_below_a_title(lines, start):
    assert _table_start(lines) == start


def test_a_files_first_bytes_may_end_in_a_cut_row():
    lines = ["Report", "", "a,b,c", "1,2,3", "4,5,6", "7,8"]
    assert (_table_start(lines, whole=False), _table_start(lines)) == (2, 0)


# A Salesforce report's CSV: a blank quoted line, the totals, the notice and the copyright.
FOOTER = (
    '""\n"Total",,,"13.5"\n""\n"Confidential Information - Do Not Distribute"\n'
    '"Copyright (c) 2000-2025 salesforce.com, inc. All rights reserved."\n\n'
)


@pytest.mark.parametrize(
    ("before", "after", "source"),
    [
        (TITLE, "", {"skip_lines": 3}),
        ("", FOOTER, {"footer_lines": 5}),
        (TITLE, FOOTER, {"skip_lines": 3, "footer_lines": 5}),
    ],
)
def test_a_reports_title_and_footer_are_left_out_and_rows_keep_their_numbers(
    dataset, base_config, store, query, before, after, source
):
    path = dataset(
        files={"events.csv": before + EVENTS + after},
        config=base_config(events=_events(**source)),
    )
    summary = ingest_dataset(path, store, progress=False)
    assert (summary.tables["events"].read, summary.tables["events"].accepted) == (2, 1)
    assert query(store, "SELECT source_row, event_type FROM events") == [(1, "PLAY")]
    assert query(store, "SELECT source_row, reason FROM quarantine") == [
        (2, "unparseable_timestamp")
    ]


@pytest.mark.parametrize(
    ("count", "message"),
    [
        (7, "footer_lines 7: line 2, the footer's first, reads as a row (4 fields"),
        (4, "footer_lines 4: line 5, the footer's first, reads as a row"),
        (20, "footer_lines 20: the file has only 8 lines that hold something"),
    ],
)
def test_a_footer_count_the_file_does_not_end_with_is_fatal(
    dataset, base_config, store, count, message
):
    path = dataset(
        files={"events.csv": EVENTS + FOOTER},
        config=base_config(events=_events(footer_lines=count)),
    )
    with pytest.raises(SourceFileError, match=re.escape(message)):
        ingest_dataset(path, store, progress=False)


def test_the_footer_of_a_file_longer_than_a_read_chunk(dataset, base_config, store):
    rows = "".join(f"{n % 3 + 1},2014-04-22 03:53,PLAY,{n % 7}\n" for n in range(40_000))
    path = dataset(
        files={"events.csv": "uid,ts,page,length\n" + rows + FOOTER},
        config=base_config(events=_events(footer_lines=5, dedupe=False)),
    )
    summary = ingest_dataset(path, store, progress=False)
    assert summary.tables["events"].accepted == 40_000


@pytest.mark.parametrize(
    ("lines", "footer"),
    [
        (["a,b", "1,2", "3,4"], 0),
        (["a,b", "1,2", "3,4", '""', '"Total",7', '"(c) Acme"'], 3),
        (["a,b", "1,2", "3,4", "Generated by the BI tool"], 1),
        (["a,b", "1,2", "3,4", "5"], 1),  # a cut last row reads as one field too: named
        (["a,b", "1,2", "3,4", "5,6,7"], 0),  # not a single field: a broken row, left to fail
        (["a,b", "1,2", *["note"] * 11], 0),  # longer than a footer
        (["a", "1", "2"], 0),  # one column: every row is one field
        (["a,b", '1,"two', 'lines"', '3,"x', 'y"'], 0),  # quoted line breaks: rows, not notes
        (["a,b", '1,"two', 'lines"', '""', '"Total",1'], 2),
    ],
)
def test_the_starter_finds_a_reports_footer(lines, footer):
    assert _footer_length(lines, ",") == footer


@pytest.mark.parametrize(
    ("count", "message"),
    [
        (1, "footer_lines 1: line 5, the footer's first, is inside a quoted field of a row above"),
        (2, "footer_lines 2: line 4, the footer's first, reads as a row (4 fields"),
    ],
)
def test_a_footer_count_that_would_drop_a_row_over_several_lines_is_fatal(
    dataset, base_config, store, count, message
):
    """The last row's quoted field holds a line break: its second line alone reads as one
    field, and its first as a row's start; neither is a footer."""
    events = EVENTS + '3,2014-04-23,"PL\nAY",1\n'
    path = dataset(
        files={"events.csv": events}, config=base_config(events=_events(footer_lines=count))
    )
    with pytest.raises(SourceFileError, match=re.escape(message)):
        ingest_dataset(path, store, progress=False)


def test_a_shorter_footer_count_reads_the_lines_above_it_as_rows(dataset, base_config, store):
    """The footer's two `""` lines are the same text: the count, not the text, says where it
    starts, so with 3 the lines above the last `""` are read as the table, and the first
    `""` (line 4) stops the reader: nothing is dropped unseen."""
    path = dataset(
        files={"events.csv": EVENTS + FOOTER}, config=base_config(events=_events(footer_lines=3))
    )
    with pytest.raises(SourceFileError, match=r"line 4: Expected Number of Columns: 4 Found: 1"):
        ingest_dataset(path, store, progress=False)
