"""Validation rules as SQL: text -> typed columns plus exactly one quarantine reason per row.

Pure functions that build DuckDB SQL text; load.py executes it. Each raw row is staged as
text (trimmed, empty -> NULL), parsed (timestamps, numbers, renamed event types) and given the
first reason that applies, in this fixed precedence (first match wins; in every table a text
table's line whose every field is empty is blank_row, one that repeats the header
repeated_header, and a text table's or sheet's line of a report's totals totals_row, before
all):

events: control_characters, derived_value_error, unparseable_value (a text column read by
        path that is not JSON), missing_required_field, sentinel_id, scientific_notation_id,
        unparseable_timestamp, timestamp_out_of_range, dropped_event_type, unknown_event_type,
        unparseable_value
        (value, or properties that are not JSON), value_out_of_range, then (across rows)
        unidentified_anonymous_id, shared_anonymous_id, identified_later (an event with only
        an anonymous_id: anonymous_events_sql), unknown_user, duplicate_event.
users:  control_characters, derived_value_error, unparseable_value (JSON text, as above),
        missing_required_field, sentinel_id, scientific_notation_id, unparseable_timestamp,
        unparseable_value, then duplicate_user.
items:  as users, then duplicate_item.

control_characters: a field read from the file holds a NUL or another control character
(U+0000-U+001F other than tab, LF and CR, or U+007F); such text is never stored.
Numbers (values, numeric attributes, epoch timestamps) must be plain decimals: optional sign,
digits, optional fraction, optional exponent (no `1_000`, `inf`, `nan`, inner blanks). The
fraction separator is the source's `decimal`: "." (default) or "," (then "4,50" is 4.5 and
"4,5e2" is 450.0, while "4.50" is unparseable); there is never a thousands separator
("1.234,50" is unparseable either way). On a "." source, an unparseable number that would
read with a decimal comma says so in its detail (DECIMAL_COMMA_HINT).
`iso` accepts only YYYY-MM-DD[(T| )HH:MM[:SS[.f]][Z| UTC|+hh[:mm]|-hh[:mm]]].

Ids are text. A numeric id written as a float with a zero fraction ("12.0", as exports that
passed through a float column do) is normalised to its integer text ("12") so that it joins
with "12" from another file; an id in scientific notation (Excel's "1.23457E+18", pandas'
"1.2345678901234568e+18": the digits are lost, so users would merge) is
scientific_notation_id; any other text is kept exactly (after trimming blanks).
A derived column (`columns: {value: {expr: "Quantity * UnitPrice"}}`) is computed from the
row's fields as text (trimmed, empty -> NULL); a column that is an operand of + - * / % is
read as a number (the plain-decimal rule, with the source's `decimal`) and every CAST is a
TRY_CAST (DuckDB's cast of the text, always with "."), so text that does not convert
quarantines the row as derived_value_error. The result, as text, is then parsed and checked
like a column value; a number the expression computed reads back as itself, whatever the
source's `decimal` (derived_text_sql).

Duplicate events (events.dedupe / rules.dedupe): by default a row repeats an earlier one when
every source field as read is equal (the raw row, across files with the same columns); a
list of source columns compares only those; `false` keeps every row.

A sentinel id (rules.sentinel_ids) in user_id/item_id of a row quarantines the row, but for
an event's user_id beside an anonymous_id, which then stands in for it as for a blank one; in
an optional id of an event (session_id, item_id) it means "no id" and is stored as NULL.
A `user_id` attribute (another user's id, e.g. an inviter) is read like the users' id column
(trimmed, "12.0" -> "12") and a sentinel in it means "no user" (NULL); an id that is not in the
users table is kept, never a reason: the referenced user may lie outside the export.

JSONL fields are read by key: a mapped name is the top-level key of that exact name when some
record of the file has it (a key may hold dots), else a dotted name is a path into nested
objects (`properties.revenue`; each part quoted, so blanks and quotes in keys work). A record
without the path gives NULL like a missing key; a path ending on an object or array gives its
JSON text, which the column's own rule then parses (never flattened). A CSV's (or Parquet's)
text column holding JSON, as a warehouse export's `properties`, is read by path the same way
(`properties.revenue` when the file has no column of that exact name); a row whose column
holds text that is not JSON is unparseable_value, before any other rule reads its fields.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import sqlglot.expressions as exp

from events.ingest.config import (
    EXCEL_DAYS,
    LEADING_MINUS,
    NEGATIVE_STYLES,
    UTC_TIMES,
    ZONE_ABBREVIATIONS,
    Attribute,
    FillDown,
    Range,
    Rules,
    Source,
    TimeZones,
    derived_tree,
)
from events.ingest.readers import XLSX, json_path, sql_string

if TYPE_CHECKING:
    import duckdb

CONTROL_CHARACTERS = "control_characters"
MISSING_REQUIRED_FIELD = "missing_required_field"
UNPARSEABLE_TIMESTAMP = "unparseable_timestamp"
TIMESTAMP_OUT_OF_RANGE = "timestamp_out_of_range"
SENTINEL_ID = "sentinel_id"
UNKNOWN_USER = "unknown_user"
DUPLICATE_EVENT = "duplicate_event"
VALUE_OUT_OF_RANGE = "value_out_of_range"
UNKNOWN_EVENT_TYPE = "unknown_event_type"
DROPPED_EVENT_TYPE = "dropped_event_type"
UNPARSEABLE_VALUE = "unparseable_value"
DUPLICATE_USER = "duplicate_user"
# A users row that is a later version of a user (users `columns.valid_from`): not an error,
# and not counted against rules.min_accepted_share.
LATER_VERSION = "later_version"
DUPLICATE_ITEM = "duplicate_item"
# An items row without an item id: no event can name it (Shopify's products export writes a
# row per extra image, with the product's handle and no SKU). Not an error, and not counted
# against rules.min_accepted_share.
ITEM_WITHOUT_ID = "item_without_id"
# A user of a users table without signup times who has no accepted event: no signup time, so
# no cutoff they can be placed at.
USER_WITHOUT_EVENTS = "user_without_events"
# A row of an events source with `blank_time: no_event` whose time is blank: it holds no event
# of that source (a subscription never canceled, in the source of cancellations).
NO_EVENT_TIME = "no_event_time"
# Quarantine reasons of rows that are not meant to be kept, not errors: a user's later
# versions (a users table of versions keeps one row per user), an items file's rows of no
# item, in a users table without signup times the users without events (a customers export
# lists them all), the rows of a `blank_time: no_event` source without a time, and blank rows.
# None counts against rules.min_accepted_share.
# A text table's line whose every field is empty (`,,,`): a spreadsheet's formatted but empty
# rows, saved to CSV below (or between) the data. No row of data, so not an error.
BLANK_ROW = "blank_row"
# A text table's line that repeats its header (`cat` of two exports, a report's page header):
# no row of data either.
REPEATED_HEADER = "repeated_header"
# A text table's or sheet's line of a report's totals (`Total,,,13956.26`, `Grand Total`, a
# grouped report's `Subtotal`): no row of data either (is_totals_row).
TOTALS_ROW = "totals_row"
NOT_ERRORS = (
    LATER_VERSION, ITEM_WITHOUT_ID, USER_WITHOUT_EVENTS, NO_EVENT_TIME, BLANK_ROW, REPEATED_HEADER,
    TOTALS_ROW,
)  # fmt: skip
# The staged columns that say a row is blank, a header or a report's totals (layout_flags);
# dropped after the checks.
BLANK_ROW_FLAG = "blank_row_flag"
BLANK_ROW_DETAIL = "every field is empty: a blank row (a spreadsheet's empty row), no data"
REPEATED_HEADER_FLAG = "repeated_header_flag"
REPEATED_HEADER_DETAIL = "the header line again (exports joined one after another?), no data"
TOTALS_ROW_FLAG = "totals_row_flag"
TOTALS_ROW_DETAIL = (
    "a report's totals: a total's label, then only figures and blanks (a BI tool's or a "
    "spreadsheet's Total row), no data"
)
EMPTY = "''"  # the empty text, in SQL
# The labels of a totals row, in the languages exports come in (case is ignored, a colon may
# follow, blanks may surround it). Exact labels only: `Order Total` may be an event type.
TOTALS_LABEL_PATTERN = (
    "(?i) *((grand |sub[- ]?)?totals?|sum|summe|gesamt|gesamtsumme|gesamtergebnis|"
    "zwischensumme|total g[e\u00e9]n[e\u00e9]ral|sous-total|totale|totale complessivo|"
    "totaal|eindtotaal|total geral):? *"
)
# A figure on a totals row: a number with digit groups, a sign or parentheses, an exponent
# (a sheet's number cell), a currency symbol or a percent sign.
TOTALS_FIGURE_PATTERN = (
    " *\\(?[-+]?[$\u20ac\u00a3\u00a5\u20b9]? ?[0-9][0-9.,' \u00a0\u202f]*"
    "([eE][-+]?[0-9]+)? ?[%$\u20ac\u00a3\u00a5\u20b9]?\\)? *"
)
DERIVED_VALUE_ERROR = "derived_value_error"
SCIENTIFIC_NOTATION_ID = "scientific_notation_id"
# A number in scientific notation as Excel saves one (`1.23457E+18`, `1E+11`) or pandas
# writes a float column (`1.2345678901234568e+18`).
SCIENTIFIC_ID_PATTERN = r"-?[0-9](\.[0-9]+)?[eE]\+[0-9]+"
SCIENTIFIC_ID = sql_string(SCIENTIFIC_ID_PATTERN)
# An anonymous event (no user id, an `anonymous_id`) that names no one user in time.
UNIDENTIFIED_ANONYMOUS_ID = "unidentified_anonymous_id"
SHARED_ANONYMOUS_ID = "shared_anonymous_id"
IDENTIFIED_LATER = "identified_later"
# Stage column: the event's user id came from its anonymous id (anonymous_events_sql).
STITCHED = "stitched"
# Stage column: the text explaining why a derived column failed (NULL when none did).
DERIVED_ERROR = "derived_error_text"
# Columns of the layers under the stage's text: a derived field's value, and below it each
# source field its expression reads (as text), computed once there because the layers above
# read each several times and copy what they read (in place, the statement, and the time
# to plan it, would grow as the product of those copies).
DERIVED_VALUE = "usagecast_derived_{}"
DERIVED_OPERAND = "usagecast_operand_{}"
# Stage column: the text columns read by path that do not hold JSON (NULL when none).
JSON_ERROR = "json_error_text"
# Stage column: the hash of what a duplicate event repeats (NULL: never a duplicate); the
# compared fields themselves are read again only for rows sharing a hash.
DEDUPE_HASH = "dedupe_hash"
# Column of the rows read again: the compared fields.
DEDUPE_KEY = "dedupe_key"
ARITHMETIC = (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod, exp.Neg)

ATTRIBUTE_SQL_TYPES = {
    "categorical": "VARCHAR",
    "numeric": "DOUBLE",
    "timestamp": "TIMESTAMP",
    "user_id": "VARCHAR",
}
CONTROL_PATTERN = "[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]"
# Excel's serial days (EXCEL_DAYS) count from 1899-12-30, so 25569 is 1970-01-01; they are
# read from 61 (1900-03-01, after Excel's phantom 1900-02-29) to 9999-12-31, its last.
EXCEL_UNIX_DAY = 25_569
EXCEL_DAY_RANGE = (61, 2_958_465)
MILLISECONDS_PER_DAY = 86_400_000
# Microseconds in one unit of each epoch format (BigQuery and GA4 export microseconds).
EPOCH_MICROSECONDS = {"epoch_s": 1_000_000, "epoch_ms": 1_000, "epoch_us": 1}
# Nanoseconds since 1970 (pandas' int64 view of a datetime, ClickHouse's DateTime64(9)): read
# as an integer, since a DOUBLE holds such a number only to about 256 ns.
EPOCH_NANOSECONDS = "epoch_ns"
# 10000-01-01 in microseconds since 1970: an epoch that lands there or later is not read (it
# is in a smaller unit than declared: milliseconds read as seconds land in the year 55000),
# so a smaller unit listed first leaves each larger one's numbers to it.
EPOCH_END_MICROSECONDS = 253_402_300_800_000_000
WHOLE_NUMBER = "^(-?[0-9]+)(\\.0*)?$"  # its digits, a zero fraction allowed
# strptime directives of a time of day; a pattern without any reads calendar days.
TIME_DIRECTIVES = ("%H", "%I", "%M", "%S", "%f", "%g", "%n", "%p", "%X", "%c", "%T", "%R", "%s")
ZONE_DIRECTIVES = ("%z", "%Z")
# Added to an unparseable time's detail under a %Z pattern when the text ends in capitals
# (UNKNOWN_ZONE_PATTERN) that are none of the source's zone abbreviations.
ZONE_HINT = (
    " (a zone abbreviation with no one meaning? name its offset on this source: "
    'zone_abbreviations: {IST: "+05:30"})'
)
UNKNOWN_ZONE_PATTERN = "(^|[^A-Za-z])[A-Z]{2,5}( [0-9]{4})?$"
# No-break spaces (U+00A0, U+202F) that French and other locales write between digit
# groups: a source with `thousands: " "` reads them as its blank.
NO_BREAK_SPACES = ("\u00a0", "\u202f")
ISO_DATE_LENGTH = len("2024-01-31")
# A plain decimal number without its sign; `{whole}` is its whole part's digits and
# `{decimal}` the source's fraction separator (number_pattern).
UNSIGNED_NUMBER = "({whole}({decimal}[0-9]*)?|{decimal}[0-9]+)([eE][+-]?[0-9]+)?"
# A negative number written otherwise than with a leading minus (config.NEGATIVE_STYLES);
# `{amount}` is an unsigned number, beside the source's currency symbol if it has one.
NEGATIVE_PATTERNS = {"parentheses": "\\({amount}\\)", "trailing_minus": "{amount}-"}
# Added to an unparseable number's detail (default "." source) when text reads under ",".
DECIMAL_COMMA_HINT = ' (a decimal comma? set decimal: "," on this source)'
# ... and when it reads with digit-group separators (`1,234.50`).
THOUSANDS_HINT = ' (digit groups? set thousands: "{separator}" on this source)'
# ... and when it is a number beside a symbol or code (`$49.00`, `49,00 €`, `49.00 USD`):
# the symbol (the text without its number's characters) goes between the two parts.
CURRENCY_HINT = (' (a currency symbol? set currency_symbol: "', '" on this source)')
# ... and when it is a negative number written otherwise than with a leading minus.
NEGATIVES_HINT = ' (a negative number? set negatives: "{style}" on this source)'
AMOUNT_SYMBOL_PATTERN = "[^0-9.,'+ ()-]{1,5}"
NOT_SYMBOL_PATTERN = "[0-9.,'+ ()-]"
ISO_PATTERN = (
    "[0-9]{4}-[0-9]{2}-[0-9]{2}"
    "([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\\.[0-9]+)?)?([Zz]| UTC|[+-][0-9]{2}(:?[0-9]{2})?)?)?"
)


def ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def sql_list(values: Sequence[str]) -> str:
    """A parenthesised list of SQL string literals."""
    return "(" + ", ".join(sql_string(v) for v in values) + ")"


@dataclass(frozen=True)
class Check:
    """One quarantine rule: the reason, a SQL condition, and a SQL text explaining it."""

    reason: str
    condition: str
    detail: str


def jsonl_keys(column: str, is_key: bool) -> list[str]:
    """The JSON keys a JSONL source reads for a mapped name, outermost first.

    The top-level key of that exact name when some record of the file has it (`is_key`; a key
    may hold dots), else a dotted name is a path into nested objects (`properties.revenue`).
    """
    return [column] if is_key or "." not in column else column.split(".")


def raw_text(
    file_format: str,
    column: str,
    column_type: str | None,
    as_json: bool,
    key_value_lists: Collection[str] = (),
    json_text: Collection[str] = (),
) -> str:
    """SQL for one raw field as text: JSONL fields by key or path, typed Parquet columns (or
    fields of their struct columns, by a dotted path) cast.

    A JSONL column's type is None when no record has it as a key (jsonl_keys: then a dotted
    name is a path). A path missing in a record reads as NULL, like a missing key; a nested
    value is its JSON text. `as_json` keeps a nested value as JSON text (for `properties`).
    A Parquet name `LIST.KEY` whose LIST is one of the file's `key_value_lists` reads the
    value of the list's element with that key (key_value_text). A name `COLUMN.KEY...` whose
    COLUMN is one of `json_text`, text columns holding JSON (a CSV's `properties`), reads the
    path inside it as in JSONL; text that is not JSON reads NULL (json_error_sql names it).
    """
    listed, dot, list_key = column.partition(".")
    if file_format == "jsonl":
        if column_type is None and dot and listed in key_value_lists:
            return json_key_value_text(listed, list_key)
        return _json_path_text("json", jsonl_keys(column, column_type is not None), as_json)
    if column_type == "VARCHAR":
        return ident(column)
    if column_type is None and dot and listed in key_value_lists:
        return key_value_text(listed, list_key)
    if column_type is None and dot and listed in json_text:
        document = ident(listed)
        inside = _json_path_text(document, list_key.split("."), as_json)
        return f"CASE WHEN json_valid({document}) THEN {inside} END"
    first, *keys = [column] if column_type is not None else column.split(".")
    value = ident(first)
    for key in keys:  # a Parquet path through struct columns (load checked that it exists)
        value = f"struct_extract({value}, {sql_string(key)})"
    if as_json:
        return f"to_json({value})::VARCHAR"
    return f"CAST({value} AS VARCHAR)"


def _json_path_text(document: str, keys: Sequence[str], as_json: bool) -> str:
    """The text at a path of keys in a JSON document; `as_json`: a nested value as its JSON
    text, a string as itself."""
    path = json_path(keys)
    if as_json:
        return (
            f"CASE json_type({document}, {path}) WHEN 'VARCHAR' THEN json_extract_string("
            f"{document}, {path}) WHEN 'NULL' THEN NULL ELSE json_extract({document}, {path})"
            "::VARCHAR END"
        )
    return f"json_extract_string({document}, {path})"


def json_error_sql(json_text: Collection[str]) -> str:
    """JSON_ERROR: the text columns read by path (raw_text's `json_text`) that hold text
    which is not JSON, comma-separated; NULL when every one is JSON or blank."""
    culprits = ", ".join(
        f"CASE WHEN trim({ident(c)}) <> '' AND NOT json_valid({ident(c)}) THEN {sql_string(c)} END"
        for c in sorted(json_text)
    )
    return f"NULLIF(concat_ws(', ', {culprits}), '')"


def key_value_text(column: str, key: str) -> str:
    """The value of the first element of a key/value list column (GA4's `event_params`) whose
    key is `key`, as text: a scalar value as it is, a struct of typed alternatives
    (`string_value`, `int_value`, `double_value`, ...) as its first non-NULL field. No such
    element, or a NULL list: NULL."""
    found = f"to_json(list_filter({ident(column)}, lambda p: p.key = {sql_string(key)})[1].value)"
    return _first_alternative_text(found)


# The spellings of a JSON name/value pair's keys read as a key/value list: GA4's {key, value},
# AWS's {Name, Value} (Cognito's user `Attributes`, a resource's tags), and {name, value}.
PAIR_KEYS = (("key", "value"), ("Name", "Value"), ("name", "value"))


def json_pair_name(element: str) -> str:
    """The name of a JSON name/value pair (`element`, JSON), in whichever spelling it has."""
    names = (f"json_extract_string({element}, '$.{name}')" for name, _ in PAIR_KEYS)
    return f"coalesce({', '.join(names)})"


def json_key_value_text(column: str, key: str) -> str:
    """key_value_text for a JSONL record's array of name/value objects (GA4's `event_params`
    in a BigQuery JSON export, Cognito's user `Attributes`: PAIR_KEYS); a record whose
    `column` is no array reads NULL."""
    path = json_path(jsonl_keys(column, True))
    elements = f"CAST(json_extract(json, {path}) AS JSON[])"
    element = f"list_filter({elements}, lambda p: {json_pair_name('p')} = {sql_string(key)})[1]"
    values = (
        f"json_extract({element}, '$.{held}')" for held in dict.fromkeys(v for _, v in PAIR_KEYS)
    )
    found = f"coalesce({', '.join(values)})"
    return f"CASE WHEN json_type(json, {path}) = 'ARRAY' THEN {_first_alternative_text(found)} END"


def _first_alternative_text(found: str) -> str:
    """A key/value element's value (`found`, JSON) as text: a scalar as it is, an object of
    typed alternatives (`string_value`, `int_value`, ...) as its first non-NULL field."""
    return (
        f"CASE WHEN json_type({found}) = 'OBJECT' THEN list_filter(json_extract_string("
        f"{found}, '$.*'), lambda x: x IS NOT NULL)[1] ELSE json_extract_string({found}, '$') END"
    )


def key_value_lists(columns: Iterable[tuple[str, duckdb.DuckDBPyType]]) -> Iterator[str]:
    """The list columns whose elements are {key, value} structs (GA4's `event_params` and
    `user_properties`): `LIST.KEY` names a value in them. A name holding a dot is left out."""
    for name, column_type in columns:
        if "." in name or column_type.id != "list":
            continue
        element = column_type.children[0][1]
        if element.id == "struct" and [n for n, _ in element.children] == ["key", "value"]:
            yield name


def struct_field_paths(columns: Iterable[tuple[str, duckdb.DuckDBPyType]]) -> Iterator[str]:
    """Dotted paths to the fields of struct columns at any depth (`properties.revenue`):
    what a Parquet source may map besides its columns. A name holding a dot is on no path
    (a dotted path could not tell it apart)."""
    for name, column_type in columns:
        if "." not in name:
            yield from _field_paths(name, column_type)


def _field_paths(path: str, column_type: duckdb.DuckDBPyType) -> Iterator[str]:
    if column_type.id != "struct":
        return
    for field_name, field_type in column_type.children:
        if "." not in field_name:
            yield f"{path}.{field_name}"
            yield from _field_paths(f"{path}.{field_name}", field_type)


def cleaned(text_sql: str, missing: Sequence[str] = ()) -> str:
    """Trim blanks; an empty field is a missing one, and so is one whose text (trimmed) is one
    of the source's `missing` texts (Source.missing_texts: `\\N`, `NULL`).

    trim() copies every string, so it only runs on values that start or end with a blank
    (on clean exports that is almost none).
    """
    trimmed = f"NULLIF(trim({text_sql}), '')"
    blank = f"{text_sql} = ''"
    if missing:
        texts = sql_list(missing)
        blank += f" OR {text_sql} IN {texts}"
        trimmed = f"CASE WHEN trim({text_sql}) IN {texts} THEN NULL ELSE {trimmed} END"
    return (
        f"CASE WHEN {blank} THEN NULL "
        f"WHEN prefix({text_sql}, ' ') OR suffix({text_sql}, ' ') "
        f"THEN {trimmed} ELSE {text_sql} END"
    )


def user_id_sql(text_sql: str, rules: Rules) -> str:
    """A user id's text as every table keeps it: normalised_id, and with
    rules.strip_leading_zeros an id of digits without its leading zeros (`0000100042` ->
    `100042`; `000` -> `0`)."""
    normalised = normalised_id(text_sql)
    if not rules.strip_leading_zeros:
        return normalised
    return f"regexp_replace({normalised}, '^0+([0-9]+)$', '\\1')"


def normalised_id(text_sql: str) -> str:
    """Id text with a float-style zero fraction removed ("12.0" -> "12")."""
    return (
        f"CASE WHEN {text_sql} LIKE '%.0%' THEN regexp_replace({text_sql}, "
        f"'^(-?[0-9]+)\\.0+$', '\\1') ELSE {text_sql} END"
    )


def stored_instant_sql(instant_sql: str, times: TimeZones) -> str:
    """A TIMESTAMPTZ -> the store's wall-clock time (naive, in `times.stored_in`)."""
    return f"timezone({sql_string(times.stored_in)}, {instant_sql})"


def stored_wall_time_sql(naive_sql: str, written_in: str, times: TimeZones) -> str:
    """A naive time written in zone `written_in` -> the store's wall-clock time."""
    if written_in == times.stored_in:
        return naive_sql
    return stored_instant_sql(f"timezone({sql_string(written_in)}, {naive_sql})", times)


def iso_timestamp_sql(text_sql: str, times: TimeZones = UTC_TIMES) -> str:
    """ISO 8601 date/datetime text -> the store's wall-clock time.

    Text that is not ISO_PATTERN is NULL (DuckDB's cast would also read `2024/02/01`). A
    trailing " UTC" (BigQuery's text form of a TIMESTAMP) is an offset of zero. Text with an
    offset is an instant, shown in the store's zone; a datetime without one is written in
    `times.written_in`; a date alone is a calendar day, midnight in the store whatever zone
    it came from.

    The cheap TIMESTAMP cast would silently ignore an offset, so text that may carry one
    (a Z, " UTC", a '+', or a third '-' after the date's two) goes through TIMESTAMPTZ instead.
    """
    offset = (
        f"{text_sql} LIKE '%-%-%-%' OR contains({text_sql}, '+') "
        f"OR suffix({text_sql}, 'Z') OR suffix({text_sql}, 'z') OR suffix({text_sql}, ' UTC')"
    )
    naive = f"try_cast({text_sql} AS TIMESTAMP)"
    day = (
        f"WHEN length({text_sql}) = {ISO_DATE_LENGTH} THEN {naive} "
        if times.written_in != times.stored_in
        else ""
    )
    return (
        f"CASE WHEN NOT regexp_full_match({text_sql}, {sql_string(ISO_PATTERN)}) THEN NULL "
        f"WHEN {offset} THEN {stored_instant_sql(f'try_cast({text_sql} AS TIMESTAMPTZ)', times)} "
        f"{day}ELSE {stored_wall_time_sql(naive, times.written_in, times)} END"
    )


def zone_abbreviation_pattern(zones: Mapping[str, str]) -> str:
    """The first abbreviation of `zones` in a text, as a word (not inside `WEST` or a name)."""
    return "(^|[^A-Za-z])(" + "|".join(sorted(zones, key=len, reverse=True)) + ")([^A-Za-z]|$)"


def zone_abbreviation(text: str, zones: Mapping[str, str] = ZONE_ABBREVIATIONS) -> str | None:
    """The first zone abbreviation of `zones` written in `text` as a word."""
    found = re.search(zone_abbreviation_pattern(zones), text)
    return None if found is None else found.group(2)


def zone_abbreviation_sql(text_sql: str, zones: Mapping[str, str]) -> str:
    """SQL of zone_abbreviation ('' when none)."""
    return f"regexp_extract({text_sql}, {sql_string(zone_abbreviation_pattern(zones))}, 2)"


def zoned_strptime_sql(
    text_sql: str, pattern: str, zones: Mapping[str, str] = ZONE_ABBREVIATIONS
) -> str:
    """Text parsed by a pattern with %Z -> TIMESTAMPTZ: a zone abbreviation of `zones` is
    read as its offset, through %z; a zone name with a slash (`America/Los_Angeles`) as
    DuckDB's %Z reads it; any other text is NULL, since DuckDB would read other
    abbreviations by ICU's aliases (`BST` as Bangladesh time) or not at all (`PDT`)."""
    abbreviation = zone_abbreviation_sql(text_sql, zones)
    pairs = ", ".join(f"{sql_string(name)}: {sql_string(value)}" for name, value in zones.items())
    offsets = "MAP {" + pairs + "}"
    as_offset = sql_string(pattern.replace("%Z", "%z"))
    return (
        f"CASE WHEN {abbreviation} <> '' THEN try_strptime(replace({text_sql}, "
        f"{abbreviation}, {offsets}[{abbreviation}]), {as_offset}) "
        f"WHEN contains({text_sql}, '/') THEN try_strptime({text_sql}, {sql_string(pattern)}) END"
    )


def strptime_sql(
    text_sql: str,
    pattern: str,
    times: TimeZones = UTC_TIMES,
    zones: Mapping[str, str] = ZONE_ABBREVIATIONS,
) -> str:
    """Text parsed by a strptime pattern -> the store's wall-clock time: with %z/%Z an
    instant (%Z: zoned_strptime_sql over `zones`), with a time of day a time written in
    `times.written_in`, else a calendar day."""
    if "%Z" in pattern:
        return stored_instant_sql(zoned_strptime_sql(text_sql, pattern, zones), times)
    parsed = f"try_strptime({text_sql}, {sql_string(pattern)})"
    if any(directive in pattern for directive in ZONE_DIRECTIVES):
        return stored_instant_sql(parsed, times)
    if any(directive in pattern for directive in TIME_DIRECTIVES):
        return stored_wall_time_sql(parsed, times.written_in, times)
    return parsed


def excel_days_sql(text_sql: str, decimal: str, times: TimeZones = UTC_TIMES) -> str:
    """Excel's serial day number (EXCEL_DAY_RANGE) -> the store's time: a whole number is a
    calendar day (a date cell, never shifted), one with a fraction a wall-clock time written
    in `times.written_in`, to the millisecond (Excel keeps no finer time)."""
    number = number_sql(text_sql, decimal)
    milliseconds = f"round(({number} - {EXCEL_UNIX_DAY}) * {MILLISECONDS_PER_DAY})"
    naive = f"make_timestamp(CAST({milliseconds} AS BIGINT) * 1000)"
    first, last = EXCEL_DAY_RANGE
    return (
        f"CASE WHEN {number} < {first} OR {number} >= {last + 1} THEN NULL "
        f"WHEN {number} = floor({number}) THEN {naive} "
        f"ELSE {stored_wall_time_sql(naive, times.written_in, times)} END"
    )


def timestamp_sql(
    text_sql: str,
    formats: Sequence[str],
    decimal: str,
    times: TimeZones = UTC_TIMES,
    zones: Mapping[str, str] = ZONE_ABBREVIATIONS,
) -> str:
    """Parse text with each declared format in order; NULL when none matches.

    iso accepts dates, datetimes and UTC offsets; epoch_s/epoch_ms/epoch_us are
    seconds/milliseconds/microseconds since 1970-01-01 UTC, numbers with `decimal` as their
    fraction separator, and epoch_ns nanoseconds, a whole number; excel_days Excel's serial
    days (excel_days_sql); anything else is a strptime pattern (a %Z reads the abbreviations
    of `zones`). The result is the store's wall-clock time (`times`: iso_timestamp_sql,
    strptime_sql; an epoch is an instant).
    """
    parts = []
    for fmt in formats:
        if fmt == "iso":
            parts.append(iso_timestamp_sql(text_sql, times))
        elif fmt == EXCEL_DAYS:
            parts.append(excel_days_sql(text_sql, decimal, times))
        elif fmt in EPOCH_MICROSECONDS:
            number = number_sql(text_sql, decimal)
            micros = f"try_cast({number} * {EPOCH_MICROSECONDS[fmt]} AS BIGINT)"
            inside = f"CASE WHEN abs({micros}) < {EPOCH_END_MICROSECONDS} THEN {micros} END"
            utc = f"try(make_timestamp({inside}))"
            parts.append(stored_wall_time_sql(utc, "UTC", times))
        elif fmt == EPOCH_NANOSECONDS:
            digits = f"regexp_extract({text_sql}, {sql_string(WHOLE_NUMBER)}, 1)"
            utc = f"try(make_timestamp(try_cast({digits} AS BIGINT) // 1000))"
            parts.append(stored_wall_time_sql(utc, "UTC", times))
        else:
            parts.append(strptime_sql(text_sql, fmt, times, zones))
    return parts[0] if len(parts) == 1 else "COALESCE(" + ", ".join(parts) + ")"


def source_timestamp_sql(text_sql: str, source: Source) -> str:
    """timestamp_sql with the source's formats, decimal separator, zones and abbreviations."""
    return timestamp_sql(
        text_sql, source.timestamp_formats, source.decimal, source.times, source.zones
    )


def blank_groups(text: str) -> str:
    """`text` with the no-break spaces locales write between digit groups (NO_BREAK_SPACES)
    as plain blanks, as a source with `thousands: " "` reads them."""
    for blank in NO_BREAK_SPACES:
        text = text.replace(blank, " ")
    return text


def blank_groups_sql(text_sql: str) -> str:
    """SQL of blank_groups."""
    for blank in NO_BREAK_SPACES:
        text_sql = f"replace({text_sql}, {sql_string(blank)}, ' ')"
    return text_sql


def number_pattern(
    decimal: str,
    thousands: str | None = None,
    currency_symbol: str | None = None,
    negatives: str = LEADING_MINUS,
) -> str:
    """A plain decimal number (a regular expression) with `decimal` as the fraction
    separator; with `thousands`, the whole part may also be digit groups of three after the
    first 1-3 digits (`1,234,567.5`), and with `,` also the Indian grouping, groups of two
    before the last three (`12,34,567.5`: twelve lakh); with `currency_symbol`, the number
    may carry it before (after its sign or before it: `-$49.00`, `$-49.00`) or after it
    (`49,00 €`), one blank between them allowed; with `negatives` other than a leading
    minus, an unsigned amount may also be negative that way: `(49.00)`, `($49.00)` or
    `49.00-`."""
    symbol = None if currency_symbol is None else re.escape(currency_symbol)
    return _number_regex(decimal, thousands, symbol, negatives)


def _number_regex(
    decimal: str, thousands: str | None, symbol: str | None, negatives: str = LEADING_MINUS
) -> str:
    """number_pattern with `symbol` a regular expression (AMOUNT_SYMBOL_PATTERN for any)."""
    whole = "[0-9]+"
    if thousands is not None:
        group = re.escape(thousands)
        indian = f"|[0-9]{{1,2}}({group}[0-9]{{2}})+{group}[0-9]{{3}}" if thousands == "," else ""
        whole = f"([0-9]{{1,3}}({group}[0-9]{{3}})+{indian}|[0-9]+)"
    unsigned = UNSIGNED_NUMBER.format(whole=whole, decimal=re.escape(decimal))
    if symbol is None:
        signed, amount = f"[+-]?{unsigned}", unsigned
    else:
        signed = (
            f"[+-]?{unsigned}|[+-]?{symbol} ?{unsigned}|{symbol} ?[+-]{unsigned}"
            f"|[+-]?{unsigned} ?{symbol}"
        )
        amount = f"{unsigned}|{symbol} ?{unsigned}|{unsigned} ?{symbol}"
    negative = NEGATIVE_PATTERNS.get(negatives)
    if negative is not None:
        signed += "|" + negative.format(amount=f"({amount})")
    return signed if symbol is None and negative is None else f"({signed})"


def signed_sql(text_sql: str, negatives: str) -> str:
    """Text -> the same text with a leading minus where `negatives` writes a negative number
    another way (`(49.00)`, `49.00-` -> `-49.00`); other text unchanged (number_sql checks
    the text's form first)."""
    if negatives == "parentheses":
        return (
            f"CASE WHEN starts_with({text_sql}, '(') "
            f"THEN '-' || trim({text_sql}, '()') ELSE {text_sql} END"
        )
    if negatives == "trailing_minus":
        return (
            f"CASE WHEN suffix({text_sql}, '-') "
            f"THEN '-' || rtrim({text_sql}, '-') ELSE {text_sql} END"
        )
    return text_sql


def number_sql(
    text_sql: str,
    decimal: str,
    thousands: str | None = None,
    currency_symbol: str | None = None,
    negatives: str = LEADING_MINUS,
) -> str:
    """Text -> DOUBLE, NULL unless a plain decimal number (number_pattern) that is finite.

    `decimal` is the fraction separator ("." or ","); text with the other one is NULL unless
    it is the `thousands` separator between digit groups (a blank also in its no-break forms,
    blank_groups). `currency_symbol`, when given, is
    read as no part of the number (a no-break space beside it as a blank: `49,00\u00a0€`), and
    `negatives` says how else than with a leading minus a negative number is written.
    DuckDB's cast alone would also read `1_000`, `inf` and `nan`.
    """
    if thousands == " " or currency_symbol is not None:
        text_sql = blank_groups_sql(text_sql)
    point = signed_sql(text_sql, negatives)
    if currency_symbol is not None:
        point = f"replace(replace({point}, {sql_string(currency_symbol)}, ''), ' ', '')"
    if thousands is not None:
        point = f"replace({point}, {sql_string(thousands)}, '')"
    if decimal != ".":
        point = f"replace({point}, {sql_string(decimal)}, '.')"
    pattern = sql_string(number_pattern(decimal, thousands, currency_symbol, negatives))
    return (
        f"CASE WHEN regexp_full_match({text_sql}, {pattern}) "
        f"AND isfinite(try_cast({point} AS DOUBLE)) THEN try_cast({point} AS DOUBLE) END"
    )


def source_number_sql(text_sql: str, source: Source) -> str:
    """number_sql with the source's number format (`decimal`, `thousands`,
    `currency_symbol`, `negatives`)."""
    return number_sql(
        text_sql, source.decimal, source.thousands, source.currency_symbol, source.negatives
    )


def range_condition(column: str, bounds: Range, literal) -> str | None:
    """SQL true when the column lies outside inclusive bounds (None when unbounded)."""
    parts = []
    if bounds.min is not None:
        parts.append(f"{column} < {literal(bounds.min)}")
    if bounds.max is not None:
        parts.append(f"{column} > {literal(bounds.max)}")
    return " OR ".join(parts) or None


def _timestamp_literal(value) -> str:
    return f"TIMESTAMP {sql_string(value.isoformat(sep=' '))}"


def _bounds_text(bounds: Range) -> str:
    low = "-inf" if bounds.min is None else str(bounds.min)
    high = "inf" if bounds.max is None else str(bounds.max)
    return f"[{low}, {high}]"


def _control_check(names: Sequence[str]) -> Check:
    """Any of the row's text fields holding a control character (CONTROL_PATTERN)."""
    pattern = sql_string(CONTROL_PATTERN)
    condition = f"regexp_matches(concat({', '.join(ident(n) for n in names)}), {pattern})"
    culprits = ", ".join(
        f"CASE WHEN regexp_matches({ident(n)}, {pattern}) THEN '{n.removesuffix('_text')}' END"
        for n in names
    )
    return Check(
        CONTROL_CHARACTERS,
        condition,
        f"concat_ws(', ', {culprits}) || ' holds a control character (NUL, U+0001-U+001F "
        "other than tab/LF/CR, or U+007F)'",
    )


def _missing_check(required: Sequence[str], instead: Mapping[str, str] | None = None) -> Check:
    """Required columns are named without their `_text` suffix in the explanation; a column
    with a stand-in in `instead` (user_id: anonymous_id) is missing only when both are."""
    instead = instead or {}
    missing = {
        name: f"{name} IS NULL" + (f" AND {instead[name]} IS NULL" if name in instead else "")
        for name in required
    }
    condition = " OR ".join(
        f"({sql})" if name in instead else sql for name, sql in missing.items()
    )
    shown = {
        name: ", ".join(
            [name.removesuffix("_text"), *([instead[name]] if name in instead else [])]
        )
        for name in required
    }
    names = ", ".join(f"CASE WHEN {sql} THEN '{shown[name]}' END" for name, sql in missing.items())
    return Check(MISSING_REQUIRED_FIELD, condition, f"concat_ws(', ', {names}) || ' is empty'")


def _sentinel_check(id_column: str, rules: Rules) -> list[Check]:
    if not rules.sentinel_ids:
        return []
    return [
        Check(
            SENTINEL_ID,
            f"{id_column} IN {sql_list(rules.sentinel_ids)}",
            f"'{id_column} ' || {id_column} || ' is a sentinel id (rules.sentinel_ids)'",
        )
    ]


def _scientific_id_check(columns: Sequence[str]) -> list[Check]:
    """An id written as a number in scientific notation (`1.23457E+18`): what Excel saves
    for a long numeric id shown in a General cell, or pandas writes for an id column read as
    floats; its digits are lost, so several users would share one id. Quarantined rather
    than kept."""
    if not columns:
        return []
    found = [f"{c} ILIKE '%E+%' AND regexp_full_match({c}, {SCIENTIFIC_ID})" for c in columns]
    culprit = " ".join(
        f"WHEN {condition} THEN '{column} ' || {column}"
        for column, condition in zip(columns, found, strict=True)
    )
    return [
        Check(
            SCIENTIFIC_NOTATION_ID,
            " OR ".join(f"({condition})" for condition in found),
            f"CASE {culprit} END || ' is a number in scientific notation, as Excel saves a "
            "long id it shortened or pandas a float column (its digits are lost); export the "
            "column as text'",
        )
    ]


def _timestamp_check(name: str, source: Source) -> Check:
    """unparseable_timestamp; under a %Z pattern, text with capitals where a zone would be
    but none of the source's abbreviations gets ZONE_HINT."""
    column, text = ident(name), ident(f"{name}_text")
    formats = source.timestamp_formats
    detail = (
        f"{sql_string(name + ' ')} || {text} || "
        f"{sql_string(' matches none of ' + ', '.join(formats))}"
    )
    if any("%Z" in fmt for fmt in formats):
        unknown = (
            f"{zone_abbreviation_sql(text, source.zones)} = '' AND "
            f"regexp_matches({text}, {sql_string(UNKNOWN_ZONE_PATTERN)})"
        )
        detail += f" || CASE WHEN {unknown} THEN {sql_string(ZONE_HINT)} ELSE '' END"
    return Check(UNPARSEABLE_TIMESTAMP, f"{text} IS NOT NULL AND {column} IS NULL", detail)


def _number_check(name: str, source: Source) -> Check:
    """unparseable_value; on a "." source, text that reads as a decimal-comma number gets
    DECIMAL_COMMA_HINT; on a source without `thousands`, text that reads with the other
    separator between digit groups gets THOUSANDS_HINT; on a source that reads negative
    numbers with a leading minus only, `(49.00)` and `49.00-` get NEGATIVES_HINT; on a source
    without `currency_symbol`, a number beside a symbol or code gets CURRENCY_HINT."""
    column, text = ident(name), ident(f"{name}_text")
    detail = f"{sql_string(name + ' ')} || {text} || ' is not a finite number'"
    currency = source.currency_symbol
    hints = []
    if source.decimal == ".":
        hints.append(
            f"WHEN ({number_sql(text, ',', None, currency)}) IS NOT NULL "
            f"THEN {sql_string(DECIMAL_COMMA_HINT)}"
        )
    other = "," if source.decimal == "." else "."
    if source.thousands is None:
        hints += [
            f"WHEN ({number_sql(text, source.decimal, group, currency)}) IS NOT NULL "
            f"THEN {sql_string(THOUSANDS_HINT.format(separator=group))}"
            for group in (other, " ")
        ]
    if source.negatives == LEADING_MINUS:
        hints += [
            f"WHEN ({number_sql(text, source.decimal, source.thousands, currency, style)}) "
            f"IS NOT NULL THEN {sql_string(NEGATIVES_HINT.format(style=style))}"
            for style in NEGATIVE_PATTERNS
        ]
    if currency is None:  # whatever its separators
        amount = sql_string(
            "|".join(
                _number_regex(d, t, AMOUNT_SYMBOL_PATTERN, negatives)
                for d, t in ((".", ","), (",", "."))
                for negatives in NEGATIVE_STYLES
            )
        )
        symbol = f"regexp_replace({text}, {sql_string(NOT_SYMBOL_PATTERN)}, '', 'g')"
        opening, closing = map(sql_string, CURRENCY_HINT)
        hints.append(
            f"WHEN regexp_full_match({text}, {amount}) AND {symbol} <> '' "
            f"THEN {opening} || {symbol} || {closing}"
        )
    if hints:
        detail += f" || CASE {' '.join(hints)} ELSE '' END"
    return Check(UNPARSEABLE_VALUE, f"{text} IS NOT NULL AND {column} IS NULL", detail)


def event_checks(rules: Rules, source: Source) -> list[Check]:
    """Row-level event rules in precedence order (unknown_user/duplicates come later)."""
    mapped = {**source.columns, **source.derived}
    anonymous = {"user_id": "anonymous_id"} if "anonymous_id" in mapped else None
    checks = []
    if source.blank_time == "no_event":
        time = source.columns.get("timestamp", "timestamp")
        what = f"{time} is blank: no {source.event_type or 'event'} on this row"
        checks.append(Check(NO_EVENT_TIME, "event_time_text IS NULL", sql_string(what)))
    checks.append(_missing_check(("user_id", "event_time_text", "event_type_text"), anonymous))
    checks += _sentinel_check("user_id", rules)
    checks += _scientific_id_check([c for c in EVENT_IDS if c in mapped])
    checks.append(_timestamp_check("event_time", source))
    outside = range_condition("event_time", rules.timestamp_range, _timestamp_literal)
    if outside:
        checks.append(
            Check(
                TIMESTAMP_OUT_OF_RANGE,
                outside,
                f"'event_time ' || event_time || ' outside rules.timestamp_range "
                f"{_bounds_text(rules.timestamp_range)}'",
            )
        )
    if rules.drop_event_types:
        dropped = sql_list(rules.drop_event_types)
        checks.append(
            Check(
                DROPPED_EVENT_TYPE,
                f"event_type_text IN {dropped} OR event_type IN {dropped}",
                "'event type ' || event_type_text || ' dropped by rules.event_types.drop'",
            )
        )
    if rules.allowed_event_types is not None:
        checks.append(
            Check(
                UNKNOWN_EVENT_TYPE,
                f"event_type NOT IN {sql_list(rules.allowed_event_types)}",
                "'event type ' || event_type || ' is not in rules.event_types.allowed'",
            )
        )
    checks.append(_number_check("value", source))
    checks.append(
        Check(
            UNPARSEABLE_VALUE,
            "properties IS NOT NULL AND NOT json_valid(properties)",
            "'properties is not valid JSON'",
        )
    )
    outside = range_condition("value", rules.value_range, repr)
    if outside:
        checks.append(
            Check(
                VALUE_OUT_OF_RANGE,
                outside,
                f"'value ' || value || ' outside rules.value_range "
                f"{_bounds_text(rules.value_range)}'",
            )
        )
    return checks


def entity_checks(
    id_column: str, required: Sequence[str], rules: Rules, source: Source
) -> list[Check]:
    """Row-level rules for users or items (duplicates come later)."""
    checks = []
    if id_column == "item_id":
        checks.append(
            Check(ITEM_WITHOUT_ID, "item_id IS NULL", "'item_id is empty: a row of no item'")
        )
    checks.append(_missing_check(required))
    checks += _sentinel_check(id_column, rules)
    checks += _scientific_id_check([id_column])
    checks += [
        _timestamp_check(name.removesuffix("_text"), source)
        for name in required
        if name in ("signup_time_text", "valid_from_text")
    ]
    return checks + _attribute_checks(source.attributes, source)


def _attribute_checks(attributes: Sequence[Attribute], source: Source) -> list[Check]:
    """Timestamp attributes, then numeric ones, must parse (as the source writes them)."""
    checks = [_timestamp_check(a.name, source) for a in attributes if a.dtype == "timestamp"]
    numbers = [_number_check(a.name, source) for a in attributes if a.dtype == "numeric"]
    return checks + numbers


def failed_check_sql(checks: Sequence[Check]) -> str:
    """A CASE giving {reason, detail} of the first failing check, NULL when all pass."""
    whens = " ".join(
        f"WHEN {c.condition} THEN struct_pack(reason := {sql_string(c.reason)}, "
        f"detail := {c.detail})"
        for c in checks
    )
    return f"CASE {whens} END"


def rename_sql(text_sql: str, rename: Mapping[str, str] | None) -> str:
    """Event type after rules.event_types.rename."""
    if not rename:
        return text_sql
    whens = " ".join(
        f"WHEN {sql_string(old)} THEN {sql_string(new)}" for old, new in rename.items()
    )
    return f"CASE {text_sql} {whens} ELSE {text_sql} END"


ROW_NUMBER_COLUMN = "ordinality"


@dataclass(frozen=True)
class StagedFile:
    """One input file as the staging queries see it: a DuckDB reader and how to number rows.

    `reader` is a table function (read_csv, read_ndjson_objects, read_parquet); `WITH
    ORDINALITY` numbers its rows 1.. in file order, exactly, also under parallel scans.
    `dedupe` is the events source's duplicate rule (False for users and items);
    `control_free` says the file read holds no control character at all
    (readers.control_free), so only the fields not read from it are checked for one.
    `absent` are mapped columns this file lacks (others of its source hold them): missing.
    `key_value_lists` are its key/value list columns (Parquet's key_value_lists(), JSONL's
    arrays of {key, value} objects) and `json_text` its text columns that mapped names read
    into by path (raw_text).
    """

    reader: str
    file_key: int
    display: str
    format: str
    column_types: Mapping[str, str]
    seq_offset: int
    dedupe: bool | tuple[str, ...] = False
    control_free: bool = False
    absent: frozenset[str] = frozenset()
    key_value_lists: frozenset[str] = frozenset()
    json_text: frozenset[str] = frozenset()
    numbered: bool = False  # the reader numbers its rows itself (readers.FileReader)
    fill_down: FillDown | None = None  # the source's columns written once per group of rows
    event_type: str | None = None  # an events source's constant event type
    missing_texts: tuple[str, ...] = ()  # texts its source reads as missing (Source)


def numbered_rows_sql(staged: StagedFile) -> str:
    """The file's rows with their 1-based row number as column `ordinality`."""
    return staged.reader if staged.numbered else f"(SELECT * FROM {staged.reader} WITH ORDINALITY)"


def raw_json_sql(staged: StagedFile, alias: str) -> str:
    """The raw row as JSON text, every field as read (the JSONL line itself)."""
    if staged.format == "jsonl":
        return f"{alias}.json"
    pairs = ", ".join(f"{sql_string(name)}, {alias}.{ident(name)}" for name in staged.column_types)
    return f"json_object({pairs})::VARCHAR"


def _staged_sql(
    staged: StagedFile,
    text: Mapping[str, str],
    parsed: str,
    checks: Sequence[Check],
    extra: Mapping[str, str],
    computed: Collection[str],
    derived: Sequence[Mapping[str, str]],
) -> str:
    """file rows (with the `derived` layers' columns, lowest first) -> (text and `extra`
    columns) -> (parsed columns) -> (first failing check).

    `extra` columns (DERIVED_ERROR, DEDUPE_HASH) are not checked for control characters;
    of a control-free file only the `computed` text columns (derived, constant) are.
    """
    checked = [name for name in text if not staged.control_free or name in computed]
    flags = layout_flags(staged)
    control = [check for _, check in flags.values()]
    control += [_control_check(checked)] if checked else []
    extra = {**extra, **{flag: sql for flag, (sql, _) in flags.items()}}
    select = ", ".join(f"{sql} AS {ident(name)}" for name, sql in {**text, **extra}.items())
    # Text kept only to explain a failure is not stored: parsed columns carry the data on.
    kept_only_to_check = [name for name in {**text, **extra} if name.endswith("_text")]
    kept_only_to_check += list(flags)
    dropped = ", ".join(["failed", *map(ident, kept_only_to_check)])
    rows = numbered_rows_sql(staged)
    for layer in (layer for layer in derived if layer):
        columns = ", ".join(f"{sql} AS {ident(name)}" for name, sql in layer.items())
        rows = f"(SELECT *, {columns} FROM {rows})"
    return (
        f"SELECT * EXCLUDE ({dropped}), failed.reason AS reason, failed.detail AS detail FROM ("
        f"SELECT *, {failed_check_sql([*control, *checks])} AS failed FROM ("
        f"SELECT *{', ' + parsed if parsed else ''} FROM ("
        f"SELECT {staged.seq_offset} + {ROW_NUMBER_COLUMN} AS seq, "
        f"{staged.file_key} AS file_key, {ROW_NUMBER_COLUMN} AS source_row, {select} "
        f"FROM {rows})))"
    )


def layout_flags(staged: StagedFile) -> dict[str, tuple[str, Check]]:
    """A text table's rows that hold no data, before every other check: flag column -> (its
    SQL, its check). A blank row (blank_row_sql), a line that repeats the header, every
    field its column's name (two exports joined with `cat`), and a report's totals
    (totals_row_sql, also a sheet's); none for other formats."""
    blank = blank_row_sql(staged)
    totals = totals_row_sql(staged)
    flags = {}
    if blank is not None:
        header = " AND ".join(
            f"{ident(name)} = {sql_string(name)}" for name in staged.column_types
        )
        flags[BLANK_ROW_FLAG] = (
            blank,
            Check(BLANK_ROW, BLANK_ROW_FLAG, sql_string(BLANK_ROW_DETAIL)),
        )
        flags[REPEATED_HEADER_FLAG] = (
            header,
            Check(REPEATED_HEADER, REPEATED_HEADER_FLAG, sql_string(REPEATED_HEADER_DETAIL)),
        )
    if totals is not None:
        flags[TOTALS_ROW_FLAG] = (
            totals,
            Check(TOTALS_ROW, TOTALS_ROW_FLAG, sql_string(TOTALS_ROW_DETAIL)),
        )
    return flags


def is_totals_row(fields: Sequence[str]) -> bool:
    """A report's totals line (TOTALS_ROW): at least one field is empty (a row of data has its
    time), the first that is not is a total's label (TOTALS_LABEL_PATTERN) and every later
    one a figure (TOTALS_FIGURE_PATTERN). A field of blanks is content, as for blank_row.
    totals_row_sql is the same rule in SQL."""
    filled = [field for field in fields if field]
    return (
        len(filled) < len(fields)
        and bool(filled)
        and re.fullmatch(TOTALS_LABEL_PATTERN, filled[0]) is not None
        and all(re.fullmatch(TOTALS_FIGURE_PATTERN, field) for field in filled[1:])
    )


def totals_row_sql(staged: StagedFile) -> str | None:
    """is_totals_row of a text table's or sheet's row, in SQL; None for other formats. The
    label matches no figure, so "every later field is a figure" is "the label is the one
    filled field that is no figure"."""
    if staged.format not in ("csv", XLSX) or not staged.column_types:
        return None
    names = [ident(name) for name in staged.column_types]
    fields = [f"nullif({name}, {EMPTY})" for name in names]
    # Nested CASEs: the label is read only on rows with an empty field, and the figures only
    # on those that start with a label (few, if any).
    filled = f"coalesce({' AND '.join(f'{name} <> {EMPTY}' for name in names)}, false)"
    label = f"regexp_full_match(coalesce({', '.join(fields)}), {sql_string(TOTALS_LABEL_PATTERN)})"
    figure = sql_string(TOTALS_FIGURE_PATTERN)
    not_figures = " + ".join(
        f"coalesce({name} <> {EMPTY} AND NOT regexp_full_match({name}, {figure}), false)::INTEGER"
        for name in names
    )
    return (
        f"CASE WHEN NOT {filled} THEN CASE WHEN {label} THEN {not_figures} = 1 ELSE false END "
        "ELSE false END"
    )


def blank_row_sql(staged: StagedFile) -> str | None:
    """True for a text table's row whose every field is empty (BLANK_ROW; a field of blanks
    is content, as spreadsheets write none); None for other formats (a sheet's empty rows
    are no rows at all, excel.py)."""
    if staged.format != "csv" or not staged.column_types:
        return None
    fields = ", ".join(f"nullif({ident(name)}, '')" for name in staged.column_types)
    return f"coalesce({fields}) IS NULL"


def _field(staged: StagedFile, column: str | None, as_json: bool = False) -> str:
    """A source column's text as every staged value reads it: cleaned, filled down when the
    source's fill_down lists it."""
    if column is None or column in staged.absent:
        return "NULL::VARCHAR"
    text = cleaned(_raw_text(staged, column, as_json), staged.missing_texts)
    fill = staged.fill_down
    if fill is None or column not in fill.columns:
        return text
    return filled_down(text, cleaned(_raw_text(staged, fill.by), staged.missing_texts))


def _raw_text(staged: StagedFile, column: str, as_json: bool = False) -> str:
    """raw_text of one of the staged file's fields."""
    return raw_text(
        staged.format,
        column,
        staged.column_types.get(column),
        as_json,
        staged.key_value_lists,
        staged.json_text,
    )


def derived_sql(
    text: str,
    field: Callable[[str], str],
    number: Callable[[str], str],
    dialect: str = "duckdb",
) -> tuple[str, list[tuple[str, str]]]:
    """A derived column's expression in `dialect`, and its (input, converted) SQL pairs.

    `field(name)` is the SQL of a source field as text and `number(sql)` that text read as a
    number. An operand of arithmetic is read with `number`, every CAST becomes a TRY_CAST;
    a pair whose input is not NULL while its conversion is NULL is a value that failed.
    Source fields are bound after rendering, since `field` returns SQL that sqlglot need not
    parse: every column becomes a quoted placeholder `"usagecast_bound_N"` (a string literal
    spelling one, quotes included, would be bound too).
    """
    tree = derived_tree(text).copy()
    bound: list[str] = []
    quote = '"' if dialect == "duckdb" else "`"

    def placeholder(sql: str) -> exp.Expression:
        bound.append(sql)
        return exp.column(f"usagecast_bound_{len(bound) - 1}", quoted=True)

    def convert(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Cast):
            # safe: a TRY_CAST in every dialect (Spark's ANSI CAST raises on bad text)
            return exp.TryCast(this=node.this, to=node.args["to"], safe=True)
        if not isinstance(node, exp.Column):
            return node
        parent = node.parent
        while isinstance(parent, exp.Paren):
            parent = parent.parent
        text_sql = field(node.name)
        if isinstance(parent, ARITHMETIC):
            operand = placeholder(number(text_sql))
            pairs.append((placeholder(text_sql), operand))
            return operand
        return placeholder(text_sql)

    def bind(sql: str) -> str:
        for i in reversed(range(len(bound))):
            sql = sql.replace(f"{quote}usagecast_bound_{i}{quote}", f"({bound[i]})")
        return sql

    pairs: list[tuple[exp.Expression, exp.Expression]] = []
    tree = tree.transform(convert, copy=False)
    pairs += [(node.this, node) for node in tree.find_all(exp.TryCast)]
    return bind(tree.sql(dialect=dialect)), [
        (bind(given.sql(dialect=dialect)), bind(converted.sql(dialect=dialect)))
        for given, converted in pairs
    ]


def derived_text_sql(value_sql: str, decimal: str) -> str:
    """A derived column's result as text, to be parsed like the source's own fields.

    A result that is not text (a number computed by the expression) prints with ".", so with
    a decimal comma its point becomes the comma and it reads back as the same number; text
    (a source field passed on) is kept as written. typeof() is folded when DuckDB plans the
    query, so only one branch runs.
    """
    text = f"CAST(({value_sql}) AS VARCHAR)"
    if decimal == ".":
        return text
    point, separator = sql_string("^([+-]?[0-9]+)\\."), sql_string("\\1" + decimal)
    return (
        f"CASE WHEN typeof(({value_sql})) = 'VARCHAR' THEN {text} "
        f"ELSE regexp_replace({text}, {point}, {separator}) END"
    )


def _derived_fields(
    staged: StagedFile, source: Source
) -> tuple[dict[str, str], tuple[dict[str, str], dict[str, str]], str]:
    """Derived canonical fields as text SQL over their DERIVED_VALUE columns; the layers
    under the text (the DERIVED_OPERAND columns, then the DERIVED_VALUE ones, name -> SQL);
    and the SQL of DERIVED_ERROR (NULL if none)."""
    fields, values, whens = {}, {}, []
    operands: dict[str, str] = {}  # source column -> its DERIVED_OPERAND column

    def operand(name: str) -> str:
        return ident(operands.setdefault(name, DERIVED_OPERAND.format(len(operands))))

    for key, text in source.derived.items():
        value, pairs = derived_sql(text, operand, lambda sql: source_number_sql(sql, source))
        values[DERIVED_VALUE.format(key)] = value
        fields[key] = cleaned(derived_text_sql(ident(DERIVED_VALUE.format(key)), source.decimal))
        whens += [
            f"WHEN ({given}) IS NOT NULL AND ({converted}) IS NULL THEN "
            f"{sql_string(f'{key} = {text}: ')} || CAST(({given}) AS VARCHAR) || "
            "' does not convert'"
            for given, converted in pairs
        ]
    read = {column: _field(staged, name) for name, column in operands.items()}
    error = f"CASE {' '.join(whens)} END" if whens else "NULL::VARCHAR"
    return fields, (read, values), error


def _read_checks(extra: Mapping[str, str]) -> list[Check]:
    """The checks on how the row's fields were read, first of all: a derived column that
    failed, then a text column read by path that is not JSON."""
    checks = []
    if DERIVED_ERROR in extra:
        checks.append(Check(DERIVED_VALUE_ERROR, f"{DERIVED_ERROR} IS NOT NULL", DERIVED_ERROR))
    if JSON_ERROR in extra:
        checks.append(
            Check(
                UNPARSEABLE_VALUE,
                f"{JSON_ERROR} IS NOT NULL",
                f"{JSON_ERROR} || ' is not JSON (fields are read from it by path)'",
            )
        )
    return checks


def _dedupe_fields(staged: StagedFile) -> list[str] | None:
    """The file's column names (as JSON text), then the compared source fields as read, then
    the source's constant event type, if any: one row read by two sources of different
    constants (a subscription's start and its cancellation) is two events.

    staged.dedupe True compares every field (a JSONL line as written), a tuple the listed
    columns; False gives None (never a duplicate).
    """
    if staged.dedupe is False:
        return None
    if staged.dedupe is True and staged.format == "jsonl":
        names, fields = ["<jsonl line>"], ["json::VARCHAR"]
    else:
        names = list(staged.column_types) if staged.dedupe is True else list(staged.dedupe)
        fields = [_raw_text(staged, n) for n in names]
    constant = [sql_string(staged.event_type)] if staged.event_type is not None else []
    return [sql_string(json.dumps(names)), *fields, *constant]


def dedupe_key_sql(staged: StagedFile) -> str:
    """DEDUPE_KEY: the compared fields as a list (NULL: never a duplicate)."""
    fields = _dedupe_fields(staged)
    return "NULL::VARCHAR[]" if fields is None else f"list_value({', '.join(fields)})"


def dedupe_hash_sql(staged: StagedFile) -> str:
    """DEDUPE_HASH: a hash of the compared fields; equal keys give equal hashes."""
    fields = _dedupe_fields(staged)
    return "NULL::UBIGINT" if fields is None else f"hash({', '.join(fields)})"


def _source_fields(
    staged: StagedFile, source: Source
) -> tuple[Callable[[str], str], dict[str, str], tuple[dict[str, str], dict[str, str]]]:
    """(canonical name -> its text SQL, mapped or derived; the extra DERIVED_ERROR and
    JSON_ERROR columns, when the source derives columns or reads paths in text columns; the
    layers under the text, _derived_fields)."""
    derived, layers, error = _derived_fields(staged, source)

    def text_of(key: str, as_json: bool = False) -> str:
        if key in derived:
            return derived[key]
        return _field(staged, source.columns.get(key), as_json=as_json)

    extra = {DERIVED_ERROR: error} if source.derived else {}
    if staged.json_text:
        extra[JSON_ERROR] = json_error_sql(staged.json_text)
    return text_of, extra, layers


EVENT_TEXT = {
    "user_id": "user_id",
    "event_time_text": "timestamp",
    "event_type_text": "event_type",
    "session_id": "session_id",
    "item_id": "item_id",
    "value_text": "value",
    "area": "area",
    "properties": "properties",
    "anonymous_id": "anonymous_id",
}
"""Stage text column -> the canonical field it holds."""
EVENT_IDS = ("user_id", "session_id", "item_id", "anonymous_id")


def stage_events_sql(
    staged: StagedFile, source: Source, rules: Rules, user_attributes: Sequence[Attribute] = ()
) -> str:
    """SELECT staging one raw events file: text, parsed columns and its row-level reason.

    `user_attributes` are every events source's user-level attributes (one staging table holds
    all files): this source's columns are read, the others are NULL.
    """
    field, extra, layers = _source_fields(staged, source)
    text = {name: field(key, as_json=key == "properties") for name, key in EVENT_TEXT.items()}
    text.update({name: normalised_id(text[name]) for name in EVENT_IDS if name != "user_id"})
    text["user_id"] = user_id_sql(text["user_id"], rules)
    if rules.sentinel_ids and source.maps("anonymous_id"):
        text["user_id"] = _sentinel_as_missing(text["user_id"], text["anonymous_id"], rules)
    computed = [name for name, key in EVENT_TEXT.items() if key in source.derived]
    if source.event_type is not None:
        text["event_type_text"] = sql_string(source.event_type)
        computed.append("event_type_text")
    event_time = source_timestamp_sql("event_time_text", source)
    parsed = (
        f"{event_time} AS event_time, "
        f"{rename_sql('event_type_text', rules.rename_event_types)} AS event_type, "
        f"{source_number_sql('value_text', source)} AS value, "
        f"false AS {STITCHED}"
    )
    checks = _read_checks(extra)
    checks += event_checks(rules, source)
    if user_attributes:
        columns = {a.name: a.column for a in source.user_attributes}
        for attribute in user_attributes:
            text[f"{attribute.name}_text"] = _field(staged, columns.get(attribute.name))
        parsed += "".join(", " + _attribute_parse(a, source, rules) for a in user_attributes)
        checks += _attribute_checks(user_attributes, source)
    extra[DEDUPE_HASH] = dedupe_hash_sql(staged)
    return _staged_sql(staged, text, parsed, checks, extra, computed, layers)


def _sentinel_as_missing(user_id: str, anonymous_id: str, rules: Rules) -> str:
    """A sentinel user id (`undefined`: no user) on a row with an anonymous id is a missing
    one, so the event takes the user its anonymous id is seen with (anonymous_events_sql);
    without one it stays, to be quarantined as sentinel_id."""
    sentinels = sql_list(rules.sentinel_ids)
    return (
        f"CASE WHEN {user_id} IN {sentinels} AND {anonymous_id} IS NOT NULL "
        f"AND {anonymous_id} NOT IN {sentinels} THEN NULL ELSE {user_id} END"
    )


def _attribute_parse(attribute: Attribute, source: Source, rules: Rules) -> str:
    text = ident(f"{attribute.name}_text")
    if attribute.dtype == "user_id":
        return f"{optional_id_sql(user_id_sql(text, rules), rules)} AS {ident(attribute.name)}"
    if attribute.dtype == "numeric":
        return f"{source_number_sql(text, source)} AS {ident(attribute.name)}"
    if attribute.dtype == "timestamp":
        return f"{source_timestamp_sql(text, source)} AS {ident(attribute.name)}"
    return f"{text} AS {ident(attribute.name)}"


def stage_entities_sql(staged: StagedFile, source: Source, rules: Rules, table: str) -> str:
    """SELECT staging one raw users or items file."""
    id_column = "user_id" if table == "users" else "item_id"
    field, extra, layers = _source_fields(staged, source)
    text = {
        id_column: user_id_sql(field(id_column), rules)
        if table == "users"
        else normalised_id(field(id_column))
    }
    parsed: list[str] = []
    required: list[str] = [id_column]
    if table == "users" and source.maps("signup_time"):
        text["signup_time_text"] = field("signup_time")
        signup = source_timestamp_sql("signup_time_text", source)
        parsed.append(f"{signup} AS signup_time")
        required.append("signup_time_text")
    elif table == "users":  # each user's first event, once the events are in (load.py)
        parsed.append("NULL::TIMESTAMP AS signup_time")
    if source.versioned:
        text["valid_from_text"] = field("valid_from")
        valid_from = source_timestamp_sql("valid_from_text", source)
        parsed.append(f"{valid_from} AS valid_from")
        required.append("valid_from_text")
    for attribute in source.attributes:
        text[f"{attribute.name}_text"] = _field(staged, attribute.column)
        parsed.append(_attribute_parse(attribute, source, rules))
    checks = _read_checks(extra)
    checks += entity_checks(id_column, required, rules, source)
    computed = [
        name
        for name, key in (
            (id_column, id_column),
            ("signup_time_text", "signup_time"),
            ("valid_from_text", "valid_from"),
        )
        if key in source.derived
    ]
    return _staged_sql(staged, text, ", ".join(parsed), checks, extra, computed, layers)


def filled_down(value_sql: str, group_sql: str) -> str:
    """A field blank on a row given the latest value above it in the file among the rows of
    its group (a source's `fill_down`); a row without a group keeps its own."""
    above = (
        f"last_value({value_sql} IGNORE NULLS) OVER (PARTITION BY {group_sql} "
        f"ORDER BY {ROW_NUMBER_COLUMN} ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)"
    )
    return (
        f"CASE WHEN {group_sql} IS NULL THEN {value_sql} ELSE COALESCE({value_sql}, {above}) END"
    )


def mapped_columns(source: Source) -> list[tuple[str, str]]:
    """(config key under the source, file column) for every column the source reads by name:
    mapped columns, attributes, user-level attributes, dedupe key. The columns derived
    columns read are checked apart (unknown_derived_columns).
    """
    keys = list(source.dedupe) if isinstance(source.dedupe, tuple) else []
    return [
        *((f"columns.{key}", column) for key, column in source.columns.items()),
        *((f"attributes.{a.name}.column", a.column) for a in source.attributes),
        *((f"user_attributes.{a.name}.column", a.column) for a in source.user_attributes),
        *(("dedupe", column) for column in keys),
        *((("fill_down.by", source.fill_down.by),) if source.fill_down else ()),
    ]


def unknown_users_sql(
    stage: str, users: str, user_stage: str | None = None, source_file: str = ""
) -> str:
    """Rows that passed the row-level rules but whose user is not in `users`.

    With `user_stage` (the staged users file rows; `source_file` names a row's file from its
    file_key), an id that the users file has only on quarantined rows says so in the detail:
    the user is unknown because their row was rejected, not because the file lacks them.
    """
    detail = "'user_id ' || s.user_id || ' is not in the users table'"
    rejected, joined = "", ""
    if user_stage is not None:
        rejected = (
            f"WITH rejected AS (SELECT DISTINCT ON (user_id) user_id, {source_file} AS file, "
            f"source_row, reason FROM {user_stage} WHERE reason IS NOT NULL "
            "AND user_id IS NOT NULL ORDER BY user_id, file_key, source_row) "
        )
        detail += (
            " || COALESCE(': its row in ' || r.file || ' (row ' || r.source_row || ') was "
            "quarantined as ' || r.reason, '')"
        )
        joined = "LEFT JOIN rejected r ON s.user_id = r.user_id "
    return (
        f"{rejected}SELECT s.seq, '{UNKNOWN_USER}' AS reason, {detail} AS detail "
        f"FROM {stage} s ANTI JOIN {users} u ON s.user_id = u.user_id {joined}"
        "WHERE s.reason IS NULL"
    )


def anonymous_links_sql(stage: str) -> str:
    """Per anonymous id seen on a row with a user id (rows passing the row-level rules): how
    many user ids, the first few, and when it was first seen with one."""
    return (
        "SELECT anonymous_id, count(DISTINCT user_id) AS users, "
        "list(DISTINCT user_id ORDER BY user_id) AS user_ids, min(event_time) AS linked_at "
        f"FROM {stage} WHERE reason IS NULL AND user_id IS NOT NULL "
        "AND anonymous_id IS NOT NULL GROUP BY anonymous_id"
    )


def anonymous_events_sql(stage: str, links: str, signups: str) -> str:
    """The rows passing the row-level rules that have only an anonymous id: the user it
    names, or why it names none.

    An anonymous id names a user when it is seen with exactly one user id, and an event of
    it is that user's when the link was known by the event or by the user's signup (in
    `signups`, user_id -> signup_time), whichever is later: a cutoff after both (every one
    the user is in the population of) then saw the link. An event before a link made after
    the signup (a new device identified later) is IDENTIFIED_LATER.
    """
    shown = "'anonymous_id ' || s.anonymous_id"
    later = "l.linked_at > greatest(s.event_time, g.signup_time)"
    reason = (
        f"CASE WHEN l.users IS NULL THEN '{UNIDENTIFIED_ANONYMOUS_ID}' "
        f"WHEN l.users > 1 THEN '{SHARED_ANONYMOUS_ID}' "
        f"WHEN {later} THEN '{IDENTIFIED_LATER}' END"
    )
    detail = (
        f"CASE WHEN l.users IS NULL THEN {shown} || ' is never seen with a user id' "
        f"WHEN l.users > 1 THEN {shown} || ' is seen with ' || l.users || ' user ids (' || "
        "array_to_string(l.user_ids[1:3], ', ') || CASE WHEN l.users > 3 THEN ', ...' ELSE '' "
        "END || '): it names no one user' "
        f"WHEN {later} THEN {shown} || ' is first seen with user ' || l.user_ids[1] || "
        "' at ' || l.linked_at || ', after this event and after their signup' || "
        "COALESCE(' at ' || g.signup_time, '') || ': a cutoff between would see the future' "
        "END"
    )
    return (
        f"SELECT s.seq, l.user_ids[1] AS user_id, {reason} AS reason, {detail} AS detail "
        f"FROM {stage} s LEFT JOIN {links} l USING (anonymous_id) "
        f"LEFT JOIN {signups} g ON g.user_id = l.user_ids[1] "
        "WHERE s.reason IS NULL AND s.user_id IS NULL"
    )


def sessions_sql(stage: str, late: str, gap_minutes: int) -> str:
    """(seq, session_id) of every event to be stored (no reason, none in `late`): a user's
    session starts at their first event and at every event more than `gap_minutes` after
    the one before it, and its id is its start time (`2024-03-05T09:00:00`). Only earlier
    events decide where a session starts, so no cutoff sees a later one."""
    order = "PARTITION BY user_id ORDER BY event_time, seq"
    return (
        f"WITH kept AS (SELECT seq, user_id, event_time FROM {stage} WHERE reason IS NULL "
        f"AND seq NOT IN (SELECT seq FROM {late})), "
        "starts AS (SELECT *, CASE WHEN event_time - lag(event_time) OVER (ORDER_BY) <= "
        f"INTERVAL {gap_minutes} MINUTE THEN 0 ELSE 1 END AS starts FROM kept), "
        "numbered AS (SELECT *, sum(starts) OVER (ORDER_BY ROWS UNBOUNDED PRECEDING) AS n "
        "FROM starts) "
        "SELECT seq, strftime(min(event_time) OVER (PARTITION BY user_id, n), "
        "'%Y-%m-%dT%H:%M:%S') AS session_id FROM numbered"
    ).replace("ORDER_BY", order)


def duplicate_candidates_sql(stage: str, late: str) -> str:
    """Rows that may repeat another: no reason yet (not in `late`) and a DEDUPE_HASH that two
    or more such rows share. A hash group is far smaller than the stage, so the fields
    themselves are compared (duplicates_sql) only there."""
    return (
        f"WITH repeated AS (SELECT {DEDUPE_HASH} FROM {stage} WHERE reason IS NULL "
        f"AND {DEDUPE_HASH} IS NOT NULL GROUP BY ALL HAVING count(*) > 1) "
        f"SELECT s.seq, s.file_key, s.source_row FROM {stage} s SEMI JOIN repeated "
        f"USING ({DEDUPE_HASH}) WHERE s.reason IS NULL AND s.seq NOT IN (SELECT seq FROM {late})"
    )


def duplicates_sql(candidates: str, raw: str) -> str:
    """duplicate_event: a candidate whose DEDUPE_KEY equals that of an earlier one (by read
    order, the first is kept)."""
    return (
        f"SELECT seq, '{DUPLICATE_EVENT}' AS reason, 'the same source fields as an earlier "
        "row (every field as read, or the dedupe columns)' AS detail FROM ("
        f"SELECT c.seq, row_number() OVER (PARTITION BY r.{DEDUPE_KEY} ORDER BY c.seq) AS k "
        f"FROM {candidates} c JOIN {raw} r USING (file_key, source_row)) WHERE k > 1"
    )


def raw_rows_sql(staged: StagedFile, wanted: str) -> str:
    """The file's rows listed in `wanted` (file_key, source_row), read again as written: the
    raw row as JSON text and DEDUPE_KEY."""
    return (
        f"SELECT {staged.file_key} AS file_key, {ROW_NUMBER_COLUMN} AS source_row, "
        f"({raw_json_sql(staged, 'r')})::VARCHAR AS raw, "
        f"{dedupe_key_sql(staged)} AS {DEDUPE_KEY} FROM {numbered_rows_sql(staged)} r "
        f"WHERE {ROW_NUMBER_COLUMN} IN (SELECT source_row FROM {wanted} "
        f"WHERE file_key = {staged.file_key})"
    )


def entities_late_sql(
    stage: str, id_column: str, reason: str, versions: Literal["earliest", "every"] | None = None
) -> str:
    """Rows repeating an id already accepted earlier in read order (users or items).

    With `versions` (a stage with valid_from): "earliest" (a users table) keeps each user's
    earliest version and counts the later ones as LATER_VERSION; "every" (an item catalogue)
    keeps every version and counts a repeated (id, valid_from) as `reason`.
    """
    key, order, detail = id_column, "seq", "' already seen'"
    valid_from = "strftime(valid_from, '%Y-%m-%d %H:%M:%S')"
    if versions == "earliest":
        order, reason = "valid_from, seq", LATER_VERSION
        detail = f"': a version valid from ' || {valid_from} || ', after the one kept'"
    elif versions == "every":
        key = f"{id_column}, valid_from"
        detail = f"': its version valid from ' || {valid_from} || ' already seen'"
    return (
        f"SELECT seq, '{reason}' AS reason, '{id_column} ' || {id_column} || {detail} AS detail "
        f"FROM (SELECT *, row_number() OVER (PARTITION BY {key} ORDER BY {order}) AS k "
        f"FROM {stage} WHERE reason IS NULL) WHERE k > 1"
    )


def source_file_sql(displays: Sequence[str]) -> str:
    """A row's source file from its file_key (index into the ingest's file list).

    The stage stores only the small integer key; the name is looked up when a row is written.
    """
    return f"[{', '.join(sql_string(d) for d in displays)}][file_key + 1]"


def optional_id_sql(column: str, rules: Rules) -> str:
    """An optional id (of an event, or a `user_id` attribute) with sentinel ids as NULL."""
    if not rules.sentinel_ids:
        return column
    return f"CASE WHEN {column} IN {sql_list(rules.sentinel_ids)} THEN NULL ELSE {column} END"


def attribute_sql_type(attribute: Attribute) -> str:
    """The DuckDB column type of an attribute."""
    return ATTRIBUTE_SQL_TYPES[attribute.dtype]
