"""Input files: resolve globs, hash them, and say how DuckDB reads each one as text.

Every file is read with all columns as text so nothing is coerced before validation; the
typed parsing happens in SQL (validate.py). DuckDB decodes UTF-8, Latin-1 and UTF-16 CSV
itself; any other Python codec, and every non-UTF-8 JSONL file, is first transcoded to a
UTF-8 copy in a scratch folder so one reader handles all of them.
"""

from __future__ import annotations

import codecs
import glob
import hashlib
from dataclasses import dataclass
from pathlib import Path

from features.errors import UsagecastError
from features.ingest.config import EXTENSION_FORMATS, Source

# Python codec name -> the name DuckDB's CSV reader knows, for the codecs it decodes natively.
DUCKDB_CSV_ENCODINGS = {"utf-8": "utf-8", "iso8859-1": "latin-1", "utf-16": "utf-16"}
HASH_CHUNK = 1 << 20


class SourceFileError(UsagecastError):
    """A source file is missing, matches nothing, cannot be decoded or lacks a column."""


@dataclass(frozen=True)
class InputFile:
    """One file to read: its absolute path, its name as shown to users, format and digest."""

    path: Path
    display: str
    format: str
    sha256: str


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _format_of(source: Source, path: Path, config_path: Path, where: str) -> str:
    if source.format is not None:
        return source.format
    suffix = path.suffix.lower()
    if suffix not in EXTENSION_FORMATS:
        raise SourceFileError(
            f"{config_path}: {where}.files: cannot tell the format of {path.name} from its "
            f"extension; set `format:` to one of csv, jsonl, parquet"
        )
    return EXTENSION_FORMATS[suffix]


def resolve_files(
    source: Source, base_dir: Path, config_path: Path, where: str
) -> list[InputFile]:
    """Expand a source's file or glob (relative to the config's folder), sorted by name."""
    pattern = Path(source.files)
    full = pattern if pattern.is_absolute() else base_dir / pattern
    if glob.has_magic(str(full)):
        paths = sorted(Path(p) for p in glob.glob(str(full), recursive=True) if Path(p).is_file())
        if not paths:
            raise SourceFileError(f"{config_path}: {where}.files: no file matches {full}")
    else:
        if not full.is_file():
            raise SourceFileError(f"{config_path}: {where}.files: file {full} does not exist")
        paths = [full]
    files = []
    for path in paths:
        try:
            display = path.relative_to(base_dir).as_posix()
        except ValueError:
            display = str(path)
        files.append(
            InputFile(path, display, _format_of(source, path, config_path, where), sha256_of(path))
        )
    return files


def transcode_to_utf8(path: Path, encoding: str, target: Path) -> Path:
    """Write a UTF-8 copy of a text file; a byte the codec cannot decode is a fatal error."""
    decoder = codecs.getincrementaldecoder(encoding)()
    line = 1
    with path.open("rb") as source, target.open("w", encoding="utf-8", newline="") as out:
        while chunk := source.read(HASH_CHUNK):
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError as error:
                bad_line = line + chunk[: error.start].count(b"\n")
                raise SourceFileError(
                    f"{path}: not readable as {encoding} near line {bad_line}: {error.reason}; "
                    "set `encoding:` in the dataset config"
                ) from None
            line += chunk.count(b"\n")
            out.write(text)
        out.write(decoder.decode(b"", final=True))
    return target


def sql_string(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def reader_sql(file: InputFile, source: Source, scratch: Path, index: int) -> str:
    """The DuckDB table function that reads one file with every field as text.

    CSV options are pinned (delimiter, header on, no skipped lines, no comment character) so
    the sniffer can never drop a row silently; a structurally broken line stops the ingest.
    """
    path, encoding = file.path, source.encoding
    if file.format == "parquet":
        return f"read_parquet({sql_string(str(path))})"
    native = DUCKDB_CSV_ENCODINGS.get(encoding) if file.format == "csv" else None
    if native is None and encoding != "utf-8":
        path = transcode_to_utf8(path, encoding, scratch / f"utf8_{index}{path.suffix}")
    if file.format == "jsonl":
        return f"read_ndjson_objects({sql_string(str(path))})"
    return (
        f"read_csv({sql_string(str(path))}, all_varchar=true, header=true, skip=0, "
        f"comment='', delim={sql_string(source.delimiter)}, "
        f"encoding={sql_string(native or 'utf-8')})"
    )
