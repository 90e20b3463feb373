"""Bad input to `recommend train` is refused with one line (exit 2) before any run starts."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest
from mlflow.tracking import MlflowClient

from contracts.errors import UsagecastError
from experiments.recommend import RecommendConfig, train_recommender
from usagecast_cli.main import main as usagecast


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"trials": 0}, "trials must be >= 1"),
        ({"window_days": 0}, "window_days must be >= 1"),
        ({"k": 0}, "k must be >= 1"),
        ({"seed": -1}, "seed must be >= 0"),
        ({"register": "../etc"}, "model name"),
    ],
)
def test_bad_options_are_refused(values, message):
    with pytest.raises(UsagecastError, match=message):
        RecommendConfig(**values)


def test_a_cutoff_before_any_interaction_is_refused_before_a_run(tmp_path, capsys):
    store = tmp_path / "events.duckdb"
    con = duckdb.connect(str(store))
    con.execute(
        "CREATE TABLE events (user_id VARCHAR, item_id VARCHAR, event_time TIMESTAMP, "
        "event_type VARCHAR)"
    )
    con.execute("INSERT INTO events VALUES ('u1', 'a', '2024-02-01', 'PLAY')")
    con.close()
    config = RecommendConfig(cutoff=dt.datetime(2023, 1, 1), store=store)
    with pytest.raises(UsagecastError, match="no interactions before 2023-01-01"):
        train_recommender(config)
    code = usagecast(["recommend", "train", "--store", str(tmp_path / "absent.duckdb")])
    assert code == 2
    assert "run `usagecast ingest" in capsys.readouterr().err
    assert MlflowClient().get_experiment_by_name("recommend") is None


def _shop_store(path):
    con = duckdb.connect(str(path))
    con.execute(
        "CREATE TABLE events (user_id VARCHAR, item_id VARCHAR, event_time TIMESTAMP, "
        "event_type VARCHAR)"
    )
    con.execute(
        "INSERT INTO events VALUES ('u1', 'a', '2024-02-01', 'ORDER_PAID'), "
        "('u2', 'a', '2024-02-02', 'ORDER_PAID'), ('u1', 'b', '2024-02-03', 'ORDER_REFUNDED'), "
        "('u1', NULL, '2024-02-04', 'LOGIN')"
    )
    con.close()
    return path


def test_a_store_without_play_or_like_items_names_the_types_that_have_items(tmp_path, capsys):
    store = _shop_store(tmp_path / "events.duckdb")
    assert usagecast(["recommend", "train", "--store", str(store)]) == 2
    error = capsys.readouterr().err
    assert "no PLAY/LIKE events with an item_id" in error
    assert (
        "the store's events with one are ORDER_PAID (2), ORDER_REFUNDED (1); name those a "
        "user wants with --events" in error
    )
    # --events reads the named types: past that check, to the cutoff's
    args = ["recommend", "train", "--store", str(store), "--events", "ORDER_PAID"]
    assert usagecast([*args, "--cutoff", "2023-01-01"]) == 2
    assert "no interactions before 2023-01-01" in capsys.readouterr().err


@pytest.mark.parametrize("events", ["PLAY,,LIKE", " ", "PLAY,"])
def test_events_are_types_separated_by_commas_none_blank(tmp_path, capsys, events):
    with pytest.raises(SystemExit):
        usagecast(
            ["recommend", "train", "--store", str(tmp_path / "x.duckdb"), "--events", events]
        )
    assert "none blank" in capsys.readouterr().err
