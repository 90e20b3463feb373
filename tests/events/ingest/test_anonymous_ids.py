"""Events with only an anonymous id (Segment's `anonymousId`, Amplitude's `device_id`) take the
user their id is seen with, when that link was known at every cutoff the user is in the
population of; the others are quarantined with why (validate.anonymous_events_sql)."""

from __future__ import annotations

import json
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.ingest import ingest_dataset

START = datetime(2024, 3, 1, 9)
COLUMNS = {
    "user_id": "userId",
    "anonymous_id": "anonymousId",
    "timestamp": "timestamp",
    "event_type": "event",
}


def _write(
    folder: Path,
    rows: list[tuple[str | None, str | None, int]],
    users: str = "",
    signups: bool = True,
    sentinels: tuple[str, ...] = (),
) -> Path:
    """tracks.jsonl with one event per (user id, anonymous id, minutes after START), and its
    config (a users.csv when `users` holds its lines; without `signups`, its signed_up
    column is not mapped; `sentinels` are its rules.sentinel_ids)."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [
        json.dumps(
            {
                "userId": user,
                "anonymousId": anonymous,
                "event": "Page Viewed",
                "timestamp": (START + timedelta(minutes=minutes)).isoformat(),
            }
        )
        for user, anonymous, minutes in rows
    ]
    (folder / "tracks.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    config: dict = {
        "name": "anonymous",
        "events": [{"files": "tracks.jsonl", "columns": COLUMNS, "dedupe": False}],
    }
    if users:
        (folder / "users.csv").write_text("id,signed_up\n" + users, encoding="utf-8")
        config["users"] = {
            "files": "users.csv",
            "columns": {"user_id": "id", "signup_time": "signed_up"},
        }
        if not signups:
            del config["users"]["columns"]["signup_time"]
    if sentinels:
        config["rules"] = {"sentinel_ids": list(sentinels)}
    path = folder / "dataset.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _outcomes(path: Path, store: Path) -> dict[int, str]:
    """Row number -> its user id when accepted, else its quarantine reason."""
    ingest_dataset(path, store, progress=False, allow_partial=True)
    with duckdb.connect(str(store), read_only=True) as con:
        rows = con.execute(
            "SELECT source_row, user_id FROM events UNION ALL "
            "SELECT source_row, reason FROM quarantine"
        ).fetchall()
    return dict(rows)


VISITS = [
    (None, "a1", 0),  # 1: before the signup that links a1: theirs
    ("u1", "a1", 10),  # 2: the signup
    (None, "a2", 20),  # 3: a2 never logs in
    (None, "a3", 30),  # 4: a new device, linked only later (after u1's signup)
    ("u1", "a3", 40),  # 5
    (None, "a3", 50),  # 6: after the link: theirs
    ("u1", "a4", 60),  # 7: a shared computer
    ("u2", "a4", 70),  # 8
    (None, "a4", 80),  # 9
    (None, None, 90),  # 10
]


def test_a_visitors_events_before_signup_are_theirs_and_the_unclear_ones_say_why(tmp_path):
    path = _write(tmp_path / "data", VISITS)
    store = tmp_path / "store" / "events.duckdb"
    assert _outcomes(path, store) == {
        1: "u1",
        2: "u1",
        3: "unidentified_anonymous_id",
        4: "identified_later",
        5: "u1",
        6: "u1",
        7: "u1",
        8: "u2",
        9: "shared_anonymous_id",
        10: "missing_required_field",
    }
    with duckdb.connect(str(store), read_only=True) as con:
        # the derived users table: signed up at their first event with their own id
        assert con.execute("SELECT user_id, signup_time FROM users ORDER BY 1").fetchall() == [
            ("u1", START + timedelta(minutes=10)),
            ("u2", START + timedelta(minutes=70)),
        ]
        assert con.execute(
            "SELECT detail FROM quarantine WHERE source_row IN (4, 10) ORDER BY source_row"
        ).fetchall() == [
            (
                "anonymous_id a3 is first seen with user u1 at 2024-03-01 09:40:00, after this "
                "event and after their signup at 2024-03-01 09:10:00: a cutoff between would "
                "see the future",
            ),
            ("user_id, anonymous_id is empty",),
        ]


def test_a_sentinel_user_id_beside_an_anonymous_id_is_a_missing_one(tmp_path):
    """A tracker's `undefined` user id means no user: the anonymous id stands in for it as
    for a blank one; without an anonymous id (or with a sentinel one) it stays a sentinel."""
    placeholders = [("undefined" if u is None else u, a, t) for u, a, t in VISITS]
    placeholders += [("undefined", "undefined", 95)]
    path = _write(tmp_path / "data", placeholders, sentinels=("undefined",))
    outcomes = _outcomes(path, tmp_path / "store" / "events.duckdb")
    expected = _outcomes(_write(tmp_path / "blank", VISITS), tmp_path / "blank.duckdb")
    assert outcomes == {**expected, 10: "sentinel_id", 11: "sentinel_id"}


def test_a_users_tables_signup_decides_which_earlier_events_are_theirs(tmp_path):
    # u1 signed up (users table) at 09:30: the link at 09:20 was known by then, so the
    # anonymous event at 09:00 is theirs; u2 signed up at 09:00, before their link at 09:40.
    rows = [(None, "a1", 0), ("u1", "a1", 20), (None, "a2", 5), ("u2", "a2", 40)]
    users = "u1,2024-03-01 09:30\nu2,2024-03-01 09:00\n"
    path = _write(tmp_path / "data", rows, users)
    assert _outcomes(path, tmp_path / "store" / "events.duckdb") == {
        1: "u1",
        2: "u1",
        3: "identified_later",
        4: "u2",
    }


def test_a_users_table_without_signups_links_devices_as_the_events_alone_do(tmp_path):
    """Each user signs up at their first event with their own id, as without a users table."""
    alone = _outcomes(_write(tmp_path / "alone", VISITS), tmp_path / "alone.duckdb")
    path = _write(tmp_path / "data", VISITS, "u1,\nu2,\n", signups=False)
    store = tmp_path / "store" / "events.duckdb"
    assert _outcomes(path, store) == alone
    with duckdb.connect(str(store), read_only=True) as con:
        assert con.execute("SELECT user_id, signup_time FROM users ORDER BY 1").fetchall() == [
            ("u1", START + timedelta(minutes=10)),
            ("u2", START + timedelta(minutes=70)),
        ]


def _expected(rows: list[tuple[str | None, str | None, int]]) -> dict[int, str]:
    """The rule, written out in Python, for a dataset without a users table."""
    identified = [(u, a, t) for u, a, t in rows if u is not None]
    signups = {u: min(t for v, _, t in identified if v == u) for u, _, _ in identified}
    links: dict[str, tuple[set[str], int]] = {}
    for user, anonymous, minutes in identified:
        if anonymous is not None:
            seen, first = links.get(anonymous, (set(), minutes))
            links[anonymous] = (seen | {user}, min(first, minutes))
    outcome = {}
    for row, (user, anonymous, minutes) in enumerate(rows, start=1):
        if user is not None:
            outcome[row] = user
        elif anonymous is None:
            outcome[row] = "missing_required_field"
        elif anonymous not in links:
            outcome[row] = "unidentified_anonymous_id"
        elif len(links[anonymous][0]) > 1:
            outcome[row] = "shared_anonymous_id"
        else:
            (linked,) = links[anonymous][0]
            later = links[anonymous][1] > max(minutes, signups[linked])
            outcome[row] = "identified_later" if later else linked
    return outcome


ROWS = st.lists(
    st.tuples(
        st.sampled_from([None, None, "u1", "u2", "u3"]),
        st.sampled_from([None, "a1", "a2", "a3", "a4"]),
        st.integers(0, 40),
    ),
    min_size=1,
    max_size=25,
)


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=ROWS)
def test_every_event_gets_the_user_or_the_reason_the_rule_gives(rows):
    with tempfile.TemporaryDirectory() as folder:
        path = _write(Path(folder) / "data", rows)
        assert _outcomes(path, Path(folder) / "store" / "events.duckdb") == _expected(rows)
