"""Drift planted from a date: visible in the export after the date, not before; no drift,
same bytes as before drift existed."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from contracts.errors import UsagecastError
from simulator import (
    Drift,
    Levers,
    SimulationConfig,
    load_simulation_config,
    simulate_cohort,
    simulate_to_dir,
    true_purchase_rate_under,
)
from simulator.config import DRIFTED_CHANNEL_SHARES
from usagecast_cli.main import main

FROM = dt.date(2024, 2, 15)
SMALL = SimulationConfig(n_users=400, seed=5, months=3, chunk_size=150)

# Digest of the files of NO_DRIFT_CONFIG as the simulator writes them without drift and with
# ad_load_spread 0: neither option may change the export by a byte when unused. Take it again
# only when the simulated product itself changes on purpose.
NO_DRIFT_CONFIG = SimulationConfig(n_users=120, seed=11, months=2, fault_rate=0.02, chunk_size=50)
NO_DRIFT_DIGEST = "95efab4faf195711b087efcc6423e43a6036c36dbd3781eda0cf75920587217d"


def _digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(folder)).encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _simulate(folder: Path, config: SimulationConfig) -> Path:
    simulate_to_dir(folder, config, progress=False)
    return folder


def _with(*drift: Drift) -> SimulationConfig:
    return dataclasses.replace(SMALL, drift=drift)


def _events(folder: Path) -> pd.DataFrame:
    """Every recorded event as (user_id, time, event_type), from the three event files."""
    main_log = pd.concat(
        pd.read_csv(path, dtype=str) for path in sorted((folder / "events").glob("*.csv"))
    )
    purchases = pd.read_json(folder / "purchases.jsonl", lines=True, dtype={"uid": str})
    logins = pd.read_csv(folder / "logins.csv", dtype=str)
    frames = [
        pd.DataFrame(
            {
                "user_id": main_log["userId"],
                "time": pd.to_datetime(main_log["ts"], format="%Y-%m-%d %H:%M:%S"),
                "event_type": main_log["event"].replace({"NextSong": "PLAY"}),
            }
        ),
        pd.DataFrame(
            {
                "user_id": purchases["uid"],
                "time": pd.to_datetime(purchases["ts"], unit="s"),
                "event_type": "BUY_PREMIUM",
            }
        ),
        pd.DataFrame(
            {
                "user_id": logins["uid"],
                "time": pd.to_datetime(logins["login_at"]),
                "event_type": "LOGIN",
            }
        ),
    ]
    return pd.concat(frames, ignore_index=True).sort_values(["user_id", "time", "event_type"])


def _daily(events: pd.DataFrame) -> pd.Series:
    """Events per (user, day, type)."""
    return events.groupby(["user_id", events["time"].dt.date, "event_type"]).size()


def _users(folder: Path) -> pd.DataFrame:
    users = pd.read_csv(folder / "users.csv", encoding="latin-1", dtype=str)
    return users.assign(signup=pd.to_datetime(users["registration"], format="%d-%m-%Y %H:%M"))


def _before(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    return frame[frame[column] < pd.Timestamp(FROM)].reset_index(drop=True)


@pytest.fixture(scope="module")
def control(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SMALL without drift: what the drifted exports are compared with."""
    return _simulate(tmp_path_factory.mktemp("control"), SMALL)


def test_no_drift_writes_the_pinned_bytes(tmp_path):
    assert NO_DRIFT_CONFIG.ad_load_spread == 0.0  # one ad load for everyone, as when pinned
    assert _digest(_simulate(tmp_path / "x", NO_DRIFT_CONFIG)) == NO_DRIFT_DIGEST
    assert "drift" not in json.loads((tmp_path / "x" / "faults.json").read_text("utf-8"))


def test_channel_mix_shifts_the_channels_of_signups_from_the_date(tmp_path, control):
    drifted = _simulate(tmp_path / "x", _with(Drift("channel_mix", FROM)))
    users, unchanged = _users(drifted), _users(control)
    # Users signing up before the date keep their static attributes (the snapshot ones come
    # from behaviour drawn from streams the whole chunk shares).
    static = ["id", "registration", "location", "channel", "age", "genres"]
    pd.testing.assert_frame_equal(
        _before(users, "signup")[static], _before(unchanged, "signup")[static]
    )
    after = users[users["signup"] >= pd.Timestamp(FROM)]["channel"].value_counts(normalize=True)
    control_after = unchanged[unchanged["signup"] >= pd.Timestamp(FROM)]["channel"]
    before = control_after.value_counts(normalize=True)
    assert len(control_after) > 100
    # facebook halved (0.40 -> 0.20), pinterest doubled (0.15 -> 0.30).
    assert after["facebook"] < 0.28 < before["facebook"]
    assert after["pinterest"] > 0.24 > before["pinterest"]
    planted = json.loads((drifted / "faults.json").read_text("utf-8"))["drift"]
    assert planted[0]["kind"] == "channel_mix" and planted[0]["from_date"] == FROM.isoformat()
    assert list(planted[0]["channel_shares_after"].values()) == list(DRIFTED_CHANNEL_SHARES)


