"""`usagecast score`: every eligible user at a cutoff, ranked, with provenance in Parquet."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow.parquet as pq
import pytest

from contracts.errors import UsagecastError
from contracts.manifest import FeatureSetManifest
from contracts.refs import FeatureSetRef
from features.featureset import build_feature_set, load_scoring_rows
from features.featureset.store import build_dir, mark_latest, write_build
from registry import promote_run
from registry.promote import load_registered
from registry.scoring import own_cutoffs, read_scores, reason_columns
from usagecast_cli.main import main

MODEL = "models:/premium_30d@champion"


@pytest.mark.slow
def test_score_defaults_to_todays_users_from_scoring_rows(
    premium_store, log_run, tmp_path, capsys
):
    """No build needed: the scoring rows at the day after the last event are built, then
    reused; the cutoff is printed and recorded with kind=scoring."""
    promote_run(log_run(spec_model=True))
    out = tmp_path / "scores.parquet"
    args = ["score", "premium_30d@v1", "--model", MODEL, "--out", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "at cutoff 2024-04-01T00:00:00 (scoring rows " in printed and ", built)" in printed
    assert "own cutoff" not in printed  # calendar rows stand at the scoring day
    rows, manifest = load_scoring_rows("premium_30d@v1")
    scores = pd.read_parquet(out)
    assert len(scores) == len(rows) > 10
    assert set(scores["user_id"]) == set(rows["user_id"])
    provenance = json.loads(pq.read_schema(out).metadata[b"usagecast"])
    assert provenance["kind"] == "scoring" and provenance["cutoff"] == "2024-04-01T00:00:00"
    assert provenance["feature_set_fingerprint"] == manifest.fingerprint
    assert provenance["model_version"] == "1"
    assert main(args) == 0 and ", reused)" in capsys.readouterr().out
    assert main([*args, "--cutoff", "2024-03-01"]) == 0
    assert "at cutoff 2024-03-01T00:00:00" in capsys.readouterr().out
    assert main([*args, "--cutoff", "2024-04-02"]) == 2
    assert "may be any date up to 2024-04-01" in capsys.readouterr().err


@pytest.mark.slow
def test_scoring_rows_score_like_the_training_rows_at_a_labelled_cutoff(
    premium_store, log_run, tmp_path
):
    """Same features at a labelled cutoff: the same probabilities whichever rows are scored."""
    promote_run(log_run(spec_model=True))
    training = build_feature_set("premium_30d@v1")
    paths = {kind: tmp_path / f"{kind}.parquet" for kind in ("scoring", "training")}
    refs = {"scoring": "premium_30d@v1", "training": f"premium_30d@v1/{training.fingerprint}"}
    for kind, ref in refs.items():
        assert (
            main(
                [
                    "score",
                    ref,
                    "--model",
                    MODEL,
                    "--out",
                    str(paths[kind]),
                    "--cutoff",
                    "2024-03-01",
                ]
            )
            == 0
        )
    scoring, labelled = (pd.read_parquet(paths[k]) for k in ("scoring", "training"))
    assert len(labelled) > 10
    pd.testing.assert_frame_equal(scoring, labelled)


def _write_feature_set(rows: pd.DataFrame) -> None:
    """A built feature set in the workspace, through the feature store's own writer."""
    ref = FeatureSetRef.parse("premium_30d@v1")
    half = len(rows) // 2
    frame = rows.assign(
        user_id=[f"u{i}" for i in range(len(rows))],
        cutoff=[pd.Timestamp("2026-01-01")] * half
        + [pd.Timestamp("2026-02-01")] * (len(rows) - half),
    )
    manifest = FeatureSetManifest.from_dict({"fingerprint": "fp-built"})
    write_build(frame, manifest, build_dir(ref, "fp-built"))
    mark_latest(ref, "fp-built")


@pytest.mark.slow
def test_score_ranks_a_builds_latest_cutoff_and_records_provenance(
    log_run, held_out, tmp_path, capsys
):
    _write_feature_set(held_out())
    promote_run(log_run())
    out = tmp_path / "scores.parquet"
    code = main(["score", "premium_30d@v1/fp-built", "--model", MODEL, "--out", str(out)])
    assert code == 0
    assert "version 1" in capsys.readouterr().out
    scores = pd.read_parquet(out)
    assert len(scores) == 150
    assert set(scores["cutoff"]) == {pd.Timestamp("2026-02-01")}
    assert list(scores["rank"]) == list(range(1, 151))
    assert scores["probability"].is_monotonic_decreasing
    provenance = json.loads(pq.read_schema(out).metadata[b"usagecast"])
    assert provenance["model_version"] == "1"
    assert provenance["feature_set_fingerprint"] == "fp-built"
    assert provenance["model_feature_set_fingerprint"] == "fp-test"


