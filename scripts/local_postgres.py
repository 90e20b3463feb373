"""A throwaway PostgreSQL server in a temporary folder, for tests and benchmarks.

`running_postgres()` runs `initdb` (trust authentication, loopback only) and `pg_ctl start` on
a free port, yields a `LocalPostgres` whose `create_database()` returns fresh
`postgresql://` URLs, and stops the server and removes the folder afterwards. The server
programs come from PATH, else from the Debian/Ubuntu layout `/usr/lib/postgresql/*/bin`
(`.ci/run` installs the `postgresql` package when neither has them). PostgreSQL refuses to
run as root: as root, the programs run as the `postgres` user, in a folder that user owns.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

SERVER_USER = "postgres"  # the account initdb/pg_ctl run as when we are root
SUPERUSER = "postgres"  # the database superuser initdb creates
PACKAGED_BIN_DIRS = "/usr/lib/postgresql/*/bin"


def server_bin_dir() -> Path | None:
    """The folder holding initdb and pg_ctl: from PATH, else the newest packaged version."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).resolve().parent
    packaged = sorted(
        (Path(folder) for folder in glob.glob(PACKAGED_BIN_DIRS)),
        key=lambda folder: [int(part) for part in folder.parent.name.split(".") if part.isdigit()],
    )
    usable = [folder for folder in packaged if (folder / "initdb").exists()]
    return usable[-1] if usable else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LocalPostgres:
    """A running server: `create_database()` -> a fresh database's URL."""

    bin_dir: Path
    data_dir: Path
    port: int
    as_user: tuple[str, ...]
    _names: Iterator[int] = field(default_factory=itertools.count)

    def url(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def run(self, program: str, *args: str) -> None:
        """Run one of the server's programs (as the server's user), failing with its output."""
        command = [*self.as_user, str(self.bin_dir / program), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} exited {done.returncode}: {done.stderr}")

    def create_database(self, prefix: str = "db") -> str:
        """A new, empty database (`<prefix>_<n>`); returns its URL."""
        name = f"{prefix}_{next(self._names)}"
        self.run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", SUPERUSER, name)
        return self.url(name)


@contextmanager
def running_postgres(bin_dir: Path) -> Iterator[LocalPostgres]:
    """Start a server on 127.0.0.1 in a new temporary folder; stop it and remove the folder."""
    as_user: tuple[str, ...] = ()
    folder = Path(tempfile.mkdtemp(prefix="usagecast-pg-"))
    if os.geteuid() == 0:
        as_user = ("runuser", "-u", SERVER_USER, "--")
        account = pwd.getpwnam(SERVER_USER)
        os.chown(folder, account.pw_uid, account.pw_gid)
    data = folder / "data"
    server = LocalPostgres(bin_dir, data, _free_port(), as_user)
    try:
        server.run("initdb", "-A", "trust", "-U", SUPERUSER, "--no-sync", "-D", str(data))
        options = (
            f"-p {server.port} -k {data} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c full_page_writes=off"
        )
        log = str(folder / "server.log")
        server.run("pg_ctl", "-D", str(data), "-o", options, "-l", log, "-w", "start")
        try:
            yield server
        finally:
            server.run("pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def advisory_lock_is_free(url: str, name: str) -> bool:
    """Whether another session could take features.locks.advisory_lock(url, name) now."""
    import sqlalchemy

    from features.locks import advisory_key

    engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.connect() as connection:
            key = {"key": advisory_key(name)}
            free = connection.execute(
                sqlalchemy.text("SELECT pg_try_advisory_lock(:key)"), key
            ).scalar()
            if free:
                connection.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:key)"), key)
            return bool(free)
    finally:
        engine.dispose()
