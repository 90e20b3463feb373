"""`features build --engine spark` through Spark Connect (SPARK_REMOTE) gives DuckDB's rows.

The test starts a real Spark Connect server (pyspark's own jar, session on local[1]) with
features.engines.standalone, builds a feature set through the CLI in a fresh process whose
SPARK_REMOTE names it, and compares the rows with DuckDB's. The server is stopped even when the
test fails.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest
from featureset_testlib import DEMO_LIKE, ITEMS, demo_like_log, write_spec, write_store

from features.engines.spark import REMOTE_ENV
from features.engines.standalone import connect_server
from features.featureset import build_feature_set, load_feature_set
from features.workspace import event_store_path

pytestmark = [pytest.mark.spark, pytest.mark.spark_cluster]


@pytest.fixture
def remote(tmp_path):
    """A Spark Connect server, stopped after the test even when it fails."""
    with connect_server(tmp_path / "connect") as server:
        yield server


def test_a_build_through_spark_connect_gives_duckdbs_rows(remote, sets_dir):
    events, users = demo_like_log(n_users=12)
    event_store_path().parent.mkdir(parents=True)
    write_store(event_store_path(), events, users, items=ITEMS)
    write_spec(sets_dir, DEMO_LIKE)
    argv = ["features", "build", "demo_like@v1", "--engine", "spark"]
    built = subprocess.run(
        [sys.executable, "-m", "usagecast_cli.main", *argv, "--no-progress", "--specs", sets_dir],
        env={**os.environ, REMOTE_ENV: remote.url},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    spark_rows, spark_manifest = load_feature_set("demo_like@v1")
    assert spark_manifest["engine"] == "spark"
    assert "ExecuteHolder" in remote.log.read_text(), "no plan ran on the Connect server"

    duck = build_feature_set("demo_like@v1", sets_dir=sets_dir, force=True)
    duck_rows, _ = load_feature_set("demo_like@v1")
    assert duck.fingerprint == spark_manifest["fingerprint"]
    assert len(duck_rows) > 10 and 0 < duck_rows["label"].mean() < 1
    pd.testing.assert_frame_equal(spark_rows, duck_rows, rtol=1e-12)
    assert spark_manifest["eligibility"] == duck.manifest["eligibility"]
