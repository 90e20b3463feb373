"""The dataset's `timezone`: the store keeps wall-clock time in that zone, so its days follow
the business's calendar. Instants (an offset, `Z`, ` UTC`, epoch numbers, %z) are converted
to it; times without an offset are written in the source's `timezone` (default: the
dataset's); a date alone is a calendar day and never shifts."""

from __future__ import annotations

import re
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tiny_datasets import make_config, rows, write_dataset

from events.ingest import ConfigError, ingest_dataset

# Zones whose rules did not change in 2001-2029 (Python's and DuckDB's tz data agree on them),
# with half-hour and 45-minute offsets and a half-hour DST shift among them.
ZONES = (
    "UTC",
    "America/Los_Angeles",
    "America/St_Johns",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
)
FORMS = ("offset", "z", "utc", "epoch", "naive", "date")


def _unambiguous(naive: datetime, zone: ZoneInfo) -> bool:
    """A wall time that exists once in the zone (not in a DST gap or a repeated hour)."""
    first, second = naive.replace(tzinfo=zone, fold=0), naive.replace(tzinfo=zone, fold=1)
    back = first.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    return first.utcoffset() == second.utcoffset() and back == naive


def _text_and_expected(
    instant: datetime, form: str, other: str, written_in: str, stored_in: str
) -> tuple[str, datetime] | None:
    """The row's timestamp text and the wall time the store must keep; None to skip it."""
    stored = ZoneInfo(stored_in)
    wall = instant.astimezone(stored).replace(tzinfo=None)
    if form == "offset":
        return instant.astimezone(ZoneInfo(other)).isoformat(), wall
    if form == "z":
        return instant.strftime("%Y-%m-%dT%H:%M:%SZ"), wall
    if form == "utc":
        return instant.strftime("%Y-%m-%d %H:%M:%S UTC"), wall
    if form == "epoch":
        return str(int(instant.timestamp())), wall
    if form == "date":
        day = instant.date()
        return day.isoformat(), datetime(day.year, day.month, day.day)
    naive = instant.astimezone(ZoneInfo(written_in)).replace(tzinfo=None)
    if not _unambiguous(naive, ZoneInfo(written_in)):
        return None
    return naive.isoformat(sep=" "), wall


@pytest.mark.slow
@settings(max_examples=25, deadline=None)
@given(
    events=st.lists(
        st.tuples(
            st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2029, 12, 31)),
            st.sampled_from(FORMS),
            st.sampled_from(ZONES),
        ),
        min_size=1,
        max_size=30,
    ),
    written_in=st.sampled_from(ZONES),
    stored_in=st.sampled_from(ZONES),
)
def test_the_store_keeps_each_instant_as_wall_time_in_the_datasets_zone(
    events, written_in, stored_in
):
    lines, expected = ["uid,ts,page,length"], []
    for moment, form, other in events:
        instant = moment.replace(microsecond=0, tzinfo=UTC)
        row = _text_and_expected(instant, form, other, written_in, stored_in)
        if row is not None:
            lines.append(f"1,{row[0]},PLAY,1")
            expected.append(row[1])
    config = make_config(timezone=stored_in)
    config["events"][0].update(
        timezone=written_in, timestamp_formats=["iso", "epoch_s"], dedupe=False
    )
    config["users"]["timestamp_formats"] = ["iso"]
    config["rules"]["timestamp_range"] = {}
    with tempfile.TemporaryDirectory() as folder:
        path = write_dataset(
            Path(folder) / "data",
            {
                "users.csv": "id,registration,city\n1,2000-01-01,Paris\n",
                "events.csv": "\n".join(lines) + "\n",
            },
            config,
        )
        store = Path(folder) / "store" / "events.duckdb"
        ingest_dataset(path, store, progress=False)
        stored = rows(store, "SELECT event_time, event_date FROM events ORDER BY event_id")
    assert stored == [(wall, wall.date()) for wall in expected]


