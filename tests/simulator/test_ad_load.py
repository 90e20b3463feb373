"""Per-user ad load: each user hears ads_per_hour x a seeded multiplier of their own (mean 1),
from its own stream; spread 0 is the simulator without the option."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simulator import (
    Levers,
    SimulationConfig,
    load_simulation_config,
    simulate_cohort,
    simulate_to_dir,
)
from simulator.process import (
    PLAY_SECONDS,
    SKIP_SECONDS,
    chunk_key,
    initial_state,
    recorded_schedule,
    run_days,
)
from simulator.traits import UserTraits, draw_user_traits
from usagecast_cli.main import main

SPREAD = 0.5
FLAT = SimulationConfig(n_users=3000, seed=6, months=2, chunk_size=3000)
SPREAD_OUT = dataclasses.replace(FLAT, ad_load_spread=SPREAD)
SMALL = SimulationConfig(n_users=200, seed=2, months=3, chunk_size=80, ad_load_spread=SPREAD)
FROM = dt.date(2024, 2, 15)


def _ads_per_free_hour(config: SimulationConfig) -> tuple[UserTraits, np.ndarray, np.ndarray]:
    """(traits, ads heard, ads_per_hour x listening hours while free) per user, whole run."""
    traits = draw_user_traits(config, 0)
    state = initial_state(len(traits))
    ads = np.zeros(len(traits))
    exposure = np.zeros(len(traits))
    schedule = recorded_schedule(config)
    key = chunk_key(config.seed, 0)
    for _, after, activity in run_days(traits, state, range(config.n_days), schedule, key):
        hours = (activity.plays * PLAY_SECONDS + activity.skips * SKIP_SECONDS) / 3600.0
        exposure += np.where(state.premium, 0.0, config.levers.ads_per_hour * hours)
        ads += activity.ads
        state = after
    return traits, ads, exposure


def test_spread_0_gives_everyone_a_multiplier_of_exactly_1():
    assert np.array_equal(draw_user_traits(FLAT, 0).ad_load, np.ones(FLAT.n_users))


def test_a_spread_draws_only_the_multiplier_from_its_own_stream():
    flat, spread = draw_user_traits(FLAT, 0), draw_user_traits(SPREAD_OUT, 0)
    for field in dataclasses.fields(UserTraits):
        if field.name != "ad_load":
            assert np.array_equal(getattr(flat, field.name), getattr(spread, field.name))
    load = spread.ad_load
    assert abs(load.mean() - 1.0) < 0.05
    assert abs(np.log(load).std() - SPREAD) < 0.03
    assert np.array_equal(load, draw_user_traits(SPREAD_OUT, 0).ad_load)
    other_seed = dataclasses.replace(SPREAD_OUT, seed=7)
    assert not np.array_equal(load, draw_user_traits(other_seed, 0).ad_load)


def _dispersion(ads: np.ndarray, expected: np.ndarray) -> float:
    """sum (ads - expected)^2 / sum expected: about 1 when ads are Poisson(expected)."""
    return float(np.sum((ads - expected) ** 2) / np.sum(expected))


def test_users_hear_ads_per_listening_hour_in_proportion_to_their_load():
    """Ads are Poisson(ads_per_hour x ad_load x free listening hours) per user. With spread 0
    that is one rate for everyone; with a spread the common rate leaves most of the users'
    differences unexplained, and heavy listeners' ads per hour follow their multipliers."""
    rates = {}
    for config in (FLAT, SPREAD_OUT):
        traits, ads, exposure = _ads_per_free_hour(config)
        own = exposure * traits.ad_load
        assert 0.97 < ads.sum() / own.sum() < 1.03
        assert 0.8 < _dispersion(ads, own) < 1.2
        heavy = exposure > 30  # at least 30 expected ads at the config's rate
        assert heavy.sum() > 300
        rates[config.ad_load_spread] = ads[heavy] / exposure[heavy]
        if config.ad_load_spread == 0.0:
            assert _dispersion(ads, exposure) < 1.2
        else:
            assert _dispersion(ads, exposure) > 4.0
            assert np.corrcoef(rates[SPREAD], traits.ad_load[heavy])[0, 1] > 0.9

    def width(rate: np.ndarray) -> float:
        return float(np.quantile(rate, 0.9) / np.quantile(rate, 0.1))

    assert width(rates[0.0]) < 2.0 < 3.0 < width(rates[SPREAD])


