"""`features build --engine spark --spark-master spark://...` on a real standalone cluster.

The test starts a Spark master and one worker (one core) with pyspark's `bin/spark-class`
(features.engines.standalone), builds a feature set through the CLI in a fresh process (so
its session is the cluster's, not a local one), and compares the rows with DuckDB's. The
cluster's JVMs are stopped even when the test fails.
"""

from __future__ import annotations

import os

import pytest
from featureset_testlib import spark_cli_build_equals_duckdb

from features.engines.standalone import standalone_cluster, wait_until

pytestmark = [pytest.mark.spark, pytest.mark.spark_cluster]


@pytest.fixture
def cluster(tmp_path):
    """A master and one worker (1 core, 1 GiB), stopped after the test even when it fails."""
    with standalone_cluster(tmp_path / "cluster", cores=1, memory="1g") as running:
        yield running


def test_a_build_on_a_standalone_cluster_gives_duckdbs_rows(cluster, sets_dir):
    spark_cli_build_equals_duckdb(
        sets_dir,
        ["--spark-master", cluster.url],
        {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"},
    )
    wait_until(  # the master lists the build's application as completed once its driver left
        lambda: [app["name"] for app in cluster.state()["completedapps"]] == ["usagecast"],
        "the build did not run on the cluster",
        60,
    )
