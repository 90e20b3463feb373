"""The one module of events.ingest that does store IO: read files, build tables, swap.

An ingest builds every table in a new DuckDB file beside the store and replaces the store
with it only when everything succeeded, so a fatal error leaves the store exactly as it was;
then it writes the store's Parquet copy for Spark (events.store.write_parquet_copy).
Each file is read once into a staging table (text, parsed values, row-level reason), its rows
numbered by DuckDB's `WITH ORDINALITY` (the exact 1-based data row number: header excluded,
blank lines are not rows); only rejected rows and events sharing a dedupe hash are read a
second time, for their raw row and their dedupe fields.
Parsing and validation run as SQL (validate.py). A file lacking a mapped column is fatal: for
JSONL, one that no record has as a key and that is not a dotted path whose first part is one;
for Parquet, one that is neither a column nor a path through its struct columns.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, TypeVar

import duckdb
import yaml
from tqdm import tqdm

from contracts.errors import UsagecastError
from contracts.workspace import event_store_path
from events import quality
from events.ingest import validate
from events.ingest.config import (
    EVENT_OPTIONAL,
    Attribute,
    ConfigError,
    DatasetConfig,
    Source,
    derived_columns,
    event_user_attributes,
    parse_config,
    unknown_derived_columns,
)
from events.ingest.readers import (
    FileReader,
    InputFile,
    SourceFileError,
    json_elements_sql,
    json_path,
    read_error_summary,
    reader_sql,
    records_levels,
    resolve_files,
    sql_string,
)
from events.ingest.summary import IngestSummary, TableCounts
from events.quality.render import source_names
from events.store import (
    EVENT_COLUMNS,
    EVENTS,
    INGEST_COLUMNS,
    INGESTS,
    ITEM_ATTRIBUTES,
    ITEM_VALIDITY_COLUMNS,
    ITEMS,
    QUARANTINE,
    QUARANTINE_COLUMNS,
    USER_ATTRIBUTES,
    USERS,
    StoreMissingError,
    check_event_columns,
    latest_ingest_value,
    write_parquet_copy,
)

T = TypeVar("T")
ENTITY_DUPLICATE_REASONS = {USERS: validate.DUPLICATE_USER, ITEMS: validate.DUPLICATE_ITEM}
# A signup taken from the events: the user's first event with their own id, not an anonymous
# one stitched to them before it.
FIRST_OWN_EVENT = (
    f"coalesce(min(event_time) FILTER (WHERE NOT {validate.STITCHED}), min(event_time))"
)
# DuckDB's memory limit for an ingest (its `memory_limit` syntax, e.g. 2GB).
MEMORY_ENV = "USAGECAST_INGEST_MEMORY"
DEFAULT_MEMORY = "512MB"


class StoreBusyError(UsagecastError):
    """The event store is locked by another writer."""


class IngestMemoryError(UsagecastError):
    """The ingest needed more memory than its limit and could not spill to disk."""


def memory_limit() -> str:
    """The ingest's memory limit: $USAGECAST_INGEST_MEMORY, else DEFAULT_MEMORY.

    Past it DuckDB spills staged rows, hash tables and sorts to the ingest's scratch folder,
    so an export of any size is read in bounded memory.
    """
    return os.environ.get(MEMORY_ENV) or DEFAULT_MEMORY


def _out_of_memory(error: duckdb.Error) -> IngestMemoryError:
    return IngestMemoryError(
        f"the ingest ran out of memory within its limit {memory_limit()} ({MEMORY_ENV}): "
        f"{_error_summary(error)}; set {MEMORY_ENV} higher (e.g. 4GB)"
    )


class PartialIngestError(UsagecastError):
    """Too few rows of a table were accepted; the previous store was kept."""


def read_config(config_path: Path) -> DatasetConfig:
    """Load and validate a dataset YAML file."""
    path = Path(config_path).resolve()
    if not path.is_file():
        raise ConfigError(f"{path}: dataset config does not exist")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        first = str(error).splitlines()[0]
        raise ConfigError(f"{path}: not valid YAML: {first}") from None
    return parse_config(raw, path)


def _sources(config: DatasetConfig) -> list[tuple[str, str, Source]]:
    """(table, key path, source) in load order: users first, since events need them.

    Without a users table, the users are derived from the accepted events instead.
    """
    sources = [] if config.users is None else [(USERS, "users", config.users)]
    if config.items is not None:
        sources.append((ITEMS, "items", config.items))
    sources += [(EVENTS, f"events[{i}]", s) for i, s in enumerate(config.events)]
    return sources


def dataset_digest(config: DatasetConfig, files: Sequence[Sequence[InputFile]]) -> str:
    """sha256 over the config's canonical form and every input file's name and sha256."""
    digest = hashlib.sha256(config.canonical.encode())
    for group in files:
        for file in group:
            digest.update(f"\n{file.display}\0{file.sha256}".encode())
    return digest.hexdigest()


def _latest_ingest(store: Path) -> tuple[str, str, dict] | None:
    """(ingest_id, digest, counts) of the store's newest ingest, or None.

    None as well for a store an older usagecast wrote (a canonical column of events, or the
    ingests' granularity, missing): the same dataset is then loaded again instead of reported
    unchanged.
    """
    if not store.exists():
        return None
    try:
        con = duckdb.connect(str(store), read_only=True)
    except duckdb.IOException as error:
        raise StoreBusyError(f"{store}: cannot open the event store: {error}") from None
    try:
        if not con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [INGESTS]
        ).fetchone()[0]:
            return None
        row = con.execute(
            f"SELECT ingest_id, dataset_digest, counts FROM {INGESTS} "
            "ORDER BY finished_at DESC LIMIT 1"
        ).fetchone()
        check_event_columns(con)
        if latest_ingest_value(con, "granularity") is None:
            return None
    except StoreMissingError:
        return None
    finally:
        con.close()
    return None if row is None else (row[0], row[1], json.loads(row[2]))


def _columns_sql(columns: dict[str, str]) -> str:
    return ", ".join(f"{validate.ident(name)} {sql_type}" for name, sql_type in columns.items())


# DuckDB error lines that quote the file's contents: never shown (the line number is).
QUOTING_LINES = ("Original Line",)
# DuckDB's name for the file it read, which may be a scratch copy: the message names the file.
READ_FILE_NAME = re.compile(r' in file "[^"]*"')


def _error_summary(error: Exception) -> str:
    """DuckDB's explanation on one line: the lines before its list of possible fixes, without
    the lines that quote the file (an error must not print a file's contents) and without
    the path it read (a scratch copy when the file was decompressed or transcoded)."""
    lines = []
    for line in str(error).strip().splitlines():
        if line.startswith(("Possible", "The search space")):
            break
        if line.strip() and not line.strip().startswith(QUOTING_LINES):
            lines.append(READ_FILE_NAME.sub("", line.strip()))
    return "; ".join(lines)[:400]


# JSONL records read to tell whether a dotted name's first key holds {key, value} arrays.
KEY_VALUE_PROBE_ROWS = 1_000
# The keys of a key/value list an error names at most.
MAX_KEYS_SHOWN = 20


def refuse_outside_files(config: DatasetConfig, where: str, files: list[InputFile]) -> None:
    """Files of a dataset must lie in its config's folder (symlinks resolved) unless the user
    passed --allow-outside-files: a config cannot quietly read any file on disk."""
    base = config.base_dir.resolve()
    for file in files:
        if not file.path.resolve().is_relative_to(base):
            raise ConfigError(
                f"{config.path}: {where}.files: {file.path} is outside the config's folder "
                f"{base}; move it there, or pass --allow-outside-files to read it anyway"
            )


def _in_file(
    column: str, types: Mapping[str, str], file_format: str, paths: Collection[str] = ()
) -> bool:
    """A name the file holds: one of its columns, in JSONL a dotted path whose first key is
    a top-level key of the file (validate.jsonl_keys), in Parquet a path into its structs."""
    return (
        column in types
        or column in paths
        or (file_format == "jsonl" and validate.jsonl_keys(column, False)[0] in types)
    )


def _columns_read(column: str, opened: OpenedFile, skip_lines: int = 0) -> str:
    """What a file that lacks `column` holds, counted (its contents are never quoted; the
    keys of a key/value list are names, as fields are); a header below `skip_lines` lines
    (rows of a sheet) is named by its number."""
    types, file_format = opened.types, opened.file.format
    listed, _, key = column.partition(".")
    in_list = ""
    if listed in opened.listed_keys:
        keys = sorted(opened.listed_keys[listed])
        shown = ", ".join(keys[:MAX_KEYS_SHOWN]) + (", ..." if len(keys) > MAX_KEYS_SHOWN else "")
        in_list = (
            f"; no element of its list {listed!r} has the key {key!r} (its keys: "
            f"{shown or 'none'})"
        )
    if file_format == "parquet":
        parent = column.rpartition(".")[0]
        fields = sorted(
            p.removeprefix(f"{parent}.") for p in opened.paths if p.rpartition(".")[0] == parent
        )
        inside = f"; its struct {parent!r} has fields {', '.join(fields)}" if fields else ""
        return f"{len(types)} columns in its schema{in_list or inside}"
    if file_format != "jsonl":
        line = "row" if file_format == "xlsx" else "line"
        below = f", {line} {skip_lines + 1} after skip_lines {skip_lines}" if skip_lines else ""
        return f"{len(types)} columns in its header {line}{below}"
    first = validate.jsonl_keys(column, False)[0]
    path = f"; as a path, its first key {first!r} is not one of them" if first != column else ""
    return f"{len(types)} top-level keys in its records{in_list or path}"


@dataclass(frozen=True)
class OpenedFile:
    """A file ready to stage: how DuckDB reads it, its columns (with types), its number."""

    file: InputFile
    reader: FileReader
    types: dict[str, str]
    key: int
    paths: frozenset[str] = frozenset()  # Parquet: dotted paths into its struct columns
    # The key/value lists the source maps (Parquet's validate.key_value_lists, JSONL's
    # arrays of {key, value} objects) -> their keys
    listed_keys: Mapping[str, frozenset[str]] = dataclass_field(default_factory=dict)
    # Its text columns the source reads paths in (`properties.revenue` in a CSV)
    json_text: frozenset[str] = frozenset()

    def holds(self, column: str) -> bool:
        """Whether the file has the column (a JSONL file without records has every one); a
        `LIST.KEY` name when some element of the list holds the key; a path in a text
        column read as JSON."""
        if self.file.format == "jsonl" and not self.types:
            return True
        first, _, key = column.partition(".")
        if key and first in self.listed_keys and column not in self.types:
            return key in self.listed_keys[first]
        return _in_file(column, self.types, self.file.format, self.paths) or (
            bool(key) and first in self.json_text
        )


def _may_be_absent(table: str, at: str) -> bool:
    """A config key whose column a file may lack when another file of its source has it:
    an optional event field or an attribute (not an id, a time, a type or a dedupe key)."""
    if at.startswith(("attributes.", "user_attributes.")):
        return True
    optional = at.startswith("columns.") and at.removeprefix("columns.") in EVENT_OPTIONAL
    return table == EVENTS and optional


def absent_columns(
    table: str, where: str, source: Source, opened: Sequence[OpenedFile]
) -> list[frozenset[str]]:
    """Per file, the mapped columns it lacks that are read as missing there: optional ones
    (_may_be_absent) that another file of the same source holds, as when a later export
    added a column. Any other mapped column a file lacks is fatal, named with the file."""
    absent: list[set[str]] = [set() for _ in opened]
    for at, column in validate.mapped_columns(source):
        lacking = [i for i, one in enumerate(opened) if not one.holds(column)]
        if not lacking:
            continue
        if _may_be_absent(table, at) and len(lacking) < len(opened):
            for i in lacking:
                absent[i].add(column)
            continue
        first = opened[lacking[0]]
        others = (
            f"; nor does any other of the source's {len(opened)} files"
            if _may_be_absent(table, at) and len(opened) > 1
            else ""
        )
        raise SourceFileError(
            f"{first.file.shown}: column {column!r} mapped in {where}.{at} is not in the file "
            f"({_columns_read(column, first, source.skip_lines)}){others}"
        )
    return [frozenset(columns) for columns in absent]


def absent_column_files(
    where: str, source: Source, opened: Sequence[OpenedFile], absent: Sequence[frozenset[str]]
) -> dict[str, list[str]]:
    """Config key -> the files (as shown) that lack its column and read it as missing."""
    shown = {}
    for at, column in validate.mapped_columns(source):
        pairs = zip(opened, absent, strict=True)
        if files := [one.file.display for one, columns in pairs if column in columns]:
            shown[f"{where}.{at}"] = files
    return shown


def _json_place(records: str, page: int, place: Sequence[int]) -> str:
    """Where an element of the `records` arrays is, for error messages: `top-level object 2,
    at orders[3].line_items[1]` (1-based; the top-level object alone without a place)."""
    levels = records_levels(records)
    steps = ".".join(f"{'.'.join(keys)}[{n}]" for keys, n in zip(levels, place, strict=False))
    return f"top-level object {page}" + (f", at {steps}" if steps else "")


class _Builder:
    """Builds one dataset into a fresh DuckDB file (the scratch DB for a swap)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, config: DatasetConfig, scratch: Path):
        self.con = con
        self.config = config
        self.scratch = scratch
        self.staged: dict[str, list[validate.StagedFile]] = {}
        self.read: dict[str, int] = {}
        self.files: list[dict] = []
        self.file_count = 0
        self.file_sources: dict[int, str] = {}  # file_key -> its source's key path
        self.user_attributes = event_user_attributes(config.path, config.events)
        self.facts: dict = {}

    def open_file(self, source: Source, file: InputFile) -> OpenedFile:
        """How DuckDB reads one file, and the columns it holds."""
        key = self.file_count
        self.file_count += 1
        reader = reader_sql(file, source, self.scratch, key)
        if reader.pages is not None and source.records is not None:
            pages, records = reader.pages, source.records
            self._read(file, source, lambda: self._check_pages(file, pages, records))
            if source.parent is not None:
                parent = source.parent
                self._read(file, source, lambda: self._check_parent(file, pages, records, parent))
        types, typed = self._read(
            file, source, lambda: self._column_types(reader.sql, file.format)
        )
        if validate.ROW_NUMBER_COLUMN in (name.lower() for name in types):
            raise SourceFileError(
                f"{file.shown}: a column named {validate.ROW_NUMBER_COLUMN!r} is not supported "
                "(the ingest numbers rows under that name); rename it in the file"
            )
        mapped = [c for _, c in validate.mapped_columns(source)]
        mapped += [c for e in source.derived.values() for c in derived_columns(e)]
        # The first part of each dotted name the file lacks: a struct, list or text column.
        outer = {c.partition(".")[0] for c in mapped if c not in types and "." in c}
        if file.format == "jsonl":
            keys = {
                name: self._read(file, source, lambda n=name: self._json_keys(reader.sql, n))
                for name in sorted(outer.intersection(types))
            }
            listed = {name: found for name, found in keys.items() if found is not None}
            return OpenedFile(file, reader, types, key, listed_keys=listed)
        json_text = frozenset(c for c in outer if types.get(c) == "VARCHAR")
        if file.format != "parquet":
            return OpenedFile(file, reader, types, key, json_text=json_text)
        paths = frozenset(validate.struct_field_paths(typed))
        lists = outer.intersection(validate.key_value_lists(typed))
        keys = {
            name: self._read(file, source, lambda n=name: self._keys(reader.sql, n))
            for name in lists
        }
        return OpenedFile(file, reader, types, key, paths, keys, json_text)

    def _check_pages(self, file: InputFile, pages: str, records: str) -> None:
        """Every top-level object of a file of API pages holds its records at `records`,
        else the file is refused: a page without them (an error reply saved with the
        others) would otherwise add no row and no quarantine entry. Through arrays
        (`orders[].line_items`) an element without the inner array, or with null there,
        holds no record (an order without line items); anything else there is refused."""
        for depth, keys in enumerate(records_levels(records)):
            at = json_path(keys)
            inner = "" if depth == 0 else f"AND coalesce(json_type(json, {at}), 'NULL') <> 'NULL'"
            found = self.con.execute(
                f"SELECT page, place, coalesce(json_type(json, {at}), 'nothing'), "
                f"json_keys(json) FROM {json_elements_sql(pages, records, depth)} WHERE "
                f"json_type(json, {at}) IS DISTINCT FROM 'ARRAY' {inner} "
                "ORDER BY page, place LIMIT 1"
            ).fetchone()
            if found is None:
                continue
            page, place, kind, keys_found = found  # its keys, not its values: errors quote no data
            holder = _json_place(records, page, place) + ("," if depth else "")
            raise SourceFileError(
                f"{file.shown}: {holder} holds {kind.lower()} at `records: {records}`"
                + (f" (`{'.'.join(keys)}`)" if depth else "")
                + f", not an array of records (its keys: {', '.join(keys_found or [])}); "
                + (
                    "remove that object (an API's error reply?) or correct `records`"
                    if depth == 0
                    else "correct `records`"
                )
            )

    def _check_parent(self, file: InputFile, pages: str, records: str, parent: str) -> None:
        """No record holds a key named `parent` of its own: the object holding it would
        replace that key's value, a change of the data no row would show."""
        found = self.con.execute(
            f"SELECT page, place FROM {json_elements_sql(pages, records)} "
            f"WHERE json_exists(json, {json_path([parent])}) ORDER BY page, place LIMIT 1"
        ).fetchone()
        if found is not None:
            raise SourceFileError(
                f"{file.shown}: the record in {_json_place(records, *found)} has a key "
                f"{parent!r} of its own, which `parent: {parent}` would replace with the "
                "object holding it; choose another `parent` name"
            )

    def _json_keys(self, reader: str, name: str) -> frozenset[str] | None:
        """The keys of a JSONL file's `name` when its first records hold it as an array of
        name/value objects (GA4's `event_params` exported as JSON, Cognito's `Attributes`:
        validate.PAIR_KEYS), else None; only then is the whole file read for them."""
        path = validate.json_path([name])
        pairs = " OR ".join(
            f"(json_exists(json, {validate.json_path([name], f'[0].{k}')}) AND "
            f"json_exists(json, {validate.json_path([name], f'[0].{v}')}))"
            for k, v in validate.PAIR_KEYS
        )
        is_list = self.con.execute(
            f"SELECT bool_or(json_type(json, {path}) = 'ARRAY' AND ({pairs})) "
            f"FROM (SELECT json FROM {reader} LIMIT {KEY_VALUE_PROBE_ROWS})"
        ).fetchone()[0]
        if not is_list:
            return None
        rows = self.con.execute(
            f"SELECT DISTINCT {validate.json_pair_name('e')} FROM (SELECT unnest(CAST("
            f"json_extract(json, {path}) AS JSON[])) AS e FROM {reader} "
            f"WHERE json_type(json, {path}) = 'ARRAY')"
        ).fetchall()
        return frozenset(str(key) for (key,) in rows if key is not None)

    def _keys(self, reader: str, column: str) -> frozenset[str]:
        """The keys the elements of a key/value list column hold in a file."""
        rows = self.con.execute(
            f"SELECT DISTINCT unnest(list_transform({validate.ident(column)}, lambda p: p.key)) "
            f"FROM {reader}"
        ).fetchall()
        return frozenset(str(key) for (key,) in rows if key is not None)

    def absent_in(
        self, table: str, where: str, source: Source, opened: list[OpenedFile]
    ) -> list[frozenset[str]]:
        """absent_columns of a source's files, recorded in the facts for the report."""
        absent = absent_columns(table, where, source, opened)
        self.facts.setdefault("absent_columns", []).extend(
            {"key": key, "files": files, "of": len(opened)}
            for key, files in absent_column_files(where, source, opened, absent).items()
        )
        return absent

    def stage_file(
        self,
        table: str,
        where: str,
        source: Source,
        opened: OpenedFile,
        absent: frozenset[str],
    ) -> None:
        """Stage one file's rows (text, parsed values, row-level reason) in one pass."""
        file, reader, types, key = opened.file, opened.reader, opened.types, opened.key
        recordless_jsonl = file.format == "jsonl" and not types
        for name, expression in source.derived.items():
            paths = [c for c in derived_columns(expression) if opened.holds(c)]
            unknown = unknown_derived_columns(name, expression, list(types), paths)
            if unknown and not recordless_jsonl:
                raise SourceFileError(f"{file.shown}: {where}.columns.{name}: {unknown}")
        staged = validate.StagedFile(
            reader.sql,
            key,
            file.display,
            file.format,
            types,
            self.read.get(table, 0),
            dedupe=self._dedupe(table, source),
            control_free=reader.control_free,
            absent=absent,
            key_value_lists=frozenset(opened.listed_keys),
            json_text=opened.json_text,
            numbered=reader.numbered,
            fill_down=source.fill_down,
            event_type=source.event_type,
            missing_texts=source.missing_texts,
        )
        if table == EVENTS:
            select = validate.stage_events_sql(
                staged, source, self.config.rules, self.user_attributes
            )
        else:
            select = validate.stage_entities_sql(staged, source, self.config.rules, table)
        stage = f"stage_{table}"
        if table in self.staged:
            statement = f"INSERT INTO {stage} BY NAME {select}"
        else:
            statement = f"CREATE TEMP TABLE {stage} AS {select}"
        rows = self._read(file, source, lambda: self.con.execute(statement).fetchone()[0])
        self.staged.setdefault(table, []).append(staged)
        self.file_sources[key] = where
        self.read[table] = self.read.get(table, 0) + rows
        self.files.append(
            {"table": table, "path": file.display, "sha256": file.sha256, "rows": rows}
        )

    @staticmethod
    def _dedupe(table: str, source: Source) -> bool | tuple[str, ...]:
        """The duplicate rule of a staged file: events follow their source, users and items
        have none (their duplicates are repeated ids)."""
        if table != EVENTS:
            return False
        return True if source.dedupe is None else source.dedupe

    @staticmethod
    def _read(file: InputFile, source: Source, query: Callable[[], T]) -> T:
        """Run a query that reads a file; DuckDB's complaint becomes a one-line fatal error."""
        try:
            return query()
        except duckdb.OutOfMemoryException as error:
            raise _out_of_memory(error) from None
        except duckdb.Error as error:
            summary = read_error_summary(str(error)) or _error_summary(error)
            raise SourceFileError(
                f"{file.shown}: cannot read as {file.format} ({source.encoding}): {summary}"
            ) from None

    def _column_types(
        self, reader: str, file_format: str
    ) -> tuple[dict[str, str], list[tuple[str, duckdb.DuckDBPyType]]]:
        """File columns in file order with their DuckDB types, as text and as type objects
        (whose children name a struct's fields; none for JSONL).

        JSONL: every key seen in any record; a file without records (only blank lines) has
        none, and then no mapped key can be checked.
        """
        if file_format == "jsonl":
            keys = self.con.execute(
                f"SELECT DISTINCT unnest(json_keys(json)) AS key FROM {reader} ORDER BY key"
            ).fetchall()
            return {key: "JSON" for (key,) in keys}, []
        relation = self.con.sql(f"SELECT * FROM {reader} LIMIT 0")
        typed = list(zip(relation.columns, relation.types, strict=True))
        return {name: str(column_type) for name, column_type in typed}, typed

    def finish_entities(self, table: str, source: Source) -> None:
        """Quarantine duplicate ids, then write the accepted users/items and their catalog."""
        id_column = "user_id" if table == USERS else "item_id"
        self.con.execute(
            f"CREATE TEMP TABLE late_{table} AS "
            + validate.entities_late_sql(
                f"stage_{table}",
                id_column,
                ENTITY_DUPLICATE_REASONS[table],
                versions=_versions_kept(table, source),
            )
        )
        if table == USERS and self.config.signups_from_events:
            self._signups_from_events()
        self._read_raw(
            table,
            f"(SELECT file_key, source_row FROM stage_{table} WHERE reason "
            f"IS NOT NULL UNION ALL SELECT file_key, source_row FROM stage_{table} "
            f"SEMI JOIN late_{table} USING (seq))",
        )
        columns = [f"{id_column}::VARCHAR AS {id_column}"]
        if table == USERS:
            columns.append("signup_time::TIMESTAMP AS signup_time")
        columns += [
            f"{validate.ident(a.name)}::{validate.attribute_sql_type(a)} "
            f"AS {validate.ident(a.name)}"
            for a in source.attributes
        ]
        order_by = ""
        if table == ITEMS:
            columns += _item_validity_sql(source.versioned)
            order_by = "item_id, valid_from" if source.versioned else ""
        self._write_accepted(table, columns, order_by)
        if table == USERS:
            self._count_unknown_references(source.attributes)
        catalog = USER_ATTRIBUTES if table == USERS else ITEM_ATTRIBUTES
        self.con.execute(f"CREATE TABLE {catalog} (name VARCHAR, kind VARCHAR, dtype VARCHAR)")
        for a in source.attributes:
            self.con.execute(f"INSERT INTO {catalog} VALUES (?, ?, ?)", [a.name, a.kind, a.dtype])
        self._quarantine(table)

    def _signups_from_events(self) -> None:
        """A users table without signup times: each user signed up at their first accepted
        event (FIRST_OWN_EVENT); a user without one is late as USER_WITHOUT_EVENTS."""
        stage = f"stage_{USERS}"
        self.con.execute(
            f"UPDATE {stage} SET signup_time = f.first FROM (SELECT user_id, {FIRST_OWN_EVENT} "
            f"AS first FROM stage_{EVENTS} WHERE reason IS NULL GROUP BY user_id) f "
            f"WHERE {stage}.user_id = f.user_id"
        )
        self.con.execute(
            f"INSERT INTO late_{USERS} SELECT seq, '{validate.USER_WITHOUT_EVENTS}', "
            "'user_id ' || user_id || ' has no accepted event: without a signup time in the "
            f"users table, a user signs up at their first event' FROM {stage} WHERE reason IS "
            f"NULL AND signup_time IS NULL AND seq NOT IN (SELECT seq FROM late_{USERS})"
        )
        self.facts["users_from"] = "users table, each signed up at their first event"

    def finish_events(self) -> None:
        """Quarantine unknown users and duplicates, then write the accepted events.

        Without a users table every user of an event passing the row-level rules is known, and
        the users table is derived from the accepted events afterwards. A users table without
        signup times is finished after the events (its signups are their first events): its
        staged rows that passed their checks are the known users.
        """
        rules = self.config.rules
        if any(s.maps("anonymous_id") for s in self.config.events):
            self._stitch_anonymous()
        known, user_stage = USERS, f"stage_{USERS}"
        if self.config.users is None:
            known = "event_users"
            self.con.execute(
                f"CREATE TEMP VIEW {known} AS SELECT DISTINCT user_id FROM stage_{EVENTS} "
                "WHERE reason IS NULL"
            )
            user_stage = None
        elif self.config.signups_from_events:
            known = "staged_users"
            self.con.execute(
                f"CREATE TEMP VIEW {known} AS SELECT DISTINCT user_id FROM {user_stage} "
                "WHERE reason IS NULL"
            )
        stage, late = f"stage_{EVENTS}", f"late_{EVENTS}"
        self.con.execute(
            f"CREATE TEMP TABLE {late} AS "
            + validate.unknown_users_sql(stage, known, user_stage, self._source_file_sql())
        )
        self.con.execute(
            "CREATE TEMP TABLE candidates AS " + validate.duplicate_candidates_sql(stage, late)
        )
        # A row that holds no event (no_event_time) is no error to show: its raw row is not
        # copied, which keeps a subscriptions file's every uncanceled row out of the JSON.
        self._read_raw(
            EVENTS,
            f"(SELECT file_key, source_row FROM {stage} WHERE reason IS NOT NULL AND reason <> "
            f"'{validate.NO_EVENT_TIME}' UNION ALL SELECT file_key, source_row FROM {stage} "
            f"SEMI JOIN {late} USING (seq) UNION ALL SELECT file_key, source_row FROM candidates)",
        )
        self.con.execute(
            f"INSERT INTO {late} " + validate.duplicates_sql("candidates", f"raw_{EVENTS}")
        )
        if rules.session_gap_minutes is not None:
            self.con.execute(
                f"UPDATE {stage} SET session_id = s.session_id FROM ("
                + validate.sessions_sql(stage, late, rules.session_gap_minutes)
                + f") s WHERE {stage}.seq = s.seq"
            )
            self.facts["sessions"] = {
                "inactivity_minutes": rules.session_gap_minutes,
                "sessions": int(
                    self.con.execute(
                        f"SELECT count(DISTINCT (user_id, session_id)) FROM {stage} "
                        f"WHERE session_id IS NOT NULL AND reason IS NULL AND seq NOT IN "
                        f"(SELECT seq FROM {late})"
                    ).fetchone()[0]
                ),
            }
        expressions = {
            "event_id": "seq",
            "source_file": self._source_file_sql(),
            "session_id": validate.optional_id_sql("session_id", rules),
            "item_id": validate.optional_id_sql("item_id", rules),
            "event_date": "CAST(event_time AS DATE)",
        }
        self._write_accepted(
            EVENTS,
            [
                f"({expressions.get(name, name)})::{sql_type} AS {name}"
                for name, sql_type in EVENT_COLUMNS.items()
            ],
            order_by="user_id, event_time, event_id",
        )
        self._quarantine(EVENTS)
        if self.config.users is None:
            self._derive_users()
        self.facts["granularity"] = self.con.execute(
            f"SELECT CASE WHEN count(*) > 0 AND bool_and(event_time = event_date::TIMESTAMP) "
            f"THEN 'date' ELSE 'timestamp' END FROM {EVENTS}"
        ).fetchone()[0]

    def _stitch_anonymous(self) -> None:
        """Give each event with only an anonymous id the user its id names, or its reason
        (validate.anonymous_events_sql); counted in the facts for the report.

        Signups are the users table's, else each user's first event with their own id.
        """
        stage = f"stage_{EVENTS}"
        signups = (
            f"(SELECT user_id, signup_time FROM {USERS})"
            if self.config.users is not None and not self.config.signups_from_events
            else f"(SELECT user_id, min(event_time) AS signup_time FROM {stage} "
            "WHERE reason IS NULL AND user_id IS NOT NULL GROUP BY user_id)"
        )
        self.con.execute(
            "CREATE TEMP TABLE anonymous_links AS " + validate.anonymous_links_sql(stage)
        )
        self.con.execute(
            "CREATE TEMP TABLE anonymous_events AS "
            + validate.anonymous_events_sql(stage, "anonymous_links", signups)
        )
        self.con.execute(
            f"UPDATE {stage} SET user_id = CASE WHEN a.reason IS NULL THEN a.user_id END, "
            f"{validate.STITCHED} = a.reason IS NULL, reason = a.reason, detail = a.detail "
            f"FROM anonymous_events a WHERE {stage}.seq = a.seq"
        )
        self.facts["anonymous_events"] = int(
            self.con.execute(f"SELECT count_if({validate.STITCHED}) FROM {stage}").fetchone()[0]
        )

    def _derive_users(self) -> None:
        """users from the accepted events: one per user_id, signed up at their first event.

        A user-level attribute takes its value from the user's first event (by time, then
        read order) that has one; users whose events disagree are counted per attribute.
        """
        stage = f"stage_{EVENTS}"
        columns = ["user_id::VARCHAR AS user_id", f"{FIRST_OWN_EVENT}::TIMESTAMP AS signup_time"]
        flags, totals = [], []
        for a in self.user_attributes:
            name, sql_type = validate.ident(a.name), validate.attribute_sql_type(a)
            columns.append(
                f"first({name} ORDER BY event_time, seq) FILTER (WHERE {name} IS NOT NULL)"
                f"::{sql_type} AS {name}"
            )
            flags.append(f"count(DISTINCT {name}) > 1 AS {name}")
            totals.append(f"count_if({name})")
        self.con.execute(
            f"CREATE TABLE {USERS} AS SELECT {', '.join(columns)} FROM {stage} "
            "WHERE reason IS NULL GROUP BY user_id ORDER BY user_id"
        )
        self.con.execute(
            f"CREATE TABLE {USER_ATTRIBUTES} (name VARCHAR, kind VARCHAR, dtype VARCHAR)"
        )
        for a in self.user_attributes:
            self.con.execute(
                f"INSERT INTO {USER_ATTRIBUTES} VALUES (?, ?, ?)", [a.name, a.kind, a.dtype]
            )
        conflicts = (
            self.con.execute(
                f"SELECT {', '.join(totals)} FROM (SELECT {', '.join(flags)} FROM {stage} "
                "WHERE reason IS NULL GROUP BY user_id)"
            ).fetchone()
            if totals
            else ()
        )
        self.facts["user_attribute_conflicts"] = {
            a.name: int(n or 0) for a, n in zip(self.user_attributes, conflicts, strict=True)
        }
        self.facts["users_from"] = "events"
        self._count_unknown_references(self.user_attributes)

    def _count_unknown_references(self, attributes: Sequence[Attribute]) -> None:
        """Users whose `user_id` attribute names no user of the table: kept, and counted per
        attribute (an "unknown referenced user", e.g. an inviter outside the export)."""
        references = [a for a in attributes if a.dtype == "user_id"]
        if not references:
            return
        counts = self.con.execute(
            "SELECT "
            + ", ".join(
                f"count_if({validate.ident(a.name)} IS NOT NULL AND {validate.ident(a.name)} "
                f"NOT IN (SELECT user_id FROM {USERS}))"
                for a in references
            )
            + f" FROM {USERS}"
        ).fetchone()
        self.facts["unknown_referenced_users"] = {
            a.name: int(n) for a, n in zip(references, counts, strict=True)
        }

    def _write_accepted(self, table: str, columns: list[str], order_by: str = "") -> None:
        """Mark the (few) cross-row rejects in the stage, then keep the rows with no reason.

        A filter over the stage keeps read order (DuckDB preserves insertion order): users and
        items come out ordered by seq without a sort. Events are sorted (`order_by`) so the
        store holds each user's events together, which every per-user query reads faster.
        """
        stage, late = f"stage_{table}", f"late_{table}"
        self.con.execute(
            f"UPDATE {stage} SET reason = l.reason, detail = l.detail FROM {late} l "
            f"WHERE {stage}.seq = l.seq"
        )
        order = f" ORDER BY {order_by}" if order_by else ""
        self.con.execute(
            f"CREATE TABLE {table} AS SELECT {', '.join(columns)} FROM {stage} "
            f"WHERE reason IS NULL{order}"
        )

    def _source_file_sql(self) -> str:
        """A row's source file name from its file_key, for every file staged so far."""
        by_key = {f.file_key: f.display for files in self.staged.values() for f in files}
        return validate.source_file_sql([by_key[k] for k in range(len(by_key))])

    def _read_raw(self, table: str, wanted: str) -> None:
        """raw_<table>: the rows listed by `wanted` (file_key, source_row) read again as
        written, from only the files that have such rows.

        Only these rows (rejected ones, and duplicate candidates) are turned into JSON, so
        the common case stays cheap.
        """
        self.con.execute(f"CREATE TEMP TABLE wanted_{table} AS SELECT * FROM {wanted}")
        keys = {
            key
            for (key,) in self.con.execute(
                f"SELECT DISTINCT file_key FROM wanted_{table}"
            ).fetchall()
        }
        self.con.execute(
            f"CREATE TEMP TABLE raw_{table} (file_key INTEGER, source_row BIGINT, raw VARCHAR, "
            f"{validate.DEDUPE_KEY} VARCHAR[])"
        )
        for staged in self.staged[table]:
            if staged.file_key in keys:
                self.con.execute(
                    f"INSERT INTO raw_{table} " + validate.raw_rows_sql(staged, f"wanted_{table}")
                )

    def _quarantine(self, table: str) -> None:
        """Copy every rejected row with its reason and raw row (none for a row that holds no
        event: _read_raw did not read it), in file and row order."""
        self.con.execute(
            f"INSERT INTO {QUARANTINE} SELECT '{table}', "
            f"{self._source_file_sql()}, q.source_row, "
            f"q.reason, q.detail, r.raw "
            f"FROM stage_{table} q LEFT JOIN raw_{table} r USING (file_key, source_row) "
            "WHERE q.reason IS NOT NULL ORDER BY q.file_key, q.source_row"
        )

    def counts(self) -> dict[str, TableCounts]:
        """Per table accounting; read = accepted + quarantined is checked, never assumed."""
        quarantined: dict[str, dict[str, int]] = {}
        for table, reason, n in self.con.execute(
            f"SELECT table_name, reason, count(*) FROM {QUARANTINE} GROUP BY ALL ORDER BY ALL"
        ).fetchall():
            quarantined.setdefault(table, {})[reason] = int(n)
        counts = {}
        for table, read in self.read.items():
            accepted = self.con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            counts[table] = TableCounts(read, int(accepted), quarantined.get(table, {}))
            if counts[table].accepted + counts[table].quarantined_total != read:
                raise RuntimeError(f"ingest accounting broke for {table}: {counts[table]}")
        return counts

    def source_counts(self) -> dict[str, TableCounts]:
        """Per events source (`events[1]`) accounting, when the config has several: a source
        whose every row is quarantined (a payments export keyed by another id than the
        product's) hides behind a table whose other sources are fine."""
        if len(self.config.events) < 2:
            return {}
        read: dict[str, int] = {}
        accepted: dict[str, int] = {}
        quarantined: dict[str, dict[str, int]] = {}
        for key, reason, n in self.con.execute(
            f"SELECT file_key, reason, count(*) FROM stage_{EVENTS} GROUP BY ALL ORDER BY ALL"
        ).fetchall():
            where = self.file_sources[key]
            read[where] = read.get(where, 0) + int(n)
            if reason is None:
                accepted[where] = accepted.get(where, 0) + int(n)
            else:
                by_reason = quarantined.setdefault(where, {})
                by_reason[reason] = by_reason.get(reason, 0) + int(n)
        return {
            where: TableCounts(read[where], accepted.get(where, 0), quarantined.get(where, {}))
            for where in (f"events[{i}]" for i in range(len(self.config.events)))
            if where in read
        }

    def unknown_user_ids(self) -> dict:
        """An unknown user id of the events (`events`) and of each events source that has
        one (`events[1]`), beside one of the users table's: a key that matches no user (a
        billing id, zero-padded numbers) shows in two ids. Empty without unknown users, or
        when the users table kept none (its own refusal says why)."""
        if self.config.users is None:
            return {}
        rows = self.con.execute(
            f"SELECT file_key, min(user_id) FROM stage_{EVENTS} WHERE reason = 'unknown_user' "
            "GROUP BY ALL ORDER BY ALL"
        ).fetchall()
        if not rows:
            return {}
        examples = {EVENTS: min(example for _, example in rows)}
        for key, example in rows:
            examples.setdefault(self.file_sources[key], example)
        known = self.con.execute(f"SELECT min(user_id) FROM {USERS}").fetchone()[0]
        if known is None:
            return {}
        found = {"examples": examples, "users_table": known}
        loose = "lower(ltrim({}, '0'))"  # `000042` and `42`, `ABC` and `abc`
        near, unknown, user = self.con.execute(
            f"WITH unknown AS (SELECT DISTINCT user_id FROM stage_{EVENTS} "
            "WHERE reason = 'unknown_user') "
            "SELECT count(*), min(u.user_id), arg_min(k.user_id, u.user_id) "
            f"FROM unknown u JOIN {USERS} k ON {loose.format('u.user_id')} = "
            f"{loose.format('k.user_id')}"
        ).fetchone()
        if near:
            found["near"] = {"ids": int(near), "unknown": unknown, "known": user}
        return found

    def events_before_signup(self) -> dict:
        """With a users table: how many users' first event is over a day before their
        `signup_time`, of how many with events, and one of them. Many such users say the
        column is not the signup (an upgrade date, a last update, another zone)."""
        if self.config.users is None:
            return {}
        early, users, example = self.con.execute(
            f"WITH firsts AS (SELECT user_id, min(event_time) AS first FROM {EVENTS} "
            f"GROUP BY ALL), paired AS (SELECT f.user_id, f.first, u.signup_time, "
            f"f.first < u.signup_time - INTERVAL 1 DAY AS early FROM firsts f JOIN {USERS} u "
            "USING (user_id)) SELECT count(*) FILTER (WHERE early), count(*), "
            "arg_min([user_id, strftime(first, '%Y-%m-%d %H:%M:%S'), "
            "strftime(signup_time, '%Y-%m-%d %H:%M:%S')], user_id) FILTER (WHERE early) "
            "FROM paired"
        ).fetchone()
        if not early:
            return {}
        user, first, signup = example
        return {
            "users": int(early),
            "of": int(users),
            "example": {"user_id": user, "first_event": first, "signup_time": signup},
        }

    def events_before_item_versions(self) -> dict:
        """With a catalogue of versions: how many events naming one of its items come before
        that item's first version, of how many name one, and when the catalogue's history
        starts. Such events read no item attribute (item_mean); many of them say the
        snapshots began after the events."""
        if self.config.items is None or not self.config.items.versioned:
            return {}
        early, named, start = self.con.execute(
            f"WITH firsts AS (SELECT item_id, min(valid_from) AS first FROM {ITEMS} GROUP BY ALL) "
            f"SELECT count(*) FILTER (WHERE e.event_time < f.first), count(*), "
            f"strftime(min(f.first), '%Y-%m-%d %H:%M:%S') FROM {EVENTS} e JOIN firsts f "
            "USING (item_id)"
        ).fetchone()
        if not early:
            return {}
        return {"events": int(early), "of": int(named), "catalogue_from": start}

    def sentinels(self) -> dict[str, dict[str, int]]:
        """Raw sentinel-id counts per id column of each table (for the quality report)."""
        ids = {
            USERS: ["user_id"],
            ITEMS: ["item_id"],
            EVENTS: ["user_id", "session_id", "item_id"],
        }
        return {
            table: quality.sentinel_counts(
                self.con, f"stage_{table}", ids[table], self.config.rules.sentinel_ids
            )
            for table in self.read
        }


def _versions_kept(table: str, source: Source) -> Literal["earliest", "every"] | None:
    """Which versions of a table of versions are stored: a user's earliest (their attributes
    from signup on), every version of an item (an event reads the one valid at its time)."""
    if not source.versioned:
        return None
    return "earliest" if table == USERS else "every"


def _item_validity_sql(versioned: bool) -> list[str]:
    """The items table's valid_from and valid_to: each version valid until the item's next
    one; open (NULL) in a catalogue without versions."""
    if not versioned:
        return [f"NULL::TIMESTAMP AS {name}" for name in ITEM_VALIDITY_COLUMNS]
    return [
        "valid_from::TIMESTAMP AS valid_from",
        "lead(valid_from) OVER (PARTITION BY item_id ORDER BY valid_from)::TIMESTAMP AS valid_to",
    ]


def _copy_ingest_history(con: duckdb.DuckDBPyConnection, previous_store: Path) -> None:
    """Carry the `ingests` records of the store being replaced into the new file."""
    if not previous_store.exists():
        return
    try:
        con.execute(f"ATTACH {sql_string(str(previous_store))} AS previous (READ_ONLY)")
    except duckdb.Error as error:
        raise StoreBusyError(
            f"{previous_store}: cannot open the event store: {_error_summary(error)}"
        ) from None
    has_ingests = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = 'previous' AND table_name = ?",
        [INGESTS],
    ).fetchone()[0]
    if has_ingests:  # BY NAME: records of older stores lack the newer columns (NULL)
        con.execute(f"INSERT INTO {INGESTS} BY NAME SELECT * FROM previous.{INGESTS}")
    con.execute("DETACH previous")


