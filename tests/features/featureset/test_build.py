"""Building feature sets end to end: store layout, manifest, fingerprint reuse, refusals, CLI."""

from __future__ import annotations

import json
import logging
import re

import duckdb
import numpy as np
import pandas as pd
import pytest
import yaml
from featureset_testlib import ts, write_spec, write_store

import contracts.errors
import features
from contracts.workspace import event_store_path
from features.featureset import (
    LeakageError,
    SpecError,
    build_feature_set,
    format_build,
    list_feature_sets,
    load_feature_set,
    log_feature_set_to_mlflow,
)
from features.featureset.build import _behaviour_note
from features.featureset.progress import stage_progress
from features.featureset.spec import expand_features, parse_spec
from usagecast_cli.main import main

SPEC = """
name: buyers
version: 1
dataset: test
cutoffs: {calendar: {start: 2024-02-01, end: 2024-03-01, every: month}}
eligibility: {active_within_days: 30, not_converted: BUY}
label: {kind: event_within, event_type: BUY, horizon_days: 30}
features:
  - {kind: count, event_types: [PLAY, AD], windows: [7, 30]}
  - {kind: active_days, windows: [30]}
  - {kind: recency}
  - {kind: attribute, names: [channel]}
actionable:
  - {feature: count_AD_30d, direction: decrease, cost_per_unit: 0.5}
  - {feature: active_days_30d, direction: increase}
"""
ATTRIBUTES = {
    "channel": ("static", "categorical"),
    "bought_flag": ("static", "numeric"),  # mis-declared: it is written after the purchase
    "last_login": ("snapshot", "timestamp"),
}


def demo_log(seed: int = 0, n_users: int = 80):
    """Users who play and hear ads in January-March; about a third buy in February."""
    rng = np.random.default_rng(seed)
    events, users = [], []
    for k in range(n_users):
        user = f"user{k:03d}"
        buys = rng.random() < 0.35
        for day in sorted(rng.choice(np.arange(0, 85), size=12, replace=False)):
            kind = "AD" if rng.random() < 0.3 else "PLAY"
            when = pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(day), hours=9)
            events.append((user, when.to_pydatetime(), kind))
        if buys:
            events.append((user, ts("2024-02-10 12:00"), "BUY"))
        channel = ["web", "app", "ads"][k % 3]
        users.append(
            (
                user,
                ts("2023-12-01"),
                {"channel": channel, "bought_flag": float(buys), "last_login": ts("2024-04-01")},
            )
        )
    events.append(("user000", ts("2024-04-15"), "PLAY"))  # data runs past both horizons
    return events, users


@pytest.fixture
def demo(sets_dir):
    events, users = demo_log()
    write_store(
        event_store_path().parent.mkdir(parents=True) or event_store_path(),
        events,
        users,
        attributes=ATTRIBUTES,
    )
    write_spec(sets_dir, SPEC)
    return sets_dir


