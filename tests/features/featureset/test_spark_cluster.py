"""`features build --engine spark --spark-master spark://...` on a real standalone cluster.

The test starts a Spark master and one worker (one core) with pyspark's `bin/spark-class`
(features.engines.standalone), builds a feature set through the CLI in a fresh process (so
its session is the cluster's, not a local one), and compares the rows with DuckDB's. The
cluster's JVMs are stopped even when the test fails.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest
from featureset_testlib import DEMO_LIKE, ITEMS, demo_like_log, write_spec, write_store

from features.engines.standalone import standalone_cluster, wait_until
from features.featureset import build_feature_set, load_feature_set
from features.workspace import event_store_path

pytestmark = [pytest.mark.spark, pytest.mark.spark_cluster]


@pytest.fixture
def cluster(tmp_path):
    """A master and one worker (1 core, 1 GiB), stopped after the test even when it fails."""
    with standalone_cluster(tmp_path / "cluster", cores=1, memory="1g") as running:
        yield running


def test_a_build_on_a_standalone_cluster_gives_duckdbs_rows(cluster, sets_dir):
    events, users = demo_like_log(n_users=12)
    event_store_path().parent.mkdir(parents=True)
    write_store(event_store_path(), events, users, items=ITEMS)
    write_spec(sets_dir, DEMO_LIKE)
    argv = ["features", "build", "demo_like@v1", "--engine", "spark"]
    argv += ["--spark-master", cluster.url]
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
    wait_until(  # the master lists the build's application as completed once its driver left
        lambda: [app["name"] for app in cluster.state()["completedapps"]] == ["usagecast"],
        "the build did not run on the cluster",
        60,
    )

    duck = build_feature_set("demo_like@v1", sets_dir=sets_dir, force=True)
    duck_rows, _ = load_feature_set("demo_like@v1")
    assert duck.fingerprint == spark_manifest["fingerprint"]
    assert len(duck_rows) > 10 and 0 < duck_rows["label"].mean() < 1
    pd.testing.assert_frame_equal(spark_rows, duck_rows, rtol=1e-12)
    assert spark_manifest["eligibility"] == duck.manifest["eligibility"]