@pytest.fixture
def amplitude_like(dataset, store):
    """Naive UTC event times (an Amplitude export) into a store kept in Los Angeles time."""

    def ingest(events: str, **source) -> list[tuple]:
        config = make_config(timezone="America/Los_Angeles")
        config["events"][0].update(timezone="UTC", **source)
        ingest_dataset(dataset(files={"events.csv": events}, config=config), store, progress=False)
        return rows(store, "SELECT event_time, event_date FROM events ORDER BY event_id")

    return ingest


def test_a_naive_utc_export_lands_on_the_local_day(amplitude_like):
    stored = amplitude_like(
        "uid,ts,page,length\n"
        "1,2024-07-01 06:30:00,PLAY,1\n"  # 23:30 the evening before, in Los Angeles
        "1,2024-07-01,PLAY,1\n"  # a calendar day: never shifted
        "2,2024-01-15 07:59:59.5,PLAY,1\n"  # winter: UTC-8
    )
    assert stored == [
        (datetime(2024, 6, 30, 23, 30), date(2024, 6, 30)),
        (datetime(2024, 7, 1), date(2024, 7, 1)),
        (datetime(2024, 1, 14, 23, 59, 59, 500000), date(2024, 1, 14)),
    ]


def test_strptime_patterns_with_a_zone_a_time_or_a_date(amplitude_like):
    stored = amplitude_like(
        "uid,ts,page,length\n"
        "1,01/07/2024 08:30 +0200,PLAY,1\n"
        "1,01/07/2024 06:30,PLAY,1\n"
        "2,01/07/2024,PLAY,1\n",
        timestamp_formats=["%d/%m/%Y %H:%M %z", "%d/%m/%Y %H:%M", "%d/%m/%Y"],
    )
    assert [time for time, _ in stored] == [
        datetime(2024, 6, 30, 23, 30),
        datetime(2024, 6, 30, 23, 30),
        datetime(2024, 7, 1),
    ]


def test_zone_abbreviations_read_as_offsets_and_a_source_names_its_own(amplitude_like, store):
    """IST means three zones: unread until the source names its offset; CST, US Central by
    default, is China's on a source that says so."""
    events = (
        "uid,ts,page,length\n"
        "1,2024-07-01 08:30:00 PDT,PLAY,1\n"
        "1,2024-07-01 20:00:00 IST,PLAY,1\n"
        "2,2024-07-01 23:30:00 CST,PLAY,1\n"
    )
    pattern = ["%Y-%m-%d %H:%M:%S %Z"]
    stored = amplitude_like(
        events,
        timestamp_formats=pattern,
        zone_abbreviations={"IST": "+05:30", "CST": "+0800"},
    )
    assert [time for time, _ in stored] == [  # Los Angeles wall time
        datetime(2024, 7, 1, 8, 30),
        datetime(2024, 7, 1, 7, 30),
        datetime(2024, 7, 1, 8, 30),
    ]
    assert len(amplitude_like(events, timestamp_formats=pattern)) == 2  # IST is not read
    ((reason, detail),) = rows(store, "SELECT reason, detail FROM quarantine")
    assert reason == "unparseable_timestamp" and detail.endswith(
        "matches none of %Y-%m-%d %H:%M:%S %Z (a zone abbreviation with no one meaning? name "
        'its offset on this source: zone_abbreviations: {IST: "+05:30"})'
    )


@pytest.mark.parametrize(
    ("zones", "why"),
    [
        ({"IST": "+5:30"}, "an offset from UTC"),
        ({"IST": "+15:00"}, "an offset from UTC"),
        ({"IST": 530}, "an offset from UTC"),
        ({"ist": "+05:30"}, "2-5 capital letters"),
        (["IST"], "must map zone abbreviations"),
    ],
)
def test_a_zone_abbreviation_needs_a_name_and_an_offset(zones, why, tmp_path):
    from events.ingest import parse_config

    config = make_config()
    config["events"][0]["zone_abbreviations"] = zones
    with pytest.raises(ConfigError, match=why):
        parse_config(config, tmp_path / "dataset.yaml")


