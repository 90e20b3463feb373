"""`usagecast ingest` and `usagecast quality` through the real entry point."""

from __future__ import annotations

from usagecast_cli.main import main


def test_ingest_prints_the_summary_and_exits_0_with_quarantined_rows(dataset, capsys):
    events = "uid,ts,page,length\n1,2014-04-22,PLAY,1\n1,2014-04-22,NOPE,1\n"
    code = main(["ingest", str(dataset(files={"events.csv": events})), "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0
    assert "events: read 2  accepted 1  quarantined 1" in out
    assert "unknown_event_type: 1" in out
    assert "quality report:" in out

    assert main(["ingest", str(dataset(files={"events.csv": events})), "--no-progress"]) == 0
    assert "nothing reloaded" in capsys.readouterr().out


def test_quality_shows_the_latest_report(dataset, capsys):
    assert main(["quality"]) == 2
    assert "no quality report yet" in capsys.readouterr().err
    main(["ingest", str(dataset()), "--no-progress"])
    capsys.readouterr()
    assert main(["quality"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# Data quality: tiny")
    assert "## Event types" in out
