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
