"""File locks that name their holder, so a lock left by a killed process is taken at once.

The lock is an exclusive `flock` on a file in the workspace. The kernel drops it when the
holding process ends, however it ends (SIGKILL included), so a killed holder never leaves it
held and the next process gets it without waiting. While held, the file records the holder
(pid, host name, process start time, as a date and as seconds since the boot, which a step of
the wall clock leaves alone); a clean release empties it. A process that takes the
lock and finds a record whose pid is no longer running on this host (or is running but was
started later: a reused pid) logs a one-line notice naming it: the previous holder was killed.
The file itself is never deleted: removing a flock file while others wait on it would let two
processes hold "the" lock at once. flock serialises processes of one machine (and of several on
file systems that support it); between hosts that share a PostgreSQL database, `advisory_lock`
takes the database's advisory lock instead.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import logging
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

logger = logging.getLogger(__name__)

# A reused pid belongs to a process started after the holder; start times of one process read
# twice agree far more closely than this.
START_TIME_TOLERANCE_S = 1.0


@dataclass(frozen=True)
class LockOwner:
    """Who holds a lock: process id, host name and process start time (seconds since epoch),
    and since the machine's boot (`since_boot`: what tells a reused pid apart even when the
    wall clock was stepped, which moves every start time read later; None in records
    written before it was kept)."""

    pid: int
    host: str
    started: float
    since_boot: float | None = None

    @classmethod
    def current(cls) -> LockOwner:
        """This process (looked up once per pid: a forked child is a new owner)."""
        return _owner_of(os.getpid())

    def is_gone(self) -> bool:
        """True when this owner is known to have ended: same host, pid absent or reused."""
        if self.host != socket.gethostname():
            return False
        try:
            if self.since_boot is not None:
                return abs(_since_boot(self.pid) - self.since_boot) > START_TIME_TOLERANCE_S
            started = psutil.Process(self.pid).create_time()
        except psutil.NoSuchProcess:
            return True
        return abs(started - self.started) > START_TIME_TOLERANCE_S

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}"


def _since_boot(pid: int) -> float:
    """Seconds from the boot to the process's start (psutil adds the boot time it read last
    to a start time, so both are read together)."""
    boot = psutil.boot_time()
    return psutil.Process(pid).create_time() - boot


@functools.cache
def _owner_of(pid: int) -> LockOwner:
    started = psutil.Process(pid).create_time()
    return LockOwner(pid, socket.gethostname(), started, _since_boot(pid))


def parse_owner(text: str) -> LockOwner | None:
    """The owner recorded in a lock file's text; None when empty or not a record of ours."""
    try:
        data = json.loads(text)
        since_boot = data.get("since_boot")
        return LockOwner(
            int(data["pid"]),
            str(data["host"]),
            float(data["started"]),
            None if since_boot is None else float(since_boot),
        )
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def _read_owner(fd: int) -> LockOwner | None:
    os.lseek(fd, 0, os.SEEK_SET)
    return parse_owner(os.read(fd, 4096).decode("utf-8", errors="replace"))


def _write_owner(fd: int, owner: LockOwner | None) -> None:
    os.ftruncate(fd, 0)
    if owner is not None:
        os.pwrite(fd, json.dumps(asdict(owner)).encode(), 0)


class OwnedLock:
    """An exclusive lock on `path` that records its holder (see the module docstring).

    `acquire()`/`release()` match Optuna's journal lock interface; `hold()` is the context
    manager. `waits` counts the acquisitions that found the lock held by a running process.
    One instance may be used from several threads: each acquisition opens its own descriptor.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.waits = 0
        self._held = threading.local()

    def acquire(self, blocking: bool = True) -> bool:
        """Take the lock, waiting only while a running process holds it (not blocking: False)."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if not blocking:
                    os.close(fd)
                    return False
                self.waits += 1
                fcntl.flock(fd, fcntl.LOCK_EX)
            previous = _read_owner(fd)
            if previous is not None and previous.is_gone():
                logger.warning(
                    "%s: took over the lock of %s, which ended without releasing it",
                    self.path,
                    previous.describe(),
                )
            _write_owner(fd, LockOwner.current())
        except BaseException:
            os.close(fd)
            raise
        self._held.fd = fd
        return True

    def release(self) -> None:
        """Clear the holder record and drop the lock."""
        fd = self._held.fd
        del self._held.fd
        try:
            _write_owner(fd, None)
        finally:
            os.close(fd)  # closing the only descriptor drops the flock

    def owner(self) -> LockOwner | None:
        """The holder recorded in the file now (None when free or released cleanly)."""
        try:
            return parse_owner(self.path.read_text(encoding="utf-8", errors="replace"))
        except FileNotFoundError:
            return None

    @contextmanager
    def hold(self) -> Iterator[None]:
        """`with lock.hold():` acquire (blocking) and release."""
        self.acquire()
        try:
            yield
        finally:
            self.release()


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for `name` (the key space of pg_advisory_lock)."""
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def is_postgres_url(url: str) -> bool:
    """True for a PostgreSQL database URL (`postgresql://`, `postgresql+psycopg://`, ...)."""
    return url.partition("://")[0].partition("+")[0] in ("postgresql", "postgres")


@contextmanager
def advisory_lock(url: str, name: str) -> Iterator[None]:
    """`with advisory_lock(url, name):` PostgreSQL's session advisory lock on `name`'s key.

    Held on a connection of its own, outside any transaction, so it serialises processes on
    every host that shares the database. The server releases it when that connection ends,
    however the holder ends (a killed process leaves nothing held), like the flock above.
    """
    import sqlalchemy
    from sqlalchemy.pool import NullPool

    engine = sqlalchemy.create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    key = {"key": advisory_key(name)}
    try:
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT pg_advisory_lock(:key)"), key)
            try:
                yield
            finally:
                connection.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:key)"), key)
    finally:
        engine.dispose()