def test_build_writes_parquet_and_manifest_and_reuses_same_fingerprint(demo):
    first = build_feature_set("buyers@v1", sets_dir=demo)
    assert not first.reused
    assert first.path.parent.name == "v1" and first.path.parent.parent.name == "buyers"
    assert first.path.name == first.fingerprint
    assert {p.name for p in first.path.iterdir()} == {"data.parquet", "manifest.json"}
    again = build_feature_set("buyers@v1", sets_dir=demo)
    assert again.reused and again.fingerprint == first.fingerprint
    assert again.manifest.to_dict()["built_at"] == first.manifest.to_dict()["built_at"]

    frame, manifest = load_feature_set("buyers@v1")
    assert frame.columns[:3].tolist() == ["user_id", "cutoff", "label"]
    assert len(frame) == manifest.to_dict()["rows"] == first.rows > 0
    assert manifest.to_dict()["label_rate"] == pytest.approx(frame["label"].mean(), abs=1e-6)
    assert manifest.to_dict()["data_digest"] == "digest-1"
    assert (
        manifest.to_dict()["spec"]["name"] == "buyers"
        and len(manifest.to_dict()["spec_hash"]) == 64
    )
    assert manifest.to_dict()["engine"] == "duckdb" and manifest.to_dict()["sample"] is None
    eligibility = manifest.to_dict()["eligibility"]
    assert eligibility["kept"] == len(frame)
    assert eligibility["converted"] > 0  # March: February's buyers are excluded
    assert eligibility["candidates"] == sum(
        eligibility[s] for s in ("kept", "inactive", "converted", "censored")
    )
    assert manifest.to_dict()["cutoffs"]["min"] == "2024-02-01T00:00:00"
    assert manifest.to_dict()["end_of_data"] == "2024-04-15T00:00:00"
    channel = next(f for f in manifest.to_dict()["features"] if f["name"] == "channel")
    assert channel == {**channel, "dtype": "categorical", "levels": ["ads", "app", "web"]}
    ads = next(a for a in manifest.to_dict()["actionable"] if a["name"] == "count_AD_30d")
    assert ads == {
        "name": "count_AD_30d",
        "direction": "decrease",
        "lower": 0.0,
        "upper": float(frame["count_AD_30d"].max()),  # no bound given: the observed range
        "integer": True,
        "cost": 0.5,
    }
    active = next(a for a in manifest.to_dict()["actionable"] if a["name"] == "active_days_30d")
    assert (active["lower"], active["upper"]) == (0.0, 30.0)
    assert {
        "kind": "order",
        "smaller": "count_AD_7d",
        "larger": "count_AD_30d",
    } in manifest.to_dict()["couplings"]
    assert manifest.to_dict()["leakage"]["flagged"] == []
    assert features.load_feature_set is load_feature_set


def test_manifest_actionable_and_couplings_satisfy_the_whatif_contract(demo):
    """serving/whatif reads these lists; a shipped spec's manifest must validate there."""
    from serving.whatif.constraints import build_action_space

    write_spec(
        demo,
        SPEC.replace("version: 1", "version: 6")
        .replace(
            "  - {kind: active_days, windows: [30]}",
            "  - {kind: active_days, windows: [30]}\n"
            "  - {kind: ratio, numerator: AD, denominator: PLAY, windows: [7, 30]}",
        )
        .replace("cost_per_unit: 0.5}", "cost_per_unit: 0.5, causal: increases}"),
    )
    manifest = build_feature_set("buyers@v6", sets_dir=demo).manifest
    names = [feature["name"] for feature in manifest.to_dict()["features"]]
    space = build_action_space(
        names, manifest.to_dict()["actionable"], manifest.to_dict()["couplings"]
    )
    assert {gene.name for gene in space.genes} == {"count_AD_30d", "active_days_30d"}
    kinds = sorted({coupling["kind"] for coupling in manifest.to_dict()["couplings"]})
    assert kinds == ["activity", "order", "ratio", "recency", "window"]
    # Active days a what-if raises bring the last event into their window.
    assert names.index("days_since_last_event") in space.follower_columns
    # A causal prior reaches the manifest only where the spec declares one.
    assert [entry.get("causal") for entry in manifest.to_dict()["actionable"]] == [
        "increases",
        None,
    ]


def test_fingerprint_follows_spec_data_and_sample(demo, tmp_path, caplog):
    full = build_feature_set("buyers@v1", sets_dir=demo)
    sample = build_feature_set("buyers@v1", sample=0.5, seed=3, sets_dir=demo)
    same_sample = build_feature_set("buyers@v1", sample=0.5, seed=3, sets_dir=demo)
    assert sample.fingerprint != full.fingerprint
    assert same_sample.reused and same_sample.fingerprint == sample.fingerprint
    assert 0 < sample.rows < full.rows
    assert sample.manifest.to_dict()["sample"] == {"fraction": 0.5, "seed": 3}
    # `name@vN` loads the latest build, saying so when it is a sample; `name@vN/FP` pins one.
    with caplog.at_level(logging.WARNING, logger="features.featureset.build"):
        assert load_feature_set("buyers@v1")[1].fingerprint == sample.fingerprint
        assert len(load_feature_set(f"buyers@v1/{full.fingerprint}")[0]) == full.rows
    assert [r.getMessage() for r in caplog.records] == [
        f"note: buyers@v1 is its latest build {sample.fingerprint}, a 50% user sample (seed 3, "
        f"{sample.rows} rows); `usagecast features build buyers@v1` makes the full build the "
        "latest, or name one build as buyers@v1/FINGERPRINT"
    ]

    events, users = demo_log(seed=1)
    other_store = write_store(
        tmp_path / "other.duckdb", events, users, attributes=ATTRIBUTES, digest="digest-2"
    )
    other = build_feature_set("buyers@v1", store_path=other_store, sets_dir=demo)
    assert other.fingerprint != full.fingerprint and not other.reused

    write_spec(demo, SPEC.replace("version: 1", "version: 2").replace("[7, 30]", "[14, 30]"))
    changed = build_feature_set("buyers@v2", sets_dir=demo)
    assert changed.fingerprint != full.fingerprint
    listing = {entry["ref"]: entry["builds"] for entry in list_feature_sets(demo)}
    assert len(listing["buyers@v1"]) == 3 and len(listing["buyers@v2"]) == 1


