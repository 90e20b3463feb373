"""The dataset config (YAML) as frozen dataclasses; unknown keys are errors.

The schema is the one in docs/reference/data.md ("Dataset config"). Parsing is pure: it takes
the loaded YAML mapping and the config file's path (for messages and relative file paths) and
either returns a `DatasetConfig` or raises `ConfigError` naming the key path and what is
allowed.
"""

from __future__ import annotations

import codecs
import difflib
import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import sqlglot.expressions as exp

from contracts.errors import UsagecastError
from events.scalar_sql import ALLOWED_FUNCTIONS, ALLOWED_NODES, checked_tree

FORMATS = ("csv", "jsonl", "parquet", "xlsx")
# In `records:`, between an array and a key of its elements (`orders[].line_items`).
ARRAY_STEP = "[]."
# A .json file is read as JSON Lines or as one JSON array of records (readers.py tells which).
EXTENSION_FORMATS = {
    ".csv": "csv",
    ".tsv": "csv",  # the delimiter is the source's `delimiter:` (the starter sniffs a tab)
    ".tab": "csv",
    ".txt": "csv",  # Excel's "Text (Tab delimited)" and "Unicode Text" (UTF-16) saves
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".xls": "xlsx",  # refused when read, with what to do (excel.py)
}
UTC_ZONE = "UTC"
# Zone abbreviations exports write after a time (Salesforce's and Jira's `10:00 AM PST`, Java's
# `Fri Jan 03 10:00:00 PST 2025`) read by a pattern's %Z as these fixed offsets. CST is the US
# Central zone and BST British Summer Time, as in the US and UK tools that write them;
# abbreviations with no majority meaning (IST: India, Ireland or Israel; AST) are not read
# unless a source names their offset.
ZONE_ABBREVIATIONS = {
    "UTC": "+0000", "GMT": "+0000", "WET": "+0000", "WEST": "+0100", "BST": "+0100",
    "CET": "+0100", "CEST": "+0200", "EET": "+0200", "EEST": "+0300", "MSK": "+0300",
    "EST": "-0500", "EDT": "-0400", "CST": "-0600", "CDT": "-0500", "MST": "-0700",
    "MDT": "-0600", "PST": "-0800", "PDT": "-0700", "AKST": "-0900", "AKDT": "-0800",
    "HST": "-1000", "NST": "-0330", "NDT": "-0230", "JST": "+0900", "KST": "+0900",
    "HKT": "+0800", "SGT": "+0800", "AWST": "+0800", "ACST": "+0930", "ACDT": "+1030",
    "AEST": "+1000", "AEDT": "+1100", "NZST": "+1200", "NZDT": "+1300",
}  # fmt: skip
# A source's `zone_abbreviations:` adds to them or overrides them: `{IST: "+05:30"}`.
ZONE_ABBREVIATION_NAME = re.compile("[A-Z]{2,5}")
ZONE_OFFSET = re.compile("([+-])(0[0-9]|1[0-4]):?([0-5][0-9])")
# `excel_days`: Excel's serial day numbers, as a spreadsheet saved to CSV writes its date
# cells when they lost their format (`45292.5` is 2024-01-01 12:00).
EXCEL_DAYS = "excel_days"
EPOCH_UNITS = ("epoch_s", "epoch_ms", "epoch_us", "epoch_ns")  # seconds to nanoseconds
NAMED_TIMESTAMP_FORMATS = ("iso", *EPOCH_UNITS, EXCEL_DAYS)
# The longest inactivity that rules.sessions may allow inside one session: a day.
MAX_GAP = 24 * 60
EVENT_REQUIRED = ("user_id", "timestamp", "event_type")
EVENT_OPTIONAL = ("session_id", "item_id", "value", "area", "properties", "anonymous_id")
USER_COLUMNS = ("user_id",)
# `signup_time`: without it (Shopify's customers export has none) each user signed up at
# their first event. `valid_from`, a users table of versions (a dbt snapshot, a history
# table): when each row's values became valid. Each user's earliest version is theirs; the
# later ones are counted apart.
USER_OPTIONAL = ("signup_time", "valid_from")
ITEM_COLUMNS = ("item_id",)
# A catalogue of versions (a product table's history): when each row's attributes became
# valid. Every version is kept; an event reads the version valid at its time.
ITEM_OPTIONAL = ("valid_from",)
ATTRIBUTE_KINDS = ("static", "snapshot")
BLANK_TIMES = ("error", "no_event")  # an events source's `blank_time`
# A text table's `short_lines`: a line with fewer fields than the header stops the ingest, or
# reads its missing last fields as empty (an exporter that leaves trailing empty fields out).
SHORT_LINES = ("error", "empty")
# `user_id`: another user's id (e.g. who invited this one), normalised like the id column.
ATTRIBUTE_DTYPES = ("categorical", "numeric", "timestamp", "user_id")
ITEM_ATTRIBUTE_DTYPES = ("categorical", "numeric")
DEFAULT_TIMESTAMP_FORMATS = ("iso",)
# `delimiter:` words: a tab, and runs of blanks/tabs (a whitespace-separated file, not CSV).
WHITESPACE = "whitespace"
DELIMITER_WORDS = {"tab": "\t", WHITESPACE: WHITESPACE}
# `decimal:` the fraction separator of the numbers a source writes as text ("4.50" or "4,50").
DECIMAL_SEPARATORS = (".", ",")
# `thousands:` the digit-group separator some exports write in numbers ("1,234.50"); read
# only between groups of three digits of the whole part, so "1,5" never becomes 15.
THOUSANDS_SEPARATORS = (",", ".", "'", " ")
# `currency_symbol:` the symbol or code some exports write beside their amounts ("$1,200.00",
# "49,00 €", "49.00 USD"): at most this many characters, none of them a digit, a sign, a
# blank, a quote or a parenthesis.
MAX_CURRENCY_SYMBOL = 5
NOT_IN_CURRENCY_SYMBOL = frozenset("0123456789+-'\" \t()")
# `negatives:` how a source writes its negative numbers besides a leading minus (`-49.00`,
# always read): `parentheses` as accounting exports do (`(49.00)`, `($1,200.00)`) or
# `trailing_minus` as SAP's do (`49.00-`).
LEADING_MINUS = "minus"
NEGATIVE_STYLES = (LEADING_MINUS, "parentheses", "trailing_minus")
# YAML's words for no value: a `missing_texts` entry written bare is read as one of them.
YAML_NULLS = ("null", "Null", "NULL", "~")
# Derived columns: the shared scalar allowlist plus a few text functions for source rows.
DERIVED_FUNCTIONS: dict[type[exp.Expression], str] = {
    **ALLOWED_FUNCTIONS,
    exp.StartsWith: "STARTS_WITH",
    exp.Substring: "SUBSTRING",
}
DERIVED_NODES: tuple[type[exp.Expression], ...] = (*ALLOWED_NODES, *DERIVED_FUNCTIONS, exp.DPipe)
# Names the ingest's staging queries use for their own columns; attributes may not take them.
RESERVED_ATTRIBUTE_NAMES = ("seq", "file_key", "source_row", "reason", "detail", "failed")
# User attributes read from event rows share the events' staging table: not these names either.
EVENT_STAGE_NAMES = ("event_time", "event_date", "event_id")
DEFAULT_MIN_ACCEPTED_SHARE = 0.5


