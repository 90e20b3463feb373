"""A value label end to end on a small simulated product: simulate, ingest, build
ltv_90d@v2, tune (LightGBM regression), promote, serve the champion, and read it back in
`analytics ltv --model`."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from analytics import channel_ranking, ltv_backtest
from analytics.runs import model_values, opened_engine, run_ltv
from contracts.errors import UsagecastError
from contracts.lineage import BASELINE_RMSE_METRIC, MODEL_OUTPUT_TAG, VALUE_OUTPUT
from contracts.manifest import FeatureSetManifest
from experiments import TuneConfig, format_summary, tune
from experiments.inputs import check_frame, read_inputs
from experiments.value_plots import decile_calibration_figure
from experiments.value_run import (
    ORACLE_NOTE,
    ValueTuneResult,
    metrics_where_predicted,
    per_channel_table,
)
from features.featureset import load_feature_set, store
from registry import list_models, names, promote_run
from serving.local_server import running_server
from simulator.config import CHANNEL_PLAN_VALUE, CHANNELS
from usagecast_cli.main import main

REF = "ltv_90d@v2"
CHAMPION = "models:/ltv_90d@champion"


def test_per_channel_table_ranks_by_totals():
    table = per_channel_table(
        pd.Series(["a", "b", "a", "c"]), np.array([1.0, 5.0, 1.0, 0.0]), np.array([2, 4, 1, 1.0])
    )
    assert table["channel"].tolist() == ["b", "a", "c"]
    assert table["predicted_total"].tolist() == [4.0, 3.0, 1.0]
    assert table["realised_rank"].tolist() == [1.0, 2.0, 3.0]
    assert table["predicted_rank"].tolist() == [1.0, 2.0, 3.0]
    # (realised, predicted) per row: b (5, 4), a (1, 1.5), c (0, 1)
    assert table["realised_mean_rank"].tolist() == [1.0, 2.0, 3.0]
    assert table["predicted_mean_rank"].tolist() == [1.0, 2.0, 3.0]


def test_per_channel_table_ranks_per_row_apart_from_totals():
    table = per_channel_table(
        pd.Series(["big", "big", "big", "small"]),
        np.array([1.0, 1.0, 1.0, 2.0]),
        np.array([1.0, 1.0, 0.5, 2.0]),
    )
    assert table["channel"].tolist() == ["big", "small"]
    assert table["realised_rank"].tolist() == [1.0, 2.0]  # 3 vs 2 in total
    assert table["realised_mean_rank"].tolist() == [2.0, 1.0]  # 1 vs 2 per row
    assert table["predicted_rank"].tolist() == [1.0, 2.0]
    assert table["predicted_mean_rank"].tolist() == [2.0, 1.0]


def _tiny_value_feature_set() -> str:
    """A value label over five monthly cutoffs, written straight into the store."""
    rng = np.random.default_rng(0)
    cutoffs = [pd.Timestamp(f"2024-{month:02d}-01") for month in range(1, 6)]
    frame = pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in range(50)] * 5,
            "cutoff": np.repeat(cutoffs, 50),
            "label": np.where(rng.random(250) < 0.3, 9.99, 0.0),
            "plays_30d": rng.poisson(20, 250).astype(float),
        }
    )
    manifest = FeatureSetManifest.from_dict(
        {
            "ref": "tiny_value@v1",
            "name": "tiny_value",
            "fingerprint": "fp-value",
            "data_digest": "synthetic-in-test",
            "label": {"kind": "value_within", "event_type": "BUY", "horizon_days": 30},
            "features": [{"name": "plays_30d", "dtype": "numeric"}],
            "actionable": [{"name": "plays_30d", "causal": "increases"}],
        }
    )
    ref = manifest.feature_set
    store.write_build(frame, manifest, store.build_dir(ref, manifest.fingerprint))
    store.mark_latest(ref, manifest.fingerprint)
    return str(ref)


@pytest.mark.parametrize(
    ("option", "flag"),
    [
        ({"workers": 2}, "--workers"),
        ({"resume": True}, "--resume"),
        ({"study": "s"}, "--study"),
        ({"monotone": True}, "--monotone true"),
        ({"refit": "train+validation"}, "--refit train"),
    ],
)
def test_tuning_options_of_classifiers_are_refused_for_a_value_label(option, flag):
    with pytest.raises(UsagecastError, match=flag):
        tune(TuneConfig(_tiny_value_feature_set(), trials=1, **option))


def test_negative_values_are_refused():
    ref = _tiny_value_feature_set()
    frame, manifest = load_feature_set(ref)
    frame.loc[0, "label"] = -1.0
    with pytest.raises(UsagecastError, match="not negative, 1 row"):
        check_frame(ref, frame, read_inputs(manifest))


def _simulated_feature_set(tmp_path, users: int) -> None:
    out = tmp_path / "export"
    size = ["--users", str(users), "--months", "10", "--seed", "7"]
    assert main(["simulate", *size, "--no-progress", "--out", str(out)]) == 0
    assert main(["ingest", str(out / "dataset.yaml"), "--no-progress"]) == 0
    assert main(["features", "build", REF, "--no-progress"]) == 0


@pytest.mark.slow
@pytest.mark.serve
def test_value_label_tunes_promotes_and_serves(tmp_path, capsys):
    _simulated_feature_set(tmp_path, users=400)
    result = tune(TuneConfig(REF, trials=3, seed=0))
    summary = format_summary(result)
    assert "LightGBM regression (poisson)" in summary and ORACLE_NOTE in summary

    run = MlflowClient().get_run(result.parent_run_id)
    metrics, params = run.data.metrics, run.data.params
    for part in ("val", "test"):
        for key in ("rmse", "mae", "normalised_gini", "decile_mae", "total_ratio"):
            assert f"{part}_{key}" in metrics
    assert BASELINE_RMSE_METRIC in metrics
    assert "baseline_ltv_formula_test_rmse" in metrics  # the formula had the event store
    assert params["objective"] == "poisson" and params["family"] == "lightgbm_regression"
    # The served model carries the validation rows' total calibration (one multiplier).
    assert float(params["total_calibration"]) == pytest.approx(result.total_calibration)
    assert f"total calibrated x{result.total_calibration:.3f}" in summary
    assert run.data.tags[MODEL_OUTPUT_TAG] == VALUE_OUTPUT
    artifacts = {a.path for a in MlflowClient().list_artifacts(run.info.run_id, "plots")}
    assert {"plots/decile_calibration.png", "plots/predicted_vs_realised.png"} <= artifacts
    assert metrics["test_rmse"] == pytest.approx(result.test_metrics["rmse"])

    promotion = promote_run(result.parent_run_id)
    assert promotion.promoted, promotion.reason
    assert "normalised Gini" in promotion.reason
    again = promote_run(result.parent_run_id)  # the same model against itself: no gain
    assert not again.promoted and "+0.0000 < margin" in again.reason
    version_tags = MlflowClient().get_model_version(promotion.name, promotion.version).tags
    assert float(version_tags[names.TAG_GINI]) == pytest.approx(
        metrics["test_normalised_gini"], abs=1e-6
    )
    assert names.TAG_BASELINE_RMSE in version_tags and names.TAG_METRIC not in version_tags
    [listed] = [row for row in list_models(promotion.name) if row.version == promotion.version]
    assert listed.normalised_gini and not listed.roc_auc

    frame, _ = load_feature_set(REF)
    test_rows = frame[pd.to_datetime(frame["cutoff"]) == pd.to_datetime(frame["cutoff"]).max()]
    values = model_values(CHAMPION, test_rows)
    assert (values > 0).all() and values.index.equals(test_rows.index)
    printed = run_ltv(
        feature_set=REF, model=CHAMPION, cutoff_from=pd.to_datetime(frame["cutoff"]).max()
    )
    assert "model_mean" in printed and "model_over_realised" in printed

    scored_file = tmp_path / "scored.parquet"
    assert main(["score", REF, "--model", CHAMPION, "--out", str(scored_file)]) == 0
    scored = pd.read_parquet(scored_file)
    assert {"value", "rank"} <= set(scored.columns) and "probability" not in scored.columns
    assert scored["value"].is_monotonic_decreasing and (scored["value"] > 0).all()

    env = {"MLFLOW_TRACKING_URI": mlflow.get_tracking_uri()}
    head = test_rows.head(3)
    features = json.loads(
        head.drop(columns=["label"]).to_json(orient="records", date_format="iso")
    )
    with running_server(CHAMPION, tmp_path / "server.log", env) as base:
        request = urllib.request.Request(
            f"{base}/invocations",
            data=json.dumps({"dataframe_records": features}).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                answer = json.loads(response.read())["predictions"]
        except urllib.error.HTTPError as error:
            pytest.fail(f"{error.code}: {error.read().decode()[:2000]}")
    np.testing.assert_allclose([row["value"] for row in answer], values.head(3), rtol=1e-9)


@pytest.mark.slow
def test_on_the_simulator_channels_rank_by_value_per_row_as_their_plans(tmp_path):
    """At the demo's size the realised value per test row orders the channels as their plans
    do, and the LTV formula's backtest and the tuned model order them alike (pinterest, the
    smallest channel, is split from the rest: docs/decisions/value-model.md)."""
    _simulated_feature_set(tmp_path, users=2000)
    result = tune(TuneConfig(REF, trials=5, seed=0))
    registered = promote_run(result.parent_run_id)
    frame, manifest = load_feature_set(REF)
    cutoffs = pd.to_datetime(frame["cutoff"])
    test_rows = frame[cutoffs == cutoffs.max()]
    values = model_values(f"models:/{registered.name}/{registered.version}", test_rows)
    with opened_engine() as engine:
        table = ltv_backtest(engine, test_rows, manifest, ["BUY_PREMIUM"], model_values=values)
    ranking = channel_ranking(table).set_index("predictor")

    by_plan = sorted(CHANNELS, key=lambda name: -CHANNEL_PLAN_VALUE[CHANNELS.index(name)])
    assert ranking.loc["formula", "realised_order"] == " > ".join(by_plan)
    assert ranking.loc["formula", "same_order"]
    assert ranking.loc["model", "predicted_order"] == " > ".join(by_plan)


def test_a_baseline_without_predictions_is_plotted_and_counted_where_it_predicts():
    realised = np.array([0.0, 1.0, 3.0, 0.0])
    formula = np.array([np.nan, 2.0, 2.0, np.nan])
    figure = decile_calibration_figure(realised, {"model": realised + 1, "formula": formula})
    lines = {line.get_label(): line for line in figure.axes[0].get_lines()}
    assert list(lines["formula"].get_xdata()) == [2.0, 2.0]
    assert metrics_where_predicted(realised, formula)["rows_predicted"] == 2.0
    assert metrics_where_predicted(realised, np.full(4, np.nan)) == {"rows_predicted": 0.0}


@pytest.mark.parametrize("simulated", [True, False])
def test_the_oracle_note_speaks_of_the_simulator_only_for_simulated_data(simulated):
    result = ValueTuneResult(
        parent_run_id="run",
        experiment_id="1",
        study_name="study",
        best_params={},
        validation_metrics={"rmse": 1.0},
        test_metrics={"rmse": 1.0},
        baseline_test={},
        per_channel=None,
        tracking_uri="sqlite:///mlflow.db",
        plots_uri="file:///plots",
        total_calibration=1.0,
        simulated=simulated,
    )
    assert (ORACLE_NOTE in result.summary()) == simulated
