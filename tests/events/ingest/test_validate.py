"""The number rule as SQL, run through an in-memory DuckDB, under both decimal separators."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from events.ingest import ConfigError, parse_config
from events.ingest.config import ZONE_ABBREVIATIONS, Attribute, Rules, Source, TimeZones
from events.ingest.validate import (
    StagedFile,
    cleaned,
    derived_sql,
    derived_text_sql,
    entity_checks,
    failed_check_sql,
    is_totals_row,
    number_sql,
    source_number_sql,
    stage_events_sql,
    timestamp_sql,
    totals_row_sql,
)

HINT = ' (a decimal comma? set decimal: "," on this source)'
GROUPS_HINT = ' (digit groups? set thousands: "{}" on this source)'
CURRENCY_HINT = ' (a currency symbol? set currency_symbol: "{}" on this source)'
PARENTHESES_HINT = ' (a negative number? set negatives: "parentheses" on this source)'
TRAILING_MINUS_HINT = ' (a negative number? set negatives: "trailing_minus" on this source)'


# One in-memory DuckDB for the module: every query here reads only its parameters, and
# opening a database costs far more than these queries.
CON = duckdb.connect()


def _one(sql: str, params: list, *, row: bool = False):
    """The single value (or with `row`, the one row) `sql` gives in an in-memory DuckDB."""
    values = CON.execute(sql, params).fetchone()
    return values if row else values[0]


def _scalar(sql: str, text: str | None):
    """`sql` over one row whose column `t` holds `text`."""
    return _one(f"SELECT {sql} FROM (SELECT ?::VARCHAR AS t)", [text])


@pytest.mark.parametrize(
    ("decimal", "text", "number"),
    [
        (",", "4,50", 4.5),
        (",", "-0,5", -0.5),
        (",", "12", 12.0),
        (",", "4,5e2", 450.0),
        (",", ",5", 0.5),
        (".", "4.50", 4.5),
        (".", "-0.5", -0.5),
        (".", "4.5e2", 450.0),
    ],
)
def test_a_plain_decimal_with_the_source_separator_is_read(decimal, text, number):
    assert _scalar(number_sql("t", decimal), text) == number


@given(
    number=st.floats(allow_nan=False, allow_infinity=False), decimal=st.sampled_from([".", ","])
)
def test_a_float_written_with_either_separator_reads_back_only_with_it(number, decimal):
    """repr() spells every finite float exactly (digits, a fraction, an exponent)."""
    text = repr(number).replace(".", decimal)
    other = "," if decimal == "." else "."
    read = f"SELECT {number_sql('t', decimal)}, {number_sql('t', other)} FROM (SELECT ? AS t)"
    own, wrong = _one(read, [text], row=True)
    assert own == number
    assert wrong == (None if decimal in text else number)


@pytest.mark.parametrize(
    ("decimal", "text"),
    [
        (",", "4.50"),
        (",", "1.234,50"),
        (".", "1.234,50"),
        (".", "1,234.50"),
        (",", "1,234.50"),
        (".", "4,50"),
        (",", "1,234,5"),
        (",", "4, 5"),
        (",", "1_000"),
        (",", "inf"),
        (",", "nan"),
        (",", "1,5e999"),
    ],
)
def test_other_text_is_not_a_number(decimal, text):
    assert _scalar(number_sql("t", decimal), text) is None


@pytest.mark.parametrize(
    ("decimal", "text", "expected"),
    [
        (",", "1398138780,5", datetime(2014, 4, 22, 3, 53, 0, 500000)),
        (",", "1398138780.5", None),
        (".", "1398138780.5", datetime(2014, 4, 22, 3, 53, 0, 500000)),
    ],
)
def test_epoch_seconds_follow_the_separator(decimal, text, expected):
    assert _scalar(timestamp_sql("t", ["epoch_s"], decimal), text) == expected


@pytest.mark.parametrize(
    ("pattern", "text", "utc"),
    [
        ("%Y-%m-%d %H:%M:%S %Z", "2025-01-03 10:00:00 PST", datetime(2025, 1, 3, 18)),
        ("%Y-%m-%d %H:%M:%S %Z", "2025-07-04 09:00:00 PDT", datetime(2025, 7, 4, 16)),
        ("%Y-%m-%d %H:%M:%S %Z", "2025-07-04 09:00:00 CEST", datetime(2025, 7, 4, 7)),
        ("%Y-%m-%d %H:%M:%S %Z", "2025-07-04 09:00:00 BST", datetime(2025, 7, 4, 8)),
        ("%Y-%m-%d %H:%M:%S %Z", "2025-07-04 09:00:00 UTC", datetime(2025, 7, 4, 9)),
        ("%Y-%m-%d %H:%M:%S %Z", "2025-01-03 10:00:00 America/New_York", datetime(2025, 1, 3, 15)),
        ("%m/%d/%Y %I:%M %p %Z", "01/03/2025 10:00 PM EST", datetime(2025, 1, 4, 3)),
        ("%a %b %d %H:%M:%S %Z %Y", "Fri Jan 03 10:00:00 PST 2025", datetime(2025, 1, 3, 18)),
        ("%Y-%m-%d %H:%M:%S %Z", "2025-07-04 09:00:00 IST", None),  # India, Ireland, Israel
        ("%Y-%m-%d %H:%M:%S %Z", "2025-07-04 09:00:00 WAST", None),
        ("%Y-%m-%d %H:%M:%S %Z", "2025-07-04 09:00:00", None),
    ],
)
def test_a_zone_abbreviation_reads_as_its_offset_and_an_ambiguous_one_not_at_all(
    pattern, text, utc
):
    assert _scalar(timestamp_sql("t", [pattern], "."), text) == utc


@given(
    moment=st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1)),
    zone=st.sampled_from(sorted(ZONE_ABBREVIATIONS)),
)
def test_every_zone_abbreviation_reads_as_the_instant_its_offset_gives(moment, zone):
    offset = ZONE_ABBREVIATIONS[zone]
    written = moment.replace(microsecond=0)
    sign = 1 if offset[0] == "+" else -1
    shift = timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5])) * sign
    text = f"{written:%Y-%m-%d %H:%M:%S} {zone}"
    assert _scalar(timestamp_sql("t", ["%Y-%m-%d %H:%M:%S %Z"], "."), text) == written - shift


@pytest.mark.parametrize(
    ("text", "read"),
    [
        ("45292", datetime(2024, 1, 1)),
        ("45293.5", datetime(2024, 1, 2, 12)),
        ("45300.041666667", datetime(2024, 1, 9, 1)),  # to the millisecond, as Excel keeps it
        ("61", datetime(1900, 3, 1)),
        ("60", None),  # Excel's 1900-02-29, a day that never was
        ("2958466", None),  # after 9999-12-31
        ("1e300", None),  # far outside: never cast
        ("45292,5", None),
        ("2024-01-01", None),
    ],
)
def test_excel_serial_days_read_from_1900_03_01_on(text, read):
    assert _scalar(timestamp_sql("t", ["excel_days"], "."), text) == read


@given(moment=st.datetimes(min_value=datetime(1900, 3, 1), max_value=datetime(9999, 12, 30)))
def test_a_time_excel_writes_as_serial_days_reads_back_to_the_millisecond(moment):
    moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    serial = (moment - datetime(1899, 12, 30)) / timedelta(days=1)
    assert _scalar(timestamp_sql("t", ["excel_days"], "."), repr(serial)) == moment


def test_a_fraction_of_a_serial_day_is_written_in_the_source_zone_and_a_whole_day_is_not():
    times = TimeZones(written_in="America/New_York", stored_in="UTC")
    read = timestamp_sql("t", ["excel_days"], ".", times)
    assert _scalar(read, "45292.5") == datetime(2024, 1, 1, 17)
    assert _scalar(read, "45292") == datetime(2024, 1, 1)


def _unparseable_detail(
    decimal: str, text: str, currency: str | None = None, negatives: str = "minus"
) -> str | None:
    """The quarantine detail of an item whose numeric attribute `price` is `text`."""
    source = Source(
        "i.csv",
        None,
        "utf-8",
        {"item_id": "id"},
        ("iso",),
        attributes=(Attribute("price", "price", "numeric"),),
        decimal=decimal,
        currency_symbol=currency,
        negatives=negatives,
    )
    failed = failed_check_sql(entity_checks("item_id", ["item_id"], Rules(), source))
    row = "SELECT '7' AS item_id, ?::VARCHAR AS price_text"
    parsed = f"SELECT *, {source_number_sql('price_text', source)} AS price FROM ({row})"
    return _one(f"SELECT ({failed}).detail FROM ({parsed})", [text])


@pytest.mark.parametrize(
    ("decimal", "text", "detail"),
    [
        (".", "4,50", "price 4,50 is not a finite number" + HINT),
        (".", "4,5e2", "price 4,5e2 is not a finite number" + HINT),
        (".", "1.234,50", "price 1.234,50 is not a finite number"),
        (".", "1,234.50", "price 1,234.50 is not a finite number" + GROUPS_HINT.format(",")),
        (".", "1,234", "price 1,234 is not a finite number" + HINT),  # a comma first
        (".", "abc", "price abc is not a finite number"),
        (",", "4.50", "price 4.50 is not a finite number"),
        (",", "1.234,50", "price 1.234,50 is not a finite number" + GROUPS_HINT.format(".")),
        (",", "4,50", None),
        (",", "1 234,50", "price 1 234,50 is not a finite number" + GROUPS_HINT.format(" ")),
        (
            ",",
            "1\u202f234,50",
            "price 1\u202f234,50 is not a finite number" + GROUPS_HINT.format(" "),
        ),
    ],
)
def test_a_decimal_comma_or_digit_groups_are_hinted_at(decimal, text, detail):
    assert _unparseable_detail(decimal, text) == detail


@pytest.mark.parametrize(
    ("currency", "text", "detail"),
    [
        (None, "$49.00", "price $49.00 is not a finite number" + CURRENCY_HINT.format("$")),
        (None, "-$49.00", "price -$49.00 is not a finite number" + CURRENCY_HINT.format("$")),
        (
            None,
            "49.00 USD",
            "price 49.00 USD is not a finite number" + CURRENCY_HINT.format("USD"),
        ),
        (
            None,
            "1.234,50 €",
            "price 1.234,50 € is not a finite number" + CURRENCY_HINT.format("€"),
        ),
        ("$", "$1,234.50", "price $1,234.50 is not a finite number" + GROUPS_HINT.format(",")),
        ("$", "$4,50", "price $4,50 is not a finite number" + HINT),
        ("$", "£49.00", "price £49.00 is not a finite number"),
        ("$", "$49.00", None),
        (None, "49.00", None),
    ],
)
def test_a_currency_symbol_is_hinted_at(currency, text, detail):
    assert _unparseable_detail(".", text, currency) == detail


@pytest.mark.parametrize(
    ("decimal", "thousands", "symbol", "text", "number"),
    [
        (".", ",", "$", "$1,200.00", 1200.0),
        (".", ",", "$", "-$49.00", -49.0),
        (".", ",", "$", "$-49.00", -49.0),
        (".", ",", "$", "-$ 49.00", -49.0),
        (".", ",", "$", "49.00", 49.0),
        (",", ".", "€", "1.200,00 €", 1200.0),
        (",", ".", "€", "-1.200,00€", -1200.0),
        (",", " ", "€", "1 200,00 €", 1200.0),
        (".", None, "USD", "49.00 USD", 49.0),
        (",", ".", "kr.", "1.200,50 kr.", 1200.5),
        (",", None, "€", "49,00\u00a0€", 49.0),  # a no-break space before the symbol
        (",", " ", "€", "1\u202f234,56\u00a0€", 1234.56),
        (".", ",", "$", "$$49.00", None),
        (".", ",", "$", "$49.00$", None),
        (".", ",", "$", "£49.00", None),
        (".", ",", "$", "- $49.00", None),
        (".", ",", "$", "--$49.00", None),
        (".", ",", "$", "$", None),
        (".", None, "USD", "49.00  USD", None),
    ],
)
def test_a_number_beside_the_source_currency_symbol_is_read(
    decimal, thousands, symbol, text, number
):
    assert _scalar(number_sql("t", decimal, thousands, symbol), text) == number


@pytest.mark.parametrize(
    ("currency", "negatives", "text", "detail"),
    [
        (None, "minus", "(49.00)", "(49.00) is not a finite number" + PARENTHESES_HINT),
        ("$", "minus", "($49.00)", "($49.00) is not a finite number" + PARENTHESES_HINT),
        (None, "minus", "49.00-", "49.00- is not a finite number" + TRAILING_MINUS_HINT),
        # the symbol first: its hint names it without the parentheses
        (None, "minus", "($49.00)", "($49.00) is not a finite number" + CURRENCY_HINT.format("$")),
        (None, "parentheses", "49.00-", "49.00- is not a finite number"),
        (None, "parentheses", "(-49.00)", "(-49.00) is not a finite number"),
        (None, "trailing_minus", "-49.00-", "-49.00- is not a finite number"),
        (None, "parentheses", "(49.00)", None),
        (None, "trailing_minus", "49.00-", None),
    ],
)
def test_negatives_written_another_way_are_hinted_at(currency, negatives, text, detail):
    expected = None if detail is None else f"price {detail}"
    assert _unparseable_detail(".", text, currency, negatives) == expected


@pytest.mark.parametrize(
    ("decimal", "thousands", "symbol", "negatives", "text", "number"),
    [
        (".", ",", None, "parentheses", "(1,200.50)", -1200.5),
        (".", ",", "$", "parentheses", "($1,200.50)", -1200.5),
        (".", ",", "$", "parentheses", "(1,200.50 $)", -1200.5),
        (".", ",", "$", "parentheses", "-$49.00", -49.0),
        (".", ",", "$", "parentheses", "$49.00", 49.0),
        (",", ".", None, "parentheses", "(1.200,50)", -1200.5),
        (".", None, None, "parentheses", "(49.00", None),
        (".", None, None, "parentheses", "49.00)", None),
        (".", None, None, "parentheses", "((49.00))", None),
        (".", None, None, "parentheses", "(-49.00)", None),
        (".", None, None, "parentheses", "()", None),
        (".", ",", None, "trailing_minus", "1,200.50-", -1200.5),
        (",", ".", "€", "trailing_minus", "1.200,50 €-", -1200.5),
        (".", None, None, "trailing_minus", "-49.00", -49.0),
        (".", None, None, "trailing_minus", "-49.00-", None),
        (".", None, None, "trailing_minus", "49.00--", None),
        (".", None, None, "trailing_minus", "-", None),
        (".", None, None, "minus", "(49.00)", None),
        (".", None, None, "minus", "49.00-", None),
    ],
)
def test_a_negative_number_reads_as_the_source_writes_it(
    decimal, thousands, symbol, negatives, text, number
):
    assert _scalar(number_sql("t", decimal, thousands, symbol, negatives), text) == number


@given(
    number=st.decimals(min_value=-(10**9), max_value=10**9, places=2, allow_nan=False),
    symbol=st.sampled_from([None, "$", "€"]),
    style=st.sampled_from(["parentheses", "trailing_minus"]),
)
def test_an_amount_reads_back_in_its_negatives_style_and_never_in_the_other(number, symbol, style):
    amount = f"{abs(number):,.2f}" if symbol is None else f"{symbol}{abs(number):,.2f}"
    negative = f"({amount})" if style == "parentheses" else f"{amount}-"
    text = negative if number < 0 else amount
    other = "trailing_minus" if style == "parentheses" else "parentheses"
    own, wrong, undeclared = _one(
        f"SELECT {number_sql('t', '.', ',', symbol, style)}, "
        f"{number_sql('t', '.', ',', symbol, other)}, {number_sql('t', '.', ',', symbol)} "
        "FROM (SELECT ?::VARCHAR AS t)",
        [text],
        row=True,
    )
    assert own == float(number)
    assert wrong == undeclared == (None if number < 0 else float(number))


@given(
    number=st.decimals(min_value=-(10**9), max_value=10**9, places=2, allow_nan=False),
    symbol=st.sampled_from(["$", "€", "USD", "R$", "kr."]),
    after=st.booleans(),
    blank=st.sampled_from(["", " "]),
)
def test_an_amount_reads_back_with_its_symbol_and_never_with_another(number, symbol, after, blank):
    digits = f"{abs(number):,.2f}"
    sign = "-" if number < 0 else ""
    text = f"{sign}{digits}{blank}{symbol}" if after else f"{sign}{symbol}{blank}{digits}"
    other = "£" if symbol != "£" else "$"
    own, wrong, undeclared = _one(
        f"SELECT {number_sql('t', '.', ',', symbol)}, {number_sql('t', '.', ',', other)}, "
        f"{number_sql('t', '.', ',')} FROM (SELECT ?::VARCHAR AS t)",
        [text],
        row=True,
    )
    assert own == float(number)
    assert wrong is None and undeclared is None


@given(
    number=st.decimals(min_value=-(10**12), max_value=10**12, places=2, allow_nan=False),
    separators=st.sampled_from([(".", ","), (".", "'"), (".", " "), (",", "."), (",", " ")]),
)
def test_a_number_written_with_digit_groups_reads_back_with_thousands(number, separators):
    decimal, thousands = separators
    grouped = f"{number:,.2f}".replace(",", "_").replace(".", decimal).replace("_", thousands)
    plain = f"{number:.2f}".replace(".", decimal)
    with_groups, as_plain, undeclared = _one(
        f"SELECT {number_sql('g', decimal, thousands)}, {number_sql('p', decimal, thousands)}, "
        f"{number_sql('g', decimal)} FROM (SELECT ?::VARCHAR AS g, ?::VARCHAR AS p)",
        [grouped, plain],
        row=True,
    )
    assert with_groups == as_plain == float(number)
    assert undeclared == (None if abs(number) >= 1000 else float(number))  # never guessed


def _indian(whole: int) -> str:
    """A whole number in the Indian grouping: the last three digits, then groups of two."""
    digits = str(whole)
    head, tail = digits[:-3], digits[-3:]
    pairs = [head[max(0, i - 2) : i] for i in range(len(head), 0, -2)][::-1]
    return ",".join([*pairs, tail]) if head else tail


@given(
    number=st.decimals(min_value=-(10**12), max_value=10**12, places=2, allow_nan=False),
    symbol=st.sampled_from([None, "₹"]),
)
def test_a_number_in_the_indian_grouping_reads_back_with_thousands_comma(number, symbol):
    whole, fraction = f"{abs(number):.2f}".split(".")
    text = f"{'-' if number < 0 else ''}{symbol or ''}{_indian(int(whole))}.{fraction}"
    with_groups, undeclared = _one(
        f"SELECT {number_sql('t', '.', ',', symbol)}, {number_sql('t', '.', None, symbol)} "
        "FROM (SELECT ?::VARCHAR AS t)",
        [text],
        row=True,
    )
    assert with_groups == float(number)
    assert undeclared == (None if abs(number) >= 1000 else float(number))


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("1,00,000.50", 100000.5),
        ("12,34,567", 1234567.0),
        ("1,00,00,000", 10000000.0),
        ("1,234,567", 1234567.0),  # the international grouping still reads
        ("123,45,678", None),
        ("1,00,000,000", None),
        ("12,34", None),
    ],
)
def test_the_indian_grouping_reads_with_thousands_comma_and_nothing_else_does(text, number):
    assert _scalar(number_sql("t", ".", ","), text) == number


@pytest.mark.parametrize(
    ("text", "read"),
    [
        ("\\N", None),
        (" NULL ", None),
        ("", None),
        (" ", None),
        ("NULLS", "NULLS"),
        (" a ", "a"),
        ("\\n", "\\n"),
    ],
)
def test_a_missing_text_reads_as_a_blank_does(text, read):
    assert _scalar(cleaned("t", ("\\N", "NULL")), text) == read


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("1 234,56", 1234.56),
        ("1\u00a0234,56", 1234.56),  # a no-break space, as French Excel writes groups
        ("-1\u202f234\u202f567,5", -1234567.5),  # a narrow one, as newer locales do
        ("1  234,56", None),
        ("12\u00a034,56", None),
    ],
)
def test_a_blank_between_digit_groups_reads_in_its_no_break_forms(text, number):
    assert _scalar(number_sql("t", ",", " "), text) == number


@pytest.mark.parametrize("text", ["1,2345", "12,34", ",123", "1,,234", "1,234,56", "1 234"])
def test_a_separator_outside_groups_of_three_is_not_a_number(text):
    assert _scalar(number_sql("t", ".", ","), text) is None


@pytest.mark.parametrize(
    ("expression", "qty", "price", "value"),
    [
        ("qty * price", "2", "4,50", 9.0),
        ("qty * price / 4", "-1", "0,5", -0.125),
        ("qty * price * 1e20", "3", "1,5", 4.5e20),
        ("COALESCE(price, qty)", None, "4,50", 4.5),
        ("COALESCE(price, qty)", None, "4.50", None),
        ("qty * price", "2", "4.50", None),
    ],
)
def test_a_derived_value_reads_and_writes_a_decimal_comma(expression, qty, price, value):
    """Operands read with the comma; a computed number and passed-on text read back alike."""
    computed, _ = derived_sql(
        expression, lambda name: f'"{name}"', lambda sql: number_sql(sql, ",")
    )
    text = derived_text_sql(computed, ",")
    row = "SELECT ?::VARCHAR AS qty, ?::VARCHAR AS price"
    assert _one(f"SELECT {number_sql(text, ',')} FROM ({row})", [qty, price]) == value


@pytest.mark.parametrize("expression", ["qty * price", "(qty * price - 1) / qty + price"])
def test_each_field_a_derived_value_reads_is_read_once_in_the_staging_sql(expression):
    """The layers above read the value and its fields several times, each copying what it
    reads: written in place, the statement would grow as the product of those copies."""
    columns = {"user_id": "u", "timestamp": "t", "event_type": "e", "value": {"expr": expression}}
    config = parse_config({"events": {"files": "e.csv", "columns": columns}}, Path("/d/x.yaml"))
    (source,) = config.events
    names = ("u", "t", "e", "qty", "price")
    staged = StagedFile("read_csv('e.csv')", 0, "e.csv", "csv", dict.fromkeys(names, "VARCHAR"), 0)
    statement = stage_events_sql(staged, source, config.rules)
    assert [statement.count(cleaned(f'"{name}"')) for name in ("qty", "price")] == [1, 1]


@pytest.mark.parametrize(
    ("fmt", "text", "expected"),
    [
        ("epoch_s", "1398138780", datetime(2014, 4, 22, 3, 53)),
        ("epoch_ms", "1398138780123", datetime(2014, 4, 22, 3, 53, 0, 123000)),
        ("epoch_us", "1398138780123456", datetime(2014, 4, 22, 3, 53, 0, 123456)),
        ("epoch_us", "1398138780123456.0", datetime(2014, 4, 22, 3, 53, 0, 123456)),
        ("epoch_us", "1398138780", datetime(1970, 1, 1, 0, 23, 18, 138780)),
        ("epoch_us", "1e400", None),
        ("epoch_us", "9999999999999999999999", None),
        ("epoch_ns", "1398138780123456789", datetime(2014, 4, 22, 3, 53, 0, 123456)),
        ("epoch_ns", "1398138780999999999.0", datetime(2014, 4, 22, 3, 53, 0, 999999)),
        ("epoch_ns", "1398138780123456789.5", None),
        ("epoch_ns", "1.398138780123456789e18", None),
        ("epoch_ns", "99999999999999999999", None),
        ("epoch_ns", "abc", None),
        ("epoch_s", "1398138780123", None),  # milliseconds: the year 46275
        ("epoch_s", "253402300799", datetime(9999, 12, 31, 23, 59, 59)),
        ("epoch_ms", "1398138780123456", None),
    ],
)
def test_each_epoch_format_reads_its_unit(fmt, text, expected):
    assert _scalar(timestamp_sql("t", [fmt], "."), text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1398138780", datetime(2014, 4, 22, 3, 53)),
        ("1398138780123", datetime(2014, 4, 22, 3, 53, 0, 123000)),
        ("1398138780123456", datetime(2014, 4, 22, 3, 53, 0, 123456)),
    ],
)
def test_epoch_units_listed_smaller_first_each_read_their_own_numbers(text, expected):
    """A file joined from two trackers, one writing seconds and one milliseconds."""
    formats = ["epoch_s", "epoch_ms", "epoch_us"]
    assert _scalar(timestamp_sql("t", formats, "."), text) == expected


def test_a_larger_epoch_unit_listed_first_is_refused(tmp_path):
    columns = {"user_id": "u", "timestamp": "t", "event_type": "e"}
    events = {"files": "e.csv", "columns": columns, "timestamp_formats": ["epoch_ms", "epoch_s"]}
    with pytest.raises(ConfigError, match=r"list the smaller unit first \(epoch_s, epoch_ms\)"):
        parse_config({"events": events}, tmp_path / "dataset.yaml")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-05 10:00:00 UTC", datetime(2024, 3, 5, 10)),
        ("2024-03-05 10:00:00.123456 UTC", datetime(2024, 3, 5, 10, 0, 0, 123456)),
        ("2024-03-05T10:00:00+02:00", datetime(2024, 3, 5, 8)),
        ("2024-03-05 10:00:00 utc", None),
        ("2024-03-05 10:00:00 CET", None),
        ("2024-03-05 UTC", None),
    ],
)
def test_iso_reads_a_utc_suffix_as_offset_zero(text, expected):
    assert _scalar(timestamp_sql("t", ["iso"], "."), text) == expected


SCIENTIFIC = re.compile(r"-?[0-9](\.[0-9]+)?[eE]\+[0-9]+")


@given(
    st.from_regex(SCIENTIFIC, fullmatch=True)
    | st.text(st.sampled_from("0123456789.-+eE x"), min_size=1, max_size=14)
)
def test_only_scientific_notation_is_a_mangled_id(text):
    source = Source("u.csv", None, "utf-8", {"user_id": "id"}, ("iso",))
    failed = failed_check_sql(entity_checks("user_id", ["user_id"], Rules(), source))
    reason = _one(f"SELECT ({failed}).reason FROM (SELECT ?::VARCHAR AS user_id)", [text])
    assert reason == ("scientific_notation_id" if SCIENTIFIC.fullmatch(text) else None)


@pytest.mark.parametrize(
    ("fields", "totals"),
    [
        (["Total", "", "", "13,956.26"], True),
        (["Grand Total:", "", "1e+20", ""], True),
        (["", "Subtotal", "", "(1 234,50 €)"], True),
        (["GESAMTERGEBNIS", "", "12%"], True),
        (["Total général", "", "€ 1.234,50"], True),
        (["Total", "", "", ""], True),
        # A row of data has its time; a label must be a total's, exactly.
        (["Total", "u1", "2024-01-01", ""], False),
        (["Total", "1", "2"], False),
        (["Order Total", "1", "", ""], False),
        (["1", "Total", "", "5"], False),
        (["", "", "", ""], False),
    ],
)
def test_a_totals_row_is_a_totals_label_then_figures_and_blanks(fields, totals):
    assert is_totals_row(fields) is totals
    assert _totals_flag(fields) is totals


def _totals_flag(fields: list[str]) -> bool:
    """totals_row_sql over one CSV row of these fields, in an in-memory DuckDB."""
    names = [f"c{i}" for i in range(len(fields))]
    staged = StagedFile("t", 0, "t.csv", "csv", dict.fromkeys(names, "VARCHAR"), 0)
    columns = ", ".join(f"?::VARCHAR AS {name}" for name in names)
    return _one(
        f"SELECT coalesce({totals_row_sql(staged)}, false) FROM (SELECT {columns})", fields
    )


# Fields of totals rows and of rows of data, with the blanks around them that DuckDB's trim()
# would remove and Python's strip() would too, or not (tabs, no-break spaces).
TOTALS_FIELDS = st.sampled_from(
    ["", " ", "Total", " total: ", "\tTotal", "Total\u00a0", "Sub-Total", "Summe", "Order Total",
     "12", " 5 ", "5\t", "1,234.50", "(5)", "€ 3", "7 %", "2024-01-01", "u1", "x", "1e+20",
     "12\u00a0345", "\u00a0"]
)  # fmt: skip


@given(st.lists(TOTALS_FIELDS | st.text(max_size=6), min_size=1, max_size=5))
def test_the_sql_totals_row_is_the_python_one(fields):
    """The starter leaves out of its sample the lines the ingest counts as totals_row."""
    assert _totals_flag(fields) is is_totals_row(fields)
