"""A registered champion and the feature set it reads, in the test's MLflow store and workspace
(built once per session, copied into each test: see `built_once` in tests/conftest.py).

The model and the tuning-run look-alike come from tests/registry/conftest.py (which builds on
the tiny model of tests/serving/conftest.py): features plays_30d, ads_30d (actionable,
decrease only) and city; the tiny model learnt that fewer ads raise the probability.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pandas as pd
import pytest

from contracts.manifest import FeatureSetManifest
from contracts.refs import FeatureSetRef
from features.featureset.store import build_dir, mark_latest, write_build
from registry import promote_run

CUTOFFS = (pd.Timestamp("2026-01-01"), pd.Timestamp("2026-02-01"))
MODEL_URI = "models:/premium_30d@champion"


def _load_registry_conftest():
    path = Path(__file__).parents[2] / "registry" / "conftest.py"
    spec = importlib.util.spec_from_file_location("usagecast_tests_registry_conftest", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


_registry = _load_registry_conftest()


def write_feature_set() -> pd.DataFrame:
    """premium_30d@v1 in the workspace: held-out rows of the tiny model at two cutoffs."""
    rows = _registry.held_out_rows()
    half = len(rows) // 2
    frame = rows.assign(
        user_id=[f"u{i % half}" for i in range(len(rows))],
        cutoff=[CUTOFFS[0]] * half + [CUTOFFS[1]] * (len(rows) - half),
    )
    ref = FeatureSetRef.parse("premium_30d@v1")
    manifest = FeatureSetManifest.from_dict(
        {
            "fingerprint": "fp-built",
            "data_digest": "not-simulated",
            "label": {"kind": "event_within", "event_type": "BUY_PREMIUM", "horizon_days": 30},
            "spec": {"cutoffs": {"calendar": {"start": "2026-01-01", "every": "month"}}},
        }
    )
    write_build(frame, manifest, build_dir(ref, "fp-built"))
    mark_latest(ref, "fp-built")
    return frame


@pytest.fixture(autouse=True)
def quiet_downloads(monkeypatch):
    """Artifact progress bars would flood the captured output."""
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def _promote_champion() -> pd.DataFrame:
    frame = write_feature_set()
    assert promote_run(_registry.log_tuning_run()).promoted
    return frame


def _promote_spec_champion() -> pd.Timestamp:
    end = _registry.write_premium_store()
    assert promote_run(_registry.log_tuning_run(spec_model=True)).promoted
    return end


@pytest.fixture
def champion(built_once) -> pd.DataFrame:
    """A tiny model promoted to premium_30d@champion; returns its feature set's rows."""
    return built_once("whatif_champion", _promote_champion)


@pytest.fixture
def spec_champion(built_once) -> pd.Timestamp:
    """A tiny model on premium_30d@v1's columns promoted to @champion, over a tiny event
    store that spec builds on; returns the last event's time."""
    return built_once("whatif_spec_champion", _promote_spec_champion)
