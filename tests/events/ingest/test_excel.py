"""Excel workbooks (.xlsx): a sheet read as text columns, then ingested like any other file."""

from __future__ import annotations

import io
import shutil
from datetime import date, datetime, time

import openpyxl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tiny_datasets import rows as rows_of
from tiny_datasets import write_dataset

from events.ingest import SourceFileError, ingest_dataset
from events.ingest.excel import (
    OLE2_MAGIC,
    WorkbookError,
    cell_text,
    sheet_columns,
    shows_time_of_day,
)


def workbook_bytes(
    *sheets: tuple[str, list[list]], formats: dict[str, str] | None = None
) -> bytes:
    """An .xlsx file holding the sheets (name, rows); `formats` sets cells' number formats
    on the first sheet ("B3": "yyyy-mm-dd hh:mm")."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets:
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    for cell, number_format in (formats or {}).items():
        book.worksheets[0][cell].number_format = number_format
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("value", "number_format", "decimal", "text"),
    [
        (None, None, ".", None),
        (True, "General", ".", "TRUE"),
        (17, "General", ".", "17"),
        (4.5, "General", ".", "4.5"),
        (4.5, "General", ",", "4,5"),
        (1e-05, "General", ".", "1e-05"),
        (1e9, "General", ".", "1000000000"),
        (-4.0, "General", ",", "-4"),
        (1e20, "General", ".", "1e+20"),
        (datetime(2024, 3, 5), "yyyy-mm-dd", ".", "2024-03-05"),
        (datetime(2024, 3, 5), "dd.mm.yyyy hh:mm", ".", "2024-03-05 00:00:00"),
        (datetime(2024, 3, 5, 10, 30), "yyyy-mm-dd", ".", "2024-03-05 10:30:00"),
        (datetime(2024, 3, 5, 10, 30, 0, 250000), "General", ".", "2024-03-05 10:30:00.250000"),
        (date(2024, 3, 5), "General", ".", "2024-03-05"),
        (time(10, 30), "h:mm", ".", "10:30:00"),
        (" text ", "General", ".", " text "),
    ],
)
def test_cell_text_is_what_the_ingest_parses(value, number_format, decimal, text):
    assert cell_text(value, number_format, decimal) == text


@pytest.mark.parametrize(
    ("number_format", "shows"),
    [
        ("yyyy-mm-dd", False),
        ("dd/mm/yyyy", False),
        ('yyyy-mm-dd "shift"', False),  # a quoted literal is not a code
        ("[$-409]mmmm d, yyyy", False),
        ("yyyy-mm-dd hh:mm", True),
        ("m/d/yy h:mm AM/PM", True),
        ("[h]:mm:ss", True),
        (None, False),
    ],
)
def test_a_number_format_shows_a_time_of_day_by_its_codes(number_format, shows):
    assert shows_time_of_day(number_format) is shows


@given(st.floats(allow_nan=False, allow_infinity=False), st.sampled_from([".", ","]))
def test_a_number_cell_reads_back_as_the_same_float(value, decimal):
    assert float(cell_text(value, "General", decimal).replace(decimal, ".")) == value


@given(st.datetimes(min_value=datetime(1900, 3, 1), max_value=datetime(9999, 1, 1)))
def test_a_date_cell_reads_back_as_the_same_moment(value):
    for number_format in ("yyyy-mm-dd", "yyyy-mm-dd hh:mm:ss"):
        assert datetime.fromisoformat(cell_text(value, number_format)) == value


def cells(*rows: list) -> list[list[tuple]]:
    return [[(value, "General") for value in row] for row in rows]


def test_empty_rows_are_not_rows_and_formatting_only_columns_are_not_columns(tmp_path):
    rows = cells(["id", "when", None], [1, "2024-01-01", None], [None, None, None], [2])
    assert sheet_columns(rows, tmp_path / "u.xlsx", ".") == {
        "id": ["1", "2"],
        "when": ["2024-01-01", None],
    }


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (cells([None, None], [1, 2]), "u.xlsx: row 1 is empty"),
        (cells(["id", "id"], [1, 2]), "names the column 'id' twice (A1 and B1)"),
        (cells(["id"], [1, None, "x"]), "column C holds values but no name in row 1"),
        ([], "row 1 is empty"),
    ],
)
def test_a_sheet_without_a_usable_header_is_refused(tmp_path, rows, message):
    with pytest.raises(WorkbookError, match=message.replace("(", r"\(").replace(")", r"\)")):
        sheet_columns(rows, tmp_path / "u.xlsx", ".")


USERS = [
    ["Customer ID", "Signup Date", "Plan"],
    [17, date(2024, 3, 5), "free"],
    [18, "2024-03-06"],
]
EVENTS = [
    ["customer_id", "event_time", "event", "amount"],
    [17, datetime(2024, 3, 8, 10), "order", 4.5],
    [],
    [18, datetime(2024, 3, 8, 11), "visit", None],
    [17, datetime(2024, 3, 8, 12), "order", "4,50"],
    [" ", datetime(2024, 3, 8, 13), "visit", None],
    [99, datetime(2024, 3, 8, 14), "visit", None],
]


def excel_config(users: dict | None = None) -> dict:
    return {
        "name": "crm",
        "events": [
            {
                "files": "events.xlsx",
                "columns": {
                    "user_id": "customer_id",
                    "timestamp": "event_time",
                    "event_type": "event",
                    "value": "amount",
                },
            }
        ],
        "users": {
            "files": "users.xlsx",
            "columns": {"user_id": "Customer ID", "signup_time": "Signup Date"},
            "attributes": {"plan": {"column": "Plan", "kind": "static", "dtype": "categorical"}},
            **(users or {}),
        },
    }


def test_workbooks_ingest_with_every_row_accounted_for(dataset, store, query):
    files = {
        "users.xlsx": workbook_bytes(("Export", USERS), ("Filters", [["all customers"]])),
        "events.xlsx": workbook_bytes(("Sheet1", EVENTS)),
    }
    config = excel_config({"sheet": "Export"})
    path = dataset(files=files, config=config)
    summary = ingest_dataset(path, store, progress=False, allow_partial=True)

    events = summary.tables["events"]
    assert events.read == 5 == events.accepted + sum(events.quarantined.values())
    assert events.quarantined == {
        "unparseable_value": 1,
        "missing_required_field": 1,
        "unknown_user": 1,
    }
    assert query(store, "SELECT * FROM users ORDER BY user_id") == [
        ("17", datetime(2024, 3, 5), "free"),
        ("18", datetime(2024, 3, 6), None),
    ]
    assert query(
        store, "SELECT source_row, user_id, event_time, event_type, value FROM events"
    ) == [
        (1, "17", datetime(2024, 3, 8, 10), "order", 4.5),
        (2, "18", datetime(2024, 3, 8, 11), "visit", None),
    ]
    assert query(store, "SELECT source_row, reason, raw FROM quarantine ORDER BY source_row")[
        0
    ] == (
        3,
        "unparseable_value",
        '{"customer_id":"17","event_time":"2024-03-08 12:00:00","event":"order","amount":"4,50"}',
    )


def test_a_decimal_comma_source_writes_number_cells_with_it(dataset, store, query, base_config):
    files = {
        "users.xlsx": workbook_bytes(("Export", USERS)),
        "events.xlsx": workbook_bytes(("Sheet1", EVENTS[:2] + EVENTS[4:5])),
    }
    config = excel_config()
    config["events"][0]["decimal"] = ","
    ingest_dataset(dataset(files=files, config=config), store, progress=False)
    assert query(store, "SELECT value FROM events ORDER BY source_row") == [(4.5,), (4.5,)]


@pytest.mark.parametrize(
    ("users_file", "users", "message"),
    [
        (
            workbook_bytes(("Export", USERS), ("Filters", [["x"]])),
            {},
            "users.xlsx: the workbook holds 2 sheets (Export, Filters); set `sheet:`",
        ),
        (
            workbook_bytes(("Export", USERS)),
            {"sheet": "Customers"},
            "users.xlsx: no sheet named 'Customers'; the workbook's sheets: Export",
        ),
        (
            OLE2_MAGIC + bytes(504),
            {},
            "users.xlsx: an Excel 97-2003 workbook (.xls), which the ingest does not read; "
            "save it as .xlsx or CSV",
        ),
        (b"id,signup\n1,2024-01-01\n", {}, "users.xlsx: not a readable .xlsx workbook"),
    ],
)
def test_a_workbook_that_cannot_be_read_as_asked_is_named(
    dataset, store, users_file, users, message
):
    files = {"users.xlsx": users_file, "events.xlsx": workbook_bytes(("Sheet1", EVENTS))}
    with pytest.raises(SourceFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ingest_dataset(dataset(files=files, config=excel_config(users)), store, progress=False)


def test_a_sheet_on_a_csv_source_is_a_config_mistake(dataset, store, base_config):
    config = base_config()
    config["events"][0]["sheet"] = "Sheet1"
    with pytest.raises(SourceFileError, match=r"events\[0\]\.sheet: events.csv is csv"):
        ingest_dataset(dataset(config=config), store, progress=False)


CELLS = st.one_of(
    st.sampled_from(["1", "2", "1.0", "-1", "", " ", "99", "2014-04-22", "PLAY", "SKIP", "Help"]),
    st.sampled_from(["2014-04-22 03:53", "never", "2,5", "abc", "x'y", '"q"']),
    st.integers(-2, 3),
    st.sampled_from([2.5, 0.1, 1e9]),
)
ROWS = st.lists(st.lists(CELLS, min_size=4, max_size=4) | st.just([]), max_size=12)
HEADER = ["uid", "ts", "page", "length"]


def _csv_line(row: list) -> str:
    """A row as CSV, each cell the text Excel shows (every field quoted); a row of empty
    cells (an empty string is an empty cell in a workbook) as a blank line."""
    if all(value == "" for value in row):
        return ""
    texts = (cell_text(v, "General") for v in row)
    return ",".join('"' + text.replace('"', '""') + '"' for text in texts)


@pytest.mark.slow
@settings(max_examples=12, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=ROWS)
@example(rows=[["", "", "", ""], [1, "2014-04-22", "PLAY", 0.1], ["", "", "PLAY", ""]])
def test_a_sheet_stores_what_the_csv_of_its_cells_stores(tmp_path, base_config, rows):
    """Whatever the cells, a sheet and the CSV of the same cells (an empty row a blank line)
    store the same rows, reasons and row numbers."""
    config = base_config()
    del config["users"]  # users from the events: every id is known
    csv_text = "\n".join([",".join(HEADER), *map(_csv_line, rows)]) + "\n"
    stored = {}
    for name, content in (
        ("events.csv", csv_text),
        ("events.xlsx", workbook_bytes(("Sheet1", [HEADER, *rows]))),
    ):
        folder = tmp_path / name.replace(".", "_")
        shutil.rmtree(folder, ignore_errors=True)
        config["events"][0]["files"] = name
        path = write_dataset(folder, {name: content}, config)
        store = folder / "events.duckdb"
        summary = ingest_dataset(path, store, progress=False, allow_partial=True)
        assert summary.tables["events"].read == sum(1 for row in rows if _csv_line(row))
        stored[name] = (
            rows_of(
                store, "SELECT source_row, user_id, event_time, event_type, value FROM events"
            ),
            rows_of(store, "SELECT source_row, reason, detail FROM quarantine ORDER BY ALL"),
        )
    assert stored["events.csv"] == stored["events.xlsx"]


def test_a_sheets_grand_total_row_is_counted_as_totals(dataset, store, query):
    """A CRM sheet ending with the sum of its amounts: a totals row, not an error."""
    rows = [*EVENTS[:2], EVENTS[3], ["Grand Total", None, None, 4.5]]
    files = {
        "users.xlsx": workbook_bytes(("Export", USERS)),
        "events.xlsx": workbook_bytes(("Sheet1", rows)),
    }
    path = dataset(files=files, config=excel_config({"sheet": "Export"}))
    summary = ingest_dataset(path, store, progress=False)
    assert summary.tables["events"].quarantined == {"totals_row": 1}
    assert query(store, "SELECT source_row, raw FROM quarantine") == [
        (3, '{"customer_id":"Grand Total","event_time":null,"event":null,"amount":"4.5"}')
    ]