@pytest.mark.parametrize("event_type", ["LIKE", "LOGIN", "BUY_PREMIUM"])
def test_tracking_bug_stops_one_event_type_from_the_date(tmp_path, control, event_type):
    drifted = _simulate(tmp_path / "x", _with(Drift("tracking_bug", FROM, event_type)))
    events, unchanged = _events(drifted), _events(control)
    lost = unchanged["event_type"].eq(event_type) & (unchanged["time"] >= pd.Timestamp(FROM))
    assert lost.sum() > 0
    assert not (events["event_type"].eq(event_type) & (events["time"] >= pd.Timestamp(FROM))).any()
    # Only the lost rows are missing: behaviour, users and every other event are unchanged.
    pd.testing.assert_frame_equal(
        events.reset_index(drop=True), unchanged[~lost].reset_index(drop=True)
    )
    pd.testing.assert_frame_equal(_users(drifted), _users(control))
    planted = json.loads((drifted / "faults.json").read_text("utf-8"))["drift"]
    assert planted == [
        {
            "kind": "tracking_bug",
            "from_date": FROM.isoformat(),
            "event_type": event_type,
            "rows_not_recorded": int(lost.sum()),
        }
    ]


def test_lever_effect_turns_the_true_ad_effect_around_from_the_date():
    config = _with(Drift("lever_effect", FROM))
    users = np.arange(1, config.n_users + 1)

    def ad_effect(cfg: SimulationConfig, date: str) -> float:
        rates = [
            true_purchase_rate_under(
                cfg, users, date, Levers(ads_per_hour=ads), horizon_days=14, replicas=16
            )
            for ads in (0.0, 16.0)
        ]
        return rates[1] - rates[0]

    # Horizons ending before the date see the old effect; after it, more ads -> fewer buyers.
    assert ad_effect(config, "2024-02-01") == ad_effect(SMALL, "2024-02-01") > 0.02
    assert ad_effect(config, "2024-02-20") < 0 < ad_effect(SMALL, "2024-02-20")


def test_lever_effect_export_matches_its_truth_and_history_before_the_date(tmp_path, control):
    config = _with(Drift("lever_effect", FROM))
    drifted = _simulate(tmp_path / "x", config)
    events, unchanged = _events(drifted), _events(control)
    # Behaviour before the date is the control's, day by day (times of day are laid out from
    # a stream the whole period shares).
    pd.testing.assert_series_equal(
        _daily(_before(events, "time")), _daily(_before(unchanged, "time"))
    )
    bought_after = events[events["event_type"].eq("BUY_PREMIUM") & (events["time"] >= str(FROM))]
    control_bought = unchanged["event_type"].eq("BUY_PREMIUM") & (unchanged["time"] >= str(FROM))
    assert len(bought_after) < control_bought.sum()
    # The oracle re-runs the drifted process: its realised purchases are the files'.
    horizon = (config.end_date - FROM).days
    outcome = simulate_cohort(
        config, np.arange(1, config.n_users + 1), from_date=FROM, horizon_days=horizon
    )
    assert set(outcome.user_ids[outcome.bought].astype(str)) == set(bought_after["user_id"])
    record = json.loads((drifted / "faults.json").read_text("utf-8"))["drift"][0]
    assert record["purchase_ads_coefficient_before"] > 0 > record["purchase_ads_coefficient_after"]


def test_planted_drift_round_trips_through_simulation_json(tmp_path):
    config = _with(Drift("channel_mix", FROM), Drift("tracking_bug", dt.date(2024, 3, 1)))
    folder = _simulate(tmp_path / "x", dataclasses.replace(config, n_users=20))
    loaded = load_simulation_config(folder)
    assert loaded == dataclasses.replace(config, n_users=20)
    assert loaded.drift[1].event_type == "LIKE"


@pytest.mark.parametrize(
    ("drift", "message"),
    [
        (lambda: Drift("seasonality", FROM), "unknown kind 'seasonality'"),
        (lambda: Drift("channel_mix", FROM, "LIKE"), "tracking_bug only"),
        (lambda: Drift("tracking_bug", FROM, "Help"), "unknown event_type 'Help'"),
        (lambda: _with(Drift("channel_mix", dt.date(2025, 1, 1))), "inside the simulated period"),
        (lambda: _with(Drift("channel_mix", SMALL.start_date)), "inside the simulated period"),
        (
            lambda: _with(Drift("channel_mix", FROM), Drift("channel_mix", FROM)),
            "must be distinct",
        ),
    ],
)
def test_bad_drift_is_a_user_error(drift, message):
    with pytest.raises(UsagecastError, match=message):
        drift()


def test_simulate_command_plants_drift(tmp_path, capsys):
    out = tmp_path / "demo"
    size = ["--users", "30", "--seed", "3", "--months", "2", "--no-progress", "--out", str(out)]
    drift = ["--drift", "tracking_bug", "--drift", "channel_mix", "--drift-from", "2024-01-20"]
    assert main(["simulate", *size, *drift, "--drift-event-type", "SKIP"]) == 0
    assert "planted drift: tracking_bug from 2024-01-20" in capsys.readouterr().out
    planted = json.loads((out / "faults.json").read_text(encoding="utf-8"))["drift"]
    assert [(d["kind"], d.get("event_type")) for d in planted] == [
        ("tracking_bug", "SKIP"),
        ("channel_mix", None),
    ]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--drift", "channel_mix"], "--drift needs --drift-from"),
        (["--drift-from", "2024-01-20"], "needs at least one --drift"),
        (
            ["--drift", "channel_mix", "--drift-from", "2024-01-20", "--drift-event-type", "LIKE"],
            "tracking_bug only",
        ),
        (["--drift", "weather", "--drift-from", "2024-01-20"], "unknown kind 'weather'"),
    ],
)
def test_simulate_command_refuses_bad_drift_in_one_line(tmp_path, capsys, arguments, message):
    code = main(["simulate", "--users", "5", "--out", str(tmp_path / "x"), *arguments])
    assert code == 2
    error = capsys.readouterr().err.strip()
    assert message in error and error.count("\n") == 0
    assert not (tmp_path / "x").exists()
