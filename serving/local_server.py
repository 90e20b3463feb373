"""Start a real server on localhost and stop it, for tests, the fuzzer and benchmarks: stock
`mlflow models serve`, or the `usagecast serve` front door where this checkout has it.

`--env-manager local` runs the server in this interpreter's environment; its bin folder must
be on PATH or the server exits with 127 (the uvicorn launcher is looked up there).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

STARTUP_SECONDS = 120.0
SERVER_KINDS = ("stock", "front")


class FrontDoorUnavailable(RuntimeError):
    """This checkout has no `usagecast serve` command."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(
    model_uri: str, log_file: Path, env: Mapping[str, str] | None = None
) -> Iterator[str]:
    """Yield the base URL of a served model once /ping answers; terminate it afterwards.

    The server runs with MLFLOW_ALLOW_PICKLE_DESERIALIZATION=false; `env` adds variables
    (e.g. MLFLOW_TRACKING_URI for a runs:/ or models:/ URI).
    """
    venv_bin = Path(sys.executable).parent
    port = free_port()
    command = [
        *(str(venv_bin / "mlflow"), "models", "serve", "-m", model_uri),
        *("--env-manager", "local", "--host", "127.0.0.1", "--port", str(port)),
    ]
    with serving_process(command, port, log_file, _server_env(env)) as base:
        yield base


def _server_env(env: Mapping[str, str] | None) -> dict[str, str]:
    venv_bin = Path(sys.executable).parent
    return {
        **os.environ,
        **(env or {}),
        "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "false",
        "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
    }


def _usagecast() -> list[str]:
    return [sys.executable, "-m", "usagecast_cli.main"]


def front_door_available() -> bool:
    """Whether this checkout's CLI has the `serve` command."""
    probe = subprocess.run(
        [*_usagecast(), "serve", "--help"], capture_output=True, env=_server_env(None)
    )
    return probe.returncode == 0


@contextmanager
def running(
    kind: str, model_uri: str, name: str, log_file: Path, env: Mapping[str, str]
) -> Iterator[str]:
    """A server of `kind` ("stock": `mlflow models serve -m model_uri`; "front":
    `usagecast serve name`) for the model at `model_uri`, which for "front" is first
    registered as NAME@champion in the tracking store `env["MLFLOW_TRACKING_URI"]`."""
    if kind == "stock":
        with running_server(model_uri, log_file, env) as base:
            yield base
        return
    if kind != "front":
        raise ValueError(f"server kind {kind!r}: choose one of {list(SERVER_KINDS)}")
    if not front_door_available():
        raise FrontDoorUnavailable(
            "`usagecast serve` does not exist in this checkout yet: nothing to start"
        )
    from mlflow.tracking import MlflowClient

    client = MlflowClient(env["MLFLOW_TRACKING_URI"])
    client.create_registered_model(name)
    version = client.create_model_version(name, model_uri)
    # The alias `usagecast serve` serves (registry.names.CHAMPION; serving cannot import it).
    client.set_registered_model_alias(name, "champion", version.version)
    port = free_port()
    command = [*_usagecast(), "serve", name, "--host", "127.0.0.1", "--port", str(port)]
    with serving_process(command, port, log_file, _server_env(env)) as base:
        yield base


@contextmanager
def serving_process(
    command: list[str], port: int, log_file: Path, env: Mapping[str, str]
) -> Iterator[str]:
    """Run `command` (a server on 127.0.0.1:`port`) with exactly `env`; yield its base URL
    once /ping answers; terminate it afterwards. Output goes to `log_file`."""
    base = f"http://127.0.0.1:{port}"
    with Path(log_file).open("w") as log:
        process = subprocess.Popen(command, env=dict(env), stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_for_ping(base, process, Path(log_file))
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_for_ping(base: str, process: subprocess.Popen, log_file: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        if process.poll() is not None:
            raise RuntimeError(
                f"mlflow models serve exited with {process.returncode}: {log_file.read_text()}"
            )
        try:
            with urllib.request.urlopen(f"{base}/ping", timeout=2):
                return
        except OSError as error:
            if time.monotonic() > deadline:
                raise RuntimeError(f"mlflow models serve did not answer {base}/ping") from error
            time.sleep(0.25)