@pytest.mark.slow
def test_score_at_an_earlier_cutoff_and_a_missing_one(log_run, held_out, tmp_path, capsys):
    _write_feature_set(held_out())
    promote_run(log_run())
    out = tmp_path / "scores.parquet"
    args = ["score", "premium_30d@v1/fp-built", "--model", MODEL, "--out", str(out)]
    assert main([*args, "--cutoff", "2026-01-01"]) == 0
    assert set(pd.read_parquet(out)["cutoff"]) == {pd.Timestamp("2026-01-01")}
    assert main([*args, "--cutoff", "2025-06-01"]) == 2
    assert "cutoffs: ['2026-01-01', '2026-02-01']" in capsys.readouterr().err
    assert main([*args, "--cutoff", "last tuesday"]) == 2
    assert "not a date" in capsys.readouterr().err


@pytest.mark.slow
def test_score_writes_expected_business_numbers_beside_the_scores(
    log_run, held_out, tmp_path, capsys
):
    _write_feature_set(held_out())
    promote_run(log_run())
    out = tmp_path / "scores.parquet"
    args = ["score", "premium_30d@v1/fp-built", "--model", MODEL, "--out", str(out)]
    assert (
        main([*args, "--capacity", "0.1", "--contact-cost", "1", "--conversion-value", "5"]) == 0
    )
    printed = capsys.readouterr().out
    p = pd.read_parquet(out)["probability"].to_numpy()  # ranked, highest first
    summary = json.loads((tmp_path / "scores.business.json").read_text())
    assert (summary["capacity"], summary["contact_cost"], summary["conversion_value"]) == (
        "0.1",
        "1",
        "5",
    )
    assert summary["users"] == 150 and summary["capacity_users"] == 15
    assert summary["probability_cutoff_at_capacity"] == p[14]
    assert summary["expected_profit_at_capacity"] == pytest.approx(5 * p[:15].sum() - 15)
    # Contacting pays while 5 p > 1: the best k is the users above a probability of 0.2.
    assert summary["best_k"] == int((p > 0.2).sum())
    best = summary["best_k"]
    assert summary["expected_profit_at_optimum"] == pytest.approx(5 * p[:best].sum() - best)
    assert "expected values" in summary["note"]
    assert (tmp_path / "scores.profit_curve.png").stat().st_size > 0
    assert "business: 15 of 150 users within capacity (probability >= " in printed
    assert f"contacting the top {best} users" in printed

    (tmp_path / "scores.profit_curve.png").unlink()
    assert main([*args, "--capacity", "15"]) == 0  # no cost and value: no profit, no plot
    assert "best_k" not in json.loads((tmp_path / "scores.business.json").read_text())
    assert not (tmp_path / "scores.profit_curve.png").exists()


@pytest.mark.slow
def test_scores_as_csv_for_a_crm_hold_the_parquets_rows_and_its_provenance_beside(
    log_run, held_out, tmp_path
):
    _write_feature_set(held_out())
    promote_run(log_run())
    args = ["score", "premium_30d@v1/fp-built", "--model", MODEL, "--capacity", "15", "--out"]
    assert main([*args, str(tmp_path / "scores.parquet")]) == 0
    assert main([*args, str(tmp_path / "scores.csv")]) == 0
    parquet = pd.read_parquet(tmp_path / "scores.parquet")
    csv = pd.read_csv(tmp_path / "scores.csv", dtype={"user_id": str}, parse_dates=["cutoff"])
    pd.testing.assert_frame_equal(csv, parquet, check_dtype=False)
    beside = json.loads((tmp_path / "scores.provenance.json").read_text())
    inside = json.loads(pq.read_schema(tmp_path / "scores.parquet").metadata[b"usagecast"])
    assert {k: v for k, v in beside.items() if k != "scored_at"} == {
        k: v for k, v in inside.items() if k != "scored_at"
    }
    business = json.loads((tmp_path / "scores.business.json").read_text())
    assert business["scores"] == "scores.csv" and business["capacity_users"] == 15


