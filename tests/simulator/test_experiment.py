"""A randomized ad experiment: a seeded random share of users is treated from a date, the
export logs each user's arm at exposure, and the truth follows the arms."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from contracts.errors import UsagecastError
from simulator import (
    LeverExperiment,
    SimulationConfig,
    load_simulation_config,
    simulate_cohort,
    simulate_to_dir,
    true_arm_probabilities,
)
from simulator.traits import draw_user_traits
from usagecast_cli.main import main

FROM = dt.date(2024, 2, 1)
BASE = SimulationConfig(n_users=300, seed=4, months=2, chunk_size=120)


def _with(ads: float = 0.0, share: float = 0.5, from_date: dt.date = FROM) -> SimulationConfig:
    return dataclasses.replace(BASE, experiment=LeverExperiment(ads, share, from_date))


def _arms(config: SimulationConfig) -> np.ndarray:
    return np.concatenate([draw_user_traits(config, c).treated for c in range(config.n_chunks)])


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("experiment")
    simulate_to_dir(folder, _with(), progress=False)
    return folder


def _events(folder: Path) -> pd.DataFrame:
    frame = pd.concat(pd.read_csv(p) for p in sorted((folder / "events").glob("*.csv")))
    return frame.assign(ts=pd.to_datetime(frame["ts"]))


@pytest.mark.parametrize("share", [0.2, 0.5, 0.8])
def test_the_treated_share_is_the_given_share_and_seeded(share: float) -> None:
    config = dataclasses.replace(_with(share=share), n_users=4000, chunk_size=1500)
    arms = _arms(config)
    spread = np.sqrt(share * (1 - share) / len(arms))
    assert abs(arms.mean() - share) < 4 * spread
    assert np.array_equal(arms, _arms(config))
    assert not np.array_equal(arms, _arms(dataclasses.replace(config, seed=5)))


def test_without_an_experiment_nobody_is_treated() -> None:
    assert not _arms(BASE).any()


def test_the_export_logs_each_exposed_user_once_in_their_arm(export: Path) -> None:
    logged = pd.read_csv(export / "experiment_assignments.csv")
    assert logged["user"].is_unique
    assert set(logged["experiment"]) == {"ads_x0"}
    assert (pd.to_datetime(logged["exposed_at"]) >= pd.Timestamp(FROM)).all()
    treated = _arms(_with())[logged["user"].to_numpy() - 1]
    assert np.array_equal(logged["arm"].eq("treatment").to_numpy(), treated)
    sources = yaml.safe_load((export / "dataset.yaml").read_text())["events"]
    source = next(s for s in sources if s["files"] == "experiment_assignments.csv")
    assert source["event_type"] == "EXPERIMENT_ASSIGNED"
    assert load_simulation_config(export) == _with()


def test_treated_users_hear_no_ads_from_the_date_with_ads_x0(export: Path) -> None:
    events = _events(export)
    ads = events[events["event"] == "ADVERTISEMENT"]
    treated = np.flatnonzero(_arms(_with())) + 1
    after = ads[ads["ts"] >= pd.Timestamp(FROM)]
    assert not after["userId"].isin(treated).any()
    assert ads[ads["ts"] < pd.Timestamp(FROM)]["userId"].isin(treated).any()
    assert after["userId"].nunique() > 10


def test_behaviour_before_the_date_is_the_run_without_experiment(
    export: Path, tmp_path: Path
) -> None:
    """Same events per user, day and type before the date (the layout of the rows within a
    day is drawn for the whole period at once, so times may differ)."""
    simulate_to_dir(tmp_path, BASE, progress=False)
    before = [
        frame[frame["ts"] < pd.Timestamp(FROM)]
        .assign(day=lambda f: f["ts"].dt.date)
        .groupby(["userId", "day", "event"])
        .size()
        for frame in (_events(export), _events(tmp_path))
    ]
    pd.testing.assert_series_equal(*before)
    assert before[0].sum() > 1000


def test_the_recorded_rerun_follows_the_arms(export: Path) -> None:
    """simulate_cohort without levers reproduces the exported purchases after the date."""
    purchases = pd.read_json(export / "purchases.jsonl", lines=True)
    bought = purchases[
        (pd.to_datetime(purchases["ts"], unit="s") >= pd.Timestamp(FROM))
        & (pd.to_datetime(purchases["ts"], unit="s") < pd.Timestamp(FROM + dt.timedelta(30)))
    ]["uid"]
    ids = np.arange(1, BASE.n_users + 1)
    outcome = simulate_cohort(_with(), ids, from_date=FROM)
    assert set(ids[outcome.bought]) == set(bought.astype(int))
    assert not outcome.ads_heard[_arms(_with())].any()


def test_true_arm_probabilities_see_fewer_purchases_without_ads() -> None:
    ids = np.arange(1, BASE.n_users + 1)
    control, treated = true_arm_probabilities(_with(), ids, FROM, replicas=16)
    assert treated.mean() < control.mean()
    with pytest.raises(UsagecastError, match="no experiment"):
        true_arm_probabilities(BASE, ids, FROM)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ads=0.5", "write ads=FACTOR"),
        ("ads=0.5,share=0.5,from=2024-06-01,price=3", "write ads=FACTOR"),
        ("ads=0.5,share=1.5,from=2024-02-01", "share must be in"),
        ("ads=x,share=0.5,from=2024-02-01", "could not convert"),
        ("ads=20,share=0.5,from=2024-02-01", "ads must be a factor"),
    ],
)
def test_experiment_text_errors_say_what_to_write(text: str, message: str) -> None:
    with pytest.raises(UsagecastError, match=message):
        LeverExperiment.parse(text)


def test_an_experiment_outside_the_period_is_refused() -> None:
    with pytest.raises(UsagecastError, match="inside the simulated period"):
        _with(from_date=dt.date(2024, 5, 1))


def test_cli_runs_the_experiment(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = "ads=2,share=0.3,from=2024-02-01"
    code = main(
        [
            "simulate",
            *("--users", "60", "--months", "2", "--seed", "1"),
            *("--out", str(tmp_path), "--experiment", spec, "--no-progress"),
        ]
    )
    assert code == 0
    assert "experiment assignments:" in capsys.readouterr().out
    assert load_simulation_config(tmp_path).experiment == LeverExperiment.parse(spec)
    assert main(["simulate", "--out", str(tmp_path / "x"), "--experiment", "ads=1"]) == 2
