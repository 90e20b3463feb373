"""Fixtures for feature-set tests; helper modules beside this file import by name."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# --import-mode=importlib does not put test folders on sys.path; the helpers
# (featureset_testlib, featureset_reference) have unique names so this is safe.
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def sets_dir(tmp_path) -> Path:
    """An empty spec catalog."""
    path = tmp_path / "sets"
    path.mkdir()
    return path


@pytest.fixture(scope="session")
def spark_session():
    """One local Spark session for the whole test session (startup costs ~7 s)."""
    from features.engines.spark import local_spark_session

    session = local_spark_session()
    session.sparkContext.setLogLevel("ERROR")
    return session
