"""`usagecast whatif policy`: a lever change over a segment, predicted before/after, logged."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from contracts.errors import UsagecastError
from contracts.workspace import event_store_path
from events.store import INGEST_COLUMNS, INGESTS, open_store
from experiments.whatif import report, whatif_policy
from features.featureset import load_scoring_rows
from features.workspace import ensure_workspace
from serving.whatif import CAUSAL_NOTE
from usagecast_cli.main import main

MODEL_URI = "models:/premium_30d@champion"
LATEST = pd.Timestamp("2026-02-01")  # the champion fixture's latest cutoff


def _run_id(output: str) -> str:
    return next(line.split()[1] for line in output.splitlines() if line.startswith("run: "))


@pytest.mark.slow
def test_policy_run_logs_table_plot_and_params(champion, capsys, tmp_path):
    args = [
        *("whatif", "policy", "--model", MODEL_URI, "--feature-set", "premium_30d@v1"),
        *("--segment", "city = 'lagos'", "--change", "ads_30d *= 0.5"),
        *("--seed", "3", "--bootstrap", "200"),
    ]
    assert main(args) == 0
    output = capsys.readouterr().out
    segment = champion[(champion["cutoff"] == LATEST) & (champion["city"] == "lagos")]
    assert f"on {len(segment)} rows of premium_30d@v1 at cutoff 2026-02-01" in output
    assert "truth:" not in output  # not simulated data: no simulator to speak of
    assert "predicted conversion: " in output and "predicted extra conversions: " in output
    assert "experiment: none named: --experiment NAME sets the A/B test" in output
    assert f"note: {CAUSAL_NOTE}" in output

    client = mlflow.MlflowClient()
    run = client.get_run(_run_id(output))
    assert client.get_experiment(run.info.experiment_id).name == "whatif"
    params = run.data.params
    assert params["model_uri"] == MODEL_URI and params["model_version"] == "1"
    assert params["feature_set"] == "premium_30d@v1" and params["seed"] == "3"
    assert params["segment"] == "city = 'lagos'" and params["change"] == "ads_30d *= 0.5"
    assert params["causal_note"] == CAUSAL_NOTE
    metrics = run.data.metrics
    # The tiny model learnt that fewer ads raise the probability.
    assert metrics["predicted_extra"] > 0
    assert metrics["predicted_extra_low"] <= metrics["predicted_extra"]
    assert metrics["predicted_extra"] <= metrics["predicted_extra_high"]
    assert "true_extra" not in metrics

    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"policy_rows.csv", "policy_rows.parquet", "p_before_after.png"} <= artifacts
    folder = Path(client.download_artifacts(run.info.run_id, "policy_rows.csv", str(tmp_path)))
    table = pd.read_csv(folder)
    assert len(table) == len(segment)
    ads = segment.set_index("user_id").loc[table["user_id"].astype(str), "ads_30d"].to_numpy()
    # Integer lever: halving rounds toward the row's value, so 1 ad stays 1 (not moved).
    assert (table["lever_moved"].to_numpy() == (ads >= 2)).all()
    assert np.allclose(table["delta"], table["p_after"] - table["p_before"])
    assert metrics["n_changed"] == int((ads >= 2).sum())


@pytest.mark.slow
def test_same_seed_same_interval(champion):
    first = whatif_policy(MODEL_URI, "premium_30d@v1", "ads_30d -= 3", seed=11, n_bootstrap=300)
    again = whatif_policy(MODEL_URI, "premium_30d@v1", "ads_30d -= 3", seed=11, n_bootstrap=300)
    assert (first.result.interval_low, first.result.interval_high) == (
        again.result.interval_low,
        again.result.interval_high,
    )
    assert first.run_id != again.run_id


@pytest.mark.slow
def test_segment_may_read_the_users_table(champion):
    """A hand-made event store holding the users table (ingest writes the same tables)."""
    ensure_workspace()
    con = open_store(event_store_path(), read_only=False)
    users = pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in range(150)],
            "signup_time": pd.Timestamp("2025-01-01"),
            "channel": ["reddit" if i % 3 == 0 else "facebook" for i in range(150)],
            "plan": "free",
        }
    )
    con.register("users_frame", users)
    con.execute("CREATE TABLE users AS SELECT * FROM users_frame")
    con.execute("CREATE TABLE user_attributes (name VARCHAR, kind VARCHAR, dtype VARCHAR)")
    con.execute(
        "INSERT INTO user_attributes VALUES ('channel', 'static', 'categorical'), "
        "('plan', 'snapshot', 'categorical')"
    )
    columns = ", ".join(f"{name} {kind}" for name, kind in INGEST_COLUMNS.items())
    con.execute(f"CREATE TABLE {INGESTS} ({columns})")  # a store without any ingest yet
    con.close()
    report = whatif_policy(
        MODEL_URI,
        "premium_30d@v1",
        "ads_30d *= 0.5",
        segment="channel = 'reddit' AND plays_30d > 18",
        n_bootstrap=50,
    )
    latest = champion[champion["cutoff"] == LATEST]
    reddit = latest["user_id"].str[1:].astype(int) % 3 == 0
    expected = latest[reddit & (latest["plays_30d"] > 18)]
    assert sorted(report.table["user_id"]) == sorted(expected["user_id"])
    with pytest.raises(UsagecastError, match="plan is a snapshot attribute"):
        whatif_policy(MODEL_URI, "premium_30d@v1", "ads_30d *= 0.5", segment="plan = 'free'")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("segment", "change", "message"),
    [
        ("label = 1", "ads_30d *= 0.5", "'label' is not a user attribute"),
        ("colour = 'red'", "ads_30d *= 0.5", "'colour' is not a user attribute"),
        (None, "plays_30d *= 2", "'plays_30d' is not actionable"),
        (None, "ads_30d ** 2", "expected an operator"),
        ("city = 'atlantis'", "ads_30d *= 0.5", "matches no row"),
    ],
)
def test_bad_segments_and_changes_are_one_line_errors(champion, capsys, segment, change, message):
    args = ["whatif", "policy", "--model", MODEL_URI, "--feature-set", "premium_30d@v1"]
    args += ["--change", change] + (["--segment", segment] if segment else [])
    assert main(args) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and message in error


@pytest.mark.parametrize(
    ("label_kind", "words"),
    [
        ("event_within", ("conversion", "conversions")),
        ("churn", ("churn", "churners")),
        ("active_days_in_window", ("adoption", "adopters")),
        (None, ("conversion", "conversions")),
    ],
)
def test_a_policy_names_its_labels_outcome(label_kind, words):
    assert report.outcome_words(label_kind) == words


ONBOARDING_SPEC = """\
name: onboard_30d
version: 1
description: Users 30 days after signup; label = BUY_PREMIUM within the next 30 days.
dataset: music_demo
cutoffs:
  after_signup: {offset_days: 30, anchor: date}
