"""End-to-end tuning runs in a real SQLite MLflow store and a real Optuna journal."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import datetime

import mlflow
import numpy as np
import optuna
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from contracts.workspace import optuna_dir
from experiments import TuneConfig, format_summary, tune
from experiments.metrics import evaluate
from experiments.objective import WORKER_PID_ATTR
from experiments.split import DEFAULT_FOLDS
from experiments.study import load_study, open_storage
from features import workspace
from registry import promote_run
from usagecast_cli.main import build_parser, main

PLOTS = {
    "roc",
    "precision_recall",
    "gains_lift",
    "calibration",
    "shap_beeswarm",
    "shap_importance",
    "optuna_history",
    "optuna_param_importances",
}
REQUIRED_TAGS = {
    "feature_set",
    "feature_set_fingerprint",
    "config_hash",
    "git_commit",
    "seed",
    "optuna_study",
    "leakage_scan",
    "leakage_flagged",
    "leakage_warned",
}


def _children(client: MlflowClient, run) -> list:
    return client.search_runs(
        [run.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{run.info.run_id}'",
        max_results=1000,
    )


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.mark.slow
def test_a_run_records_trials_baselines_lineage_plots_and_a_servable_model(
    synthetic_ref, tmp_path
):
    result = tune(TuneConfig(feature_set=synthetic_ref, trials=6, seed=3))
    client = MlflowClient(result.tracking_uri)
    run = client.get_run(result.parent_run_id)
    assert run.info.status == "FINISHED"
    assert client.get_experiment(run.info.experiment_id).name == "synthetic"
    # Artifacts live beside the SQLite store, not in the folder the command ran in.
    assert run.info.artifact_uri.startswith((tmp_path / "mlartifacts").as_uri())
    assert set(run.data.tags) >= REQUIRED_TAGS
    assert run.data.tags["seed"] == "3" and run.data.tags["leakage_scan"] == "ok"
    assert run.data.tags["optuna_study"] == result.study_name
    for metric in (
        "test_roc_auc",
        "test_pr_auc",
        "test_logloss",
        "test_brier",
        "test_ece",
        "test_lift_at_1pct",
        "test_precision_at_10pct",
        "val_roc_auc",
    ):
        assert np.isfinite(run.data.metrics[metric])
    assert run.data.metrics["test_roc_auc"] > 0.75  # the synthetic signal is strong

    children = _children(client, run)
    trials = [c for c in children if "optuna_trial" in c.data.tags]
    assert sorted(int(c.data.tags["optuna_trial"]) for c in trials) == list(range(6))
    assert all(c.data.tags["pruned"] in ("true", "false") for c in trials)
    assert all("learning_rate" in c.data.params for c in trials)
    baselines = {c.data.tags.get("baseline") for c in children} - {None}
    assert baselines == {"majority_class", "l1_logistic"}

    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"test_set.parquet", "resolved_config.json", "plots"} <= artifacts
    plots = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
    assert plots == {f"plots/{name}.png" for name in PLOTS}
    assert [i.dataset.digest for i in run.inputs.dataset_inputs] == ["fp0007000300"]

    test_rows = pd.read_parquet(
        mlflow.artifacts.download_artifacts(
            run_id=run.info.run_id, artifact_path="test_set.parquet"
        )
    )
    assert set(test_rows["cutoff"]) == {pd.Timestamp("2024-05-01")}
    model = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    scored = model.predict(test_rows.drop(columns=["user_id", "cutoff", "label"]).head(20))
    probabilities = scored["probability"].to_numpy()
    assert probabilities.shape == (20,)
    assert np.all((probabilities > 0) & (probabilities < 1))
    threshold = float(run.data.params["threshold"])
    assert (scored["label"].to_numpy() == (probabilities >= threshold)).all()
    # Test metrics are those of the served (calibrated) probabilities; the raw ECE beside them.
    assert run.data.params["calibration"] == "platt"
    assert np.isfinite([run.data.metrics[m] for m in ("test_ece_raw", "val_ece_raw")]).all()
    served = model.predict(test_rows.drop(columns=["user_id", "cutoff", "label"]))
    labels = test_rows["label"].to_numpy(dtype=float)
    assert evaluate(labels, served["probability"].to_numpy())["ece"] == pytest.approx(
        run.data.metrics["test_ece"], abs=1e-12
    )


@pytest.mark.slow
def test_the_logistic_baseline_logs_a_servable_model_that_promotes_like_a_tuning_run(
    synthetic_ref,
):
    result = tune(TuneConfig(feature_set=synthetic_ref, trials=2, seed=3))
    client = MlflowClient(result.tracking_uri)
    parent = client.get_run(result.parent_run_id)
    (child,) = [
        c for c in _children(client, parent) if c.data.tags.get("baseline") == "l1_logistic"
    ]
    assert set(child.data.tags) >= REQUIRED_TAGS - {"optuna_study"}
    assert {"C", "threshold"} <= set(child.data.params)
    test_rows = pd.read_parquet(
        mlflow.artifacts.download_artifacts(
            run_id=child.info.run_id, artifact_path="test_set.parquet"
        )
    )
    model = mlflow.pyfunc.load_model(f"runs:/{child.info.run_id}/model")
    served = model.predict(test_rows.drop(columns=["user_id", "cutoff", "label"]))
    # The logged metrics are the served model's.
    metrics = evaluate(test_rows["label"].to_numpy(dtype=float), served["probability"])
    for name in ("roc_auc", "ece", "logloss"):
        assert metrics[name] == pytest.approx(child.data.metrics[f"test_{name}"], abs=1e-12)
    promoted = promote_run(child.info.run_id)
    assert promoted.promoted and promoted.champion == "1", promoted.reason


@pytest.mark.slow
def test_same_seed_same_best_params_and_test_metrics(synthetic_ref):
    first = tune(TuneConfig(feature_set=synthetic_ref, trials=5, seed=11))
    second = tune(TuneConfig(feature_set=synthetic_ref, trials=5, seed=11))
    assert first.study_name != second.study_name  # a fresh study, not a resume
    assert first.best_params == second.best_params
    assert first.test_metrics == second.test_metrics


@pytest.mark.slow
def test_resume_continues_a_killed_run_and_leaves_nothing_running(synthetic_ref):
    first = tune(TuneConfig(feature_set=synthetic_ref, trials=3, seed=5))
    # What a SIGKILL mid-run leaves behind: a RUNNING trial and a RUNNING parent run whose
    # process is gone.
    storage = open_storage(f"journal://{optuna_dir() / 'synthetic.journal'}")
    study = load_study(storage, first.study_name, "roc_auc", seed=5, worker_index=0)
    orphan = study.ask()
    orphan.set_user_attr(WORKER_PID_ATTR, _dead_pid())
    client = MlflowClient(first.tracking_uri)
    stale = client.create_run(
        first.experiment_id,
        tags={
            "usagecast.kind": "tuning",
            "usagecast.pid": str(_dead_pid()),
            "usagecast.host": socket.gethostname(),
        },
    )

    # A nested run created but never finished: the writer died between the two calls.
    half_written = client.create_run(
        first.experiment_id,
        tags={
            "mlflow.parentRunId": stale.info.run_id,
            "usagecast.kind": "nested",
            "usagecast.pid": str(_dead_pid()),
            "usagecast.host": socket.gethostname(),
        },
    )

    resumed = tune(TuneConfig(feature_set=synthetic_ref, trials=5, seed=5, resume=True))
    assert resumed.study_name == first.study_name
    states = [t.state for t in load_study(storage, first.study_name, "roc_auc", 5, 0).trials]
    finished = [s for s in states if s.is_finished() and s != optuna.trial.TrialState.FAIL]
    assert len(finished) == 5
    assert states[orphan.number] == optuna.trial.TrialState.FAIL
    assert client.get_run(stale.info.run_id).info.status == "KILLED"
    assert client.get_run(half_written.info.run_id).info.status == "KILLED"
    new_trials = [
        c
        for c in _children(client, client.get_run(resumed.parent_run_id))
        if "optuna_trial" in c.data.tags
    ]
    assert sorted(int(c.data.tags["optuna_trial"]) for c in new_trials) == [4, 5]
    running = client.search_runs([first.experiment_id], "attributes.status = 'RUNNING'")
    assert running == []


@pytest.mark.slow
def test_two_workers_complete_exactly_the_requested_trials(synthetic_ref):
    result = tune(TuneConfig(feature_set=synthetic_ref, trials=7, workers=2, seed=2))
    storage = open_storage(f"journal://{optuna_dir() / 'synthetic.journal'}")
    trials = load_study(storage, result.study_name, "roc_auc", 2, 0).trials
    assert len(trials) == 7
    assert all(t.state.is_finished() and t.state.name != "FAIL" for t in trials)
    pids = {t.user_attrs[WORKER_PID_ATTR] for t in trials}
    assert len(pids) == 2 and os.getpid() in pids
    client = MlflowClient(result.tracking_uri)
    logged = [
        c
        for c in _children(client, client.get_run(result.parent_run_id))
        if "optuna_trial" in c.data.tags
    ]
    assert sorted(int(c.data.tags["optuna_trial"]) for c in logged) == list(range(7))


def test_cli_reports_a_missing_feature_set_in_one_line(capsys):
    assert main(["tune", "nothing@v1", "--trials", "2"]) == 2
    assert capsys.readouterr().err.startswith("error: ")


@pytest.mark.slow
def test_signup_relative_cutoffs_tune_with_a_time_split_and_finite_metrics(signup_relative_ref):
    result = tune(TuneConfig(feature_set=signup_relative_ref, trials=2, seed=1))
    client = MlflowClient(result.tracking_uri)
    run = client.get_run(result.parent_run_id)
    assert run.info.status == "FINISHED"
    assert all(np.isfinite(value) for value in run.data.metrics.values())
    metrics, params = run.data.metrics, run.data.params
    # 400 users at 400 distinct cutoffs: 20 % each in validation and test, the rest in train
    # or embargoed by the 14-day label window.
    assert metrics["val_rows"] == 80 and metrics["test_rows"] == 80
    assert metrics["embargoed_rows"] > 0
    assert metrics["train_rows"] + 160 + metrics["embargoed_rows"] == 400
    assert metrics["test_positives"] >= 5 and metrics["val_positives"] >= 5
    assert params["split_boundaries_given"] == "none"
    test_from = pd.Timestamp(params["split_test_from"])
    assert pd.Timestamp(params["split_validation_from"]) < test_from
    test_rows = pd.read_parquet(
        mlflow.artifacts.download_artifacts(
            run_id=run.info.run_id, artifact_path="test_set.parquet"
        )
    )
    assert len(test_rows) == 80 and (test_rows["cutoff"] >= test_from).all()


@pytest.mark.slow
def test_given_boundaries_are_used_and_recorded(synthetic_ref):
    result = tune(
        TuneConfig(
            feature_set=synthetic_ref,
            trials=1,
            seed=1,
            validation_from=datetime(2024, 3, 1),
            test_from=datetime(2024, 4, 1),
        )
    )
    run = MlflowClient(result.tracking_uri).get_run(result.parent_run_id)
    assert run.data.params["split_boundaries_given"] == "validation_from,test_from"
    assert run.data.params["split_test_from"] == "2024-04-01T00:00:00"
    # Jan trains, Feb is embargoed (its 30-day labels end after Mar 1), Apr and May test.
    assert run.data.metrics["train_rows"] == 300 and run.data.metrics["embargoed_rows"] == 300
    assert run.data.metrics["test_rows"] == 600


def test_cli_refuses_a_too_small_test_part_naming_the_option(synthetic_ref, capsys):
    assert main(["tune", synthetic_ref, "--trials", "1", "--test-from", "2024-05-02"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: the test part is too small")
    assert "test 0 rows" in error and "--test-from earlier" in error


def test_cli_refuses_a_boundary_that_is_not_a_date(synthetic_ref, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["tune", synthetic_ref, "--validation-from", "March"])
    assert exited.value.code == 2
    assert "expected a date like 2024-05-01" in capsys.readouterr().err


def test_the_cli_leaves_the_folds_to_the_library_unless_given():
    assert build_parser().parse_args(["tune", "x@v1"]).folds is None
    assert build_parser().parse_args(["tune", "x@v1", "--folds", "1"]).folds == 1
    help_text = build_parser()._subparsers._group_actions[0].choices["tune"].format_help()
    assert f"default {DEFAULT_FOLDS}," in " ".join(help_text.split())


@pytest.mark.slow
def test_trials_are_scored_on_rolling_origin_folds_and_record_them(synthetic_ref):
    # Monthly cutoffs Jan..May, 30-day labels: test May, validation Apr (train Jan-Mar); one
    # earlier fold validates on Mar and trains on Jan (Feb's labels reach Mar 2); no third.
    result = tune(TuneConfig(feature_set=synthetic_ref, trials=3, seed=2))
    assert result.folds == 2
    assert result.folds_note.startswith("--folds 3: the data allow 2 rolling-origin fold(s)")
    assert "note: --folds 3" in format_summary(result)
    client = MlflowClient(result.tracking_uri)
    run = client.get_run(result.parent_run_id)
    params, metrics = run.data.params, run.data.metrics
    assert (params["split_folds"], params["split_folds_requested"]) == ("2", "3")
    assert result.split_note is None and params["split_rule"] == "shares"
    day = "T00:00:00"
    assert params["split_fold_1_train"] == f"2024-01-01{day}..2024-01-01{day}"
    assert params["split_fold_1_validation"] == f"2024-03-01{day}..2024-03-01{day}"
    assert params["split_fold_2_train"] == f"2024-01-01{day}..2024-03-01{day}"
    assert params["split_fold_2_validation"] == f"2024-04-01{day}..2024-04-01{day}"
    assert metrics["fold_1_train_rows"] == 300 and metrics["fold_2_train_rows"] == 900
    assert metrics["best_trial_folds"] == 2 and metrics["best_trial_val_roc_auc_std"] >= 0
    trials = [c for c in _children(client, run) if c.data.tags.get("optuna_state") == "COMPLETE"]
    assert trials
    for trial in trials:
        m = trial.data.metrics
        folds = [m["val_roc_auc_fold_1"], m["val_roc_auc_fold_2"]]
        assert trial.data.params["folds"] == "2" and m["folds"] == 2
        assert m["val_roc_auc"] == pytest.approx(np.mean(folds))
        assert m["val_roc_auc_std"] == pytest.approx(np.std(folds))


@pytest.mark.slow
def test_business_options_log_metrics_at_a_capacity_and_a_profit_curve(synthetic_ref, capsys):
    argv = ["tune", synthetic_ref, "--trials", "1", "--seed", "1", "--capacity", "30"]
    assert main([*argv, "--contact-cost", "1", "--conversion-value", "8"]) == 0
    printed = capsys.readouterr().out
    run_id = printed.split("parent run: ", 1)[1].split()[0]
    client = MlflowClient(workspace.activate_mlflow_tracking())
    run = client.get_run(run_id)
    metrics, params = run.data.metrics, run.data.params
    assert (params["capacity"], params["contact_cost"], params["conversion_value"]) == (
        "30",
        "1",
        "8",
    )
    assert metrics["test_capacity_rows"] == 30 and metrics["val_capacity_rows"] == 30
    for part in ("val", "test"):
        for rate in ("precision_at_capacity", "recall_at_capacity", "precision_at_optimum"):
            assert 0 <= metrics[f"{part}_{rate}"] <= 1
        assert metrics[f"{part}_profit_at_optimum"] >= max(
            metrics[f"{part}_profit_at_capacity"], 0
        )
    # The strong synthetic signal ranks buyers first.
    assert metrics["test_lift_at_capacity"] > 1.5
    assert 0 < metrics["test_contacted_at_optimum"] <= metrics["test_rows"]
    # Logged test metrics are those of the test rows' calibrated probabilities.
    test_rows = pd.read_parquet(
        mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="test_set.parquet")
    )
    served = (
        mlflow.pyfunc.load_model(f"runs:/{run_id}/model")
        .predict(test_rows.drop(columns=["user_id", "cutoff", "label"]))["probability"]
        .to_numpy()
    )
    labels = test_rows["label"].to_numpy()
    contacted = served >= metrics["test_profit_optimal_threshold"]
    assert contacted.sum() == metrics["test_contacted_at_optimum"]
    assert 8 * labels[contacted].sum() - contacted.sum() == pytest.approx(
        metrics["test_profit_at_optimum"]
    )
    assert metrics["test_profit_at_val_optimal_threshold"] <= metrics["test_profit_at_optimum"]
    plots = {a.path for a in client.list_artifacts(run_id, "plots")}
    assert plots == {f"plots/{name}.png" for name in {*PLOTS, "profit_curve"}} - {
        "plots/optuna_param_importances.png"
    }
    assert "business:    at capacity 30 (30 test rows): precision=" in printed
    assert "profit-optimal threshold" in printed and "not served" in printed