def test_snapshot_attributes_are_refused_with_the_reason(demo):
    write_spec(demo, SPEC.replace("version: 1", "version: 3").replace("[channel]", "[last_login]"))
    with pytest.raises(SpecError, match=r"'last_login' is a snapshot .* leak the future"):
        build_feature_set("buyers@v3", sets_dir=demo)
    write_spec(demo, SPEC.replace("version: 1", "version: 4").replace("[channel]", "[colour]"))
    with pytest.raises(
        SpecError,
        match=r"user attribute 'colour' \(features\[3\]\.names\) is not in the event store; "
        "known user attributes: bought_flag, channel, last_login$",
    ):
        build_feature_set("buyers@v4", sets_dir=demo)


def test_names_the_store_does_not_hold_are_refused_with_the_known_ones(demo):
    """A misspelt event type would otherwise build silently with all-zero counts."""
    misspelt = SPEC.replace("version: 1", "version: 7").replace("[PLAY, AD]", "[PLAYS, AD]")
    write_spec(demo, misspelt.replace("not_converted: BUY", "not_converted: BOUGHT"))
    with pytest.raises(SpecError) as refused:
        build_feature_set("buyers@v7", sets_dir=demo)
    assert str(refused.value) == (
        "buyers@v7: event types 'BOUGHT' (eligibility.not_converted), 'PLAYS' "
        "(features[0].event_types) are not in the event store; known event types: AD, BUY, PLAY"
    )
    assert list_feature_sets(demo)[-1]["builds"] == []


def test_label_proxy_scan_catches_a_planted_leak(demo):
    write_spec(
        demo, SPEC.replace("version: 1", "version: 5").replace("[channel]", "[bought_flag]")
    )
    with pytest.raises(
        LeakageError, match=r"bought_flag \(AUC 1.000\).*--allow-leaky bought_flag$"
    ):
        build_feature_set("buyers@v5", sets_dir=demo)  # an attribute: no behaviour note
    with pytest.raises(SpecError):
        load_feature_set("buyers@v5")  # nothing was written
    allowed = build_feature_set("buyers@v5", allow_leaky=["bought_flag"], sets_dir=demo)
    leakage = allowed.manifest.to_dict()["leakage"]
    assert leakage["flagged"] == ["bought_flag"] and leakage["allowed"] == ["bought_flag"]
    assert leakage["scores"]["bought_flag"] == 1.0
    assert max(v for k, v in leakage["scores"].items() if k != "bought_flag") < 0.95


def test_a_flagged_behaviour_feature_is_told_apart_from_an_attribute():
    """A label proxy computed from the user's own earlier events reads no label event: the
    error says so (and, for churn, how to ask a harder question); an attribute gets no such
    note."""
    churn = parse_spec(
        yaml.safe_load(
            SPEC.replace("event_within, event_type: BUY", "churn").replace(
                ", not_converted: BUY", ""
            )
        ),
        "churn spec",
    )
    note = _behaviour_note(churn, ["days_since_last_event", "channel"], expand_features(churn))
    assert note.startswith(". days_since_last_event: computed from each user's events before")
    assert "channel" not in note
    assert "shorter eligibility.active_within_days" in note
    buyers = parse_spec(yaml.safe_load(SPEC), "buyers spec")
    features = expand_features(buyers)
    assert _behaviour_note(buyers, ["channel"], features) == ""
    assert "churn" not in _behaviour_note(buyers, ["count_PLAY_7d"], features)


