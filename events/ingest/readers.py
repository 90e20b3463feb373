"""Input files: resolve globs, hash them, and say how DuckDB reads each one as text.

Every file is read with all columns as text so nothing is coerced before validation; the
typed parsing happens in SQL (validate.py). DuckDB decodes UTF-8 and Latin-1 CSV itself; any
other Python codec, every non-UTF-8 JSONL file and a JSONL file starting with a UTF-8 BOM is
first transcoded to a UTF-8 copy in a scratch folder so one reader handles all of them.

CSV is read as RFC 4180 with every dialect option pinned (no sniffing): the header is parsed
here (a repeated column name is fatal; an Excel `sep=;` first line is skipped and must agree
with the declared delimiter), and a CSV that mixes CRLF and LF line endings or holds
whitespace-only lines is first copied with LF endings and those lines emptied (so they are
blank lines, not rows), keeping every line number. A line longer than MAX_LINE_BYTES is fatal.
A file without a header line (`header: false`) takes its column names from `names:`.
A whitespace-separated file (`delimiter: whitespace`) is split here, line by line, on runs of
blanks and tabs (leading and trailing ones ignored, no quoting) into a scratch CSV with the
same line numbers; a line with the wrong number of fields is fatal like a broken CSV line.
JSONL is JSON Lines, or one JSON array of records when the file's first non-blank character
is `[` (an API dump, `[{...}, {...}]`): then a record is an element, numbered from 1.
An Excel workbook's sheet is written as a Parquet file of text columns first (excel.py).
A gzip-compressed file (told by its first bytes; `events.csv.gz` takes its format from
`.csv`) is first decompressed into the scratch folder, so every step above reads plain text
and line numbers count lines of the decompressed text. A zip archive in `files:` stands for its
members (archives.py): each is extracted into the scratch folder and read as a file of its own,
named `archive.zip:member`. Every message names the user's file, never a scratch copy.
"""

from __future__ import annotations

import codecs
import csv
import glob
import gzip
import hashlib
import io
import re
import shutil
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from events.ingest import archives, excel
from events.ingest.config import ARRAY_STEP, EXTENSION_FORMATS, WHITESPACE, Source
from events.ingest.errors import SourceFileError

# Python codec name -> the name DuckDB's CSV reader knows, for the codecs it decodes natively.
DUCKDB_CSV_ENCODINGS = {"utf-8": "utf-8", "utf-8-sig": "utf-8", "iso8859-1": "latin-1"}
HASH_CHUNK = 1 << 20
# The longest CSV line / JSONL record read; DuckDB's reader buffer is twice that.
MAX_LINE_BYTES = 16 << 20
UTF8_BOM = codecs.BOM_UTF8
NEWLINE = b"\n"
# Excel's first-line dialect declaration, `sep=;`: not the header, skipped.
EXCEL_SEPARATOR_LINE = re.compile(rb"sep=([^\r\n])\r?\n")
GZIP_MAGIC = b"\x1f\x8b"
GZIP_SUFFIX = ".gz"
XLSX = "xlsx"
WHITESPACE_LINE = re.compile(rb"^[ \t]+(?=\r?$)", re.MULTILINE)
FIELD_SEPARATOR = re.compile(r"[ \t]+")
CSV_ERROR_LINE = re.compile(r"CSV Error on Line: (\d+)")
# Bytes that are control characters (validate.CONTROL_PATTERN) in UTF-8 and Latin-1 text.
CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
# The bytes cp1252 reads otherwise than latin-1 (there latin-1's control characters): a cp1252
# file without any is read as latin-1, which DuckDB decodes itself.
CP1252_OWN_BYTES = bytes(range(0x80, 0xA0))
# A JSON escape that may spell one: \u0000-\u001f or \u007f (any hex case).
CONTROL_ESCAPE = re.compile(rb"\\u00[01][0-9a-fA-F]|\\u007[fF]")
CSV_ERROR_KINDS = (
    ("unterminated quote", "a quoted field is not closed (the file may be cut off)"),
    ("Maximum line size", f"a line is longer than the {MAX_LINE_BYTES >> 20} MiB limit"),
    ("Expected Number of Columns", None),
)
# DuckDB's count of a line's fields against the header's.
FIELD_COUNTS = re.compile(r"Expected Number of Columns: ([0-9]+) Found: ([0-9]+)")
SHORT_LINE_HINT = (
    " (an exporter that leaves a line's last empty fields out? set short_lines: empty on "
    "this source)"
)