def _build(
    target: Path,
    previous_store: Path,
    config: DatasetConfig,
    resolved: list[tuple[str, str, Source, list[InputFile]]],
    record: dict,
    progress: bool,
) -> tuple[dict[str, TableCounts], dict]:
    """Build the whole dataset into `target`; return counts and the quality report body."""
    with tempfile.TemporaryDirectory(prefix="usagecast-ingest-") as scratch:
        con = duckdb.connect(str(target))
        try:
            con.execute("SET TimeZone = 'UTC'")
            con.execute(f"SET temp_directory = {sql_string(scratch)}")
            try:
                con.execute(f"SET memory_limit = {sql_string(memory_limit())}")
            except duckdb.Error as error:
                raise IngestMemoryError(
                    f"{MEMORY_ENV}={memory_limit()!r} is not a memory size DuckDB reads "
                    f"({_error_summary(error)}); write it like 512MB or 4GB"
                ) from None
            con.execute(f"CREATE TABLE {QUARANTINE} ({_columns_sql(QUARANTINE_COLUMNS)})")
            con.execute(f"CREATE TABLE {INGESTS} ({_columns_sql(INGEST_COLUMNS)})")
            builder = _Builder(con, config, Path(scratch))
            # One step per file, one per table's cross-row checks, one for the report.
            tables = list(dict.fromkeys(table for table, *_ in resolved))
            total = sum(len(files) for *_, files in resolved) + len(tables) + 1
            with tqdm(total=total, desc="ingest", unit="step", disable=not progress) as bar:
                for index, (table, where, source, files) in enumerate(resolved):
                    bar.set_postfix_str(f"reading the columns of {where}")
                    opened = [builder.open_file(source, file) for file in files]
                    absent = builder.absent_in(table, where, source, opened)
                    for one, lacking in zip(opened, absent, strict=True):
                        bar.set_postfix_str(f"reading {one.file.display}")
                        builder.stage_file(table, where, source, one, lacking)
                        bar.update()
                    next_table = resolved[index + 1][0] if index + 1 < len(resolved) else None
                    if table == USERS and config.signups_from_events:
                        continue  # finished after the events: their first events sign them up
                    if table != next_table:
                        bar.set_postfix_str(f"checking and writing {table}")
                        if table == EVENTS:
                            builder.finish_events()
                        else:
                            builder.finish_entities(table, source)
                        bar.update()
                if config.users is not None and config.signups_from_events:
                    bar.set_postfix_str(f"checking and writing {USERS}")
                    builder.finish_entities(USERS, config.users)
                    bar.update()
                bar.set_postfix_str("quality report")
                counts, sources = builder.counts(), builder.source_counts()
                json_counts = {table: c.to_json() for table, c in counts.items()}
                _copy_ingest_history(con, previous_store)
                profiled = list(counts) + ([USERS] if config.users is None else [])
                report = quality.profile_store(con, profiled, json_counts, builder.sentinels())
                report.update(
                    {
                        "users_from": "users table",
                        **builder.facts,
                        "timezone": config.timezone,
                        "not_errors": list(validate.NOT_ERRORS),
                    }
                )
                if changes := change_log_types(config):
                    report["change_log_types"] = changes
                if unknown := builder.unknown_user_ids():
                    report["unknown_user_ids"] = unknown
                if early := builder.events_before_signup():
                    report["events_before_signup"] = early
                if before := builder.events_before_item_versions():
                    report["events_before_item_versions"] = before
                if sources:
                    files = {f"events[{i}]": s.files for i, s in enumerate(config.events)}
                    report["source_counts"] = {
                        where: {"files": files[where], **c.to_json()}
                        for where, c in sources.items()
                    }
                bar.update()
            for table in list(counts):
                con.execute(f"DROP TABLE IF EXISTS stage_{table}")
            record = {
                **record,
                "finished_at": datetime.now(UTC).replace(tzinfo=None),
                "files": json.dumps(builder.files),
                "counts": json.dumps(json_counts),
                "dataset": config.name,
                "granularity": builder.facts["granularity"],
            }
            con.execute(
                f"INSERT INTO {INGESTS} VALUES ({', '.join('?' * len(INGEST_COLUMNS))})",
                [record[name] for name in INGEST_COLUMNS],
            )
            con.execute("CHECKPOINT")
        except duckdb.OutOfMemoryException as error:
            raise _out_of_memory(error) from None
        finally:
            con.close()
    return counts, report