def test_other_draws_are_unchanged_on_a_day_everyone_listens():
    """Sessions, plays, skips and likes come from their own streams: the same with a spread;
    only the ads differ."""
    days = []
    for config in (FLAT, SPREAD_OUT):
        traits = dataclasses.replace(
            draw_user_traits(config, 0), signup_day=np.zeros(config.n_users, np.int64)
        )
        state = initial_state(len(traits))
        run = run_days(
            traits, state, range(1), recorded_schedule(config), chunk_key(config.seed, 0)
        )
        days.append(next(run)[2])
    flat, spread = days
    for name in ("sessions", "plays", "skips", "likes"):
        assert np.array_equal(getattr(flat, name), getattr(spread, name))
    assert not np.array_equal(flat.ads, spread.ads)


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ad_load")
    simulate_to_dir(folder, SMALL, progress=False)
    return folder


def test_the_truth_reruns_each_users_load(export: Path):
    """simulate_cohort without levers hears the exported ads; halving the lever halves every
    user's rate, the multipliers kept."""
    frame = pd.concat(pd.read_csv(p) for p in sorted((export / "events").glob("*.csv")))
    when = pd.to_datetime(frame["ts"])
    window = (when >= pd.Timestamp(FROM)) & (when < pd.Timestamp(FROM + dt.timedelta(30)))
    heard = frame[window & (frame["event"] == "ADVERTISEMENT")].groupby("userId").size()
    ids = np.arange(1, SMALL.n_users + 1)
    recorded = simulate_cohort(SMALL, ids, from_date=FROM)
    expected = heard.reindex(ids, fill_value=0).to_numpy()
    assert np.array_equal(recorded.ads_heard, expected)
    assert expected.sum() > 1000
    halved = Levers(ads_per_hour=SMALL.levers.ads_per_hour * 0.5)
    fewer = simulate_cohort(SMALL, ids, from_date=FROM, levers=halved).ads_heard
    assert 0.4 < fewer.sum() / recorded.ads_heard.sum() < 0.6


def test_the_spread_round_trips_through_simulation_json(export: Path, tmp_path: Path):
    assert json.loads((export / "simulation.json").read_text("utf-8"))["ad_load_spread"] == SPREAD
    assert load_simulation_config(export) == SMALL
    flat = dataclasses.replace(SMALL, n_users=20, ad_load_spread=0.0)
    simulate_to_dir(tmp_path, flat, progress=False)
    assert "ad_load_spread" not in json.loads((tmp_path / "simulation.json").read_text("utf-8"))
    assert load_simulation_config(tmp_path) == flat


def _cli(out: Path, *extra: str) -> int:
    size = ("--users", "40", "--months", "1", "--seed", "3", "--no-progress")
    return main(["simulate", *size, "--out", str(out), *extra])


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_cli_spread(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert _cli(tmp_path / "spread", "--ad-load-spread", "0.5") == 0
    assert load_simulation_config(tmp_path / "spread").ad_load_spread == 0.5
    assert _cli(tmp_path / "zero", "--ad-load-spread", "0") == 0
    assert _cli(tmp_path / "default") == 0
    assert _files(tmp_path / "zero") == _files(tmp_path / "default")
    assert _files(tmp_path / "spread") != _files(tmp_path / "default")
    capsys.readouterr()
    assert _cli(tmp_path / "bad", "--ad-load-spread", "-1") == 2
    error = capsys.readouterr().err.strip()
    assert "ad_load_spread must be in [0, 2], got -1.0" in error and error.count("\n") == 0
