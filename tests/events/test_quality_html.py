"""The HTML quality page: its plotted tables, its files, and escaping of values from the data."""

from __future__ import annotations

import json
import re
from datetime import date

import duckdb
import pytest
import yaml

from contracts.workspace import reports_dir
from events.ingest import ingest_dataset
from events.quality import latest_report_files, load_latest_report, render_html
from events.quality.plots import daily_events, null_shares, quarantine_reasons
from events.quality.profile import PLOTTED_EVENT_TYPES, events_per_day
from usagecast_cli.main import main

USERS = "id,registration,country\n1,2014-01-02,FR\n2,2014-01-03,\n3,2014-01-04,NO\n"
SCRIPT = "<script>alert(1)</script>"
SVG = re.compile(r"<figure><svg [^>]*role=\"img\" aria-label=\"[^\"]*\".*?</svg></figure>", re.S)


def _dataset(folder, events: str, allowed: list[str]):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "users.csv").write_text(USERS)
    (folder / "events.csv").write_text(events)
    config = {
        "name": "html_case",
        "events": {
            "files": "events.csv",
            "columns": {"user_id": "u", "timestamp": "t", "event_type": "e", "item_id": "i"},
        },
        "users": {
            "files": "users.csv",
            "columns": {"user_id": "id", "signup_time": "registration"},
            "attributes": {
                "country": {"column": "country", "kind": "static", "dtype": "categorical"}
            },
        },
        "rules": {"sentinel_ids": ["-1"], "event_types": {"allowed": allowed}},
    }
    (folder / "dataset.yaml").write_text(yaml.safe_dump(config))
    return folder / "dataset.yaml"


# Date-only times, as many exports have them; one bad type, one sentinel user, one bad date.
DATE_ONLY = "u,t,e,i\n" + "".join(
    [
        "1,2014-04-22,PLAY,a\n",
        "2,2014-04-22,PLAY,b\n",
        "1,2014-04-22,SKIP,a\n",
        "1,2014-04-24,SKIP,\n",
        "1,2014-04-24,NOPE,a\n",
        "-1,2014-04-24,PLAY,a\n",
        "2,not a date,PLAY,a\n",
    ]
)


@pytest.fixture
def ingested(tmp_path):
    config = _dataset(tmp_path / "d", DATE_ONLY, ["PLAY", "SKIP"])
    summary = ingest_dataset(config, tmp_path / "s.duckdb", progress=False)
    return summary, load_latest_report(), tmp_path / "s.duckdb"


def test_events_per_day_of_a_date_only_store(ingested):
    _, report, _ = ingested
    assert report["events_per_day"] == [
        {"day": "2014-04-22", "event_type": "PLAY", "events": 2},
        {"day": "2014-04-22", "event_type": "SKIP", "events": 1},
        {"day": "2014-04-24", "event_type": "SKIP", "events": 1},
    ]
    daily = daily_events(report["events_per_day"])
    assert daily.days == (date(2014, 4, 22), date(2014, 4, 23), date(2014, 4, 24))
    assert daily.counts == {"PLAY": (2, 0, 0), "SKIP": (1, 0, 1)}


def test_events_per_day_groups_the_rarer_types_and_cuts_days_in_utc():
    con = duckdb.connect()
    con.execute("CREATE TABLE events (event_time TIMESTAMP, event_type VARCHAR)")
    # Type t0 has 1 event ... t9 has 10: the PLOTTED_EVENT_TYPES most frequent keep their name.
    rows = [("2020-01-01 23:59:59", f"t{k}") for k in range(10) for _ in range(k + 1)]
    rows += [("2020-01-02 00:00:00", "t9")]
    con.executemany("INSERT INTO events VALUES (?::TIMESTAMP, ?)", rows)
    table = events_per_day(con)
    kept = {f"t{k}" for k in range(10 - PLOTTED_EVENT_TYPES, 10)}
    first_day = {r["event_type"]: r["events"] for r in table if r["day"] == "2020-01-01"}
    assert first_day == {**{t: int(t[1:]) + 1 for t in kept}, None: 1 + 2}
    assert [r for r in table if r["day"] == "2020-01-02"] == [
        {"day": "2020-01-02", "event_type": "t9", "events": 1}
    ]