def named_counts(counts: dict[str, TableCounts], report: dict) -> dict[str, TableCounts]:
    """The tables' counts, then (with several events sources) each source's under its name
    and files (`events[1] (payments.csv)`)."""
    names = source_names(report)
    sources = report.get("source_counts", {})
    return {**counts, **{names[where]: TableCounts.from_json(c) for where, c in sources.items()}}


def change_log_types(config: DatasetConfig) -> list[str]:
    """The event types of the sources that log changes: a constant event type with an area
    mapped (a plan-change log, a users table's versions), as stored (after renames)."""
    renames = config.rules.rename_event_types or {}
    found = [
        renames.get(s.event_type, s.event_type)
        for s in config.events
        if s.event_type is not None and s.maps("area")
    ]
    return list(dict.fromkeys(found))


def short_tables(counts: dict[str, TableCounts], min_share: float) -> list[str]:
    """Tables that had rows but kept none, or fewer than `min_share` of them, and events
    sources (named `events[i] (...)`) that had rows but kept none: a payments export keyed
    by the billing system's own ids matches no user while the other sources fill the table.
    A source whose rows all hold no event (no_event_time: no subscription was canceled) is
    not short."""
    return [
        name
        for name, c in counts.items()
        if c.read > 0
        and (
            (c.accepted == 0 and c.quarantined.get(validate.NO_EVENT_TIME, 0) < c.read)
            or (name in (EVENTS, USERS, ITEMS) and c.accepted < min_share * _rows_to_keep(c))
        )
    ]


