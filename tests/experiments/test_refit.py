"""The served model's rows (`--refit`): the training rows, or every row labelled by test_from."""

from __future__ import annotations

from datetime import datetime

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from scipy.special import logit

from contracts.errors import UsagecastError
from experiments import TuneConfig, format_summary, tune
from experiments.families import LightGBMFamily
from experiments.families.lightgbm_family import NUM_BOOST_ROUND
from experiments.run import REFITS, calibration_rows, prepare
from serving import Calibration
from usagecast_cli.main import build_parser

GIVEN = {"validation_from": datetime(2024, 3, 1), "test_from": datetime(2024, 4, 1)}


def months(frame: pd.DataFrame) -> list[str]:
    return sorted(set(pd.to_datetime(frame["cutoff"]).dt.strftime("%Y-%m")))


def keys(frame: pd.DataFrame) -> set[tuple[str, pd.Timestamp]]:
    return set(zip(frame["user_id"], pd.to_datetime(frame["cutoff"]), strict=True))


def test_the_refit_learns_from_validation_and_embargoed_rows_never_from_test(synthetic_ref):
    prepared = prepare(TuneConfig(feature_set=synthetic_ref, **GIVEN))
    # Jan trains, Feb is embargoed (its labels end Mar 2), Mar validates, Apr and May test.
    assert months(prepared.final_rows("train").train) == ["2024-01"]
    rows = prepared.final_rows("train+validation")
    assert months(rows.train) == ["2024-01", "2024-02", "2024-03"]
    assert keys(prepared.parts.validation) <= keys(rows.train)
    assert not keys(prepared.parts.test) & keys(rows.train)
    np.testing.assert_array_equal(rows.train_y, rows.train["label"].to_numpy(dtype=float))
    # Its validation part (unused by the fit) and metadata are the split's own.
    assert rows.validation is prepared.parts.validation and rows.metadata == (
        prepared.training_rows().metadata
    )
    # Calibration is fitted on the validation rows, scored by the training-rows model only.
    encoded, labels = calibration_rows(prepared)
    assert len(encoded) == len(labels) == len(prepared.parts.validation)
    assert not keys(prepared.parts.validation) & keys(prepared.final_rows("train").train)


def test_an_unknown_refit_is_refused_naming_the_choices():
    with pytest.raises(UsagecastError, match="refit 'all' is not known; use one of: train, "):
        TuneConfig(feature_set="x@v1", refit="all")  # type: ignore[arg-type]


def test_the_cli_offers_the_library_refits_and_defaults_to_train():
    assert build_parser().parse_args(["tune", "x@v1"]).refit == "train"
    parsed = build_parser().parse_args(["tune", "x@v1", "--refit", "train+validation"])
    assert parsed.refit == "train+validation"
    (action,) = [
        a
        for a in build_parser()._subparsers._group_actions[0].choices["tune"]._actions
        if a.dest == "refit"
    ]
    assert tuple(action.choices) == REFITS


@pytest.mark.slow
def test_the_refit_keeps_the_selection_fit_s_validation_numbers_and_serves_the_refit(
    synthetic_ref,
):
    # Automatic split: test May, validation Apr, train Jan..Mar; the refit adds Apr.
    base = tune(TuneConfig(feature_set=synthetic_ref, trials=3, seed=4))
    config = TuneConfig(feature_set=synthetic_ref, trials=3, seed=4, refit="train+validation")
    refit = tune(config)
    again = tune(config)
    client = MlflowClient(refit.tracking_uri)
    base_run, run = (client.get_run(r.parent_run_id) for r in (base, refit))
    params, metrics = run.data.params, run.data.metrics
    assert (base_run.data.params["refit"], params["refit"]) == ("train", "train+validation")
    assert (base_run.data.metrics["refit_rows"], metrics["refit_rows"]) == (900, 1200)
    assert base_run.data.tags["config_hash"] != run.data.tags["config_hash"]
    # Same study, same best trial: validation metrics, calibration and threshold all come from
    # the training-rows fit (out of sample), whatever the served model's rows; the served map's
    # intercept moves by the change in the training log-odds (Jan..Mar -> Jan..Apr).
    assert refit.best_params == base.best_params
    assert refit.validation_metrics == base.validation_metrics
    for name in ("threshold", "calibration_slope", "best_iteration"):
        assert params[name] == base_run.data.params[name], name
    prepared = prepare(config)
    shift = logit(prepared.final_rows(config.refit).train_y.mean()) - logit(
        prepared.labels("train").mean()
    )
    assert float(params["calibration_intercept"]) == pytest.approx(
        float(base_run.data.params["calibration_intercept"])
        - float(params["calibration_slope"]) * shift
    )
    assert refit.test_metrics != base.test_metrics
    assert again.test_metrics == refit.test_metrics  # same seed, same served model

    # The served model is the best params and rounds fitted on Jan..Apr, with that calibration.
    assert months(prepared.final_rows(config.refit).train) == [f"2024-0{m}" for m in (1, 2, 3, 4)]
    expected = LightGBMFamily(config.metric).fit(
        prepared.final_rows(config.refit),
        {**refit.best_params, NUM_BOOST_ROUND: int(params["best_iteration"])},
        config.seed,
    )
    calibration = Calibration(
        slope=float(params["calibration_slope"]),
        intercept=float(params["calibration_intercept"]),
    )
    test_rows = prepared.parts.test
    served = mlflow.pyfunc.load_model(f"runs:/{refit.parent_run_id}/model").predict(
        test_rows.drop(columns=["user_id", "cutoff", "label"])
    )
    np.testing.assert_allclose(
        served["probability"].to_numpy(),
        calibration.apply(expected.raw_scores(prepared.encoded["test"])),
        rtol=1e-9,
    )
    assert "refit:       train+validation (1200 rows;" in format_summary(refit)
    assert "refit:" not in format_summary(base)