def test_a_store_from_an_older_ingest_is_refused_with_what_to_do(demo):
    con = duckdb.connect(str(event_store_path()))
    con.execute("ALTER TABLE events DROP COLUMN event_date")
    con.close()
    with pytest.raises(contracts.errors.UsagecastError, match=r"no column event_date.*ingest"):
        build_feature_set("buyers@v1", sets_dir=demo)


def test_an_items_table_without_versions_validity_is_refused_with_what_to_do(demo):
    """A store written before item versions: item_mean cannot read its items as of time."""
    con = duckdb.connect(str(event_store_path()))
    con.execute("ALTER TABLE items DROP COLUMN valid_from")
    con.execute("ALTER TABLE items DROP COLUMN valid_to")
    con.close()
    write_spec(
        demo,
        SPEC.replace("version: 1", "version: 2").replace(
            "  - {kind: recency}",
            "  - {kind: recency}\n  - {kind: item_mean, attribute: popularity, windows: [30]}",
        ),
    )
    with pytest.raises(
        contracts.errors.UsagecastError, match=r"items table has no column valid_from, valid_to.*"
    ):
        build_feature_set("buyers@v2", sets_dir=demo)
    build_feature_set("buyers@v1", sets_dir=demo)  # a spec without item_mean still builds


def test_a_build_of_an_earlier_usagecast_gets_this_ones_couplings_and_force_builds_anew(
    demo, capsys
):
    first = build_feature_set("buyers@v1", sets_dir=demo)
    old = {k: v for k, v in first.manifest.to_dict().items() if k != "couplings"}
    (first.path / "manifest.json").write_text(json.dumps(old))  # as written before couplings
    again = build_feature_set("buyers@v1", sets_dir=demo)
    assert again.reused and again.couplings_updated
    written = json.loads((first.path / "manifest.json").read_text())
    assert written["couplings"] == first.manifest.to_dict()["couplings"] != []
    assert {k: written[k] for k in old} == old  # nothing else rewritten
    assert "(reused)  what-if couplings updated to this usagecast's" in format_build(again)
    assert not build_feature_set("buyers@v1", sets_dir=demo).couplings_updated

    assert main(["features", "build", "buyers@v1", "--specs", str(demo), "--no-progress"]) == 0
    assert "(reused)" in capsys.readouterr().out
    rows_file = (first.path / "data.parquet").stat().st_ino
    argv = ["features", "build", "buyers@v1", "--specs", str(demo), "--no-progress", "--force"]
    assert main(argv) == 0
    assert f"buyers@v1  fingerprint {first.fingerprint}\n" in capsys.readouterr().out
    assert (first.path / "data.parquet").stat().st_ino != rows_file  # written anew, swapped in


