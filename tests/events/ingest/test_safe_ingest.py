"""An ingest that keeps too few rows of a table is refused and leaves the store as it was."""

from __future__ import annotations

import pytest

from contracts.workspace import event_store_path, reports_dir
from events.ingest import ConfigError, ingest_dataset
from events.ingest.load import PartialIngestError
from events.quality import load_latest_report
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