class ConfigError(UsagecastError):
    """The dataset config is malformed: the message names the file and key path."""


@dataclass(frozen=True)
class Attribute:
    """A user or item attribute: canonical name, source column, kind and dtype."""

    name: str
    column: str
    dtype: str
    kind: str = "static"


@dataclass(frozen=True)
class TimeZones:
    """Where a source's times are: `written_in` is the IANA zone of its times that carry no
    offset, `stored_in` the dataset's zone, whose wall-clock time the store keeps (so days,
    windows and midnight cutoffs follow that zone's calendar)."""

    written_in: str = UTC_ZONE
    stored_in: str = UTC_ZONE


UTC_TIMES = TimeZones()


@dataclass(frozen=True)
class Source:
    """One file or glob and how its columns map onto a canonical table.

    `columns` maps canonical name -> column in the file and `derived` canonical name -> SQL
    expression over the file's columns (DuckDB dialect, checked); `event_type` is the constant
    event type of a file that holds one kind of event (then no event_type column is mapped).
    `delimiter` is one character or WHITESPACE; `decimal` (one of DECIMAL_SEPARATORS) is the
    fraction separator of every number read from the source's fields and `thousands` (one of
    THOUSANDS_SEPARATORS, or None) their digit-group separator, and `currency_symbol` the
    symbol or code they may carry before or after them (`$`: "-$1,200.00"), read as no part
    of the number (a number with another symbol is unparseable), and `negatives` (one of
    NEGATIVE_STYLES) how its negative numbers are written; `missing_texts` are texts that
    stand for a missing value in any of its fields, as a blank does (PostgreSQL's `\\N`, SQL
    Server's `NULL`, R's `NA`); `names` are the columns
    of a file without a header line. `dedupe` (events): True (a duplicate repeats every source
    column), False (none) or the source columns that make the key; parse_config fills in
    `rules.dedupe`. `times` says in which zone the source's times without an offset are
    written and in which zone the store keeps every time (parse_config fills it in). `sheet`
    names the sheet of an Excel workbook to read (needed when it holds several). `members`
    is a glob over the member paths of the zip archives `files` names (readers.py reads every
    member without it). `records` (JSON) is the key, or dotted path, of the array of records
    inside each top-level object of a file: an API's pages, `{"results": [...], "next": ..}`;
    `[].` between paths reads through arrays (`orders[].line_items`).
    `parent` (with `records`) is the key under which each record also carries the object
    holding it, less the array: an order's fields on each of its `line_items`.
    `fill_down` reads fields an export writes on the first of a group's rows only for every row
    of the group: a product's (Shopify's `Title`, `Vendor`), an order's (`Financial Status`).
    `skip_lines` are the lines of a text table (rows of a sheet) before its header, or its
    first row without one: a report's title and date; `footer_lines` the last lines of a
    text table that are no rows (a report's totals, notice and copyright), blank lines at
    its very end not counted. `zone_abbreviations` maps zone
    abbreviations a %Z pattern reads to their offsets (`+hhmm`), over ZONE_ABBREVIATIONS.
    `blank_time` (events, one of BLANK_TIMES) says what a blank event time is: an error
    (missing_required_field), or, `no_event`, a row that holds no event of this source (a
    subscription's blank `Canceled At`: never canceled), counted as no_event_time.
    `short_lines` (SHORT_LINES) says what a text table's line with fewer fields than its
    header is: an error naming the line, or a row whose missing last fields are empty.
    """

    files: str
    format: str | None
    encoding: str
    columns: Mapping[str, str]
    timestamp_formats: tuple[str, ...]
    event_type: str | None = None
    attributes: tuple[Attribute, ...] = ()
    delimiter: str = ","
    decimal: str = "."
    thousands: str | None = None
    currency_symbol: str | None = None
    negatives: str = LEADING_MINUS
    missing_texts: tuple[str, ...] = ()
    derived: Mapping[str, str] = field(default_factory=dict)
    header: bool = True
    names: tuple[str, ...] | None = None
    dedupe: bool | tuple[str, ...] | None = None
    user_attributes: tuple[Attribute, ...] = ()
    times: TimeZones = UTC_TIMES
    sheet: str | None = None
    members: str | None = None
    records: str | None = None
    parent: str | None = None
    fill_down: FillDown | None = None
    blank_time: str = "error"
    skip_lines: int = 0
    footer_lines: int = 0
    zone_abbreviations: Mapping[str, str] = field(default_factory=dict)
    short_lines: str = "error"

    def maps(self, name: str) -> bool:
        """Whether the source reads the canonical column `name`, mapped or derived."""
        return name in self.columns or name in self.derived

    @property
    def zones(self) -> Mapping[str, str]:
        """The zone abbreviations a %Z pattern reads, as offsets: ZONE_ABBREVIATIONS with
        the source's own `zone_abbreviations` over them."""
        return {**ZONE_ABBREVIATIONS, **self.zone_abbreviations}

    @property
    def versioned(self) -> bool:
        """A users table or item catalogue of versions: `valid_from` mapped or derived."""
        return self.maps("valid_from")


