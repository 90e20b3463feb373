"""The data-quality report written by each ingest, and `show_latest_report`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from contracts.workspace import reports_dir
from events.ingest import ingest_dataset
from events.ingest.summary import IngestSummary
from events.quality import NoReportError, load_latest_report, show_latest_report
from events.quality.render import count_rows

USERS = "id,registration,country\n1,2014-01-02,FR\n2,2014-01-03,\n3,2014-01-04,NO\n"


def _write(folder, events: str):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "users.csv").write_text(USERS)
    (folder / "events.csv").write_text(events)
    config = {
        "name": "quality_case",
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
        "rules": {
            "sentinel_ids": ["-1"],
            "event_types": {"allowed": ["PLAY", "SKIP"]},
            "timestamp_range": {"min": "2014-01-01"},
        },
    }
    (folder / "dataset.yaml").write_text(yaml.safe_dump(config))
    return folder / "dataset.yaml"


def test_report_figures(tmp_path):
    events = "u,t,e,i\n" + "".join(
        [
            "1,2014-04-22,PLAY,a\n",
            "1,2014-04-23,PLAY,-1\n",
            "1,2014-05-01,SKIP,b\n",
            "2,2014-05-02,PLAY,a\n",
            "2,2013-05-02,PLAY,a\n",
            "-1,2014-05-02,PLAY,a\n",
        ]
        + [f"1,2014-06-01,BAD{i},a\n" for i in range(25)]
    )
    ingest_dataset(
        _write(tmp_path / "d", events), tmp_path / "s.duckdb", progress=False, allow_partial=True
    )
    report = load_latest_report()

    assert report["dataset"] == "quality_case"
    assert report["counts"]["events"]["quarantined"] == {
        "unknown_event_type": 25,
        "timestamp_out_of_range": 1,
        "sentinel_id": 1,
    }
    assert report["timestamp_coverage"] == [
        {"month": "2014-04", "events": 2},
        {"month": "2014-05", "events": 2},
    ]
    assert report["event_types"] == [
        {"event_type": "PLAY", "events": 3, "with_area": 0, "with_value": 0},
        {"event_type": "SKIP", "events": 1, "with_area": 0, "with_value": 0},
    ]
    assert report["users_without_events"] == 1
    per_user = report["events_per_user"]
    assert (per_user["users"], per_user["min"], per_user["max"], per_user["p50"]) == (3, 0, 3, 1)
    assert report["sentinel_counts"]["events"] == {"user_id": 1, "session_id": 0, "item_id": 1}
    assert report["out_of_range_counts"] == {"timestamp_out_of_range": 1, "value_out_of_range": 0}
    country = report["columns"]["users"]["columns"]["country"]
    assert country == {
        "null_rate": pytest.approx(1 / 3, abs=1e-5),
        "distinct": 2,
        "min": "FR",
        "max": "NO",
    }
    examples = report["quarantine_examples"]["unknown_event_type"]
    assert len(examples) == 20
    assert examples[0]["source_row"] == 7
    assert json.loads(examples[0]["raw"]) == {"u": "1", "t": "2014-06-01", "e": "BAD0", "i": "a"}


def test_files_and_latest(tmp_path):
    with pytest.raises(NoReportError):
        show_latest_report()
    first = ingest_dataset(
        _write(tmp_path / "a", "u,t,e,i\n1,2014-04-22,PLAY,a\n"),
        tmp_path / "s.duckdb",
        progress=False,
    )
    second = ingest_dataset(
        _write(tmp_path / "b", "u,t,e,i\n2,2014-04-22,SKIP,a\n"),
        tmp_path / "s.duckdb",
        progress=False,
    )
    names = sorted(p.name for p in reports_dir().iterdir())
    assert names == sorted(
        [f"{s.ingest_id}.{ext}" for s in (first, second) for ext in ("json", "md", "html")]
        + ["latest.json", "latest.md", "latest.html"]
    )
    page = show_latest_report()
    assert page == (reports_dir() / "latest.md").read_text()
    assert second.ingest_id in page and first.ingest_id not in page
    assert "users without events: 2 of 3" in page


def test_the_reasons_of_rows_not_meant_to_be_kept_are_marked_as_no_error(tmp_path):
    """A spreadsheet's empty row and a report's totals are counted as the ingest's summary
    counts them: not errors. A report written before the mark existed shows none."""
    events = "u,t,e,i\n1,2014-04-22,PLAY,a\n,,,\nTotal,,,\n1,2014-04-23,DANCE,a\n"
    ingest_dataset(
        _write(tmp_path / "d", events), tmp_path / "s.duckdb", progress=False, allow_partial=True
    )
    row = next(line for line in show_latest_report().splitlines() if line.startswith("| events"))
    assert row.endswith(
        "| blank_row: 1 (not an error), totals_row: 1 (not an error), unknown_event_type: 1 |"
    )
    report = load_latest_report()
    del report["not_errors"]
    (events_row,) = [row for row in count_rows(report) if row[0] == "events"]
    assert events_row[-1] == "blank_row: 1, totals_row: 1, unknown_event_type: 1"


def test_event_types_a_spec_cannot_name_are_listed_with_their_rename(tmp_path):
    plain = "u,t,e,i\n1,2014-04-22,PLAY,a\n2,2014-04-23,SKIP,b\n"
    summary = ingest_dataset(
        _write(tmp_path / "plain", plain), tmp_path / "a.duckdb", progress=False
    )
    assert "a spec cannot name" not in summary.quality_text

    path = _write(tmp_path / "spaced", "u,t,e,i\n1,2014-04-22,Add to Cart,a\n")
    config = yaml.safe_load(path.read_text())
    config["rules"]["event_types"]["allowed"].append("Add to Cart")
    path.write_text(yaml.safe_dump(config))
    summary = ingest_dataset(path, tmp_path / "b.duckdb", progress=False)
    assert (
        "event types a spec cannot name (letters, digits, _; starting with a letter): 1; rename "
        'them in the dataset config: rules: {event_types: {rename: {"Add to Cart": Add_to_Cart}}}'
    ) in summary.quality_text.splitlines()[-1]


def test_the_reports_rename_block_pasted_into_the_config_leaves_no_unnameable_type(tmp_path):
    names = ["Add to Cart", "Song Played", "On!", "12 months", "Sign-Up", "Café visit", "PLAY"]
    events = "u,t,e,i\n" + "".join(f"1,2014-04-2{n},{name},a\n" for n, name in enumerate(names))
    path = _write(tmp_path / "spaced", events)
    config = yaml.safe_load(path.read_text())
    del config["rules"]["event_types"]
    path.write_text(yaml.safe_dump(config))
    summary = ingest_dataset(path, tmp_path / "a.duckdb", progress=False)
    assert "(and 1 more: the quality report lists every rename)" in summary.quality_text

    page = summary.report_files.markdown.read_text(encoding="utf-8")
    block = yaml.safe_load(page.split("```yaml\n")[1].split("```")[0])
    assert block["rules"]["event_types"]["rename"] == {
        "Add to Cart": "Add_to_Cart",
        "Song Played": "Song_Played",
        "On!": "On",  # quoted in the block: bare, YAML would read a boolean
        "12 months": "e_12_months",
        "Sign-Up": "Sign_Up",
        "Café visit": "Cafe_visit",
    }
    config["rules"].update(block["rules"])
    path.write_text(yaml.safe_dump(config))
    summary = ingest_dataset(path, tmp_path / "b.duckdb", progress=False)
    assert "a spec cannot name" not in summary.quality_text
    assert summary.tables["events"].accepted == len(names)


def _events_and_users(name: str, event_columns: dict, attributes: dict | None = None) -> dict:
    """A dataset config over events.csv (`event_columns`) and users.csv (`id`, signup `s`)."""
    users = {"files": "users.csv", "columns": {"user_id": "id", "signup_time": "s"}}
    if attributes:
        users["attributes"] = attributes
    return {
        "name": name,
        "events": {"files": "events.csv", "columns": event_columns},
        "users": users,
    }


def _orders_and_items(attributes: dict) -> dict:
    """A dataset config over orders.csv (ORDER events: `u`, `t`, `sku`) and a catalogue of
    versions, items.csv (`sku`, valid from `since`) with `attributes`."""
    return {
        "name": "shop",
        "events": {
            "files": "orders.csv",
            "event_type": "ORDER",
            "columns": {"user_id": "u", "timestamp": "t", "item_id": "sku"},
        },
        "items": {
            "files": "items.csv",
            "columns": {"item_id": "sku", "valid_from": "since"},
            "attributes": attributes,
        },
    }


def _ingest(tmp_path: Path, config: dict, files: dict[str, str]) -> IngestSummary:
    """Ingest `files` (name -> text) under `config` into a fresh store; the ingest's summary."""
    folder = tmp_path / "data"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    (folder / "dataset.yaml").write_text(yaml.safe_dump(config))
    return ingest_dataset(folder / "dataset.yaml", tmp_path / "e.duckdb", progress=False)


