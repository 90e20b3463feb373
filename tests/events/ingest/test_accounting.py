"""Property: every row read is accepted or quarantined exactly once, whatever the mess, and
an accepted value is the number its text spells with the source's decimal separator."""

from __future__ import annotations

import csv
import io
import shutil

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.ingest import ingest_dataset

IDS = st.sampled_from(["1", "2", "3", "1.0", "-1", "", " ", "99", "x'y", '"q"', "0001", "\\N"])
TIMES = st.sampled_from(
    ["2014-04-22", "2014-04-22 03:53", "22-04-2014 03:53", "1398138780", "", "never", "1999-01-01"]
)
TYPES = st.sampled_from(["PLAY", "SKIP", "NextSong", "Help", "DANCE", "", "play"])
VALUES = st.sampled_from(
    [
        *["1", "2.5", "", "nan", "-3", "1e9", "abc", "inf", "2,5", "4,5e2", "1.234,50", ".5"],
        *[",5", "(1)", "1-", "(-1)", "\\N"],
    ]
)
# The values each separator reads (the others are unparseable_value, or out of range).
NUMBERS = {
    ".": {"1": 1.0, "2.5": 2.5, "-3": -3.0, "1e9": 1e9, ".5": 0.5},
    ",": {"1": 1.0, "2,5": 2.5, "-3": -3.0, "1e9": 1e9, "4,5e2": 450.0, ",5": 0.5},
}
# Negative numbers as a source's `negatives` writes them besides a leading minus.
NEGATIVES = {"minus": {}, "parentheses": {"(1)": -1.0}, "trailing_minus": {"1-": -1.0}}
EVENT_HEADER = ("uid", "ts", "page", "length")
# A row is sometimes the header again: exports joined with `cat`.
EVENT_ROWS = st.lists(
    st.one_of(st.tuples(IDS, TIMES, TYPES, VALUES), st.just(EVENT_HEADER)), max_size=30
)
USER_ROWS = st.lists(
    st.tuples(IDS, TIMES, st.sampled_from(["Paris", "", "Zürich"]), TIMES), max_size=8
)


def _csv(header: list[str], rows: list[tuple]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


@pytest.mark.slow
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    events=st.lists(EVENT_ROWS, min_size=1, max_size=3),
    users=USER_ROWS,
    decimal=st.sampled_from(list(NUMBERS)),
    signups=st.sampled_from(["column", "versions", "events"]),
    negatives=st.sampled_from(list(NEGATIVES)),
    missing=st.sampled_from([(), ("\\N",)]),
    strip=st.booleans(),
)
def test_rows_read_equal_accepted_plus_quarantined(
    tmp_path, base_config, query, events, users, decimal, signups, negatives, missing, strip
):
    """`signups`: the users file's `registration` column, the same in a table of versions
    dated by its `valid` column, or none (each user signs up at their first event); the
    events source's `negatives` and `missing_texts`, and rules.strip_leading_zeros."""
    folder = tmp_path / "case"
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "parts").mkdir(parents=True)
    (folder / "users.csv").write_text(_csv(["id", "registration", "city", "valid"], users))
    for i, part in enumerate(events):
        (folder / "parts" / f"p{i}.csv").write_text(_csv(list(EVENT_HEADER), part))
    config = base_config()
    config["events"][0].update(
        files="parts/*.csv",
        timestamp_formats=["%d-%m-%Y %H:%M", "iso", "epoch_s"],
        decimal=decimal,
        negatives=negatives,
        missing_texts=list(missing),
    )
    config["rules"]["strip_leading_zeros"] = strip
    config["users"]["timestamp_formats"] = ["iso", "%d-%m-%Y %H:%M"]
    if signups == "versions":
        config["users"]["columns"]["valid_from"] = "valid"
    if signups == "events":
        del config["users"]["columns"]["signup_time"]
    (folder / "dataset.yaml").write_text(yaml.safe_dump(config))
    store = folder / "events.duckdb"

    summary = ingest_dataset(folder / "dataset.yaml", store, progress=False, allow_partial=True)

    expected = {"users": len(users), "events": sum(len(part) for part in events)}
    for table, counts in summary.tables.items():
        assert counts.read == expected[table]
        assert counts.accepted + counts.quarantined_total == counts.read
    # every (file, row) appears exactly once: in its table or in the quarantine
    seen = query(
        store,
        "SELECT source_file, source_row FROM events UNION ALL "
        "SELECT source_file, source_row FROM quarantine WHERE table_name = 'events'",
    )
    wanted = [
        (f"parts/p{i}.csv", r + 1) for i, part in enumerate(events) for r in range(len(part))
    ]
    assert sorted(seen) == sorted(wanted)
    if signups == "events":  # each kept user signed up at their first event; none without
        firsts = "SELECT user_id, min(event_time) AS first FROM events GROUP BY ALL"
        kept = summary.tables["users"].accepted
        assert query(
            store,
            f"SELECT count(*), count(*) FILTER (signup_time = first) FROM users JOIN ({firsts}) "
            "USING (user_id)",
        ) == [(kept, kept)]
    # no value is read with the other separator, none coerced
    texts = {
        (f"parts/p{i}.csv", r + 1): row[3]
        for i, part in enumerate(events)
        for r, row in enumerate(part)
    }
    for source_file, source_row, value in query(
        store, "SELECT source_file, source_row, value FROM events"
    ):
        text = texts[(source_file, source_row)]
        numbers = {**NUMBERS[decimal], **NEGATIVES[negatives]}
        assert value == (None if text in ("", *missing) else numbers[text])