@dataclass(frozen=True)
class FillDown:
    """File columns written once per group of rows (a product's, an order's): on a row where
    one is blank, it takes the latest value above it in the file among the rows with the same
    `by` (the product's handle, the order's id); a row without one keeps its own. Per-row
    fields (a variant's price, a line's quantity) are not listed: a blank there means none.
    Items name their attributes (`attributes:`), parsed into their columns; events name the
    columns (`columns:`)."""

    by: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class Range:
    """Inclusive bounds; either side may be open."""

    min: Any = None
    max: Any = None


@dataclass(frozen=True)
class Rules:
    """Validation rules applied to every source."""

    allowed_event_types: tuple[str, ...] | None = None
    rename_event_types: Mapping[str, str] | None = None
    drop_event_types: tuple[str, ...] = ()
    sentinel_ids: tuple[str, ...] = ()
    timestamp_range: Range = Range()
    value_range: Range = Range()
    dedupe: bool | tuple[str, ...] = True
    min_accepted_share: float = DEFAULT_MIN_ACCEPTED_SHARE
    # rules.sessions.inactivity_minutes: derive every event's session_id from the gaps
    session_gap_minutes: int | None = None
    # rules.strip_leading_zeros: user ids of digits are read without their leading zeros, so
    # SAP's `0000100042` and a spreadsheet's `100042` are one user
    strip_leading_zeros: bool = False


@dataclass(frozen=True)
class DatasetConfig:
    """A parsed dataset config; `base_dir` resolves the relative file paths.

    `users` is None when the config has no users table: users then come from the events.
    `timezone` is the zone whose wall-clock time the store keeps.
    """

    name: str
    path: Path
    base_dir: Path
    events: tuple[Source, ...]
    users: Source | None
    items: Source | None
    rules: Rules
    canonical: str
    timezone: str = UTC_ZONE

    @property
    def signups_from_events(self) -> bool:
        """A users table without `signup_time`: each user signed up at their first event."""
        return self.users is not None and not self.users.maps("signup_time")


def _fail(path: Path, key: str, why: str) -> ConfigError:
    return ConfigError(f"{path}: `{key}` {why}")


def _check_keys(
    path: Path, where: str, mapping: Any, allowed: tuple[str, ...], required: tuple[str, ...]
) -> Mapping[str, Any]:
    """Refuse non-mappings, unknown keys and missing required keys at key path `where`."""
    if not isinstance(mapping, Mapping):
        raise _fail(path, where, f"must be a mapping with keys: {', '.join(allowed)}")
    for key in mapping:
        if key not in allowed:
            raise _fail(
                path, f"{where}.{key}", f"is not a known key; allowed: {', '.join(allowed)}"
            )
    for key in required:
        if key not in mapping:
            raise _fail(path, f"{where}.{key}", "is required")
    return mapping


def _choice(path: Path, where: str, value: Any, allowed: Sequence[str]) -> str:
    """One of `allowed`, else an error naming them."""
    if value not in allowed:
        raise _fail(path, where, f"is {value!r}; allowed: {', '.join(allowed)}")
    return value


def _text(path: Path, where: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float) or value == "":
        raise _fail(path, where, f"must be a non-empty string, got {value!r}")
    return str(value)


def _text_list(path: Path, where: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list):
        raise _fail(path, where, f"must be a list of strings, got {value!r}")
    return tuple(_text(path, f"{where}[{i}]", item) for i, item in enumerate(value))


