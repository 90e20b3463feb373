"""`usagecast features new | release | list` and `--specs DIR` on the commands taking NAME@vN."""

from __future__ import annotations

import os
from datetime import date

import pytest

from usagecast_cli.main import build_parser, main


def test_new_release_and_list_a_project_spec(tmp_path, capsys):
    assert main(["features", "new", "trial"]) == 0
    path = tmp_path / "specs" / "trial" / "v1.yaml"
    out = capsys.readouterr().out
    assert out.startswith(f"wrote {path}\nnext:") and "features build trial@v1" in out
    assert main(["features", "new", "trial"]) == 2
    assert "trial/v1.yaml already exists (project)" in capsys.readouterr().err

    assert main(["features", "list"]) == 0
    listing = capsys.readouterr().out
    assert f"trial@v1  project  {path}  (not built)" in listing
    assert "premium_30d@v1  shipped  " in listing

    assert main(["features", "release", "trial@v1"]) == 0
    assert "released trial@v1: hash " in capsys.readouterr().out
    path.write_text(path.read_text().replace("windows: [7, 30]", "windows: [14, 30]"))
    assert main(["features", "sql", "trial@v1"]) == 2
    assert "is released and locked in" in capsys.readouterr().err
    assert main(["features", "release", "premium_30d@v1"]) == 2
    assert "is a shipped example" in capsys.readouterr().err


def test_specs_option_moves_the_project_folder_for_the_process(tmp_path, capsys, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    assert main(["features", "new", "trial", "--specs", str(elsewhere)]) == 0
    assert (elsewhere / "trial" / "v1.yaml").exists()
    assert os.environ["USAGECAST_SPECS"] == str(elsewhere)
    assert main(["features", "sql", "trial@v1", "--specs", str(elsewhere)]) == 0
    assert "SELECT" in capsys.readouterr().out
    monkeypatch.delenv("USAGECAST_SPECS")
    assert main(["features", "sql", "trial@v1"]) == 2
    assert "trial@v1: no spec at" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["features", "build", "x@v1"],
        ["features", "sql", "x@v1"],
        ["features", "list"],
        ["features", "new", "x"],
        ["features", "release", "x@v1"],
        ["tune", "x@v1"],
        ["promote", "--latest", "--feature-set", "x@v1"],
        ["score", "x@v1", "--model", "m", "--out", "o.parquet"],
        ["whatif", "--model", "m", "--user", "u"],
        ["whatif", "policy", "--model", "m", "--feature-set", "x@v1", "--change", "a *= 2"],
        ["analytics", "ltv", "--feature-set", "x@v1"],
        ["analytics", "segments", "--feature-set", "x@v1", "--k", "2"],
    ],
)
def test_every_command_taking_a_feature_set_accepts_specs(argv, tmp_path):
    args = build_parser().parse_args([*argv, "--specs", str(tmp_path)])
    assert args.specs == tmp_path


def test_specs_given_before_a_subcommand_is_kept():
    policy = ["policy", "--model", "m", "--feature-set", "x@v1", "--change", "a *= 2"]
    args = build_parser().parse_args(["whatif", "--specs", "own", *policy])
    assert str(args.specs) == "own"


