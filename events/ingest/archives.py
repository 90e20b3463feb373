"""Zip archives of export files: list the members an ingest reads, open and extract one.

An export API or a browser download often hands over one zip archive of many files
(Amplitude's export: a folder of hourly `.json.gz` files). A source whose `files:` names a
zip archive reads its members, each as a file of its own, named `archive.zip:folder/name`;
`members:` (a glob over the member paths, `*` crossing folders) picks some. Folders, dot
files, files under dot folders, macOS's `__MACOSX` forks and Excel's `~$` lock files are
not members. A damaged archive or member, an encrypted member and a zip inside the zip are
fatal, named.
"""

from __future__ import annotations

import fnmatch
import functools
import shutil
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import IO

from events.ingest.errors import SourceFileError

ZIP_MAGIC = b"PK\x03\x04"
EMPTY_ZIP_MAGIC = b"PK\x05\x06"  # an archive without members: only its end record
MEMBER_SEPARATOR = ":"
MACOS_FORKS = "__MACOSX"
COPY_CHUNK = 1 << 20
ENCRYPTED_FLAG = 0x1
MEMBERS_SHOWN = 5
OPEN_ARCHIVES = 4  # archives kept open between the reads of their members
# What reading a member's bytes may raise: a bad checksum, damaged or cut data.
READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError)


def is_zip(path: Path) -> bool:
    """True when the file starts as a zip archive does (with members or empty)."""
    with path.open("rb") as handle:
        return handle.read(len(ZIP_MAGIC)) in (ZIP_MAGIC, EMPTY_ZIP_MAGIC)


def is_hidden(parts: Iterable[str]) -> bool:
    """A path part that marks no export file: a dot folder or file (`.usagecast`, `.git`,
    notebook checkpoints), Excel's lock file of an open workbook (`~$users.xlsx`) or the
    resource forks macOS's Finder adds to the archives it makes (`__MACOSX/`)."""
    return any(part.startswith((".", "~$")) or part == MACOS_FORKS for part in parts)


def member_name(archive: str | Path, member: str) -> str:
    """How a member is shown: `export.zip:folder/name.json.gz`."""
    return f"{archive}{MEMBER_SEPARATOR}{member}"


@functools.lru_cache(maxsize=OPEN_ARCHIVES)
def _archive(path: Path, mtime_ns: int, size: int) -> zipfile.ZipFile:
    """An archive opened once for every member read from it (its directory of thousands of
    hourly files is parsed once, not per member); a changed file is opened again."""
    return zipfile.ZipFile(path)


def _open_archive(path: Path) -> zipfile.ZipFile:
    """The archive, opened (shared: never close it)."""
    try:
        stat = path.stat()
        return _archive(path, stat.st_mtime_ns, stat.st_size)
    except (zipfile.BadZipFile, OSError) as error:
        raise SourceFileError(
            f"{path}: not a readable zip archive ({error}); it may be cut off or damaged"
        ) from None


def archive_members(path: Path, pattern: str | None) -> list[str]:
    """The member paths of an archive that are export files, sorted, those matching
    `pattern` when given; none is a fatal error that lists some of the members."""
    infos = [
        info
        for info in _open_archive(path).infolist()
        if not info.is_dir() and not is_hidden(PurePosixPath(info.filename).parts)
    ]
    names = sorted(info.filename for info in infos)
    chosen = [n for n in names if pattern is None or fnmatch.fnmatchcase(n, pattern)]
    if not chosen:
        listed = ", ".join(names[:MEMBERS_SHOWN]) + (" ..." if len(names) > MEMBERS_SHOWN else "")
        held = f"its files: {listed}" if names else "it holds no file"
        matching = f" matches `members: {pattern}`" if pattern is not None else ""
        raise SourceFileError(f"{path}: no member{matching} ({held})")
    picked = set(chosen)
    encrypted = [
        i.filename for i in infos if i.filename in picked and i.flag_bits & ENCRYPTED_FLAG
    ]
    if encrypted:
        raise SourceFileError(
            f"{member_name(path, encrypted[0])}: encrypted; extract the archive with its "
            "password and name the extracted files in `files:`"
        )
    return chosen


def open_member(path: Path, member: str) -> IO[bytes]:
    """A member's bytes as a stream (close it)."""
    try:
        return _open_archive(path).open(member)
    except (KeyError, NotImplementedError, zipfile.BadZipFile, OSError) as error:
        raise member_error(path, member, error) from None


def read_member(path: Path, member: str, size: int = -1) -> bytes:
    """The first `size` bytes of a member (all of them by default)."""
    with open_member(path, member) as stream:
        try:
            return stream.read(size)
        except READ_ERRORS as error:
            raise member_error(path, member, error) from None


def extract_member(path: Path, member: str, target: Path) -> Path:
    """Write a member's bytes to `target` (its checksum is checked as it is read)."""
    with open_member(path, member) as stream, target.open("wb") as out:
        try:
            shutil.copyfileobj(stream, out, COPY_CHUNK)
        except READ_ERRORS as error:
            raise member_error(path, member, error) from None
    return target


def member_error(path: Path, member: str, error: Exception) -> SourceFileError:
    return SourceFileError(
        f"{member_name(path, member)}: not readable from the archive ({error}); the archive "
        "may be damaged, or made with a compression Python's zipfile does not read: extract "
        "it with another tool and name the extracted files in `files:`"
    )