def _encoding(path: Path, where: str, value: Any) -> str:
    name = _text(path, where, value)
    try:
        return codecs.lookup(name).name
    except LookupError:
        raise _fail(path, where, f"names an unknown text encoding {name!r}") from None


def _zone(path: Path, where: str, value: Any) -> str:
    """An IANA time zone name (`UTC`, `America/New_York`), else an error naming close ones."""
    name = _text(path, where, value)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        close = difflib.get_close_matches(name, sorted(available_timezones()), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else " like UTC or Europe/Paris"
        raise _fail(path, where, f"is {name!r}, not an IANA time zone name{hint}") from None
    return name


def _timestamp_formats(path: Path, where: str, value: Any) -> tuple[str, ...]:
    formats = _text_list(path, where, value)
    if not formats:
        raise _fail(path, where, "must list at least one format")
    for i, fmt in enumerate(formats):
        if fmt not in NAMED_TIMESTAMP_FORMATS and "%" not in fmt:
            raise _fail(
                path,
                f"{where}[{i}]",
                f"is {fmt!r}: use a strptime pattern or one of "
                f"{', '.join(NAMED_TIMESTAMP_FORMATS)}",
            )
    epochs = [fmt for fmt in formats if fmt in EPOCH_UNITS]
    if epochs != sorted(epochs, key=EPOCH_UNITS.index):
        raise _fail(
            path,
            where,
            f"lists {', '.join(epochs)}: list the smaller unit first "
            f"({', '.join(sorted(epochs, key=EPOCH_UNITS.index))}): a larger unit reads a "
            "smaller one's numbers as times near 1970, while a smaller unit leaves a larger "
            "one's numbers to it (they would land after the year 9999)",
        )
    return formats


def derived_tree(text: str) -> exp.Expression:
    """The checked syntax tree of a derived column's expression; ValueError says why not."""
    return checked_tree(
        text,
        DERIVED_NODES,
        tuple(sorted(DERIVED_FUNCTIONS.values())),
        "a derived column is computed from one row of the file",
        dotted_names=True,
    )


def derived_columns(text: str) -> tuple[str, ...]:
    """The source columns a derived column's expression reads, sorted."""
    return tuple(sorted({column.name for column in derived_tree(text).find_all(exp.Column)}))


def _derived(path: Path, where: str, value: Any) -> str:
    """`{expr: SQL}`: the expression in sqlglot's DuckDB spelling, checked once here."""
    spec = _check_keys(path, where, value, ("expr",), ("expr",))
    text = _text(path, f"{where}.expr", spec["expr"])
    try:
        return derived_tree(text).sql(dialect="duckdb")
    except ValueError as error:
        raise _fail(path, f"{where}.expr", f"{text!r}: {error}") from None


def _columns(
    path: Path, where: str, value: Any, allowed: tuple[str, ...], required: tuple[str, ...]
) -> tuple[dict[str, str], dict[str, str]]:
    """(canonical -> column name, canonical -> derived expression)."""
    mapping = _check_keys(path, where, value, allowed, required)
    columns, derived = {}, {}
    for key, column in mapping.items():
        if isinstance(column, Mapping):
            derived[key] = _derived(path, f"{where}.{key}", column)
        else:
            columns[key] = _text(path, f"{where}.{key}", column)
    return columns, derived


def _delimiter(path: Path, where: str, value: Any) -> str:
    delimiter = _text(path, where, value)
    delimiter = DELIMITER_WORDS.get(delimiter, delimiter)
    if delimiter != WHITESPACE and (len(delimiter) != 1 or delimiter in '"\r\n'):
        raise _fail(
            path,
            where,
            f"must be one character other than a quote or a line break, `tab` or "
            f"`{WHITESPACE}` (runs of blanks and tabs), got {delimiter!r}",
        )
    return delimiter


def _decimal(path: Path, where: str, value: Any) -> str:
    if value not in DECIMAL_SEPARATORS:
        raise _fail(
            path,
            where,
            f"is {value!r}; allowed: {' or '.join(map(json.dumps, DECIMAL_SEPARATORS))} "
            "(the fraction separator, as in 4.50 or 4,50)",
        )
    return value


def _dedupe(path: Path, where: str, value: Any) -> bool | tuple[str, ...]:
    if isinstance(value, bool):
        return value
    if isinstance(value, list) and value:
        return _text_list(path, where, value)
    raise _fail(
        path, where, f"must be true, false or a non-empty list of source columns, got {value!r}"
    )


def _names(path: Path, where: str, spec: Mapping[str, Any]) -> tuple[bool, tuple[str, ...] | None]:
    """(header, names): a file without a header line (`header: false`) lists its `names`."""
    header = spec.get("header", True)
    if not isinstance(header, bool):
        raise _fail(path, f"{where}.header", f"must be true or false, got {header!r}")
    if "names" not in spec:
        if not header:
            raise _fail(path, f"{where}.names", "is required with `header: false`")
        return header, None
    if header:
        raise _fail(path, f"{where}.names", "is only for a file without a header (header: false)")
    names = _text_list(path, f"{where}.names", spec["names"])
    repeated = sorted({name for name in names if names.count(name) > 1})
    if not names or repeated:
        raise _fail(path, f"{where}.names", f"must list distinct column names, got {names!r}")
    return header, names


def _check_derived_columns(
    path: Path, where: str, derived: Mapping[str, str], names: tuple[str, ...]
) -> None:
    """With `names:` the columns are known at load: each expression must read only them."""
    for key, text in derived.items():
        message = unknown_derived_columns(key, text, names)
        if message:
            raise _fail(path, f"{where}.columns.{key}", message)


def unknown_derived_columns(
    key: str, text: str, available: Sequence[str], paths: Sequence[str] = ()
) -> str | None:
    """Why a derived column's expression reads columns the file lacks, or None.

    `paths` are other names the file holds (a JSONL file's dotted paths into nested objects).
    """
    unknown = [name for name in derived_columns(text) if name not in (*available, *paths)]
    if not unknown:
        return None
    return (
        f"{key} = {text} reads {', '.join(map(repr, unknown))}, not a column of the file; "
        f"its columns: {', '.join(available)}"
    )


def _attributes(
    path: Path, where: str, value: Any, of_users: bool, reserved: tuple[str, ...] = ()
) -> tuple[Attribute, ...]:
    """A users (`of_users`) or items table's attributes. A user attribute states its kind;
    an item attribute is static unless it says `kind: snapshot` (a catalog's attributes
    mostly describe the item, not what users did with it)."""
    if not isinstance(value, Mapping):
        raise _fail(path, where, "must map attribute names to {column, dtype, ...}")
    allowed = ("column", "kind", "dtype")
    required = allowed if of_users else ("column", "dtype")
    attributes = []
    for name, spec in value.items():
        at = f"{where}.{name}"
        spec = _check_keys(path, at, spec, allowed, required)
        dtype = _text(path, f"{at}.dtype", spec["dtype"])
        dtypes = ATTRIBUTE_DTYPES if of_users else ITEM_ATTRIBUTE_DTYPES
        if dtype not in dtypes:
            raise _fail(path, f"{at}.dtype", f"is {dtype!r}; allowed: {', '.join(dtypes)}")
        kind = _text(path, f"{at}.kind", spec.get("kind", "static"))
        if kind not in ATTRIBUTE_KINDS:
            raise _fail(path, f"{at}.kind", f"is {kind!r}; allowed: {', '.join(ATTRIBUTE_KINDS)}")
        if (
            name
            in USER_COLUMNS + USER_OPTIONAL + ITEM_COLUMNS + RESERVED_ATTRIBUTE_NAMES + reserved
        ):
            raise _fail(path, at, "is a reserved column name; choose another name")
        attributes.append(
            Attribute(str(name), _text(path, f"{at}.column", spec["column"]), dtype, kind)
        )
    return tuple(attributes)


def _thousands(path: Path, where: str, value: Any, decimal: str) -> str | None:
    if value is None:
        return None
    allowed = [t for t in THOUSANDS_SEPARATORS if t != decimal]
    if value not in allowed:
        raise _fail(
            path,
            where,
            f"is {value!r}; allowed with decimal {decimal!r}: "
            f"{', '.join(map(json.dumps, allowed))} (the digit-group separator, as in "
            f"{'1,234.50' if decimal == '.' else '1.234,50'})",
        )
    return value


def _currency_symbol(path: Path, where: str, value: Any) -> str | None:
    if value is None:
        return None
    text = _text(path, where, value)
    if len(text) > MAX_CURRENCY_SYMBOL or NOT_IN_CURRENCY_SYMBOL & set(text):
        raise _fail(
            path,
            where,
            f"is {text!r}; a symbol or code of 1-{MAX_CURRENCY_SYMBOL} characters written beside "
            "the numbers, none of them a digit, sign, blank, quote or parenthesis "
            "($, €, USD, kr.)",
        )
    return text


def _negatives(path: Path, where: str, value: Any) -> str:
    if value not in NEGATIVE_STYLES:
        raise _fail(
            path,
            where,
            f"is {value!r}; one of {', '.join(map(json.dumps, NEGATIVE_STYLES))} (-49.00 "
            "always reads; parentheses: (49.00), trailing_minus: 49.00-)",
        )
    return value


def _missing_texts(path: Path, where: str, value: Any) -> tuple[str, ...]:
    """`missing_texts: ["\\N", "NULL"]`: whole-field texts read as a missing value."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            if item is None:
                raise _fail(
                    path,
                    f"{where}[{i}]",
                    f"is no text: YAML reads a bare {'/'.join(YAML_NULLS)} as no value; quote "
                    'it ("NULL")',
                )
    texts = _text_list(path, where, value)
    for i, text in enumerate(texts):
        if text.strip() != text:
            raise _fail(
                path,
                f"{where}[{i}]",
                f"is {text!r}; without blanks around it (fields are trimmed)",
            )
    return texts


def _zone_abbreviations(path: Path, where: str, value: Any) -> dict[str, str]:
    """`zone_abbreviations:` {IST: "+05:30"}: each abbreviation's offset, as `+hhmm`."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _fail(path, where, 'must map zone abbreviations to offsets: {IST: "+05:30"}')
    zones = {}
    for name, offset in value.items():
        if not isinstance(name, str) or not ZONE_ABBREVIATION_NAME.fullmatch(name):
            raise _fail(path, where, f"names {name!r}: an abbreviation is 2-5 capital letters")
        found = ZONE_OFFSET.fullmatch(offset) if isinstance(offset, str) else None
        if found is None:
            raise _fail(
                path,
                f"{where}.{name}",
                f'is {offset!r}; an offset from UTC, -12:00 to +14:59, quoted: "+05:30"',
            )
        zones[name] = "".join(found.groups())
    return zones


def _line_count(path: Path, where: str, value: Any, what: str) -> int:
    """`skip_lines` or `footer_lines`: a whole number from 0 of the lines `what` says."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _fail(path, where, f"is {value!r}; the number of {what}, a whole number from 0")
    return value


def _records(path: Path, where: str, value: Any, fmt: str | None) -> str | None:
    """`records:` a JSON key or dotted path (`results`, `data.events`), or such paths joined
    by `[].` through arrays (`orders[].line_items`), for JSON files."""
    if value is None:
        return None
    if fmt not in (None, "jsonl"):
        raise _fail(path, where, f"is for JSON files, not format {fmt}")
    text = _text(path, where, value)
    keys = [key for level in text.split(ARRAY_STEP) for key in level.split(".")]
    if not all(key.strip() == key and key and "[]" not in key for key in keys):
        raise _fail(
            path,
            where,
            f"is {text!r}: a key, keys joined by dots (`results`, `data.events`), or such "
            "paths joined by `[].` through arrays (`orders[].line_items`)",
        )
    return text


def _parent(path: Path, where: str, value: Any, records: str | None) -> str | None:
    """`parent:` one key (no dots) under which a record carries the object holding it; it
    goes with `records:`."""
    if value is None:
        return None
    if records is None:
        raise _fail(
            path,
            where,
            "goes with `records:` (the key of the array whose elements are the rows); "
            "set both, e.g. `records: line_items` and `parent: order`",
        )
    text = _text(path, where, value)
    if not text or "." in text or text.strip() != text:
        raise _fail(path, where, f"is {text!r}: one key without dots (`order`, `user`)")
    return text


def _source(path: Path, where: str, value: Any, table: str) -> Source:
    """Parse one source of the `events`, `users` or `items` section."""
    common = (
        "files",
        "format",
        "encoding",
        "delimiter",
        "decimal",
        "thousands",
        "currency_symbol",
        "negatives",
        "missing_texts",
        "header",
        "names",
        "columns",
        "timestamp_formats",
        "timezone",
        "sheet",
        "skip_lines",
        "footer_lines",
        "zone_abbreviations",
        "members",
        "records",
        "parent",
        "short_lines",
    )
    extra = {
        "events": ("event_type", "dedupe", "user_attributes", "fill_down", "blank_time"),
        "users": ("attributes",),
        "items": ("attributes", "fill_down"),
    }
    spec = _check_keys(path, where, value, common + extra[table], ("files", "columns"))
    constant = spec.get("event_type")
    if table == "events":
        required = ("user_id", "timestamp") if constant is not None else EVENT_REQUIRED
        allowed = EVENT_REQUIRED + EVENT_OPTIONAL
    else:
        required = USER_COLUMNS if table == "users" else ITEM_COLUMNS
        allowed = required + (USER_OPTIONAL if table == "users" else ITEM_OPTIONAL)
    columns, derived = _columns(path, f"{where}.columns", spec["columns"], allowed, required)
    mapped = {**columns, **derived}
    if table == "users" and "valid_from" in mapped and "signup_time" not in mapped:
        raise _fail(
            path,
            f"{where}.columns.signup_time",
            "is required in a users table of versions (valid_from): each user's earliest "
            "version is kept from their signup on",
        )
    if constant is not None and "event_type" in {**columns, **derived}:
        raise _fail(
            path, f"{where}.event_type", "is a constant; do not also map columns.event_type"
        )
    fmt = spec.get("format")
    if fmt is not None:
        _choice(path, f"{where}.format", fmt, FORMATS)
    header, names = _names(path, where, spec)
    if names is not None:
        _check_derived_columns(path, where, derived, names)
    records = _records(path, f"{where}.records", spec.get("records"), fmt)
    dedupe = spec.get("dedupe")
    decimal = _decimal(path, f"{where}.decimal", spec.get("decimal", "."))
    attributes = _attributes(
        path, f"{where}.attributes", spec.get("attributes", {}), table == "users"
    )
    user_attributes = _attributes(
        path,
        f"{where}.user_attributes",
        spec.get("user_attributes", {}),
        True,
        EVENT_REQUIRED + EVENT_OPTIONAL + EVENT_STAGE_NAMES,
    )
    fill = spec.get("fill_down")
    if fill is None:
        fill_down = None
    elif table == "items":
        fill_down = _filled_attributes(path, f"{where}.fill_down", fill, attributes)
    else:
        read = [*columns.values(), *(c for d in derived.values() for c in derived_columns(d))]
        read += [a.column for a in user_attributes]
        fill_down = _filled_columns(path, f"{where}.fill_down", fill, read)
    return Source(
        files=_text(path, f"{where}.files", spec["files"]),
        delimiter=_delimiter(path, f"{where}.delimiter", spec.get("delimiter", ",")),
        decimal=decimal,
        thousands=_thousands(path, f"{where}.thousands", spec.get("thousands"), decimal),
        currency_symbol=_currency_symbol(
            path, f"{where}.currency_symbol", spec.get("currency_symbol")
        ),
        negatives=_negatives(path, f"{where}.negatives", spec.get("negatives", LEADING_MINUS)),
        missing_texts=_missing_texts(
            path, f"{where}.missing_texts", spec.get("missing_texts", [])
        ),
        skip_lines=_line_count(
            path,
            f"{where}.skip_lines",
            spec.get("skip_lines", 0),
            "lines (rows of a sheet) before the header",
        ),
        footer_lines=_line_count(
            path,
            f"{where}.footer_lines",
            spec.get("footer_lines", 0),
            "lines at the end of a text table that are no rows",
        ),
        zone_abbreviations=_zone_abbreviations(
            path, f"{where}.zone_abbreviations", spec.get("zone_abbreviations")
        ),
        short_lines=_choice(
            path, f"{where}.short_lines", spec.get("short_lines", "error"), SHORT_LINES
        ),
        derived=derived,
        header=header,
        names=names,
        dedupe=None if dedupe is None else _dedupe(path, f"{where}.dedupe", dedupe),
        format=fmt,
        encoding=_encoding(path, f"{where}.encoding", spec.get("encoding", "utf-8")),
        columns=columns,
        timestamp_formats=_timestamp_formats(
            path,
            f"{where}.timestamp_formats",
            spec.get("timestamp_formats", list(DEFAULT_TIMESTAMP_FORMATS)),
        ),
        event_type=None if constant is None else _text(path, f"{where}.event_type", constant),
        times=TimeZones(written_in=_zone(path, f"{where}.timezone", spec.get("timezone", "UTC"))),
        sheet=None if spec.get("sheet") is None else _text(path, f"{where}.sheet", spec["sheet"]),
        members=None
        if spec.get("members") is None
        else _text(path, f"{where}.members", spec["members"]),
        records=records,
        parent=_parent(path, f"{where}.parent", spec.get("parent"), records),
        blank_time=_choice(
            path, f"{where}.blank_time", spec.get("blank_time", "error"), BLANK_TIMES
        ),
        attributes=attributes,
        fill_down=fill_down,
        user_attributes=user_attributes,
    )


def _filled_attributes(
    path: Path, where: str, value: Any, attributes: Sequence[Attribute]
) -> FillDown:
    """Items' `{by: COLUMN, attributes: [NAME, ...]}`: the names are the source's
    attributes, kept as their columns."""
    spec = _check_keys(path, where, value, ("by", "attributes"), ("by", "attributes"))
    names = _text_list(path, f"{where}.attributes", spec["attributes"])
    column_of = {a.name: a.column for a in attributes}
    _check_listed(path, f"{where}.attributes", names, column_of, "the attributes of this source")
    return FillDown(
        by=_text(path, f"{where}.by", spec["by"]),
        columns=tuple(column_of[name] for name in names),
    )


def _filled_columns(path: Path, where: str, value: Any, read: Sequence[str]) -> FillDown:
    """Events' `{by: COLUMN, columns: [COLUMN, ...]}`: columns the source reads (mapped,
    in a derived expression, or a user attribute's); filling one it never reads would do
    nothing."""
    spec = _check_keys(path, where, value, ("by", "columns"), ("by", "columns"))
    columns = _text_list(path, f"{where}.columns", spec["columns"])
    _check_listed(path, f"{where}.columns", columns, read, "the columns this source reads")
    return FillDown(by=_text(path, f"{where}.by", spec["by"]), columns=columns)


def _check_listed(
    path: Path, where: str, listed: Sequence[str], known: Collection[str], what: str
) -> None:
    """Raise naming the `listed` entries not in `known` (or nothing listed), and what is."""
    unknown = [name for name in listed if name not in known]
    if unknown or not listed:
        raise _fail(
            path,
            where,
            f"names {', '.join(unknown) or 'nothing'}; {what}: "
            + (", ".join(sorted(set(known))) or "none"),
        )


def _range(path: Path, where: str, value: Any, timestamps: bool) -> Range:
    spec = _check_keys(path, where, value, ("min", "max"), ())
    bounds = {}
    for key in ("min", "max"):
        bound = spec.get(key)
        if bound is None:
            bounds[key] = None
        elif timestamps:
            try:
                bounds[key] = datetime.fromisoformat(str(bound))
            except ValueError:
                raise _fail(path, f"{where}.{key}", f"is {bound!r}, not an ISO date") from None
        elif isinstance(bound, bool) or not isinstance(bound, int | float):
            raise _fail(path, f"{where}.{key}", f"is {bound!r}, not a number")
        else:
            bounds[key] = float(bound)
    return Range(**bounds)


def _rules(path: Path, value: Any) -> Rules:
    spec = _check_keys(
        path,
        "rules",
        value,
        (
            "event_types",
            "sentinel_ids",
            "timestamp_range",
            "value_range",
            "dedupe",
            "min_accepted_share",
            "sessions",
            "strip_leading_zeros",
        ),
        (),
    )
    strip = spec.get("strip_leading_zeros", False)
    if not isinstance(strip, bool):
        raise _fail(path, "rules.strip_leading_zeros", f"must be true or false, got {strip!r}")
    gap = ("inactivity_minutes",)
    sessions = _check_keys(
        path, "rules.sessions", spec.get("sessions", {}), gap, gap if "sessions" in spec else ()
    )
    types = _check_keys(
        path, "rules.event_types", spec.get("event_types", {}), ("allowed", "rename", "drop"), ()
    )
    rename = types.get("rename", {})
    if not isinstance(rename, Mapping):
        raise _fail(path, "rules.event_types.rename", "must map old names to new names")
    allowed = types.get("allowed")
    return Rules(
        allowed_event_types=None
        if allowed is None
        else _text_list(path, "rules.event_types.allowed", allowed),
        rename_event_types={
            str(old): _text(path, f"rules.event_types.rename.{old}", new)
            for old, new in rename.items()
        },
        drop_event_types=_text_list(path, "rules.event_types.drop", types.get("drop", [])),
        sentinel_ids=_text_list(path, "rules.sentinel_ids", spec.get("sentinel_ids", [])),
        timestamp_range=_range(
            path, "rules.timestamp_range", spec.get("timestamp_range", {}), True
        ),
        value_range=_range(path, "rules.value_range", spec.get("value_range", {}), False),
        dedupe=_dedupe(path, "rules.dedupe", spec.get("dedupe", True)),
        min_accepted_share=_share(
            path,
            "rules.min_accepted_share",
            spec.get("min_accepted_share", DEFAULT_MIN_ACCEPTED_SHARE),
        ),
        session_gap_minutes=_minutes(
            path, "rules.sessions.inactivity_minutes", sessions.get("inactivity_minutes")
        ),
        strip_leading_zeros=strip,
    )


def _minutes(path: Path, where: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_GAP:
        raise _fail(path, where, f"must be a whole number of minutes from 1 to {MAX_GAP}")
    return value


def _with_timezone(source: Source, spec: Any, zone: str) -> Source:
    """A source's times are stored in the dataset's zone; those without an offset are
    written in the source's own `timezone:`, else in the dataset's."""
    written_in = source.times.written_in if "timezone" in spec else zone
    return replace(source, times=TimeZones(written_in=written_in, stored_in=zone))


def _with_dedupe(source: Source, rules: Rules) -> Source:
    """An events source without its own `dedupe:` follows `rules.dedupe`."""
    return source if source.dedupe is not None else replace(source, dedupe=rules.dedupe)


def _share(path: Path, where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise _fail(path, where, f"must be a number from 0 to 1, got {value!r}")
    return float(value)


def event_user_attributes(path: Path, events: tuple[Source, ...]) -> tuple[Attribute, ...]:
    """The user attributes the event sources declare, one per name in first-declared order.

    Sources may read one attribute from columns of different names, but must agree on its
    kind and dtype.
    """
    merged: dict[str, Attribute] = {}
    for i, source in enumerate(events):
        for attribute in source.user_attributes:
            first = merged.setdefault(attribute.name, attribute)
            if (first.kind, first.dtype) != (attribute.kind, attribute.dtype):
                raise _fail(
                    path,
                    f"events[{i}].user_attributes.{attribute.name}",
                    f"is {attribute.kind}/{attribute.dtype} here but {first.kind}/{first.dtype} "
                    "in an earlier source; declare it the same way in every source",
                )
    return tuple(merged.values())


def parse_config(raw: Any, path: Path) -> DatasetConfig:
    """Validate a loaded YAML mapping into a DatasetConfig (pure)."""
    spec = _check_keys(
        path, "<top>", raw, ("name", "events", "users", "items", "rules", "timezone"), ("events",)
    )
    zone = _zone(path, "timezone", spec.get("timezone", UTC_ZONE))
    events = spec["events"]
    if isinstance(events, Mapping):
        events = [events]
    if not isinstance(events, list) or not events:
        raise _fail(path, "events", "must be a source or a non-empty list of sources")
    items, users = spec.get("items"), spec.get("users")
    rules = _rules(path, spec.get("rules", {}))
    sources = tuple(
        _with_timezone(
            _with_dedupe(_source(path, f"events[{i}]", source, "events"), rules), source, zone
        )
        for i, source in enumerate(events)
    )
    if users is not None:
        for i, source in enumerate(sources):
            if source.user_attributes:
                raise _fail(
                    path,
                    f"events[{i}].user_attributes",
                    "reads user attributes from events, which only a config without a `users:` "
                    "table does; declare them under users.attributes instead",
                )
    event_user_attributes(path, sources)
    if rules.session_gap_minutes is not None:
        for i, source in enumerate(sources):
            if source.maps("session_id"):
                raise _fail(
                    path,
                    f"events[{i}].columns.session_id",
                    "is mapped while rules.sessions derives every event's session id from "
                    "the gaps between a user's events; keep one of the two",
                )
    return DatasetConfig(
        name=_text(path, "name", spec.get("name", path.stem)),
        path=path,
        base_dir=path.parent,
        events=sources,
        users=None
        if users is None
        else _with_timezone(_source(path, "users", users, "users"), users, zone),
        items=None
        if items is None
        else _with_timezone(_source(path, "items", items, "items"), items, zone),
        rules=rules,
        canonical=json.dumps(raw, sort_keys=True, default=str),
        timezone=zone,
    )