@dataclass(frozen=True)
class FileReader:
    """How DuckDB reads one file (a table function), and whether the text it reads holds no
    control character at all (then the per-row check need not run on its fields)."""

    sql: str
    control_free: bool
    pages: str | None = None  # JSON with `records:`: its top-level objects (json_pages_sql)

    @property
    def numbered(self) -> bool:
        """`sql` numbers its rows itself (column `ordinality`): the records of API pages."""
        return self.pages is not None


@dataclass(frozen=True)
class InputFile:
    """One file to read: its absolute path (a zip archive's, with `member` the path of the
    file inside it), its name as shown in the store (relative to the config), format, digest
    and whether it is gzip-compressed (then it is decompressed before it is read)."""

    path: Path
    display: str
    format: str
    sha256: str
    gzipped: bool = False
    member: str | None = None

    @property
    def shown(self) -> str:
        """The file as error messages name it: its full path, `archive.zip:member` for a
        member."""
        return str(self.path) if self.member is None else archives.member_name(*self.location)

    @property
    def location(self) -> tuple[Path, str]:
        """(archive, member) of a member."""
        assert self.member is not None
        return self.path, self.member


def _sha256_of_stream(handle: IO[bytes]) -> str:
    digest = hashlib.sha256()
    while chunk := handle.read(HASH_CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def sha256_of(path: Path, member: str | None = None) -> str:
    """Hex sha256 of a file's bytes (or of an archive member's), read in chunks."""
    if member is None:
        with path.open("rb") as handle:
            return _sha256_of_stream(handle)
    with archives.open_member(path, member) as stream:
        try:
            return _sha256_of_stream(stream)
        except archives.READ_ERRORS as error:
            raise archives.member_error(path, member, error) from None


def format_from_name(path: Path) -> str | None:
    """The format a file's extension names (under a `.gz` suffix), None when unknown."""
    suffix = path.suffix.lower()
    if suffix == GZIP_SUFFIX:
        suffix = path.with_suffix("").suffix.lower()
    return EXTENSION_FORMATS.get(suffix)


def _format_of(source: Source, path: Path, config_path: Path, where: str) -> str:
    """The declared format, else the one the extension names."""
    if source.format is not None:
        return source.format
    named = format_from_name(path)
    if named is None:
        raise SourceFileError(
            f"{config_path}: {where}.files: cannot tell the format of {path.name} from its "
            f"extension; set `format:` to one of csv, jsonl, parquet, xlsx"
        )
    return named


def is_gzipped(head: bytes, shown: str) -> bool:
    """True when a file's first bytes are gzip's magic; a zip archive (inside a zip
    archive: only a file named in `files:` is opened as one) is refused."""
    if head.startswith(archives.ZIP_MAGIC):
        raise SourceFileError(
            f"{shown}: a zip archive inside a zip archive, which the ingest does not open; "
            "extract it and name the extracted files in `files:`"
        )
    return head.startswith(GZIP_MAGIC)


def file_head(path: Path, member: str | None = None, size: int = len(archives.ZIP_MAGIC)) -> bytes:
    """A file's (or an archive member's) first bytes."""
    if member is not None:
        return archives.read_member(path, member, size)
    with path.open("rb") as handle:
        return handle.read(size)


def decompress_gzip(path: Path, target: Path, shown: str | Path) -> Path:
    """Write the decompressed bytes of a gzip file (every member); a damaged or cut-off
    file is a fatal error, named as `shown`."""
    try:
        with gzip.open(path, "rb") as source, target.open("wb") as out:
            shutil.copyfileobj(source, out, HASH_CHUNK)
    except (OSError, EOFError, zlib.error) as error:
        raise SourceFileError(
            f"{shown}: not a readable gzip file ({error}); the file may be cut off or damaged"
        ) from None
    return target


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
        # An .xlsx workbook is a zip archive too: it is read as a workbook.
        if source.format != XLSX and format_from_name(path) != XLSX and archives.is_zip(path):
            files += _archive_files(source, path, display, config_path, where)
            continue
        if source.members is not None:
            raise SourceFileError(
                f"{config_path}: {where}.members: {path} is not a zip archive; `members:` "
                "picks the files of the zip archives `files:` names"
            )
        files.append(_input_file(source, path, display, config_path, where))
    return files


def _input_file(
    source: Source,
    path: Path,
    display: str,
    config_path: Path,
    where: str,
    member: str | None = None,
) -> InputFile:
    """One file (or archive member) to read, with its format, digest and compression."""
    name = path if member is None else Path(member)
    file_format = _format_of(source, name, config_path, where)
    if source.sheet is not None and file_format != XLSX:
        raise SourceFileError(
            f"{config_path}: {where}.sheet: {name.name} is {file_format}, not an Excel "
            "workbook; `sheet:` names the sheet of an .xlsx file"
        )
    shown = str(path) if member is None else archives.member_name(path, member)
    gzipped = file_format != XLSX and is_gzipped(file_head(path, member), shown)
    sha256 = sha256_of(path, member)
    return InputFile(path, display, file_format, sha256, gzipped, member)


def _archive_files(
    source: Source, path: Path, display: str, config_path: Path, where: str
) -> list[InputFile]:
    """A zip archive's members (those `members:` picks) as files to read."""
    members = archives.archive_members(path, source.members)
    files = []
    for member in members:
        if source.format is None and format_from_name(Path(member)) is None:
            raise SourceFileError(
                f"{config_path}: {where}.files: cannot tell the format of "
                f"{archives.member_name(path, member)} from its extension; set `members:` to "
                "a glob that leaves it out (as `*.json.gz`), or `format:`"
            )
        shown = archives.member_name(display, member)
        files.append(_input_file(source, path, shown, config_path, where, member))
    return files


def _decode_reason(error: UnicodeError) -> str:
    """Why a codec failed: a decode error's reason, else the codec's own message (a UTF-16
    file without a byte-order mark fails before any byte is decoded)."""
    return error.reason if isinstance(error, UnicodeDecodeError) else str(error)


def _near_line(error: UnicodeError, chunk: bytes, first_line: int) -> str:
    """` near line N` for a decode error in a chunk that starts at first_line; "" otherwise."""
    if not isinstance(error, UnicodeDecodeError):
        return ""
    return f" near line {first_line + chunk[: error.start].count(NEWLINE)}"


def transcode_to_utf8(path: Path, encoding: str, target: Path, shown: str | Path) -> Path:
    """Write a UTF-8 copy of a text file; a byte the codec cannot decode is a fatal error
    (named after `shown`, the user's file)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    line, chunk = 1, b""
    try:
        with path.open("rb") as source, target.open("w", encoding="utf-8", newline="") as out:
            while chunk := source.read(HASH_CHUNK):
                text = decoder.decode(chunk)
                line += chunk.count(NEWLINE)
                out.write(text)
            out.write(decoder.decode(b"", final=True))
    except UnicodeError as error:
        raise SourceFileError(
            f"{shown}: not readable as {encoding}{_near_line(error, chunk, line)}: "
            f"{_decode_reason(error)}; set `encoding:` in the dataset config"
        ) from None
    return target


def text_encoding(path: Path, encoding: str) -> str:
    """The codec to decode a file with: a declared utf-8 file starting with a BOM is utf-8-sig."""
    if encoding == "utf-8":
        with path.open("rb") as handle:
            if handle.read(len(UTF8_BOM)) == UTF8_BOM:
                return "utf-8-sig"
    return encoding


def control_free(path: Path, file_format: str) -> bool:
    """True when a UTF-8 or Latin-1 text file holds no control character: no such byte, and
    in JSONL no escape that may spell one (an escaped backslash before `u00..` counts too,
    which only costs the fast path)."""
    if file_format != "jsonl":
        return not holds_bytes(path, CONTROL_BYTES)
    with path.open("rb") as handle:
        tail = b""
        while chunk := handle.read(HASH_CHUNK):
            if len(chunk.translate(None, CONTROL_BYTES)) != len(chunk):
                return False
            if CONTROL_ESCAPE.search(tail + chunk):
                return False
            tail = chunk[-5:]
    return True


def holds_bytes(path: Path, which: bytes) -> bool:
    """True when the file holds any of the bytes `which`."""
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            if len(chunk.translate(None, which)) != len(chunk):
                return True
    return False


def _csv_line_fixes(path: Path) -> tuple[bool, bool]:
    """(mixes CRLF with LF endings, has a whitespace-only line): the cases DuckDB refuses.

    Scanned in chunks cut after a newline; a whitespace-only line starts with a blank after a
    newline, so the regular expression only runs on chunks that hold one. Line endings are
    counted only until both kinds were seen (a file with one kind is searched, not counted).
    """
    crlf = bare_lf = whitespace = False
    with path.open("rb") as handle:
        rest = b""
        while chunk := handle.read(HASH_CHUNK):
            block, _, rest = (rest + chunk).rpartition(b"\n")
            block += b"\n" if _ else b""
            crlf = crlf or b"\r\n" in block
            bare_lf = bare_lf or block.count(b"\n") > block.count(b"\r\n")
            if not whitespace and (b"\n " in block or b"\n\t" in block):
                whitespace = WHITESPACE_LINE.search(block) is not None
        crlf = crlf or b"\r\n" in rest
        bare_lf = bare_lf or rest.count(b"\n") > rest.count(b"\r\n")
        whitespace = whitespace or WHITESPACE_LINE.search(rest) is not None
    return crlf and bare_lf, whitespace


def _normalised_block(block: bytes, quotes: int, mixed: bool) -> tuple[bytes, int]:
    """One block of whole lines with LF endings (when mixed) and whitespace lines emptied.

    A whitespace-only line inside a quoted field (an odd number of quote characters before
    it) is field content and kept. Returns the block and the running quote count.
    """
    if mixed:
        block = block.replace(b"\r\n", b"\n")
    parts, start = [], 0
    for match in WHITESPACE_LINE.finditer(block):
        quotes += block.count(b'"', start, match.start())
        parts.append(block[start : match.start()])
        if quotes % 2:
            parts.append(match.group())
        start = match.end()
    quotes += block.count(b'"', start)
    parts.append(block[start:])
    return b"".join(parts), quotes


def normalise_csv(path: Path, target: Path) -> Path:
    """The CSV itself, or a copy in LF line endings with whitespace-only lines emptied."""
    mixed, whitespace = _csv_line_fixes(path)
    if not (mixed or whitespace):
        return path
    quotes = 0
    with path.open("rb") as source, target.open("wb") as out:
        rest = b""
        while chunk := source.read(HASH_CHUNK):
            block, newline, rest = (rest + chunk).rpartition(b"\n")
            normalised, quotes = _normalised_block(block + newline, quotes, mixed)
            out.write(normalised)
        out.write(_normalised_block(rest, quotes, mixed)[0])
    return target


def without_footer(
    path: Path,
    footer_lines: int,
    header_width: int,
    delimiter: str,
    encoding: str,
    target: Path,
    shown: str | Path,
) -> Path:
    """A copy of a CSV without its last `footer_lines` lines that hold something (a report's
    totals, notice and copyright; the blank lines after them go too), every other line at
    its number; footer_cut says where it ends, or why it is no footer (it copies the body
    as it reads it)."""
    with target.open("wb") as out:
        footer_cut(path, footer_lines, header_width, delimiter, encoding, shown, out)
    return target


def footer_cut(
    path: Path,
    footer_lines: int,
    header_width: int,
    delimiter: str,
    encoding: str,
    shown: str | Path,
    out: IO[bytes] | None = None,
) -> int:
    """The byte offset where a CSV's body ends above its last `footer_lines` lines that hold
    something; the body is written to `out` when given, in the one pass that reads it. The
    footer must start where a row ends (an even number of quote characters before it) and its
    first record (a quoted field may span lines) must not read as a row (another number of
    fields than the header's `header_width`): else the file has no such footer, or a shorter
    one, and the lines it would drop are data, so that is fatal, with the line's number.
    `encoding` is an ASCII-compatible one (the ingest's copy is)."""
    tail, start = _tail_lines(path, footer_lines)
    filled = [index for index, line in enumerate(tail) if line.strip()]
    if len(filled) < footer_lines:
        raise SourceFileError(
            f"{shown}: footer_lines {footer_lines}: the file has only {len(filled)} lines that "
            "hold something; fix footer_lines"
        )
    first = filled[-footer_lines]
    cut = start + sum(len(line) for line in tail[:first])
    lines = quotes = 0
    with path.open("rb") as source:
        while (left := cut - source.tell()) > 0 and (chunk := source.read(min(HASH_CHUNK, left))):
            lines += chunk.count(NEWLINE)
            quotes += chunk.count(b'"')
            if out is not None:
                out.write(chunk)
    where = f"{shown}: footer_lines {footer_lines}: line {lines + 1}, the footer's first,"
    if quotes % 2:
        raise SourceFileError(
            f"{where} is inside a quoted field of a row above it: the file has no such "
            "footer, or a shorter one; fix footer_lines"
        )
    text = b"".join(tail[first:]).decode(encoding, errors="replace")
    record = next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), [])
    if len(record) == header_width:
        raise SourceFileError(
            f"{where} reads as a row ({header_width} fields, as the header has): the file has "
            "no such footer, or a shorter one; fix footer_lines"
        )
    return cut


def _tail_lines(path: Path, count: int) -> tuple[list[bytes], int]:
    """The last lines of a file (each with its line break) holding `count` non-blank ones
    and one more line before them, when the file has that many, and the byte offset where
    the first of them starts."""
    size = path.stat().st_size
    span = HASH_CHUNK
    with path.open("rb") as handle:
        while True:
            start = max(size - span, 0)
            handle.seek(start)
            lines = handle.read(size - start).splitlines(keepends=True)
            if start > 0:
                lines, start = lines[1:], start + len(lines[0])  # a cut line is not one
            if start == 0 or sum(1 for line in lines if line.strip()) > count:
                return lines, start
            span *= 2


def excel_separator(path: Path) -> str | None:
    """The delimiter an Excel `sep=X` first line declares, else None."""
    with path.open("rb") as handle:
        head = handle.read(len(UTF8_BOM) + 8).removeprefix(UTF8_BOM)
    found = EXCEL_SEPARATOR_LINE.match(head)
    return None if found is None else found.group(1).decode("latin-1")


def csv_header(
    path: Path, encoding: str, delimiter: str, shown: str | Path, skip: int = 0
) -> list[str]:
    """The header's column names (trimmed; an empty one is `column<i>`, as DuckDB names it),
    after `skip` lines.

    A name given twice is fatal: one of the two columns would be read silently. Errors name
    `shown`, the user's file.
    """
    try:
        with path.open(encoding=encoding, newline="") as handle:
            for _ in range(skip):
                handle.readline()
            header = next(csv.reader(handle, delimiter=delimiter, strict=True), [])
    except (csv.Error, UnicodeError) as error:
        raise SourceFileError(
            f"{shown}: line {skip + 1}: the header is not readable: {error}"
        ) from None
    names = [name.strip() or f"column{i}" for i, name in enumerate(header)]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        columns = ", ".join(map(repr, repeated))
        raise SourceFileError(
            f"{shown}: line {skip + 1}: the header names column {columns} more than once; "
            "rename or drop the repeated column"
        )
    return names


def whitespace_to_csv(
    path: Path,
    encoding: str,
    names: tuple[str, ...] | None,
    target: Path,
    shown: str | Path,
    skip: int = 0,
) -> tuple[Path, list[str]]:
    """A whitespace-separated file as a UTF-8 CSV (same line numbers) and its column names.

    Fields are split on runs of blanks/tabs; a line of only blanks, and each of the first
    `skip` lines, is a blank line. The first non-blank line is the header unless `names` are
    given. A line whose field count differs
    from the header's, or longer than MAX_LINE_BYTES, is fatal with its line number (and
    the name of `shown`, the user's file).
    """
    header = list(names) if names is not None else None
    try:
        with (
            path.open(encoding=encoding, newline="\n") as source,
            target.open("w", encoding="utf-8", newline="") as out,
        ):
            writer = csv.writer(out, lineterminator="\n")
            for number, line in enumerate(source, start=1):
                if len(line) > MAX_LINE_BYTES:
                    raise SourceFileError(
                        f"{shown}: line {number}: longer than the {MAX_LINE_BYTES >> 20} MiB limit"
                    )
                fields = FIELD_SEPARATOR.split(line.rstrip("\n").rstrip("\r").strip(" \t"))
                if fields == [""] or number <= skip:
                    out.write("\n")
                    continue
                if header is None:
                    header = fields
                elif len(fields) != len(header):
                    raise SourceFileError(
                        f"{shown}: line {number}: {len(fields)} whitespace-separated fields, "
                        f"expected {len(header)} (the columns: {', '.join(header)})"
                    )
                writer.writerow(fields)
    except UnicodeError as error:
        raise SourceFileError(
            f"{shown}: not readable as {encoding}: {_decode_reason(error)}; "
            "set `encoding:` in the dataset config"
        ) from None
    return target, header or []


def read_error_summary(text: str) -> str | None:
    """DuckDB's CSV parse error as `line N: what`, without the line's content; None if not one."""
    found = CSV_ERROR_LINE.search(text)
    if found is None:
        return None
    for marker, explanation in CSV_ERROR_KINDS:
        if marker in text:
            if explanation is None:
                start = text.index(marker)
                explanation = text[start : text.index("\n", start)].strip()
                explanation += _short_line_hint(explanation)
            return f"line {found.group(1)}: {explanation}"
    return f"line {found.group(1)}: not a well-formed CSV line"


def _short_line_hint(explanation: str) -> str:
    """For a line with fewer fields than the header, how to read such lines."""
    counts = FIELD_COUNTS.search(explanation)
    if counts is None or int(counts.group(2)) >= int(counts.group(1)):
        return ""
    return SHORT_LINE_HINT


def sql_string(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def reader_sql(file: InputFile, source: Source, scratch: Path, index: int) -> FileReader:
    """The DuckDB table function that reads one file with every field as text.

    CSV options are pinned (delimiter, double quote as quote and escape, header, the lines
    skipped (`skip_lines`, an Excel `sep=` line), no comment character, the columns from our
    own header parse) so nothing is guessed
    and nothing is dropped silently; a structurally broken line stops the ingest. Text files
    are scanned for control characters in the form DuckDB reads (UTF-8 or Latin-1). A gzip
    file is decompressed first; an empty file (after that) is fatal.
    """
    shown = file.shown
    path = file.path
    if file.member is not None:
        path = archives.extract_member(
            *file.location, scratch / f"member_{index}{_suffixes(Path(file.member))}"
        )
    if file.gzipped:
        inner = path.with_suffix("") if path.suffix.lower() == GZIP_SUFFIX else path
        path = decompress_gzip(path, scratch / f"gunzip_{index}{inner.suffix}", shown)
    if path.stat().st_size == 0:
        emptied = " once decompressed" if file.gzipped else ""
        raise SourceFileError(f"{shown}: the file is empty{emptied} (not even a header)")
    if file.format == "parquet":
        return FileReader(f"read_parquet({sql_string(str(path))})", control_free=False)
    if file.format != "csv" and (not source.header or source.delimiter == WHITESPACE):
        raise SourceFileError(
            f"{shown}: `header: false` and `delimiter: {WHITESPACE}` are for text tables "
            f"(csv), not {file.format}"
        )
    if source.skip_lines and file.format not in ("csv", XLSX):
        raise SourceFileError(
            f"{shown}: `skip_lines` is for text tables (csv) and Excel sheets, not {file.format}"
        )
    delimited_only = [
        key
        for key, given in (
            ("footer_lines", bool(source.footer_lines)),
            ("short_lines", source.short_lines != "error"),
        )
        if given
    ]
    if delimited_only and (file.format != "csv" or source.delimiter == WHITESPACE):
        raise SourceFileError(
            f"{shown}: `{delimited_only[0]}` is for delimited text tables (csv), not "
            f"{'a whitespace table' if file.format == 'csv' else file.format}"
        )
    if file.format == XLSX:
        target = scratch / f"sheet_{index}.parquet"
        try:
            path = excel.sheet_to_parquet(
                path, source.sheet, source.decimal, target, shown, source.skip_lines
            )
        except excel.WorkbookError as error:
            raise SourceFileError(str(error)) from None
        return FileReader(f"read_parquet({sql_string(str(path))})", control_free=False)
    encoding = text_encoding(path, source.encoding)
    if file.format == "csv" and source.delimiter == WHITESPACE:
        path, names = whitespace_to_csv(
            path, encoding, source.names, scratch / f"split_{index}.csv", shown, source.skip_lines
        )
        sql = csv_reader_sql(path, names, ",", source.header, "utf-8")
        return FileReader(sql, control_free(path, file.format))
    native = DUCKDB_CSV_ENCODINGS.get(encoding) if file.format == "csv" else None
    if file.format == "csv" and encoding == "cp1252" and not holds_bytes(path, CP1252_OWN_BYTES):
        native = encoding = DUCKDB_CSV_ENCODINGS["iso8859-1"]
    if native is None and encoding != "utf-8":
        path = transcode_to_utf8(path, encoding, scratch / f"utf8_{index}{path.suffix}", shown)
        encoding = "utf-8"
    if source.records is not None and file.format != "jsonl":
        raise SourceFileError(f"{shown}: `records:` is for JSON files, not {file.format}")
    if source.records is not None:
        sql = json_records_sql(path, source.records, source.parent)
        free = control_free(path, file.format)
        return FileReader(sql, free, pages=json_pages_sql(path))
    if file.format == "jsonl":
        return FileReader(json_reader_sql(path), control_free(path, file.format))
    path = normalise_csv(path, scratch / f"lines_{index}{path.suffix}")
    declared = excel_separator(path)
    if declared is not None and declared != source.delimiter:
        raise SourceFileError(
            f"{shown}: line 1: Excel's `sep={declared}` line declares the delimiter "
            f"{declared!r}, the config {source.delimiter!r}; set `delimiter: {declared!r}`"
        )
    skip = source.skip_lines + (0 if declared is None else 1)
    names = (
        list(source.names)
        if source.names is not None
        else csv_header(path, encoding, source.delimiter, shown, skip)
    )
    if source.footer_lines:
        body = scratch / f"body_{index}{path.suffix}"
        path = without_footer(
            path,
            source.footer_lines,
            len(names),
            source.delimiter,
            encoding,
            body,
            shown,
        )
    sql = csv_reader_sql(
        path,
        names,
        source.delimiter,
        source.header,
        native or "utf-8",
        skip,
        pad_short_lines=source.short_lines == "empty",
    )
    return FileReader(sql, control_free(path, file.format))


def _suffixes(path: Path) -> str:
    """`.csv`, or `.csv.gz` for a compressed file: the suffixes a copy keeps."""
    kept = path.suffixes[-2:] if path.suffix.lower() == GZIP_SUFFIX else path.suffixes[-1:]
    return "".join(kept)


def is_json_array(path: Path) -> bool:
    """True when a UTF-8 text file's first non-blank character is `[` (a JSON array)."""
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            text = chunk.lstrip(b" \t\r\n")
            if text:
                return text.startswith(b"[")
    return False


def json_path(keys: Sequence[str], then: str = "") -> str:
    """A JSON path literal of keys, each quoted (blanks, dots and quotes in keys work), and
    `then` after them (`[0].key`)."""
    quoted = "".join('."' + key.replace('"', '\\"') + '"' for key in keys)
    return sql_string("$" + quoted + then)


def json_reader_sql(path: Path) -> str:
    """read_json_objects over a UTF-8 file: one record a line, or the elements of one array."""
    layout = "array" if is_json_array(path) else "newline_delimited"
    return (
        f"read_json_objects({sql_string(str(path))}, format='{layout}', "
        f"maximum_object_size={MAX_LINE_BYTES})"
    )


def json_pages_sql(path: Path) -> str:
    """The top-level objects of a JSON file of API pages (one object, pretty-printed or not,
    or one a line), numbered; an object may be as large as the file."""
    size = max(MAX_LINE_BYTES, path.stat().st_size + 1)
    return (
        f"read_json_objects({sql_string(str(path))}, format='auto', "
        f"maximum_object_size={size}) WITH ORDINALITY AS page(json, page)"
    )


def records_levels(records: str) -> list[list[str]]:
    """`records:` as the key paths of its arrays, outermost first: `results` -> [[results]],
    `data.events` -> [[data, events]], `orders[].line_items` -> [[orders], [line_items]]."""
    return [level.split(".") for level in records.split(ARRAY_STEP)]


def json_elements_sql(pages: str, records: str, depth: int | None = None) -> str:
    """The elements of the arrays `records` names in each top-level object of `pages`
    (json_pages_sql), through its first `depth` arrays (default all): the object's number
    `page`, the object holding the element less the array `holder` (computed once per
    object: a page's copy per element would grow as its square), the element `json`, its
    1-based `position` in its array and `place`, the positions of it and of the elements
    holding it."""
    elements = f"(SELECT page, json, []::BIGINT[] AS place FROM {pages})"
    for keys in records_levels(records)[:depth]:
        at = json_path(keys)
        holders = (
            f"(SELECT page, json, json_remove(json, {at}) AS holder, place FROM {elements} "
            f"WHERE json_type(json, {at}) = 'ARRAY')"
        )
        unnested = (
            f"(SELECT page, holder, unnest(CAST(json_extract(json, {at}) AS JSON[])) AS json, "
            f"unnest(range(1, CAST(json_array_length(json, {at}) AS BIGINT) + 1)) AS position, "
            f"place FROM {holders})"
        )
        elements = (
            "(SELECT page, holder, json, position, list_append(place, position) AS place "
            f"FROM {unnested})"
        )
    return elements


def json_records_sql(path: Path, records: str, parent: str | None = None) -> str:
    """The records of a JSON file of API pages (or of objects holding arrays), the elements
    of each object's `records` array (`results`, or through arrays: `orders[].line_items`),
    as a `json` column with their 1-based number in the file (page by page, element by
    element) as `ordinality`: the rows numbered as other readers' rows are. With `parent`,
    an object record also carries the object holding it, less the array, under that key (an
    order's fields on each of its `line_items`)."""
    record = "json"
    if parent is not None:
        record = (
            f"CASE WHEN json_type(json) = 'OBJECT' THEN json_set(json, {json_path([parent])}, "
            "holder) ELSE json END"
        )
    return (
        f"(SELECT {record} AS json, row_number() OVER (ORDER BY page, place) AS "
        f"ordinality FROM {json_elements_sql(json_pages_sql(path), records)})"
    )


def csv_reader_sql(
    path: Path,
    names: list[str],
    delimiter: str,
    header: bool,
    encoding: str,
    skip: int = 0,
    pad_short_lines: bool = False,
) -> str:
    """read_csv with every dialect option pinned and the given column names, all as text;
    `skip` lines (an Excel `sep=` line, a report's title) come before the header or the first
    row. With `pad_short_lines` a line with fewer fields than the header reads its missing
    last fields as NULL (DuckDB's null padding, which reads quoted line breaks only in one
    thread)."""
    columns = "{" + ", ".join(f"{sql_string(name)}: 'VARCHAR'" for name in names) + "}"
    padding = ", null_padding=true, parallel=false" if pad_short_lines else ""
    return (
        f"read_csv({sql_string(str(path))}, all_varchar=true, header={str(header).lower()}, "
        f"skip={skip}, comment='', delim={sql_string(delimiter)}, quote='\"', escape='\"', "
        f"auto_detect=false, columns={columns}, max_line_size={MAX_LINE_BYTES}, "
        f"buffer_size={2 * MAX_LINE_BYTES}, encoding={sql_string(encoding)}{padding})"
    )
