"""The settings of a running local Spark session: usagecast keeps those Spark's configuration
names (the test session's are tests/conftest.py's TINY_DATA_SPARK)."""

from __future__ import annotations

import pytest

from features.engines import spark as spark_engine
from features.engines.spark import DEFAULT_MASTER, LOCAL_SHUFFLE_PARTITIONS, SHUFFLE_PARTITIONS

pytestmark = pytest.mark.spark


def test_a_running_sessions_configured_shuffle_partitions_are_kept(spark_session):
    configured = spark_session.sparkContext.getConf().get(SHUFFLE_PARTITIONS)
    assert configured != LOCAL_SHUFFLE_PARTITIONS
    session = spark_engine.spark_session(DEFAULT_MASTER)
    assert session.conf.get(SHUFFLE_PARTITIONS) == configured
    assert session.conf.get("spark.sql.session.timeZone") == "UTC"
