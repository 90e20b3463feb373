"""Tuning-run look-alikes in a real MLflow store: a served model, test_set.parquet, metrics
and tags exactly as docs/reference/serving.md's "Served model contract" asks of the trainer."""

from __future__ import annotations

import datetime as dt
import importlib.util
import itertools
import sys
import tempfile
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from serving import log_serving_model


def _load_serving_conftest():
    """The tiny-model factory lives with the serving tests; reuse it rather than copy it."""
    path = Path(__file__).parents[1] / "serving" / "conftest.py"
    spec = importlib.util.spec_from_file_location("usagecast_tests_serving_conftest", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


make_tiny_model = _load_serving_conftest().make_tiny_model
# The tiny model's features renamed to columns of the shipped premium_30d@v1 spec, so it can
# score rows built from an event store (`spec_model=True`).
SPEC_NAMES = {"plays_30d": "count_PLAY_30d", "ads_30d": "count_ADVERTISEMENT_30d"}


def held_out_rows(with_likes: bool = False, names: dict | None = None) -> pd.DataFrame:
    """Held-out rows (features + label) drawn from the same process as the training rows."""
    held_out = make_tiny_model(seed=99, n_rows=300, with_likes=with_likes, names=names)
    return held_out.rows.assign(label=held_out.labels)


def write_premium_store() -> pd.Timestamp:
    """A tiny event store premium_30d@v1 builds on (PLAY and ADVERTISEMENT events of 40 users
    in February-March 2024, city among the tiny model's); returns the last event's time."""
    path = Path(__file__).parents[1] / "features" / "featureset" / "featureset_testlib.py"
    spec = importlib.util.spec_from_file_location("usagecast_tests_featureset_testlib", path)
    testlib = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(testlib)
    from contracts.workspace import event_store_path

    cities = _load_serving_conftest().CITIES
    events, users = [], []
    for k in range(40):
        user = f"user{k:02d}"
        attributes = {"channel": "web", "city": cities[k % 3], "age": 30.0}
        users.append((user, pd.Timestamp("2024-01-20 08:13").to_pydatetime(), attributes))
        for j in range(6 + k % 9):
            when = pd.Timestamp("2024-02-01") + pd.Timedelta(hours=(k * 131 + j * 197) % 1400)
            kind = "ADVERTISEMENT" if (j + k) % 3 == 0 else "PLAY"
            events.append((user, when.to_pydatetime(), kind))
    # Four users heard many ads in each month: rows where fewer ads move the model's score.
    for k, (month, count) in itertools.product(range(4), (("2024-02", 9), ("2024-03", 12))):
        for j in range(count):
            when = pd.Timestamp(f"{month}-05") + pd.Timedelta(hours=31 * j + 7 * k)
            events.append((f"user{k:02d}", when.to_pydatetime(), "ADVERTISEMENT"))
    events.append(("user00", pd.Timestamp("2024-03-31 18:00").to_pydatetime(), "PLAY"))
    from features.featureset import load_spec

    vocabulary, filler = testlib.spec_vocabulary(
        load_spec("premium_30d@v1"), dt.datetime(2023, 11, 1)
    )
    events += vocabulary
    users.append(filler)
    attributes = {
        "channel": ("static", "categorical"),
        "city": ("static", "categorical"),
        "age": ("static", "numeric"),
    }
    event_store_path().parent.mkdir(parents=True, exist_ok=True)
    testlib.write_store(
        event_store_path(), events, users, attributes=attributes, dataset="music_demo"
    )
    return pd.Timestamp("2024-03-31 18:00")


def log_tuning_run(
    *,
    label_noise: float = 0.0,
    seed: int = 0,
    with_likes: bool = False,
    test_set: pd.DataFrame | None = None,
    ece: float = 0.01,
    leakage_flagged: str | None = "",
    leakage_warned: str = "",
    feature_set: str = "premium_30d@v1",
    spec_model: bool = False,
    family: str = "lightgbm",
) -> str:
    """Log a finished run the way the trainer does; return its run id.

    `spec_model`: the model reads premium_30d@v1's column names (SPEC_NAMES).
    `family`: the model family ("l1_logistic": as the trainer logs its logistic baseline).
    """
    names = SPEC_NAMES if spec_model else None
    tiny = make_tiny_model(
        seed=seed, label_noise=label_noise, with_likes=with_likes, names=names, family=family
    )
    test_set = held_out_rows(with_likes, names) if test_set is None else test_set
    tags = {"feature_set": feature_set, "feature_set_fingerprint": f"fp-{feature_set}"}
    if leakage_flagged is not None:
        tags["leakage_flagged"] = leakage_flagged
        tags["leakage_warned"] = leakage_warned
    with mlflow.start_run() as run:
        mlflow.set_tags(tags)
        mlflow.log_metric("test_ece", ece)
        log_serving_model(tiny.model, tiny.metadata, tiny.rows.head(2))
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "test_set.parquet"
            test_set.to_parquet(path, index=False)
            mlflow.log_artifact(str(path))
    return run.info.run_id


@pytest.fixture(autouse=True)
def artifacts_in_tmp(tmp_path, monkeypatch):
    """The SQLite store's default artifact root is ./mlruns: keep it inside tmp_path."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def log_run():
    """`log_run(**options) -> run_id`: a finished tuning-run look-alike in the test's store."""
    return log_tuning_run


@pytest.fixture(autouse=True)
def quiet_downloads(monkeypatch):
    """Artifact progress bars would flood the captured output of every promotion."""
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


@pytest.fixture
def held_out():
    """`held_out(with_likes=False) -> DataFrame`: feature rows plus `label`."""
    return held_out_rows


@pytest.fixture
def premium_store() -> pd.Timestamp:
    """A tiny event store that the shipped premium_30d@v1 builds on (write_premium_store)."""
    return write_premium_store()


@pytest.fixture(autouse=True)
def store_made_before(mlflow_store):
    """The tests here start with their MLflow store made (see `mlflow_store`)."""