def test_cli_build_sql_list_on_a_shipped_spec(capsys):
    """The CLI on premium_30d@v1 over a tiny store with the demo's attributes."""
    events, users = demo_log()
    demo_users = [
        (u, signup, {"channel": a["channel"], "city": "Köln", "age": 30.0})
        for u, signup, a in users
    ]
    attributes = {
        "channel": ("static", "categorical"),
        "city": ("static", "categorical"),
        "age": ("static", "numeric"),
    }
    # Every event type and area the spec names (the build refuses names the store lacks).
    for k, kind in enumerate(("SKIP", "LIKE", "ADVERTISEMENT", "LOGIN", "BUY_PREMIUM")):
        events.append((f"user{k:03d}", ts("2024-01-03 10:00"), kind))
    for area in ("home", "search", "playlist", "radio", "browse", "settings"):
        events.append(("user010", ts("2024-01-04 10:00"), "PLAY", None, None, None, area))
    event_store_path().parent.mkdir(parents=True)
    write_store(
        event_store_path(), events, demo_users, attributes=attributes, dataset="music_demo"
    )
    assert main(["features", "build", "premium_30d@v1", "--sample", "0.5", "--seed", "1"]) == 0
    out, err = capsys.readouterr()
    assert "premium_30d@v1  fingerprint " in out and "label rate" in out and "written to" in out
    # The stage bar on stderr names each stage and ends complete.
    for stage in ("computing rows on duckdb", "scanning for label leaks", "writing"):
        assert stage in err
    assert "build premium_30d@v1: 100%" in err and "4/4" in err
    assert main(["features", "build", "premium_30d@v1", "--scoring"]) == 0
    assert "scoring rows premium_30d@v1: 100%" in capsys.readouterr().err
    frame, _ = load_feature_set("premium_30d@v1")
    assert f"rows {len(frame)}  positives {int(frame['label'].sum())}  label rate" in out
    assert main(["features", "list"]) == 0
    assert re.search(
        r"^premium_30d@v1  shipped  \S+v1\.yaml\n  \* ", capsys.readouterr().out, re.M
    )
    assert main(["features", "sql", "premium_30d@v1", "--dialect", "spark"]) == 0
    assert "DATEDIFF(" in capsys.readouterr().out
    assert main(["features", "build", "premium_30d@v9"]) == 2
    err = capsys.readouterr().err
    assert err.rsplit("\r", 1)[-1].startswith("error: premium_30d@v9: no spec at")
    assert main(["features", "build", "premium_30d@v1", "--no-progress"]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.slow
def test_log_feature_set_to_mlflow(demo):
    import mlflow

    result = build_feature_set("buyers@v1", sets_dir=demo)
    with mlflow.start_run() as run:
        log_feature_set_to_mlflow(result)
    logged = mlflow.get_run(run.info.run_id)
    assert logged.data.tags["feature_set"] == "buyers@v1"
    assert logged.data.tags["feature_set_fingerprint"] == result.fingerprint
    (dataset_input,) = logged.inputs.dataset_inputs
    assert dataset_input.dataset.digest == result.fingerprint
    assert dataset_input.dataset.name == "buyers@v1"
    assert json.loads(dataset_input.dataset.schema)


RICH_ATTRIBUTES = {
    **ATTRIBUTES,
    "invited_by": ("static", "categorical"),
    "last_session": ("static", "numeric"),  # mis-declared: epoch seconds read at export
    "hint": ("static", "numeric"),  # close to the label, not quite a copy
}


def rich_log():
    """demo_log's users with an inviter id, an epoch-seconds last session and a label hint."""
    events, users = demo_log()
    last_event = {}
    for user, when, _ in events:
        last_event[user] = max(last_event.get(user, when), when)
    epoch = pd.Timestamp(0)
    rich = [
        (
            user,
            signup,
            {
                **values,
                "invited_by": None if k % 3 == 0 else f"user{k // 2:03d}",
                "last_session": (pd.Timestamp(last_event[user]) - epoch).total_seconds(),
                # the purchase flag, reversed for one user in eleven, plus a little noise
                "hint": abs(values["bought_flag"] - (k % 11 == 0)) + 0.001 * (k % 7),
            },
        )
        for k, (user, signup, values) in enumerate(users)
    ]
    return events, rich


@pytest.fixture
def rich(sets_dir):
    events, users = rich_log()
    event_store_path().parent.mkdir(parents=True)
    write_store(event_store_path(), events, users, attributes=RICH_ATTRIBUTES)
    return sets_dir


DERIVED_SPEC = SPEC.replace("version: 1", "version: 7").replace(
    "  - {kind: attribute, names: [channel]}\n",
    "  - {kind: attribute, names: [channel, invited, channel_group]}\n"
    "derived_attributes:\n"
    "  invited: {expression: invited_by IS NOT NULL, dtype: numeric}\n"
    "  channel_group:\n"
    "    expression: CASE WHEN channel = 'web' THEN 'web' ELSE 'other' END\n"
    "    dtype: categorical\n",
)


def test_derived_attributes_are_computed_in_the_feature_query(rich):
    write_spec(rich, DERIVED_SPEC)
    result = build_feature_set("buyers@v7", sets_dir=rich)
    frame, manifest = load_feature_set("buyers@v7")
    users = {user: values for user, _, values in rich_log()[1]}
    expected_invited = frame["user_id"].map(lambda u: float(users[u]["invited_by"] is not None))
    assert frame["invited"].tolist() == expected_invited.tolist()  # 0/1 numbers, not booleans
    assert frame["invited"].dtype == "float64" and 0 < frame["invited"].mean() < 1
    expected_group = frame["channel"].map(lambda c: "web" if c == "web" else "other")
    assert frame["channel_group"].tolist() == expected_group.tolist()
    entries = {f["name"]: f for f in manifest.to_dict()["features"]}
    assert entries["invited"]["dtype"] == "numeric"
    assert entries["channel_group"]["levels"] == ["other", "web"]
    assert result.manifest.to_dict()["spec"]["derived_attributes"][0]["columns"] == ["invited_by"]


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        (
            "inviter IS NOT NULL",
            r"user attribute 'inviter' \(derived_attributes\.invited\.expression\) is not "
            r"in the event store; known user attributes: bought_flag, channel, hint, invited_by",
        ),
        (
            "last_login IS NOT NULL",
            r"derived attribute 'invited': user attribute 'last_login' "
            r"is a snapshot",
        ),
    ],
)
def test_derived_attributes_read_only_known_static_attributes(rich, expression, message):
    write_spec(rich, DERIVED_SPEC.replace("invited_by IS NOT NULL", expression))
    with pytest.raises(SpecError, match=message):
        build_feature_set("buyers@v7", sets_dir=rich)


