"""An ingest that keeps too few rows of a table is refused and leaves the store as it was."""

from __future__ import annotations

import pytest

from contracts.workspace import event_store_path, reports_dir
from events.ingest import ConfigError, ingest_dataset
from events.ingest.load import PartialIngestError
from events.ingest.summary import TableCounts
from events.quality import load_latest_report
from events.quality.render import render_markdown
from usagecast_cli.main import main

GOOD = "uid,ts,page,length\n1,2014-04-22 03:53,PLAY,10\n2,2014-04-23,SKIP,3.5\n"
# The export switched to day-first dates: no row matches the declared format.
DAY_FIRST = (
    "uid,ts,page,length\n1,22/04/2014,PLAY,10\n2,23/04/2014,SKIP,3.5\n3,24/04/2014,PLAY,1\n"
)


def test_all_rows_unparseable_exits_2_and_keeps_the_previous_store(dataset, digest_of, capsys):
    store = event_store_path()
    assert main(["ingest", str(dataset(files={"events.csv": GOOD})), "--no-progress"]) == 0
    before = digest_of(store)
    report_before = load_latest_report()
    capsys.readouterr()

    path = dataset(files={"events.csv": DAY_FIRST})
    assert main(["ingest", str(path), "--no-progress"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "events: 0 of 3 rows accepted (0.0%; quarantined: unparseable_timestamp 3)" in error
    assert "rules.min_accepted_share 50%" in error and "--allow-partial" in error
    assert digest_of(store) == before
    assert load_latest_report() == report_before  # `usagecast quality` still shows the store
    attempts = sorted(p.name for p in reports_dir().glob("*.md") if p.stem != "latest")
    assert len(attempts) == 2  # the refused attempt's report is kept for the user to read
    refused = next(p for p in reports_dir().glob("*.md") if "Refused" in p.read_text())
    assert refused.name in error

    assert main(["ingest", str(path), "--no-progress", "--allow-partial"]) == 0
    assert digest_of(store) != before
    assert "unparseable_timestamp: 3" in capsys.readouterr().out


def test_a_share_below_the_configured_threshold_is_refused(dataset, store, base_config):
    events = GOOD + "3,2014-04-24,NOPE,1\n"  # 2 of 3 accepted: 67%
    strict = base_config()
    strict["rules"]["min_accepted_share"] = 0.8
    with pytest.raises(PartialIngestError, match=r"events: 2 of 3 .*unknown_event_type 1.*80%"):
        ingest_dataset(dataset({"events.csv": events}, strict), store, progress=False)
    assert not store.exists()
    summary = ingest_dataset(dataset({"events.csv": events}), store, progress=False)
    assert summary.tables["events"].accepted == 2  # 67% passes the default 50%


def test_the_users_table_is_checked_too(dataset, store):
    users = "id,registration,city\n1,2014-01-02,Paris\n1,2014-01-02,Paris\n1,2014-01-02,Oslo\n"
    with pytest.raises(PartialIngestError, match=r"users: 1 of 3 .*duplicate_user 2"):
        ingest_dataset(dataset({"users.csv": users}), store, progress=False)


@pytest.mark.parametrize("share", [-0.1, 1.5, "half", True])
def test_min_accepted_share_must_be_a_fraction(dataset, store, base_config, share):
    with pytest.raises(ConfigError, match=r"rules\.min_accepted_share` must be a number"):
        ingest_dataset(
            dataset(config=base_config(rules={"min_accepted_share": share})), store, False
        )


def test_an_events_source_that_keeps_too_few_rows_is_refused_by_name(dataset, store, base_config):
    """A payments export keyed by the billing system's customer id matches no user: the
    events table as a whole keeps most rows, so a source that keeps none is refused."""
    config = base_config()
    config["events"].append(
        {
            "files": "payments.csv",
            "event_type": "PLAY",
            "columns": {"user_id": "customer", "timestamp": "paid_at"},
        }
    )
    plays = "uid,ts,page,length\n" + "".join(f"{u},2014-04-2{u},PLAY,1\n" for u in (1, 2, 3))
    files = {"events.csv": plays, "payments.csv": "customer,paid_at\ncus_1,2014-04-24\n"}
    with pytest.raises(PartialIngestError) as refused:
        ingest_dataset(dataset(files, config), store, progress=False)
    assert str(refused.value).count(" rows accepted ") == 1  # the table keeps 3 of 4
    assert (
        "dataset.yaml: events[1] (payments.csv): 0 of 1 rows accepted (0.0%; quarantined: "
        "unknown_user 1; the report shows an unknown id beside one of the users table's), "
        "below rules.min_accepted_share 50%"
    ) in str(refused.value)
    assert not store.exists()

    summary = ingest_dataset(dataset(files, config), store, progress=False, allow_partial=True)
    assert summary.tables["events"] == TableCounts(4, 3, {"unknown_user": 1})
    assert (
        "    events[0] (events.csv): read 3  accepted 3  quarantined 0\n"
        "    events[1] (payments.csv): read 1  accepted 0  quarantined 1\n"
    ) in summary.describe()
    report = load_latest_report()
    assert report["source_counts"] == {
        "events[0]": {"files": "events.csv", "read": 3, "accepted": 3, "quarantined": {}},
        "events[1]": {
            "files": "payments.csv",
            "read": 1,
            "accepted": 0,
            "quarantined": {"unknown_user": 1},
        },
    }
    page = render_markdown(report)
    assert "| events[1] (payments.csv) | 1 | 0 | 1 | unknown_user: 1 |" in page
    assert (
        "unknown users (quarantined as unknown_user): ids such as events 'cus_1', events[1] "
        "'cus_1'; the users table's ids are such as '1'"
    ) in page


def test_zero_padded_user_ids_match_with_strip_leading_zeros(dataset, base_config, store, query):
    """SAP pads customer numbers to ten digits; a spreadsheet saved from another export drops
    the zeros. With the rule both read as one user, everywhere a user id is read."""
    config = base_config()
    config["rules"] = {"strip_leading_zeros": True, "sentinel_ids": ["0"]}
    config["users"]["attributes"] = {
        "invited_by": {"column": "city", "kind": "static", "dtype": "user_id"}
    }
    users = "id,registration,city\n100042,2014-01-02,0000100043\n0000100043,2014-01-03,\n"
    events = "uid,ts,page,length\n0000100042,2014-04-22,PLAY,1\n100043,2014-04-23,PLAY,1\n"
    events += "000,2014-04-24,PLAY,1\n"
    path = dataset({"users.csv": users, "events.csv": events}, config=config)
    summary = ingest_dataset(path, store, progress=False)
    assert summary.tables["events"].quarantined == {"sentinel_id": 1}  # `000` is `0`
    assert query(store, "SELECT user_id FROM events ORDER BY 1") == [("100042",), ("100043",)]
    assert query(store, "SELECT user_id, invited_by FROM users ORDER BY 1") == [
        ("100042", "100043"),
        ("100043", None),
    ]


def test_unknown_ids_that_differ_by_leading_zeros_or_case_are_said_to(dataset, store, base_config):
    """A second export written by a tool that pads ids (`0001`) or upper-cases them."""
    users = "id,registration,city\n1,2014-01-02,Paris\nab7,2014-01-03,Oslo\n"
    events = (
        "uid,ts,page,length\n0001,2014-04-22,PLAY,1\nAB7,2014-04-23,PLAY,1\n9,2014-04-24,PLAY,1\n"
    )
    with pytest.raises(PartialIngestError) as refused:
        ingest_dataset(dataset({"users.csv": users, "events.csv": events}), store, progress=False)
    assert (
        "2 of the unknown ids match a user's once leading zeros and case are ignored: the "
        "files write ids differently (rules.strip_leading_zeros: true reads zero-padded "
        "numbers as one)"
    ) in str(refused.value)
    assert "0001" not in str(refused.value)  # errors quote no data; the report does
    report = next(p for p in reports_dir().glob("*.md") if "Refused" in p.read_text())
    assert (
        "2 of them match a user's once leading zeros and case are ignored ('0001' and '1')"
        in report.read_text()
    )
