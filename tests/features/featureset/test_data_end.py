"""End of data by granularity, the spec's dataset against the store's, and a store without a
users table: feature sets and scoring rows on the stores real exports give."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml
from featureset_testlib import ts, write_spec, write_store

from contracts.workspace import event_store_path
from events.ingest import ingest_dataset
from features.featureset import build_feature_set
from features.featureset.build import DatasetMismatchError
from features.featureset.compiler import compile_feature_query, render
from features.featureset.scoring import ScoringCutoffError, build_scoring_rows
from features.featureset.spec import parse_spec
from usagecast_cli.main import main

# A 7-day label window from 2024-01-25 ends at 2024-02-01 00:00, the midnight after the data's
# last date (2024-01-31).
SPEC = """
name: buyers
version: 1
dataset: test
cutoffs: {calendar: {start: 2024-01-25, end: 2024-01-25, every: 7}}
label: {kind: event_within, event_type: BUY, horizon_days: 7}
features:
  - {kind: count, event_types: [PLAY], windows: [7]}
"""
USERS = [(f"u{k}", ts("2024-01-01"), {}) for k in range(4)]


def daily_log(last: dt.datetime) -> list[tuple]:
    """PLAYs every day of January by four users; u0 buys on the 31st (at `last`)."""
    events = [
        (f"u{k}", dt.datetime(2024, 1, day), "PLAY") for k in range(4) for day in range(1, 31)
    ]
    return [*events, ("u0", last, "BUY")]


@pytest.fixture
def store_of(tmp_path, sets_dir):
    write_spec(sets_dir, SPEC)

    def make(last: dt.datetime, granularity: str, dataset: str = "test"):
        path = tmp_path / f"{granularity}-{last:%H%M}-{dataset}.duckdb"
        return write_store(path, daily_log(last), USERS, dataset=dataset, granularity=granularity)

    return make


def test_date_only_data_counts_its_last_day_as_complete(store_of, sets_dir):
    store = store_of(ts("2024-01-31 00:00"), "date")
    built = build_feature_set("buyers@v1", store_path=store, sets_dir=sets_dir)
    assert built.manifest.to_dict()["eligibility"]["censored"] == 0
    assert built.rows == 4 and built.manifest.to_dict()["positives"] == 1
    assert built.manifest.to_dict()["end_of_data"] == "2024-02-01T00:00:00"
    assert built.manifest.to_dict()["data_granularity"] == "date"
    assert "midnight after the last date" in built.manifest.to_dict()["censored"]["rule"]


def test_timestamp_data_ending_that_day_at_noon_is_still_censored(store_of, sets_dir):
    store = store_of(ts("2024-01-31 12:00"), "timestamp")
    built = build_feature_set("buyers@v1", store_path=store, sets_dir=sets_dir)
    assert built.manifest.to_dict()["eligibility"]["censored"] == 4 and built.rows == 0
    assert built.manifest.to_dict()["end_of_data"] == "2024-01-31T12:00:00"


def test_date_and_timestamp_builds_of_one_digest_do_not_share_a_fingerprint(store_of, sets_dir):
    dated = build_feature_set(
        "buyers@v1", store_path=store_of(ts("2024-01-31"), "date"), sets_dir=sets_dir
    )
    timed = build_feature_set(
        "buyers@v1", store_path=store_of(ts("2024-01-31"), "timestamp"), sets_dir=sets_dir
    )
    assert dated.fingerprint != timed.fingerprint


def test_scoring_on_date_only_data_defaults_to_the_midnight_after_the_last_date(
    store_of, sets_dir
):
    store = store_of(ts("2024-01-31 00:00"), "date")
    scored = build_scoring_rows("buyers@v1", store_path=store, sets_dir=sets_dir)
    assert scored.manifest.to_dict()["cutoff"] == "2024-02-01T00:00:00"
    assert scored.manifest.to_dict()["end_of_data"] == "2024-02-01T00:00:00"
    with pytest.raises(ScoringCutoffError, match=r"up to 2024-02-01 .*last event, 2024-01-31"):
        build_scoring_rows("buyers@v1", "2024-02-02", store_path=store, sets_dir=sets_dir)


def test_data_end_sql_by_granularity_in_both_dialects():
    spec = parse_spec(yaml.safe_load(SPEC), "spec")
    dated = compile_feature_query(spec, granularity="date")
    assert "MAX(event_date) AS TIMESTAMP) + INTERVAL '1' DAY" in render(dated, "duckdb")
    assert "MAX(event_date) AS TIMESTAMP) + INTERVAL '1' DAY" in render(dated, "spark")
    assert "MAX(event_time) AS end_time" in render(compile_feature_query(spec), "duckdb")


def test_a_spec_for_another_dataset_is_refused_at_build_and_scoring(store_of, sets_dir):
    store = store_of(ts("2024-01-31 12:00"), "timestamp", dataset="shop")
    for build in (build_feature_set, build_scoring_rows):
        with pytest.raises(DatasetMismatchError, match=r"dataset 'test'.*holds dataset 'shop'"):
            build("buyers@v1", store_path=store, sets_dir=sets_dir)


def test_the_cli_refuses_a_spec_for_another_dataset(store_of, capsys):
    event_store_path().parent.mkdir(parents=True, exist_ok=True)
    store_of(ts("2024-01-31 12:00"), "timestamp", dataset="shop").rename(event_store_path())
    assert main(["features", "build", "premium_30d@v1"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "dataset 'music_demo'" in error and "holds dataset 'shop'" in error


# Invoice lines with float-like customer ids and date-only times, no users table; one customer
# cancels on the last date.
LINES = "Invoice,Customer,Country,Day\n" + "".join(
    f"{k}{d:02d},{customer}.0,{country},2024-01-{d:02d}\n"
    for k, (customer, country) in enumerate([(17850, "UK"), (13047, "France"), (12583, "Norway")])
    for d in range(1, 29)
)
CANCELS = "Invoice,Customer,Country,Day\nC1,17850,UK,2024-01-28\n"
SHOP = """
name: shop
events:
  - files: lines.csv
    event_type: purchase
    columns: {user_id: Customer, timestamp: Day}
    user_attributes: {country: {column: Country, kind: static, dtype: categorical}}
  - files: cancels.csv
    event_type: cancel
    columns: {user_id: Customer, timestamp: Day}
"""
SHOP_SPEC = """
name: cancels
version: 1
dataset: shop
cutoffs: {calendar: {start: 2024-01-22, end: 2024-01-22, every: 7}}
label: {kind: event_within, event_type: cancel, horizon_days: 7}
features:
  - {kind: count, event_types: [purchase], windows: [7]}
  - {kind: attribute, names: [country]}
"""


def test_a_feature_set_builds_on_a_store_without_a_users_table(tmp_path, sets_dir):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "lines.csv").write_text(LINES)
    (folder / "cancels.csv").write_text(CANCELS)
    (folder / "shop.yaml").write_text(SHOP)
    store = tmp_path / "events.duckdb"
    ingest_dataset(folder / "shop.yaml", store, progress=False)
    write_spec(sets_dir, SHOP_SPEC)
    built = build_feature_set("cancels@v1", store_path=store, sets_dir=sets_dir)
    assert built.manifest.to_dict()["data_granularity"] == "date"
    # [Jan 22, Jan 29) ends at the midnight after the last date: complete, not censored.
    assert built.manifest.to_dict()["eligibility"]["censored"] == 0
    assert built.rows == 3 and built.manifest.to_dict()["positives"] == 1
    country = next(f for f in built.manifest.to_dict()["features"] if f["name"] == "country")
    assert country["levels"] == ["France", "Norway", "UK"]