label: {kind: event_within, event_type: BUY_PREMIUM, horizon_days: 30}
features:
  - {kind: count, event_types: [PLAY, ADVERTISEMENT], windows: [30]}
  - {kind: attribute, names: [city]}
actionable:
  - {feature: count_ADVERTISEMENT_30d, direction: decrease, lower: 0, integer: true}
"""


@pytest.mark.slow
def test_a_signup_relative_policy_changes_the_users_whose_outcome_is_open(
    spec_champion, capsys, tmp_path, monkeypatch
):
    # The spec champion's users signed up on 2024-01-20: one cutoff each, 2024-02-19, whose
    # label window stays open until 2024-03-20. Its latest training cutoff would be every
    # past cohort's last day; the policy acts on the users still undecided at the day.
    (tmp_path / "specs" / "onboard_30d").mkdir(parents=True)
    (tmp_path / "specs" / "onboard_30d" / "v1.yaml").write_text(ONBOARDING_SPEC)
    monkeypatch.setenv("USAGECAST_SPECS", str(tmp_path / "specs"))
    assert main(["features", "build", "onboard_30d@v1"]) == 0
    base = [
        *("whatif", "policy", "--model", "models:/premium_30d@champion"),
        *("--feature-set", "onboard_30d@v1", "--change", "count_ADVERTISEMENT_30d *= 0.5"),
        *("--bootstrap", "50"),
    ]
    capsys.readouterr()
    assert main(base) == 2  # today, 2024-04-01, every window has closed
    assert (
        "no user at signup + 30 days whose outcome is still open on 2024-04-01"
        in capsys.readouterr().err
    )

    assert main([*base, "--cutoff", "2024-03-01"]) == 0
    output = capsys.readouterr().out
    undecided, scoring = load_scoring_rows("onboard_30d@v1", "2024-03-01")
    assert len(undecided) > 1
    assert (pd.to_datetime(undecided["cutoff"]) == pd.Timestamp("2024-02-19")).all()
    assert (
        f"on {len(undecided)} rows of onboard_30d@v1: users at signup + 30 days whose "
        "outcome is still open on 2024-03-01 (segment: all)" in output
    )
    params = mlflow.MlflowClient().get_run(_run_id(output)).data.params
    assert params["cutoff"] == "2024-03-01"
    assert params["feature_set_fingerprint"] == scoring.fingerprint
