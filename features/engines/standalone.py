"""A Spark standalone master and worker, or a Spark Connect server, on this machine, started
with pyspark's spark-class.

pyspark's package has `bin/spark-class` but not the start-master/start-worker/
start-connect-server scripts of a Spark distribution; this module runs the same daemons in the
foreground, for trying `--engine spark --spark-master spark://...` or `SPARK_REMOTE=sc://...`
without a cluster (the parity tests and the cluster benchmark use it). A real cluster starts
them with its own scripts.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from contracts.errors import UsagecastError

MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
SUBMIT_CLASS = "org.apache.spark.deploy.SparkSubmit"
CONNECT_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"


@dataclass(frozen=True)
class StandaloneCluster:
    """A running master (its URL and web UI port) and the daemons' process ids."""

    url: str
    webui_port: int
    pids: tuple[int, ...]

    def state(self) -> dict:
        """The master's JSON status: aliveworkers, activeapps, completedapps, ..."""
        address = f"http://127.0.0.1:{self.webui_port}/json/"
        with urllib.request.urlopen(address, timeout=5) as reply:
            return json.load(reply)


def free_port() -> int:
    """A TCP port free on the loopback interface now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def spark_class() -> Path:
    """pyspark's `bin/spark-class`."""
    import pyspark

    return Path(pyspark.__file__).parent / "bin" / "spark-class"


# How often wait_until asks: a daemon that is up is used within this much of its start.
POLL_SECONDS = 0.2


def wait_until(condition, what: str, seconds: float, logs: tuple[Path, ...] = ()) -> None:
    """Poll `condition()` every POLL_SECONDS until it holds; raise UsagecastError saying `what` and
    the logs' last lines when `seconds` pass. Connection errors and a half-started server's
    empty or cut reply (a JSON or HTTP error) count as False."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except (OSError, json.JSONDecodeError, http.client.HTTPException):
            pass
        time.sleep(POLL_SECONDS)
    tails = "".join(f"\n--- {log}\n{log.read_text()[-2000:]}" for log in logs if log.exists())
    raise UsagecastError(f"{what} within {seconds:.0f} s{tails}")


@contextmanager
def _daemons(workdir: Path) -> Iterator[tuple[Callable[..., Path], list[subprocess.Popen]]]:
    """A `start(name, *spark_class_args)` that runs a Spark daemon bound to 127.0.0.1 with its
    log at `workdir/name.log`, and the daemons started so far; every one is stopped on exit,
    whatever happened."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"}
    processes: list[subprocess.Popen] = []

    def start(name: str, *args: str) -> Path:
        log = workdir / f"{name}.log"
        with log.open("w") as out:
            command = [str(spark_class()), *args]
            processes.append(
                subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
            )
        return log

    try:
        yield start, processes
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextmanager
def standalone_cluster(
    workdir: Path, *, cores: int = 1, memory: str = "1g", startup_seconds: float = 180
) -> Iterator[StandaloneCluster]:
    """Start a master and one worker (`cores`, `memory`) bound to 127.0.0.1, logs and work
    files under `workdir`; stop both on exit, whatever happened."""
    port, webui = free_port(), free_port()
    url = f"spark://127.0.0.1:{port}"
    cluster = StandaloneCluster(url, webui, ())
    with _daemons(workdir) as (start, processes):
        master_log = start(
            "master", MASTER_CLASS, "--host", "127.0.0.1", "--port", str(port), "--webui-port",
            str(webui),
        )  # fmt: skip
        wait_until(
            lambda: cluster.state()["status"] == "ALIVE",
            "the Spark master did not start",
            startup_seconds,
            (master_log,),
        )
        worker_log = start(
            "worker", WORKER_CLASS, url, "--host", "127.0.0.1", "--cores", str(cores),
            "--memory", memory, "--webui-port", str(free_port()), "--work-dir",
            str(workdir / "work"),
        )  # fmt: skip
        wait_until(
            lambda: cluster.state()["aliveworkers"] == 1,
            "the Spark worker did not register with the master",
            startup_seconds,
            (master_log, worker_log),
        )
        yield StandaloneCluster(url, webui, tuple(process.pid for process in processes))


@dataclass(frozen=True)
class ConnectServer:
    """A running Spark Connect server: its `sc://` URL (for SPARK_REMOTE) and its log."""

    url: str
    log: Path


@contextmanager
def connect_server(
    workdir: Path, *, master: str = "local[1]", startup_seconds: float = 180
) -> Iterator[ConnectServer]:
    """Start a Spark Connect server (pyspark's own jar) bound to 127.0.0.1 on a free port,
    running its session on `master`; stop it on exit, whatever happened."""
    port = free_port()
    with _daemons(workdir) as (start, _):
        log = start(
            "connect", SUBMIT_CLASS, "--class", CONNECT_CLASS, "--master", master,
            "--conf", f"spark.connect.grpc.binding.port={port}",
            "--conf", "spark.connect.grpc.binding.address=127.0.0.1",
            "--conf", "spark.ui.enabled=false", "spark-internal",
        )  # fmt: skip
        started = "the Spark Connect server did not start"
        wait_until(lambda: _accepts(port), started, startup_seconds, (log,))
        yield ConnectServer(f"sc://127.0.0.1:{port}", log)


def _accepts(port: int) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:`port`."""
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0