def test_an_epoch_seconds_attribute_declared_static_is_refused_as_snapshot_like(rich):
    write_spec(
        rich, SPEC.replace("version: 1", "version: 8").replace("[channel]", "[last_session]")
    )
    with pytest.raises(
        SpecError,
        match=r"'last_session' is declared static numeric, but most of its values read as epoch "
        r"seconds .* `kind: snapshot` .* `dtype: timestamp`.* derive the feature from events",
    ):
        build_feature_set("buyers@v8", sets_dir=rich)
    derived = DERIVED_SPEC.replace("version: 7", "version: 9").replace(
        "invited_by IS NOT NULL", "last_session > 0"
    )
    write_spec(rich, derived)
    with pytest.raises(SpecError, match="'last_session' is declared static numeric"):
        build_feature_set("buyers@v9", sets_dir=rich)


def test_a_warn_level_feature_is_printed_and_recorded_in_the_manifest(rich):
    write_spec(rich, SPEC.replace("version: 1", "version: 10").replace("[channel]", "[hint]"))
    result = build_feature_set("buyers@v10", sets_dir=rich)
    leakage = result.manifest.to_dict()["leakage"]
    assert 0.90 <= leakage["scores"]["hint"] < 0.95, leakage["scores"]
    assert leakage["warned"] == ["hint"] and leakage["flagged"] == []
    assert leakage["warn_threshold"] == 0.90
    assert load_feature_set("buyers@v10")[1].leakage_warned == ("hint",)
    assert "leak warnings (label-proxy AUC >= 0.90): hint (AUC 0.9" in format_build(result)


def test_loading_names_a_missing_spec_before_a_missing_build(demo, monkeypatch):
    """`tune x@v2` with no spec x@v2 must not advise building it."""
    monkeypatch.setenv("USAGECAST_SPECS", str(demo))
    with pytest.raises(SpecError, match=r"buyers@v7: no spec at .*known feature sets"):
        load_feature_set("buyers@v7")
    with pytest.raises(SpecError, match=r"buyers@v1 has not been built .* features build"):
        load_feature_set("buyers@v1")