def test_quarantine_reasons_equal_the_ingest_counts(ingested):
    summary, report, store = ingested
    plotted = quarantine_reasons(report)
    assert plotted == [
        ("events", "sentinel_id", 1),
        ("events", "unknown_event_type", 1),
        ("events", "unparseable_timestamp", 1),
    ]
    counted = [
        (table, reason, n)
        for table, c in summary.tables.items()
        for reason, n in sorted(c.quarantined.items())
    ]
    assert plotted == counted
    con = duckdb.connect(str(store), read_only=True)
    try:
        stored = con.execute(
            "SELECT table_name, reason, count(*) FROM quarantine GROUP BY ALL ORDER BY ALL"
        ).fetchall()
    finally:
        con.close()
    assert plotted == stored


def test_null_shares(ingested):
    _, report, _ = ingested
    shares = {(table, column): share for table, column, share in null_shares(report)}
    assert shares[("users", "country")] == pytest.approx(1 / 3, abs=1e-5)
    assert shares[("events", "item_id")] == pytest.approx(1 / 4)
    assert shares[("events", "session_id")] == 1.0
    assert shares[("events", "event_type")] == 0.0


def test_ingest_writes_the_html_next_to_the_markdown(ingested):
    summary, report, _ = ingested
    files = summary.report_files
    assert files.html == files.markdown.with_suffix(".html")
    page = files.html.read_text()
    assert page == (reports_dir() / "latest.html").read_text() == render_html(report)
    assert len(SVG.findall(page)) == 3
    assert "<h2>Rows per table</h2>" in page
    assert (
        "<td>events</td><td>7</td><td>4</td><td>3</td><td>sentinel_id: 1, unknown_event_type: 1, "
        "unparseable_timestamp: 1</td>"
    ) in page
    assert "<th>null rate</th>" in page and "<td>country</td><td>33.33%</td>" in page
    described = summary.describe()
    assert f"quality report: {files.markdown}" in described
    assert f"quality report with plots: {files.html}" in described


def test_data_values_are_escaped(tmp_path):
    events = f"u,t,e,i\n1,2014-04-22,{SCRIPT},a\n1,2014-04-22,PLAY,<b>x</b>\n"
    config = _dataset(tmp_path / "d", events, [SCRIPT, "PLAY"])
    page = ingest_dataset(config, tmp_path / "s.duckdb", progress=False).report_files.html
    text = page.read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<script" not in text and "<b>" not in text
    assert len(SVG.findall(text)) == 3  # the type's name does not break the plot's legend


def test_quality_writes_a_missing_html_and_prints_both_paths(ingested, capsys):
    summary, report, store = ingested
    # A report written before the HTML page existed: no HTML, no events per day in the JSON.
    old = {k: v for k, v in report.items() if k != "events_per_day"}
    for stem in (summary.ingest_id, "latest"):
        (reports_dir() / f"{stem}.json").write_text(json.dumps(old))
        (reports_dir() / f"{stem}.html").unlink()
    files = latest_report_files(store=store)
    assert files == summary.report_files
    assert files.html.read_text() == render_html(report)  # events per day read from the store

    files.html.unlink()
    assert main(["quality"]) == 0  # the default store is elsewhere: no events per day plot
    out = capsys.readouterr().out
    assert out.startswith("# Data quality: html_case")
    assert out.endswith(
        f"quality report: {files.markdown}\nquality report with plots: {files.html}\n"
    )
    page = files.html.read_text()
    assert "events per day: not in this report" in page
    assert len(SVG.findall(page)) == 2


def test_the_page_names_stray_months_and_gives_every_rename(ingested):
    _, report, _ = ingested
    changed = {
        **report,
        "timestamp_coverage": [
            {"month": "1970-01", "events": 1},
            *({"month": f"2024-0{m}", "events": 100} for m in range(1, 7)),
        ],
        "event_types": [{"event_type": f"Song {n}", "events": 10} for n in range(7)],
    }
    page = render_html(changed)
    assert "1 event(s) in 1970-01, 648 months before the other events" in page
    assert "timestamp_range: {min: &quot;2024-01-01&quot;, max: &quot;2024-07-01&quot;}" in page
    block = re.search(r"<pre>(.*?)</pre>", page, re.S).group(1).replace("&quot;", '"')
    assert yaml.safe_load(block)["rules"]["event_types"]["rename"] == {
        f"Song {n}": f"Song_{n}" for n in range(7)
    }
