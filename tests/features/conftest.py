"""Fixtures shared by the features tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def spark_session():
    """One local Spark session for the whole test session (its startup is slow)."""
    from features.engines.spark import DEFAULT_MASTER, spark_session

    session = spark_session(DEFAULT_MASTER)
    session.sparkContext.setLogLevel("ERROR")
    return session