def test_calendar_cutoffs_without_rows_are_recorded_and_printed_with_why(demo):
    """Users sign up at 2023-12-01 00:00, play from 2024-01-01 09:00 and the data ends on
    2024-04-15: cutoffs up to the signups have no candidate, January's are all inactive, and
    the last two cannot see a whole 30-day label window (censored)."""
    spec = SPEC.replace("version: 1", "version: 11").replace(
        "{start: 2024-02-01, end: 2024-03-01, every: month}",
        "{start: 2023-11-01, end: 2024-05-01, every: month}",
    )
    write_spec(demo, spec)
    result = build_feature_set("buyers@v11", sets_dir=demo)
    assert result.manifest.calendar_without_rows == {
        "no_candidates": ("2023-11-01", "2023-12-01"),
        "all_dropped": ("2024-01-01", "2024-04-01", "2024-05-01"),
    }
    printed = format_build(result).splitlines()
    assert printed[-2:] == [
        "calendar cutoffs without rows: 2 (2023-11-01, 2023-12-01): no user had signed up "
        "before them",
        "calendar cutoffs without rows: 3 (2024-01-01, 2024-04-01, 2024-05-01): every "
        "candidate was dropped (see dropped:)",
    ]
    assert (result.manifest.first_cutoff, result.manifest.last_cutoff) == (
        "2024-02-01T00:00:00",
        "2024-03-01T00:00:00",
    )


def test_a_build_with_a_row_at_every_calendar_cutoff_prints_no_such_line(demo):
    result = build_feature_set("buyers@v1", sets_dir=demo)
    assert result.manifest.calendar_without_rows == {"no_candidates": (), "all_dropped": ()}
    assert "without rows" not in format_build(result)


def test_a_step_within_a_stage_is_named_without_counting_a_stage(capsys):
    with stage_progress("build x@v1", 2, enabled=True) as begin:
        begin("computing rows on spark")
        begin("computing org_keys (1 of 2)", within=True)
        begin("writing")
    bar = capsys.readouterr().err
    # Still at 0 of 2 stages while the step inside the first one is named.
    assert re.search(
        r"\| 0/2 \[[^\r\n]*computing rows on spark: computing org_keys \(1 of 2\)", bar
    )
    assert "build x@v1: 100%" in bar


ITEM_COUNT_SPEC = """
name: tiers
version: 1
dataset: test
cutoffs: {calendar: {start: 2024-02-01, end: 2024-02-01, every: month}}
eligibility: {}
label: {kind: event_within, event_type: BUY, horizon_days: 30}
features:
  - {kind: item_count, attribute: ATTRIBUTE, values: VALUES, windows: [30]}
"""


@pytest.mark.parametrize(
    ("attribute", "values", "outcome"),
    [
        ("tier", "[high]", {"u1": 2, "u2": 0}),
        ("tier", "{cheap: low}", {"u1": 1, "u2": 1}),
        ("popularity", "[high]", "item_count needs categorical item attributes; popularity"),
        (
            "tier",
            "[high, mid]",
            r'counts tier "mid", which no item has \(its values: "high", "low"\)',
        ),
    ],
)
def test_item_count_counts_a_category_of_the_items_and_refuses_what_it_cannot(
    sets_dir, attribute, values, outcome
):
    """i2's tier is high, i1's low (the test store's tier is read from the popularity)."""
    events = [
        ("u1", ts("2024-01-10 10:00"), "PLAY", None, "i2"),
        ("u1", ts("2024-01-20 10:00"), "PLAY", None, "i2"),
        ("u1", ts("2024-01-21 10:00"), "PLAY", None, "i1"),
        ("u2", ts("2024-01-25 10:00"), "PLAY", None, "i1"),
        ("u2", ts("2024-02-01 10:00"), "PLAY", None, "i2"),  # on the label side
        ("u2", ts("2024-03-05 10:00"), "BUY"),
    ]
    users = [("u1", ts("2023-12-01"), {}), ("u2", ts("2023-12-01"), {})]
    write_store(
        event_store_path().parent.mkdir(parents=True) or event_store_path(),
        events,
        users,
        items={"i1": 1.0, "i2": 4.0},
    )
    write_spec(sets_dir, ITEM_COUNT_SPEC.replace("ATTRIBUTE", attribute).replace("VALUES", values))
    if isinstance(outcome, str):
        with pytest.raises(SpecError, match=outcome):
            build_feature_set("tiers@v1", sets_dir=sets_dir)
        return
    built = build_feature_set("tiers@v1", sets_dir=sets_dir)
    frame, _ = load_feature_set(f"tiers@v1/{built.fingerprint}")
    column = next(c for c in frame.columns if c.startswith("count_item_tier_"))
    assert dict(zip(frame["user_id"], frame[column], strict=True)) == outcome