def test_users_whose_events_start_long_before_their_signup_are_named(tmp_path):
    """A `signup` column that is an upgrade date: user 1's events start two months earlier."""
    config = _events_and_users("early", {"user_id": "u", "timestamp": "t", "event_type": "e"})
    files = {
        "users.csv": "id,s\n1,2024-03-01 10:00\n2,2024-01-01\n",
        "events.csv": "u,t,e\n1,2024-01-05 09:00,PLAY\n1,2024-03-02,PLAY\n"
        "2,2024-01-01 12:00,PLAY\n",
    }
    summary = _ingest(tmp_path, config, files)
    line = (
        "users whose first event is over a day before their signup_time: 1 of 2 (user 1: "
        "first event 2024-01-05 09:00:00, signup 2024-03-01 10:00:00); is that column the signup?"
    )
    assert line in summary.report_files.markdown.read_text(encoding="utf-8")
    assert (  # the terminal's summary counts them
        "users whose first event is over a day before their signup_time: 1 of 2; is that"
        in summary.quality_text
    )
    assert load_latest_report()["events_before_signup"]["users"] == 1


def test_events_before_their_items_first_version_are_counted(tmp_path):
    """A catalogue of versions whose snapshots began in March: the January orders of its
    items read no price, and the report says how many and from when the history runs."""
    config = _orders_and_items({"price": {"column": "price", "dtype": "numeric"}})
    files = {
        "items.csv": "sku,price,since\na,1.5,2024-03-01\na,2.5,2024-04-01\n",
        "orders.csv": "u,t,sku\n1,2024-01-05,a\n1,2024-03-02,a\n2,2024-01-09,a\n"
        "2,2024-01-09 10:00,zz\n",
    }
    summary = _ingest(tmp_path, config, files)
    line = (
        "events before their item's first version in the catalogue: 2 of 3 that name a "
        "catalogued item (its history starts 2024-03-01 00:00:00); item_mean reads no attribute"
    )
    assert line in summary.quality_text
    assert line in summary.report_files.markdown.read_text(encoding="utf-8")
    assert load_latest_report()["events_before_item_versions"] == {
        "events": 2,
        "of": 3,
        "catalogue_from": "2024-03-01 00:00:00",
    }


