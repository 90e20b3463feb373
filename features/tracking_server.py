"""`usagecast server`: an MLflow tracking server on the workspace's store, safe by default.

Decisions:
- The server runs MLflow's own `mlflow server` (this process is replaced by it, so signals
  and the exit code are the server's). Its defaults are the workspace's: the tracking store
  in effect (MLFLOW_TRACKING_URI when it names a database, else `<workspace>/mlflow.db`) and
  `<workspace>/mlartifacts` as the artifact destination, served through the server, so a
  client on another host needs only the server's URL (artifacts travel as
  `mlflow-artifacts:/` URIs).
- It binds loopback (127.0.0.1) unless told otherwise, and refuses any other address unless
  MLflow's authentication app is on (`--app-name basic-auth`, which itself refuses to start
  without an admin password: MLFLOW_AUTH_ADMIN_PASSWORD or the file MLFLOW_AUTH_CONFIG_PATH
  names). An open tracking server lets anyone on the network read, overwrite and delete
  runs and models, and the registry decides what gets served.
- A SQLite backend is created (or migrated) first under the workspace lock, like every other
  first use (`features.workspace.ensure_mlflow_store`).
"""

from __future__ import annotations

import ipaddress
import os
import shlex
from dataclasses import dataclass
from typing import NoReturn

from contracts.errors import UsagecastError
from contracts.workspace import mlflow_artifact_root, mlflow_tracking_uri
from features.mlflow_links import is_tracking_server, python_bin_dir
from features.workspace import ensure_mlflow_store

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5000
AUTH_APP = "basic-auth"


@dataclass(frozen=True)
class ServerConfig:
    """Where the server listens, what it stores where, and its auth app (None: no auth)."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    backend_store_uri: str | None = None
    artifacts_destination: str | None = None
    app_name: str | None = None
    workers: int | None = None  # None: MLflow's default


def is_loopback(host: str) -> bool:
    """Whether `host` is only reachable from this machine (localhost, 127.0.0.0/8, ::1)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to any interface
        return False


def check_host(config: ServerConfig) -> None:
    """Refuse a non-loopback address without authentication, saying how to enable it."""
    if is_loopback(config.host) or config.app_name == AUTH_APP:
        return
    raise UsagecastError(
        f"--host {config.host}: refusing to expose the tracking server beyond this machine "
        f"without authentication; add --app-name {AUTH_APP} (and set "
        "MLFLOW_AUTH_ADMIN_PASSWORD for its first start), or keep the default --host "
        f"{DEFAULT_HOST} behind your own authenticating proxy"
    )


def backend_store(config: ServerConfig) -> str:
    """The store the server writes to: the one given, else the store in effect."""
    uri = config.backend_store_uri or mlflow_tracking_uri()
    if is_tracking_server(uri):
        raise UsagecastError(
            f"MLFLOW_TRACKING_URI={uri} is a tracking server, not a store a server can use; "
            "pass --backend-store-uri (sqlite:///PATH or postgresql://...) or unset it to use "
            "the workspace's store"
        )
    return uri


def shown_uri(uri: str) -> str:
    """A store URI fit to print: a database password replaced by ***."""
    if "@" not in uri:
        return uri
    import sqlalchemy

    try:
        return sqlalchemy.make_url(uri).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy parses: print nothing of it
        return "<store URI>"


def server_argv(config: ServerConfig, store: str) -> list[str]:
    """The `mlflow server` command line (the mlflow executable next to this Python)."""
    argv = [
        str(python_bin_dir() / "mlflow"),
        "server",
        "--backend-store-uri",
        store,
        "--artifacts-destination",
        config.artifacts_destination or mlflow_artifact_root(),
        "--host",
        config.host,
        "--port",
        str(config.port),
    ]
    if config.app_name:
        argv += ["--app-name", config.app_name]
    if config.workers is not None:
        argv += ["--workers", str(config.workers)]
    return argv


def client_url(config: ServerConfig) -> str:
    """The MLFLOW_TRACKING_URI clients use (the host as given; 0.0.0.0 means this host)."""
    host = f"[{config.host}]" if ":" in config.host else config.host
    return f"http://{host}:{config.port}"


def run_server(config: ServerConfig) -> NoReturn:
    """Check the address, create a SQLite store if needed, then become `mlflow server`."""
    check_host(config)
    store = backend_store(config)
    ensure_mlflow_store(store)
    argv = server_argv(config, store)
    print(f"store: {shown_uri(store)}", flush=True)
    print(f"artifacts: {argv[argv.index('--artifacts-destination') + 1]}", flush=True)
    print(f"clients: export MLFLOW_TRACKING_URI={shlex.quote(client_url(config))}", flush=True)
    env = {**os.environ, "PATH": f"{python_bin_dir()}{os.pathsep}{os.environ.get('PATH', '')}"}
    os.execve(argv[0], argv, env)