def _rows_to_keep(counts: TableCounts) -> int:
    """Rows read, less those the table is not meant to keep (validate.NOT_ERRORS)."""
    return counts.read - sum(counts.quarantined.get(r, 0) for r in validate.NOT_ERRORS)


def unknown_user_hints(report: dict) -> dict[str, str]:
    """Per table or source name (as named_counts names them), what its unknown user ids
    look like beside the users table's."""
    found = report.get("unknown_user_ids")
    if not found:
        return {}
    names = source_names(report)
    near = found.get("near")
    differently = (
        f"; {near['ids']:,} of the unknown ids match a user's once leading zeros and case are "
        "ignored: the files write ids differently (rules.strip_leading_zeros: true reads "
        "zero-padded numbers as one)"
        if near
        else ""
    )
    # Counts, not ids: errors quote no data (an id may be an email); the report shows them.
    hint = f"the report shows an unknown id beside one of the users table's{differently}"
    return {names.get(where, where): hint for where in found["examples"]}


def partial_message(
    config: DatasetConfig,
    counts: dict[str, TableCounts],
    tables: list[str],
    report: Path,
    hints: Mapping[str, str] | None = None,
) -> str:
    """One line: each short table with its counts and top quarantine reasons (with `hints`,
    what its unknown users' ids look like when that is the top reason), and the way out."""
    parts = []
    for table in tables:
        c = counts[table]
        top = sorted(c.quarantined.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        reasons = ", ".join(f"{reason} {n:,}" for reason, n in top)
        hint = (hints or {}).get(table) if top and top[0][0] == "unknown_user" else None
        parts.append(
            f"{table}: {c.accepted:,} of {c.read:,} rows accepted ({c.accepted / c.read:.1%}; "
            f"quarantined: {reasons}{f'; {hint}' if hint else ''})"
        )
    return (
        f"{config.path}: {'; '.join(parts)}, below rules.min_accepted_share "
        f"{config.rules.min_accepted_share:.0%}; the event store was left unchanged (quality "
        f"report of this attempt: {report}); fix the config, or pass --allow-partial to "
        "replace the store anyway"
    )


def _report(
    config: DatasetConfig, ingest_id: str, digest: str, started_at: datetime, body: dict
) -> dict:
    return {
        "dataset": config.name,
        "ingest_id": ingest_id,
        "dataset_digest": digest,
        "created_at": started_at.isoformat(),
        **body,
    }


def ingest_dataset(
    config_path: Path,
    store_path: Path | None = None,
    progress: bool = True,
    allow_outside_files: bool = False,
    allow_partial: bool = False,
) -> IngestSummary:
    """Load a dataset config's files into the event store, quarantining bad rows.

    Replaces the store's dataset atomically, then writes its Parquet copy for Spark; does
    nothing when the same dataset digest is already loaded (but write a missing copy). Writes
    a data-quality report (JSON, Markdown, HTML) to the workspace. Files outside the config's
    folder are refused unless `allow_outside_files`. A table of which fewer than
    rules.min_accepted_share of the rows (or none) were accepted keeps the previous store
    (PartialIngestError) unless `allow_partial`.
    """
    started = time.perf_counter()
    started_at = datetime.now(UTC).replace(tzinfo=None)
    config = read_config(Path(config_path))
    store = Path(store_path) if store_path is not None else event_store_path()
    resolved = [
        (table, where, source, resolve_files(source, config.base_dir, config.path, where))
        for table, where, source in _sources(config)
    ]
    if not allow_outside_files:
        for _, where, _, files in resolved:
            refuse_outside_files(config, where, files)
    digest = dataset_digest(config, [files for *_, files in resolved])
    latest = _latest_ingest(store)
    if latest is not None and latest[1] == digest:
        write_parquet_copy(store, replace=False, memory_limit=memory_limit())
        return IngestSummary(
            dataset=config.name,
            config_path=config.path,
            store_path=store,
            dataset_digest=digest,
            ingest_id=latest[0],
            reloaded=False,
            tables={t: TableCounts.from_json(c) for t, c in latest[2].items()},
            seconds=time.perf_counter() - started,
        )
    ingest_id = f"{started_at:%Y%m%dT%H%M%S}-{digest[:8]}"
    record = {
        "ingest_id": ingest_id,
        "started_at": started_at,
        "config_path": str(config.path),
        "dataset_digest": digest,
    }
    store.parent.mkdir(parents=True, exist_ok=True)
    target = store.with_name(f"{store.name}.{ingest_id}.building")
    try:
        counts, body = _build(target, store, config, resolved, record, progress)
        checked = named_counts(counts, body)
        short = [] if allow_partial else short_tables(checked, config.rules.min_accepted_share)
        if short:
            report = {
                **_report(config, ingest_id, digest, started_at, body),
                "refused": f"too few rows accepted in {', '.join(short)} (rules."
                f"min_accepted_share {config.rules.min_accepted_share:.0%}): the previous "
                "event store was kept",
            }
            files = quality.write_report(report, latest=False)
            hints = unknown_user_hints(body)
            raise PartialIngestError(
                partial_message(config, checked, short, files.markdown, hints)
            )
        with contextlib.suppress(FileNotFoundError):
            # A stale write-ahead log of the old file must not be replayed onto the new one.
            os.remove(f"{store}.wal")
        os.replace(target, store)
    finally:
        for leftover in (target, Path(f"{target}.wal")):
            leftover.unlink(missing_ok=True)
    write_parquet_copy(store, replace=True, memory_limit=memory_limit())
    report = _report(config, ingest_id, digest, started_at, body)
    report_files = quality.write_report(report)
    return IngestSummary(
        dataset=config.name,
        config_path=config.path,
        store_path=store,
        dataset_digest=digest,
        ingest_id=ingest_id,
        reloaded=True,
        tables=counts,
        seconds=time.perf_counter() - started,
        report_files=report_files,
        quality_text=quality.render_short(report),
        sources={name: c for name, c in checked.items() if name not in counts},
    )