def test_the_events_per_value_of_each_categorical_item_attribute_read_as_of_time(tmp_path):
    """What `features new` counts per category: events per value of a static categorical
    item attribute, each event reading its item's version at its time (`a` was a tea in
    January and a coffee from March); numeric and snapshot attributes are not listed."""
    config = _orders_and_items(
        {
            "type": {"column": "type", "dtype": "categorical"},
            "status": {"column": "status", "dtype": "categorical", "kind": "snapshot"},
            "price": {"column": "price", "dtype": "numeric"},
        }
    )
    files = {
        "items.csv": "sku,type,status,price,since\na,tea,on,1,2024-01-01\n"
        "a,coffee,on,2,2024-03-01\nb,coffee,off,3,2024-01-01\n",
        "orders.csv": "u,t,sku\n1,2024-01-05,a\n1,2024-03-02,a\n2,2024-01-09,b\n"
        "2,2024-02-09,a\n2,2024-02-10,zz\n",
    }
    _ingest(tmp_path, config, files)
    assert load_latest_report()["item_value_events"] == {
        "type": {
            "values": 2,
            "top": [{"value": "coffee", "events": 2}, {"value": "tea", "events": 2}],
        }
    }


def test_values_that_differ_only_in_letter_case_are_named_with_their_rows(tmp_path):
    """`Free` and `free` plans, `Home` and `home` areas and `play` beside `PLAY` are stored as
    written (nothing is coerced) and named, each with how to merge them."""
    config = _events_and_users(
        "cased",
        {"user_id": "u", "timestamp": "t", "event_type": "e", "area": "a"},
        {"plan": {"column": "plan", "kind": "static", "dtype": "categorical"}},
    )
    files = {
        "users.csv": "id,s,plan\n1,2024-01-01,free\n2,2024-01-01,Free\n3,2024-01-01,free\n"
        "4,2024-01-01,Pro\n",
        "events.csv": "u,t,e,a\n1,2024-01-05,PLAY,home\n2,2024-01-06,play,Home\n"
        "3,2024-01-07,PLAY,search\n",
    }
    summary = _ingest(tmp_path, config, files)
    lines = [
        "events.event_type: values that differ only in letter case, counted apart by features: "
        "'PLAY' 2, 'play' 1 (rules.event_types.rename merges them)",
        "events.area: values that differ only in letter case, counted apart by features: "
        "'Home' 1, 'home' 1 (a derived area, columns.area: {expr: 'lower(...)'}, merges them)",
        "users.plan: values that differ only in letter case, counted apart by features: "
        "'free' 2, 'Free' 1 (a spec's derived_attributes, lower(plan), merges them)",
    ]
    for line in lines:
        assert line in summary.quality_text
        assert line in summary.report_files.markdown.read_text(encoding="utf-8")
    assert load_latest_report()["case_variants"]["users.plan"] == [
        [{"value": "free", "rows": 2}, {"value": "Free", "rows": 1}]
    ]