def test_features_help_says_where_specs_are_looked_up(capsys):
    with pytest.raises(SystemExit):
        main(["features", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "./specs under the working directory" in text and "USAGECAST_SPECS" in text
    assert "shipped with usagecast" in text


@pytest.mark.parametrize("name", ["../../x", "/tmp/x", "a/b", ""])
def test_new_refuses_a_spec_name_that_is_not_one_file_name(tmp_path, capsys, name):
    before = {path for path in tmp_path.rglob("*")}
    assert main(["features", "new", name]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith(f"error: spec name {name!r}")
    assert {path for path in tmp_path.rglob("*")} == before
    assert main(["features", "build", f"{name}@v1"]) == 2
    assert "is not a feature-set reference" in capsys.readouterr().err


def _ingest(tmp_path, files: dict[str, str], config: dict) -> None:
    """Ingest an export of `files` with `config` into the workspace's event store."""
    import yaml

    from contracts.workspace import event_store_path
    from events.ingest import ingest_dataset

    export = tmp_path / "export"
    export.mkdir()
    for name, text in files.items():
        (export / name).write_text(text)
    (export / "dataset.yaml").write_text(yaml.safe_dump(config))
    ingest_dataset(export / "dataset.yaml", event_store_path(), progress=False)


def test_new_names_the_ingested_dataset_and_what_a_spec_can_use(tmp_path, capsys):
    import yaml

    files = {
        "users.csv": "id,joined,plan,seen\n1,2024-01-02,pro,17\n2,2024-01-03,free,3\n",
        "events.csv": "u,t,e\n1,2024-01-05,PLAY\n1,2024-02-06,Add to Cart\n2,2024-02-07,PLAY\n",
    }
    config = {
        "name": "shop",
        "events": {
            "files": "events.csv",
            "columns": {"user_id": "u", "timestamp": "t", "event_type": "e"},
        },
        "users": {
            "files": "users.csv",
            "columns": {"user_id": "id", "signup_time": "joined"},
            "attributes": {
                "plan": {"column": "plan", "kind": "static", "dtype": "categorical"},
                "seen": {"column": "seen", "kind": "snapshot", "dtype": "numeric"},
            },
        },
    }
    _ingest(tmp_path, files, config)
    assert main(["features", "new", "trial"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1:7] == [
        "your event store (dataset shop, event months 2024-01 .. 2024-02):",
        "  event types: PLAY 2, Add to Cart 1",
        "  event types a spec cannot name (letters, digits, _; starting with a letter): 1; "
        'rename them in the dataset config: rules: {event_types: {rename: {"Add to Cart": '
        "Add_to_Cart}}}",
        "  user attributes: plan, seen (snapshot: not a feature)",
        "filled in from your store: dataset; counted event types (PLAY); the gaps between PLAY "
        "events; user attribute features (plan)",
        "still placeholders: the label's event type and the cutoffs (too few days of events "
        "for three weekly cutoffs with two weeks of history before and the 30-day label "
        "after: set calendar dates by hand, or shorten the label's horizon_days)",
    ]
    spec = yaml.safe_load((tmp_path / "specs" / "trial" / "v1.yaml").read_text())
    assert spec["dataset"] == "shop"
    assert {"kind": "attribute", "names": ["plan"]} in spec["features"]  # not the snapshot

    assert main(["features", "new", "gone", "--label", "churn"]) == 0
    assert "still placeholders: the cutoffs" in capsys.readouterr().out  # no event type left
    spec = yaml.safe_load((tmp_path / "specs" / "gone" / "v1.yaml").read_text())
    assert spec["label"] == {"kind": "churn", "horizon_days": 30}


def test_new_on_two_months_of_events_asks_weekly(tmp_path, capsys):
    import yaml

    days = [f"2024-{month:02d}-{day:02d}" for month in (3, 4) for day in range(1, 29, 2)]
    events = "u,t,e\n" + "".join(f"{n % 5},{day},PLAY\n" for n, day in enumerate(days))
    users = "id,joined\n" + "".join(f"{u},2024-02-20\n" for u in range(5))
    _ingest(tmp_path, {"events.csv": events, "users.csv": users}, _events_and_users("app"))
    assert main(["features", "new", "weekly"]) == 0
    assert "cutoffs (calendar: {start: 2024-03-15, end: 2024-03-29, every: 7})" in (
        capsys.readouterr().out
    )
    spec = yaml.safe_load((tmp_path / "specs" / "weekly" / "v1.yaml").read_text())
    assert spec["cutoffs"]["calendar"]["every"] == 7
    assert main(["features", "build", "weekly@v1", "--no-progress"]) == 0
    assert "cutoffs 2024-03-15T00:00:00 .. 2024-03-29T00:00:00" in capsys.readouterr().out


def _events_and_users(name: str) -> dict:
    """A dataset config `name` of events.csv (u, t, e) and users.csv (id, joined)."""
    return {
        "name": name,
        "events": {
            "files": "events.csv",
            "columns": {"user_id": "u", "timestamp": "t", "event_type": "e"},
        },
        "users": {"files": "users.csv", "columns": {"user_id": "id", "signup_time": "joined"}},
    }


def test_new_after_signup_asks_each_user_once_at_signup_plus_the_days(tmp_path, capsys):
    import yaml

    signups = [f"2024-01-{day:02d}" for day in range(2, 8)]
    days = [f"2024-{month:02d}-{day:02d}" for month in (1, 2, 3) for day in range(8, 29, 3)]
    files = {
        "users.csv": "id,joined\n" + "".join(f"{u},{d}\n" for u, d in enumerate(signups)),
        "events.csv": "u,t,e\n"
        + "".join(f"{u},{d},PLAY\n" for u in range(6) for d in days[: 2 + 4 * u]),
    }
    config = _events_and_users("onboarding")
    _ingest(tmp_path, files, config)
    argv = ["features", "new", "onboard", "--label", "active_days_in_window"]
    assert main([*argv, "--after-signup", "7"]) == 0
    out = capsys.readouterr().out
    assert "cutoffs at each user's signup + 7 days (asked)" in out
    assert "still placeholders" not in out
    spec = yaml.safe_load((tmp_path / "specs" / "onboard" / "v1.yaml").read_text())
    assert spec["cutoffs"] == {"after_signup": {"offset_days": 7}}
    assert main(["features", "build", "onboard@v1", "--no-progress"]) == 0
    assert "rows 6  positives 5" in capsys.readouterr().out  # u0 is active on 1 day after


@pytest.mark.parametrize("kind", ["static", "snapshot"])
def test_item_mean_reads_static_item_attributes_and_refuses_a_snapshot(tmp_path, capsys, kind):
    files = {
        "users.csv": "id,joined\n1,2024-01-02\n2,2024-01-03\n",
        "events.csv": "u,t,e,song\n1,2024-01-05,PLAY,s1\n2,2024-01-20,PLAY,s2\n"
        "1,2024-03-10,PLAY,s1\n",
        "songs.csv": "song,plays\ns1,120\ns2,7\n",
    }
    config = _events_and_users("music")
    config["events"]["columns"]["item_id"] = "song"
    config["items"] = {
        "files": "songs.csv",
        "columns": {"item_id": "song"},
        "attributes": {"plays": {"column": "plays", "dtype": "numeric", "kind": kind}},
    }
    _ingest(tmp_path, files, config)
    spec = tmp_path / "specs" / "listens" / "v1.yaml"
    spec.parent.mkdir(parents=True)
    spec.write_text(
        "name: listens\nversion: 1\ndataset: music\n"
        "cutoffs: {calendar: {start: 2024-02-01, end: 2024-02-01, every: month}}\n"
        "label: {kind: churn, horizon_days: 30}\n"
        "features:\n  - {kind: item_mean, attribute: plays, windows: [30]}\n"
    )
    code = main(["features", "build", "listens@v1", "--no-progress"])
    err = capsys.readouterr().err
    if kind == "static":
        assert code == 0, err
    else:
        assert code == 2
        assert "item_mean reads item attribute(s) plays, a snapshot (read when the data" in err


def test_events_years_from_the_others_are_named_kept_out_of_the_starter_and_warned_of(
    tmp_path, capsys
):
    import yaml

    from contracts.workspace import event_store_path
    from events.ingest import ingest_dataset

    export = tmp_path / "export"
    export.mkdir()
    (export / "users.csv").write_text(
        "id,joined\n" + "".join(f"{u},2024-01-02\n" for u in range(50))
    )
    days = [f"2024-0{month}-{day:02d}" for month in range(1, 8) for day in range(3, 28, 4)]
    rows = [f"{u},{day},PLAY" for u in range(50) for day in days]  # 2,450 events
    rows += [f"{u},2024-0{u % 3 + 4}-15,BUY" for u in range(0, 50, 5)]
    rows += ["7,2031-05-01,PLAY", "8,2031-05-02,PLAY", "9,1970-01-01,PLAY"]
    (export / "events.csv").write_text("u,t,e\n" + "\n".join(rows) + "\n")
    config = _events_and_users("clocks")
    (export / "dataset.yaml").write_text(yaml.safe_dump(config))
    summary = ingest_dataset(export / "dataset.yaml", event_store_path(), progress=False)
    after = (
        "event times: 2 event(s) in 2031-05, 82 months after the other events "
        "(2024-01 .. 2024-07): a device clock set ahead?"
    )
    before = "event times: 1 event(s) in 1970-01, 648 months before the other events"
    rule = 'rules: {timestamp_range: {min: "2024-01-01", max: "2024-08-01"}}'
    quality = summary.quality_text
    assert after in quality and before in quality and rule in quality

    assert main(["features", "new", "trial"]) == 0
    assert after in capsys.readouterr().out
    path = tmp_path / "specs" / "trial" / "v1.yaml"
    spec = yaml.safe_load(path.read_text())
    assert spec["cutoffs"]["calendar"] == {  # within 2024-01 .. 2024-07, not to 2031
        "start": date(2024, 2, 1),
        "end": date(2024, 6, 1),
        "every": "month",
    }
    path.write_text(path.read_text().replace("PURCHASE", "BUY"))
    assert main(["features", "build", "trial@v1", "--no-progress"]) == 0
    warnings = capsys.readouterr().err.splitlines()
    assert f"warning: {after}" in "\n".join(warnings) and rule in warnings[-1]

    config["rules"] = yaml.safe_load(rule.removeprefix("rules: "))  # the line, as pasted
    (export / "dataset.yaml").write_text(yaml.safe_dump(config))
    summary = ingest_dataset(export / "dataset.yaml", event_store_path(), progress=False)
    assert summary.tables["events"].quarantined == {"timestamp_out_of_range": 3}
    assert "months after the other events" not in summary.quality_text
    assert main(["features", "build", "trial@v1", "--no-progress"]) == 0
    assert "warning" not in capsys.readouterr().err


def test_new_counts_sessions_when_the_ingest_derived_session_ids(tmp_path, capsys):
    import yaml

    events = "u,t,e\n1,2024-01-05 10:00,PLAY\n1,2024-01-05 10:20,PLAY\n2,2024-02-07 09:00,PLAY\n"
    config = {
        "name": "app",
        "events": {
            "files": "events.csv",
            "columns": {"user_id": "u", "timestamp": "t", "event_type": "e"},
        },
        "rules": {"sessions": {"inactivity_minutes": 30}},
    }
    _ingest(tmp_path, {"events.csv": events}, config)
    assert main(["features", "new", "trial"]) == 0
    assert "; sessions features (your events carry session ids)" in capsys.readouterr().out
    spec = yaml.safe_load((tmp_path / "specs" / "trial" / "v1.yaml").read_text())
    assert {"kind": "sessions", "windows": [7, 30]} in spec["features"]


def test_new_counts_distinct_product_areas_when_the_events_carry_areas(tmp_path, capsys):
    import yaml

    events = (
        "u,t,e,screen\n1,2024-01-05,PLAY,home\n1,2024-01-06,PLAY,search\n"
        "2,2024-02-07,PLAY,home\n2,2024-03-08,PLAY,\n1,2024-04-02,PLAY,library\n"
    )
    config = {
        "name": "app",
        "events": {
            "files": "events.csv",
            "columns": {"user_id": "u", "timestamp": "t", "event_type": "e", "area": "screen"},
        },
    }
    _ingest(tmp_path, {"events.csv": events}, config)
    assert main(["features", "new", "breadth"]) == 0
    out = capsys.readouterr().out
    assert "product-area breadth (distinct_areas" in out
    assert "  product areas (most events first): home 2, library 1, search 1\n" in out
    spec = yaml.safe_load((tmp_path / "specs" / "breadth" / "v1.yaml").read_text())
    assert {"kind": "distinct_areas", "windows": [7, 30, 90]} in spec["features"]


def _plays_and_a_log_of(tmp_path, event_type: str, lines: str) -> None:
    """Ingest PLAY events beside a log of `event_type` events whose `plan` is their area
    (`lines`: `u,t,plan` rows)."""
    files = {
        "events.csv": "u,t,e\n1,2024-01-05,PLAY\n1,2024-02-06,PLAY\n2,2024-04-07,PLAY\n",
        "log.csv": "u,t,plan\n" + lines,
    }
    columns = {"user_id": "u", "timestamp": "t"}
    config = {
        "name": "app",
        "events": [
            {"files": "events.csv", "columns": {**columns, "event_type": "e"}},
            {"files": "log.csv", "event_type": event_type, "columns": {**columns, "area": "plan"}},
        ],
    }
    _ingest(tmp_path, files, config)


def test_new_reads_an_experiments_exposure_log_as_no_product_use(tmp_path, capsys):
    import yaml

    _plays_and_a_log_of(
        tmp_path,
        "EXPERIMENT_ASSIGNED",
        "1,2024-02-05,control\n2,2024-03-05,B\n3,2024-02-09,B\n4,2024-03-09,control\n",
    )
    assert main(["features", "new", "plays"]) == 0
    out = capsys.readouterr().out
    assert "product areas" not in out
    spec = yaml.safe_load((tmp_path / "specs" / "plays" / "v1.yaml").read_text())
    assert spec["label"]["event_type"] == "PLAY"
    assert [g["event_types"] for g in spec["features"] if g["kind"] == "count"] == [["PLAY"]]
    assert not any(group["kind"] == "last" for group in spec["features"])


def test_new_reads_no_last_area_of_the_label_users_have_not_converted_to(tmp_path, capsys):
    import yaml

    _plays_and_a_log_of(tmp_path, "PAYMENT", "1,2024-01-05,pro\n")
    assert main(["features", "new", "pay"]) == 0
    assert "moved users to" not in capsys.readouterr().out
    spec = yaml.safe_load((tmp_path / "specs" / "pay" / "v1.yaml").read_text())
    assert spec["eligibility"]["not_converted"] == spec["label"]["event_type"] == "PAYMENT"
    assert not any(group["kind"] == "last" for group in spec["features"])


def test_new_reads_the_last_plan_of_a_plan_change_log(tmp_path, capsys):
    import yaml

    _plays_and_a_log_of(tmp_path, "PLAN", "1,2024-01-05,free\n1,2024-02-01,pro\n")
    assert main(["features", "new", "plans"]) == 0
    assert "the area each PLAN moved users to, as of the cutoff (last)" in capsys.readouterr().out
    spec = yaml.safe_load((tmp_path / "specs" / "plans" / "v1.yaml").read_text())
    assert {"kind": "last", "field": "area", "event_types": ["PLAN"]} in spec["features"]
    assert not any(group["kind"] == "distinct_areas" for group in spec["features"])


def test_new_reads_a_users_tables_versions_beside_the_products_areas(tmp_path, capsys):
    import yaml

    from events.quality import load_latest_report

    users = "id,joined,plan,valid\n1,2024-01-02,free,2024-01-02\n1,2024-01-02,pro,2024-03-01\n"
    users += "2,2024-01-03,free,2024-01-03\n"
    events = "u,t,e,screen\n1,2024-01-05,PLAY,home\n1,2024-02-06,PLAY,search\n"
    events += "2,2024-04-07,PLAY,home\n2,2024-04-08,PLAY,library\n"
    config = {
        "name": "app",
        "events": [
            {
                "files": "events.csv",
                "columns": {"user_id": "u", "timestamp": "t", "event_type": "e", "area": "screen"},
            },
            {
                "files": "users.csv",
                "event_type": "PLAN",
                "columns": {"user_id": "id", "timestamp": "valid", "area": "plan"},
            },
        ],
        "users": {
            "files": "users.csv",
            "columns": {"user_id": "id", "signup_time": "joined", "valid_from": "valid"},
        },
    }
    _ingest(tmp_path, {"events.csv": events, "users.csv": users}, config)
    assert load_latest_report()["change_log_types"] == ["PLAN"]
    assert main(["features", "new", "plans"]) == 0
    capsys.readouterr()
    features = yaml.safe_load((tmp_path / "specs" / "plans" / "v1.yaml").read_text())["features"]
    assert {"kind": "distinct_areas", "windows": [7, 30, 90]} in features
    assert {"kind": "last", "field": "area", "event_types": ["PLAN"]} in features


def test_new_label_choices_are_the_catalogs_starter_kinds():
    from features.featureset.catalog import LABEL_STARTER_KINDS
    from usagecast_cli.features_commands import LABEL_CHOICES

    assert LABEL_CHOICES == LABEL_STARTER_KINDS