@pytest.mark.slow
def test_reasons_are_the_served_explanations_of_each_scored_user(log_run, held_out, tmp_path):
    rows = held_out()
    _write_feature_set(rows)
    promote_run(log_run())
    args = ["score", "premium_30d@v1/fp-built", "--model", MODEL, "--reasons", "2", "--out"]
    assert main([*args, str(tmp_path / "scores.parquet")]) == 0
    assert main([*args, str(tmp_path / "scores.csv")]) == 0
    scores = pd.read_parquet(tmp_path / "scores.parquet")
    csv = read_scores(tmp_path / "scores.csv")
    assert list(scores.columns[:5]) == ["user_id", "cutoff", "probability", "label", "rank"]
    assert list(scores.columns[5:8]) == ["reason_1", "reason_1_value", "reason_1_contribution"]
    pd.testing.assert_frame_equal(csv, scores, check_dtype=False)  # values stay text
    # The server's explain answer for the same users' rows, reason by reason.
    model, names = load_registered(MODEL, tmp_path / "model")
    built = rows.assign(user_id=[f"u{i}" for i in range(len(rows))]).set_index("user_id")
    served = model.predict(
        built.loc[scores["user_id"], names].reset_index(drop=True),
        params={"mode": "explain", "k": 2},
    )
    for i in (0, 1):
        expected = [answer[i] for answer in served["contributions"]]
        assert scores[f"reason_{i + 1}"].tolist() == [c["feature"] for c in expected]
        assert scores[f"reason_{i + 1}_contribution"].tolist() == pytest.approx(
            [c["contribution"] for c in expected]
        )
    assert (scores["reason_1_contribution"].abs() >= scores["reason_2_contribution"].abs()).all()


def test_reason_columns_leave_a_reason_blank_past_a_rows_last():
    contributions = pd.Series(
        [
            [{"feature": "plan", "value": "pro", "contribution": 0.5}],
            [
                {"feature": "count_PLAY_7d", "value": 12, "contribution": -0.25},
                {"feature": "plan", "value": None, "contribution": 0.125},
            ],
        ]
    )
    assert reason_columns(contributions, 2) == {
        "reason_1": ["plan", "count_PLAY_7d"],
        "reason_1_value": ["pro", "12"],
        "reason_1_contribution": [0.5, -0.25],
        "reason_2": [None, "plan"],
        "reason_2_value": [None, None],
        "reason_2_contribution": [None, 0.125],
    }


@pytest.mark.parametrize("name", ["scores.xlsx", "scores"])
def test_scores_are_refused_before_any_work_for_another_file_kind(tmp_path, capsys, name):
    out = tmp_path / name
    assert main(["score", "premium_30d@v1", "--model", MODEL, "--out", str(out)]) == 2
    assert "scores are written as .parquet or .csv" in capsys.readouterr().err
    assert not out.exists()


def test_a_bare_model_name_is_refused_before_any_work_with_the_uri_it_means(tmp_path, capsys):
    out = tmp_path / "scores.csv"
    assert main(["score", "premium_30d@v1", "--model", "premium_30d", "--out", str(out)]) == 2
    assert (
        "model 'premium_30d' is not a model URI nor a model folder; a registered model's "
        "champion is models:/premium_30d@champion"
    ) in capsys.readouterr().err
    assert not out.exists()


def test_a_model_the_registry_lacks_is_a_one_line_error(mlflow_store, tmp_path):
    with pytest.raises(UsagecastError) as error:
        load_registered("models:/nosuch@champion", tmp_path)
    assert str(error.value) == (
        "model 'models:/nosuch@champion': cannot load it (Registered Model with name=nosuch "
        "not found)"
    )


def test_rows_own_cutoffs_are_named_only_when_some_stand_before_the_scoring_day():
    day = pd.Timestamp("2024-07-01")
    assert own_cutoffs(pd.Series(pd.to_datetime(["2024-07-01", "2024-07-01"])), day) is None
    signup_relative = pd.Series(pd.to_datetime(["2024-06-12", "2024-07-01", "2024-06-02"]))
    assert own_cutoffs(signup_relative, day) == ("2024-06-02", "2024-07-01")