def test_typed_parquet_times_and_signups_follow_the_same_rules(dataset, store):
    instant = datetime(2024, 7, 1, 6, 30, tzinfo=UTC)
    table = pa.table(
        {
            "uid": ["1", "2", "3"],
            "ts": pa.array([instant] * 3, pa.timestamp("us", tz="UTC")),
            "local": pa.array([instant.replace(tzinfo=None)] * 3, pa.timestamp("us")),
            "day": pa.array([date(2024, 7, 1)] * 3, pa.date32()),
        }
    )
    buffer = pa.BufferOutputStream()
    pq.write_table(table, buffer)
    config = make_config(timezone="Europe/Berlin")
    config["events"] = [
        {
            "files": "events.parquet",
            "event_type": kind,
            "dedupe": False,  # the three sources read the same rows
            "columns": {"user_id": "uid", "timestamp": column},
        }
        for kind, column in (("PLAY", "ts"), ("SKIP", "local"), ("LOGIN", "day"))
    ]
    config["users"]["timezone"] = "Asia/Kolkata"
    users = (
        "id,registration,city\n"
        "1,2024-06-01 05:30,Paris\n"  # Kolkata time: 00:00 UTC, 02:00 in Berlin
        "2,2024-06-01T00:00:00Z,Oslo\n"
        "3,2024-06-01,Rome\n"
    )
    path = dataset(
        files={"users.csv": users, "events.parquet": buffer.getvalue().to_pybytes()},
        config=config,
    )
    ingest_dataset(path, store, progress=False)

    stored = rows(store, "SELECT event_type, event_time FROM events ORDER BY event_id")
    assert stored == (
        [("PLAY", datetime(2024, 7, 1, 8, 30))] * 3  # an instant, shown in Berlin
        + [("SKIP", datetime(2024, 7, 1, 6, 30))] * 3  # naive: written in the dataset's zone
        + [("LOGIN", datetime(2024, 7, 1))] * 3  # a date
    )
    assert rows(store, "SELECT signup_time FROM users ORDER BY user_id") == [
        (datetime(2024, 6, 1, 2),),
        (datetime(2024, 6, 1, 2),),
        (datetime(2024, 6, 1),),
    ]


@pytest.mark.parametrize(
    ("place", "name", "message"),
    [
        ("top", "Europe/Pariss", "`timezone` is 'Europe/Pariss', not an IANA time zone name"),
        ("events", "CEST", "`events[0].timezone` is 'CEST', not an IANA time zone name"),
        ("users", "", "`users.timezone` must be a non-empty string"),
    ],
)
def test_a_zone_that_is_not_an_iana_name_is_refused_with_its_key(
    dataset, store, place, name, message
):
    config = make_config(**({"timezone": name} if place == "top" else {}))
    if place == "events":
        config["events"][0]["timezone"] = name
    if place == "users":
        config["users"]["timezone"] = name
    with pytest.raises(ConfigError, match=re.escape(message)):
        ingest_dataset(dataset(config=config), store, progress=False)


def test_near_names_are_suggested(dataset, store):
    config = make_config(timezone="Europe/Pariss")
    with pytest.raises(ConfigError, match="did you mean Europe/Paris"):
        ingest_dataset(dataset(config=config), store, progress=False)


def test_without_a_timezone_an_offset_is_converted_to_utc(dataset, store):
    path = dataset(files={"events.csv": "uid,ts,page,length\n1,2024-07-01T01:30-05:00,PLAY,1\n"})
    ingest_dataset(path, store, progress=False)
    assert rows(store, "SELECT event_time FROM events") == [(datetime(2024, 7, 1, 6, 30),)]
