"""`features build --engine spark --spark-master spark://...` on a real standalone cluster.

The test starts a Spark master and one worker (one core) with pyspark's `bin/spark-class`,
builds a feature set through the CLI in a fresh process (so its session is the cluster's, not
a local one), and compares the rows with DuckDB's. The cluster's JVMs are stopped even when
the test fails.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from featureset_testlib import DEMO_LIKE, ITEMS, demo_like_log, write_spec, write_store

from features.featureset import build_feature_set, load_feature_set
from features.workspace import event_store_path

pytestmark = [pytest.mark.spark, pytest.mark.spark_cluster]
STARTUP_SECONDS = 180


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _spark_class() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent / "bin" / "spark-class"


def _master_state(webui_port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{webui_port}/json/", timeout=5) as reply:
        return json.load(reply)


def _wait_for(condition, what: str, logs: list[Path]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except OSError:
            pass
        time.sleep(1)
    tails = "\n".join(f"--- {log}\n{log.read_text()[-2000:]}" for log in logs)
    raise AssertionError(f"{what} within {STARTUP_SECONDS} s\n{tails}")


@pytest.fixture
def standalone_cluster(tmp_path, request):
    """(master URL, master web UI port) of a running master + one worker (1 core, 1 GiB)."""
    port, webui = _free_port(), _free_port()
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_NO_DAEMONIZE": "1"}
    processes: list[subprocess.Popen] = []

    def stop() -> None:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    request.addfinalizer(stop)

    def start(name: str, *args: str) -> Path:
        log = tmp_path / f"{name}.log"
        with log.open("w") as out:
            processes.append(
                subprocess.Popen(
                    [str(_spark_class()), *args], env=env, stdout=out, stderr=subprocess.STDOUT
                )
            )
        return log

    url = f"spark://127.0.0.1:{port}"
    master_log = start(
        "master",
        "org.apache.spark.deploy.master.Master",
        *("--host", "127.0.0.1", "--port", str(port), "--webui-port", str(webui)),
    )
    _wait_for(lambda: _master_state(webui)["status"] == "ALIVE", "no master", [master_log])
    worker_log = start(
        "worker",
        "org.apache.spark.deploy.worker.Worker",
        url,
        *("--host", "127.0.0.1", "--cores", "1", "--memory", "1g"),
        *("--webui-port", str(_free_port()), "--work-dir", str(tmp_path / "work")),
    )
    _wait_for(
        lambda: _master_state(webui)["aliveworkers"] == 1,
        "no worker registered",
        [master_log, worker_log],
    )
    return url, webui


def test_a_build_on_a_standalone_cluster_gives_duckdbs_rows(standalone_cluster, sets_dir):
    url, webui = standalone_cluster
    events, users = demo_like_log(n_users=12)
    event_store_path().parent.mkdir(parents=True)
    write_store(event_store_path(), events, users, items=ITEMS)
    write_spec(sets_dir, DEMO_LIKE)
    argv = ["features", "build", "demo_like@v1", "--engine", "spark", "--spark-master", url]
    built = subprocess.run(
        [sys.executable, "-m", "usagecast_cli.main", *argv, "--no-progress", "--specs", sets_dir],
        env={**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    spark_rows, spark_manifest = load_feature_set("demo_like@v1")
    assert spark_manifest["engine"] == "spark"
    _wait_for(  # the master lists the build's application as completed once its driver left
        lambda: [app["name"] for app in _master_state(webui)["completedapps"]] == ["usagecast"],
        "the build did not run on the cluster",
        [],
    )

    duck = build_feature_set("demo_like@v1", sets_dir=sets_dir, force=True)
    duck_rows, _ = load_feature_set("demo_like@v1")
    assert duck.fingerprint == spark_manifest["fingerprint"]
    assert len(duck_rows) > 10 and 0 < duck_rows["label"].mean() < 1
    pd.testing.assert_frame_equal(spark_rows, duck_rows, rtol=1e-12)
    assert spark_manifest["eligibility"] == duck.manifest["eligibility"]
