"""`usagecast analytics segments` on a real feature set built from a tiny ingested store."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd

from contracts.workspace import event_store_path
from features.featureset import build_feature_set, load_feature_set
from usagecast_cli.main import main

SPEC = """
name: buyers
version: 1
dataset: test
cutoffs: {calendar: {start: 2024-02-01, end: 2024-02-01, every: 7}}
label: {kind: event_within, event_type: BUY, horizon_days: 30}
features:
  - {kind: count, event_types: [PLAY], windows: [30]}
  - {kind: active_days, windows: [30]}
"""


def _log() -> tuple[list[tuple], list[tuple]]:
    """Six heavy players (20 January plays each, four of them buy in February) and six light
    players (two plays, one buys): two clear segments with conversion 4/6 and 1/6."""
    users, events = [], []
    for index in range(12):
        user = f"u{index:02d}"
        heavy = index < 6
        users.append((user, datetime(2023, 12, 1), "web" if index % 2 else "app"))
        for day in range(20 if heavy else 2):
            events.append(
                (user, datetime(2024, 1, 5) + timedelta(days=day), "PLAY", "music", None)
            )
        if (heavy and index < 4) or index == 6:
            events.append((user, datetime(2024, 2, 10), "BUY", "shop", 9.99))
    events.append(("u00", datetime(2024, 4, 1), "PLAY", "music", None))  # data past the horizon
    return users, events


def _segments_table(capsys, seed: int) -> str:
    assert (
        main(
            [
                "analytics",
                "segments",
                "--feature-set",
                "buyers@v1",
                "--k",
                "2",
                "--seed",
                str(seed),
                "--limit",
                "0",
            ]
        )
        == 0
    )
    return capsys.readouterr().out


def test_segments_cli_profiles_a_built_feature_set(tiny_store, tmp_path, capsys):
    users, events = _log()
    event_store_path().parent.mkdir(parents=True, exist_ok=True)
    tiny_store(users, events, name=str(event_store_path())).close()
    sets_dir = tmp_path / "sets" / "buyers"
    sets_dir.mkdir(parents=True)
    (sets_dir / "v1.yaml").write_text(SPEC)
    build_feature_set("buyers@v1", sets_dir=sets_dir.parent)
    frame, _ = load_feature_set("buyers@v1")
    assert len(frame) == 12 and frame["label"].sum() == 5

    printed = _segments_table(capsys, seed=3)
    assert printed == _segments_table(capsys, seed=3)  # same seed, same table
    lines = [line.split() for line in printed.splitlines()[1:] if line.strip()]
    table = pd.DataFrame(lines[1:], columns=lines[0]).astype(float)
    assert table["size"].tolist() == [6, 6] and table["size"].sum() == len(frame)
    # A segment's conversion rate is its members' label mean: heavy players 4/6, light 1/6.
    by_plays = table.set_index("mean_count_PLAY_30d")["conversion_rate"]
    assert by_plays[20.0] == round(4 / 6, 4) and by_plays[2.0] == round(1 / 6, 4)