def test_user_ids_that_stand_for_no_user_are_named_when_kept_as_users(tmp_path):
    """An export whose placeholder ids the config does not declare (beyond `dataset new`'s
    sample): each is one user who did what no one did, named with how to read it as none."""
    config = {
        "name": "placeholders",
        "events": {
            "files": "events.csv",
            "columns": {"user_id": "u", "timestamp": "t", "event_type": "e"},
        },
    }
    events = "u,t,e\n1,2024-01-05,PLAY\nNULL,2024-01-06,PLAY\nNULL,2024-01-07,PLAY\n"
    events += "undefined,2024-01-08,PLAY\nnullable,2024-01-09,PLAY\n"
    summary = _ingest(tmp_path, config, {"events.csv": events})
    line = (
        "user ids that stand for no user, kept as users: 'NULL' on 2 events, 'undefined' on 1 "
        "event (list them in rules.sentinel_ids, or a source's missing_texts, to read them as "
        "no user)"
    )
    assert line in summary.quality_text
    assert line in summary.report_files.markdown.read_text(encoding="utf-8")
    config["rules"] = {"sentinel_ids": ["NULL", "undefined"], "min_accepted_share": 0.4}
    (tmp_path / "declared").mkdir()
    declared = _ingest(tmp_path / "declared", config, {"events.csv": events})
    assert "stand for no user" not in declared.quality_text


def test_the_event_types_table_counts_areas_and_values_only_when_some_event_has_one():
    from events.quality.render import event_type_table

    types = [
        {"event_type": "PLAY", "events": 5, "with_area": 0, "with_value": 0},
        {"event_type": "PLAN", "events": 2, "with_area": 2, "with_value": 0},
    ]
    assert event_type_table({"event_types": types}) == (
        ["event type", "events", "with an area"],
        [["PLAY", 5, 0], ["PLAN", 2, 2]],
    )
    without = [{**t, "with_area": 0} for t in types]
    assert event_type_table({"event_types": without}) == (
        ["event type", "events"],
        [["PLAY", 5], ["PLAN", 2]],
    )
    valued = [{**types[0], "with_value": 4}, {"event_type": "OLD", "events": 1}]
    assert event_type_table({"event_types": valued}) == (
        ["event type", "events", "with a value"],
        [["PLAY", 5, 4], ["OLD", 1, 0]],
    )


@pytest.mark.parametrize(
    ("granularity", "quarantined", "said"),
    [
        ("date", {"duplicate_event": 255}, True),
        ("timestamp", {"duplicate_event": 255}, False),  # equal to the second: a resend
        ("date", {"unknown_user": 3}, False),
        (None, {"duplicate_event": 1}, False),  # a report from before granularity
    ],
)
def test_equal_rows_of_date_only_times_are_told_they_may_be_two_events(
    granularity, quarantined, said
):
    from events.quality.render import same_day_duplicate_lines

    report = {"counts": {"events": {"read": 300, "accepted": 45, "quarantined": quarantined}}}
    if granularity:
        report["granularity"] = granularity
    lines = same_day_duplicate_lines(report)
    assert bool(lines) == said
    if said:
        assert lines[0].startswith("255 events were quarantined as duplicate_event")
        assert "set `dedupe: false`" in lines[0]
