"""`features build --engine spark` through Spark Connect (SPARK_REMOTE) gives DuckDB's rows.

The test starts a real Spark Connect server (pyspark's own jar, session on local[1]) with
features.engines.standalone, builds a feature set through the CLI in a fresh process whose
SPARK_REMOTE names it, and compares the rows with DuckDB's. The server is stopped even when the
test fails.
"""

from __future__ import annotations

import os

import pytest
from featureset_testlib import spark_cli_build_equals_duckdb

from features.engines.spark import REMOTE_ENV
from features.engines.standalone import connect_server

pytestmark = [pytest.mark.spark, pytest.mark.spark_cluster]


@pytest.fixture
def remote(tmp_path):
    """A Spark Connect server, stopped after the test even when it fails."""
    with connect_server(tmp_path / "connect") as server:
        yield server


def test_a_build_through_spark_connect_gives_duckdbs_rows(remote, sets_dir):
    spark_cli_build_equals_duckdb(sets_dir, [], {**os.environ, REMOTE_ENV: remote.url})
    assert "ExecuteHolder" in remote.log.read_text(), "no plan ran on the Connect server"
