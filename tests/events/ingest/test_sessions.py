"""rules.sessions: session ids cut from the gaps between a user's stored events, for exports
that carry none (validate.sessions_sql)."""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.ingest import ConfigError, ingest_dataset

START = datetime(2024, 3, 1, 9)
COLUMNS = {"user_id": "uid", "timestamp": "ts", "event_type": "kind"}


def _write(folder: Path, events: list[tuple[str, int]], **rules) -> Path:
    """events.csv with one event per (user, minutes after START), in that order."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["uid,ts,kind"] + [
        f"{user},{START + timedelta(minutes=minutes):%Y-%m-%d %H:%M},click"
        for user, minutes in events
    ]
    (folder / "events.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = {
        "name": "sessions",
        "events": [{"files": "events.csv", "columns": COLUMNS}],
        "rules": {"sessions": {"inactivity_minutes": 30}, **rules},
    }
    path = folder / "dataset.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _sessions(path: Path, store: Path) -> tuple[dict[int, str | None], str]:
    """Row number -> its stored session id (None: quarantined), and the quality lines."""
    summary = ingest_dataset(path, store, progress=False, allow_partial=True)
    with duckdb.connect(str(store), read_only=True) as con:
        stored = dict(con.execute("SELECT source_row, session_id FROM events").fetchall())
        rejected = con.execute("SELECT source_row FROM quarantine").fetchall()
    return {**stored, **dict.fromkeys((row for (row,) in rejected), None)}, summary.quality_text


def test_more_than_the_gap_starts_a_session_named_by_its_start(tmp_path):
    events = [
        ("u1", 0),  # 1
        ("u1", 30),  # 2: exactly the gap: the same session
        ("u1", 61),  # 3: 31 minutes after: a new one
        ("u2", 5),  # 4: another user's clock
        ("u1", 61),  # 5: the same line again: a duplicate, not stored
        ("u1", 200),  # 6
        ("u1", 45),  # 7: read late, in time between 2 and 3
    ]
    path = _write(tmp_path / "data", events)
    sessions, quality = _sessions(path, tmp_path / "store" / "events.duckdb")
    assert sessions == {
        1: "2024-03-01T09:00:00",
        2: "2024-03-01T09:00:00",
        3: "2024-03-01T09:00:00",  # 16 minutes after row 7
        4: "2024-03-01T09:05:00",
        5: None,
        6: "2024-03-01T12:20:00",
        7: "2024-03-01T09:00:00",
    }
    assert "(over 30 minutes starts a session): 3 sessions" in quality


@pytest.mark.parametrize(
    ("rules", "session_column", "problem"),
    [
        ({"sessions": {"inactivity_minutes": 0}}, False, "from 1 to 1440"),
        ({"sessions": {"inactivity_minutes": "30"}}, False, "from 1 to 1440"),
        ({"sessions": {}}, False, "inactivity_minutes"),
        ({"sessions": {"inactivity_minutes": 30}}, True, "keep one of the two"),
    ],
)
def test_a_bad_sessions_rule_is_a_config_error(tmp_path, rules, session_column, problem):
    path = _write(tmp_path / "data", [("u1", 0)])
    config = yaml.safe_load(path.read_text())
    config["rules"] = rules
    if session_column:
        config["events"][0]["columns"]["session_id"] = "kind"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    with pytest.raises(ConfigError, match=problem):
        ingest_dataset(path, tmp_path / "store" / "events.duckdb", progress=False)


def _expected(events: list[tuple[str, int]]) -> dict[int, str]:
    """The rule written out: per user, in time (then read) order, a gap over 30 minutes
    starts a session named by its first event's time; repeated lines are duplicates."""
    seen, kept = set(), []
    for row, event in enumerate(events, start=1):
        if event not in seen:
            seen.add(event)
            kept.append((event[0], event[1], row))
    names: dict[int, str] = {}
    for user in {u for u, _, _ in kept}:
        start = previous = None
        for _, minutes, row in sorted(e for e in kept if e[0] == user):
            if previous is None or minutes - previous > 30:
                start = minutes
            previous = minutes
            names[row] = f"{START + timedelta(minutes=start):%Y-%m-%dT%H:%M:%S}"
    return {row: names.get(row) for row in range(1, len(events) + 1)}


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    events=st.lists(
        st.tuples(st.sampled_from(["u1", "u2"]), st.integers(0, 240)), min_size=1, max_size=30
    )
)
def test_every_stored_event_gets_the_session_the_rule_gives(events):
    with tempfile.TemporaryDirectory() as folder:
        path = _write(Path(folder) / "data", events)
        sessions, _ = _sessions(path, Path(folder) / "store" / "events.duckdb")
        assert sessions == _expected(events)
