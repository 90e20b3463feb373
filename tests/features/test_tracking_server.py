"""`usagecast server`: loopback unless authenticated; a real `mlflow server` on the workspace's
store that a client reaches over HTTP, artifacts included."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from contracts.errors import UsagecastError
from features.tracking_server import (
    ServerConfig,
    backend_store,
    check_host,
    is_loopback,
    server_argv,
    shown_uri,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.3.2.1", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.5", False),
        ("mlflow.internal", False),
    ],
)
def test_only_loopback_addresses_count_as_local(host, loopback):
    assert is_loopback(host) is loopback


def test_a_non_loopback_host_needs_the_auth_app():
    with pytest.raises(UsagecastError, match="--app-name basic-auth"):
        check_host(ServerConfig(host="0.0.0.0"))
    check_host(ServerConfig(host="0.0.0.0", app_name="basic-auth"))
    check_host(ServerConfig())


def test_the_default_store_is_the_one_in_effect_and_a_server_url_is_refused(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    store = backend_store(ServerConfig())
    assert store == f"sqlite:///{Path(os.environ['USAGECAST_HOME']).resolve() / 'mlflow.db'}"
    argv = server_argv(ServerConfig(port=5123), store)
    assert argv[1:3] == ["server", "--backend-store-uri"] and argv[-2:] == ["--port", "5123"]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    with pytest.raises(UsagecastError, match="--backend-store-uri"):
        backend_store(ServerConfig())


def test_a_database_password_is_never_printed():
    assert (
        shown_uri("postgresql://ml:s3cret@db:5432/mlflow") == "postgresql://ml:***@db:5432/mlflow"
    )


def test_the_command_refuses_an_exposed_address_in_one_line():
    completed = subprocess.run(
        [sys.executable, "-m", "usagecast_cli.main", "server", "--host", "0.0.0.0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 2
    assert completed.stderr.count("\n") == 1 and "--app-name basic-auth" in completed.stderr


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_healthy(url: str, process: subprocess.Popen, timeout_s: float = 300) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read()
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} never became healthy")


@pytest.mark.slow
def test_the_server_serves_the_workspace_store_and_its_artifacts(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "usagecast_cli.main",
            "server",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        cwd=ROOT,
        # MLflow's job runner (on by default) is one more process starting beside the server,
        # and with it `mlflow server` takes about ten seconds more to exit after SIGTERM.
        env={
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, process)
        client = MlflowClient(url)
        experiment = client.create_experiment("over-http")
        run = client.create_run(experiment)
        note = tmp_path / "note.txt"
        note.write_text("hello")
        client.log_artifact(run.info.run_id, str(note))
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, _ = process.communicate(timeout=60)
    assert f"export MLFLOW_TRACKING_URI={url}" in stdout
    home = Path(os.environ["USAGECAST_HOME"])
    stored = MlflowClient(f"sqlite:///{home / 'mlflow.db'}").get_experiment(experiment)
    assert stored.name == "over-http"
    assert list((home / "mlartifacts").rglob("note.txt"))
