"""Start a real `mlflow models serve` process on localhost and stop it: for tests, benchmarks.

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
    full_env = {
        **os.environ,
        **(env or {}),
        "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "false",
        "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    port = free_port()
    command = [
        *(str(venv_bin / "mlflow"), "models", "serve", "-m", model_uri),
        *("--env-manager", "local", "--host", "127.0.0.1", "--port", str(port)),
    ]
    with serving_process(command, port, log_file, full_env) as base:
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
