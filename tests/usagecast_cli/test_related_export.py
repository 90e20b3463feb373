"""Organisation and inviter features from a users export shaped like a real one, end to end
through the CLI: a latin-1 users file with CRLF lines, date-only times, float-like and blank
ids, a duplicate user and a repeated event line, then `ingest` and `features build`."""

from __future__ import annotations

import math

import yaml

from features.featureset import load_feature_set
from usagecast_cli.main import main

# id, registration (date only), city (latin-1), organisation, inviter (float-like, blank).
USERS = [
    ("1", "2024-01-01", "Zürich", "acme", ""),
    ("2.0", "2024-01-02", "Malmö", "acme", "1.0"),
    ("3", "2024-01-03", "Köln", "acme", " 2 "),
    ("4", "2024-01-04", "Bogotá", "", ""),
    ("2", "2024-01-05", "Oslo", "acme", "1"),  # user 2 again: quarantined
]
EVENTS = """uid,ts,page,length
1.0,2024-01-05,PLAY,1
1,2024-01-06,PLAY,1
1,2024-01-06,PLAY,1
2,2024-01-10,PLAY,1
,2024-01-10,PLAY,1
3.0,2024-01-12,PLAY,1
4,2024-01-12,PLAY,1
4,2024-01-30,PLAY,1
"""
DATASET = {
    "name": "export",
    "events": [
        {
            "files": "events.csv",
            "columns": {
                "user_id": "uid",
                "timestamp": "ts",
                "event_type": "page",
                "value": "length",
            },
        }
    ],
    "users": {
        "files": "users.csv",
        "encoding": "latin-1",
        "columns": {"user_id": "id", "signup_time": "registration"},
        "attributes": {
            "city": {"column": "city", "kind": "static", "dtype": "categorical"},
            "org_id": {"column": "org", "kind": "static", "dtype": "categorical"},
            "invited_by": {"column": "inviter", "kind": "static", "dtype": "user_id"},
        },
    },
    "rules": {"event_types": {"allowed": ["PLAY"]}, "sentinel_ids": ["-1"]},
}
SPEC = """
name: team_start
version: 1
dataset: export
cutoffs: {after_signup: {offset_days: 14}}
label: {kind: event_within, event_type: PLAY, horizon_days: 7}
features:
  - {kind: count, event_types: [PLAY], windows: [14]}
  - {kind: related, via: org_id, relation: group, prefix: org,
     aggregates: [count, users], event_types: [PLAY], windows: [14]}
  - {kind: related, via: invited_by, relation: reference, prefix: inviter,
     aggregates: [active_days], windows: [14]}
"""


def test_organisation_and_inviter_features_from_a_messy_export(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    lines = ["id,registration,city,org,inviter", *(",".join(row) for row in USERS)]
    (data / "users.csv").write_bytes(("\r\n".join(lines) + "\r\n").encode("latin-1"))
    (data / "events.csv").write_text(EVENTS)
    (data / "dataset.yaml").write_text(yaml.safe_dump(DATASET, allow_unicode=True))
    specs = tmp_path / "specs"
    (specs / "team_start").mkdir(parents=True)
    (specs / "team_start" / "v1.yaml").write_text(SPEC)

    assert main(["ingest", str(data / "dataset.yaml")]) == 0
    printed = capsys.readouterr().out
    assert "duplicate_user" in printed and "missing_required_field" in printed
    assert main(["features", "build", "team_start@v1", "--specs", str(specs)]) == 0

    frame, _ = load_feature_set("team_start@v1")
    rows = frame.set_index("user_id")
    # Cutoffs: signup date + 14 days at midnight. The organisation is acme's other members.
    assert rows.loc["1", "org_count_PLAY_14d"] == 2  # users 2 (01-10) and 3 (01-12)
    assert rows.loc["1", "org_users"] == 2
    assert rows.loc["2", "org_count_PLAY_14d"] == 3  # user 1 on 01-05 and 01-06, user 3
    assert rows.loc["2", "inviter_active_days_14d"] == 2  # "1.0" is user 1: 01-05, 01-06
    assert rows.loc["3", "inviter_active_days_14d"] == 1  # " 2 " is user 2: 01-10
    assert math.isnan(rows.loc["1", "inviter_active_days_14d"])  # organic signup
    assert math.isnan(rows.loc["4", "org_count_PLAY_14d"])  # no organisation
