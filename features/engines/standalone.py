"""A Spark standalone master and worker on this machine, started with pyspark's spark-class.

pyspark's package has `bin/spark-class` but not the start-master/start-worker scripts of a
Spark distribution; this module runs the same two daemons in the foreground, for trying
`--engine spark --spark-master spark://...` without a cluster (the parity test and the
cluster benchmark use it). A real cluster starts them with its own scripts.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from features.errors import UsagecastError

MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"


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


def wait_until(condition, what: str, seconds: float, logs: tuple[Path, ...] = ()) -> None:
    """Poll `condition()` each second (connection errors count as False) until it holds;
    raise UsagecastError saying `what` and the logs' last lines when `seconds` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except OSError:
            pass
        time.sleep(1)
    tails = "".join(f"\n--- {log}\n{log.read_text()[-2000:]}" for log in logs if log.exists())
    raise UsagecastError(f"{what} within {seconds:.0f} s{tails}")


@contextmanager
def standalone_cluster(
    workdir: Path, *, cores: int = 1, memory: str = "1g", startup_seconds: float = 180
) -> Iterator[StandaloneCluster]:
    """Start a master and one worker (`cores`, `memory`) bound to 127.0.0.1, logs and work
    files under `workdir`; stop both on exit, whatever happened."""
    workdir.mkdir(parents=True, exist_ok=True)
    port, webui = free_port(), free_port()
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

    url = f"spark://127.0.0.1:{port}"
    cluster = StandaloneCluster(url, webui, ())
    try:
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
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
