"""A `user_id` user attribute (who invited whom) is read like the users' id column.

Users files shaped like real exports: latin-1 text, ids that passed through a float column
("12.0"), blanks, padding blanks, sentinel ids, and inviters that are not in the export.
"""

from __future__ import annotations

import re
from itertools import pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.ingest import ConfigError, ingest_dataset
from events.quality import load_latest_report, render_html, render_markdown

INVITED_BY = {"column": "inviter", "kind": "static", "dtype": "user_id"}

# id, registration, city (latin-1), inviter as the export writes them.
USERS = [
    ("1", "2024-01-02", "Zürich", ""),  # organic signup
    ("2.0", "2024-01-03 10:00", "Malmö", "1.0"),  # float-like on both sides
    (" 3 ", "2024-01-04", "Köln", " 2 "),  # padded
    ("4", "2024-01-05", "Bogotá", "-1"),  # sentinel: no inviter
    ("5", "2024-01-06", "Paris", "-1.0"),  # a float-like sentinel is still the sentinel
    ("6", "2024-01-07", "Paris", "77.0"),  # inviter outside the export: kept
    ("7", "2024-01-08", "Oslo", "   "),  # blank
    ("-1", "2024-01-09", "Oslo", "2"),  # sentinel user row: quarantined, not its inviter
    ("2", "2024-01-10", "Oslo", "1"),  # a duplicate of user 2 (2.0): quarantined
    ("8", "2024-01-11", "Oslo", "007"),  # other text is kept exactly
]
ONE_EVENT = "uid,ts,page,length\n10,2024-02-01,PLAY,1\n"
EVENTS_CSV = "uid,ts,page,length\n2,2024-02-01 10:00,PLAY,10\n3.0,2024-02-02,SKIP,3\n"


def users_latin1(rows) -> bytes:
    lines = ["id,registration,city,inviter", *(",".join(row) for row in rows)]
    return ("\r\n".join(lines) + "\r\n").encode("latin-1")


def with_inviter(base_config, **attributes) -> dict:
    config = base_config()
    config["users"]["encoding"] = "latin-1"
    config["users"]["attributes"] = {
        **config["users"]["attributes"],
        "invited_by": INVITED_BY,
        **attributes,
    }
    return config


def test_inviter_ids_are_normalised_like_user_ids_and_unknown_ones_kept(
    dataset, store, query, base_config
):
    path = dataset(
        files={"users.csv": users_latin1(USERS), "events.csv": EVENTS_CSV},
        config=with_inviter(base_config),
    )
    summary = ingest_dataset(path, store, progress=False)

    users = summary.tables["users"]
    assert users.read == len(USERS) == users.accepted + users.quarantined_total
    assert dict(users.quarantined) == {"sentinel_id": 1, "duplicate_user": 1}
    assert query(store, "SELECT user_id, city, invited_by FROM users ORDER BY user_id") == [
        ("1", "Zürich", None),
        ("2", "Malmö", "1"),
        ("3", "Köln", "2"),
        ("4", "Bogotá", None),
        ("5", "Paris", None),
        ("6", "Paris", "77"),
        ("7", "Oslo", None),
        ("8", "Oslo", "007"),
    ]
    assert query(store, "SELECT typeof(invited_by) FROM users LIMIT 1") == [("VARCHAR",)]
    assert ("invited_by", "static", "user_id") in query(store, "SELECT * FROM user_attributes")
    # The references join: 2 and 3 have inviters in the table, 6 and 8 name unknown users.
    assert query(
        store,
        "SELECT u.user_id, i.city FROM users u JOIN users i ON u.invited_by = i.user_id "
        "ORDER BY 1",
    ) == [("2", "Zürich"), ("3", "Malmö")]
    report = load_latest_report()
    assert report["unknown_referenced_users"] == {"invited_by": 2}
    line = "unknown referenced users (kept; not in the users table): invited_by 2"
    assert line in render_markdown(report) and line in render_html(report)
    assert summary.tables["events"].accepted == 2


def test_user_id_is_not_an_item_attribute_dtype(dataset, base_config):
    config = base_config(
        items={
            "files": "items.csv",
            "columns": {"item_id": "id"},
            "attributes": {"owner": {"column": "owner", "dtype": "user_id"}},
        }
    )
    path = dataset(files={"items.csv": "id,owner\nA,1\n"}, config=config)
    with pytest.raises(
        ConfigError, match=r"items\.attributes\.owner\.dtype.*categorical, numeric"
    ):
        ingest_dataset(path, path.parent / "store.duckdb", progress=False)


def test_a_user_level_inviter_read_from_events(dataset, store, query):
    """Without a users table, the inviter comes from the user's first event that has one."""
    lines = (
        "Customer,When,Referrer\n"
        "17850.0,2024-01-03 08:26,\n"
        "13047.0,2024-01-05 10:00,17850.0\n"
        "13047,2024-01-06 10:00,12583\n"
        "12583.0,2024-01-04 11:30,-1\n"
    )
    config = {
        "name": "shop",
        "events": {
            "files": "lines.csv",
            "event_type": "purchase",
            "columns": {"user_id": "Customer", "timestamp": "When"},
            "user_attributes": {
                "invited_by": {"column": "Referrer", "kind": "static", "dtype": "user_id"}
            },
        },
        "rules": {"sentinel_ids": ["-1"]},
    }
    path = dataset(files={"lines.csv": lines}, config=config)
    summary = ingest_dataset(path, store, progress=False)

    assert summary.tables["events"].accepted == 4
    assert query(store, "SELECT user_id, invited_by FROM users ORDER BY user_id") == [
        ("12583", None),
        ("13047", "17850"),
        ("17850", None),
    ]
    report = load_latest_report()
    assert report["user_attribute_conflicts"] == {"invited_by": 1}
    assert report["unknown_referenced_users"] == {"invited_by": 0}


ID_SHAPES = st.sampled_from(["{}", "{}.0", "{}.00", " {} ", "{}.0 ", "0{}", "{}.5"])


def id_rule(text: str) -> str:
    """The documented id rule, written independently: trim, then "12.0" -> "12"."""
    match = re.fullmatch(r"(-?[0-9]+)\.0+", text.strip())
    return match.group(1) if match else text.strip()


@settings(max_examples=8, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shapes=st.lists(st.tuples(ID_SHAPES, ID_SHAPES), min_size=1, max_size=6))
def test_an_inviter_is_read_by_the_id_column_rule(
    dataset, base_config, query, tmp_path_factory, shapes
):
    """User n invites user n + 1, each id and each reference written in an export shape of
    its own: both are stored by the same rule, so they join exactly when the rule equates
    them ("11.0" and " 11 " do, "011" and "11" do not)."""
    rows = [("10", "2024-01-01", "Paris", "")]
    for n, (own, reference) in enumerate(shapes, start=11):
        rows.append((own.format(n), "2024-01-02", "Paris", reference.format(n - 1)))
    path = dataset(
        files={"users.csv": users_latin1(rows), "events.csv": ONE_EVENT},
        config=with_inviter(base_config),
    )
    store = tmp_path_factory.mktemp("shapes") / "events.duckdb"
    ingest_dataset(path, store, progress=False)

    stored = query(store, "SELECT user_id, invited_by FROM users")  # in read order
    assert stored == [(id_rule(own), id_rule(ref) if ref else None) for own, _, _, ref in rows]
    joined = query(store, "SELECT count(*) FROM users u JOIN users i ON u.invited_by = i.user_id")
    expected = sum(id_rule(a[0]) == id_rule(b[3]) for a, b in pairwise(rows))
    assert joined == [(expected,)]
