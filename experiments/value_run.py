"""A tuning run of a value label (value_within): LightGBM regression, baselines, MLflow.

`tune_value` is what `usagecast tune` runs for a value label (experiments/run.py dispatches on
the label kind). The same split, folds, lineage tags and serving pyfunc as a classifier; what
differs:
- the family is LightGBM regression (Poisson deviance, log link,
  experiments/families/lightgbm_regression.py), selected on the mean validation RMSE over the
  rolling-origin folds;
- baselines: the training mean for every row, and the LTV formula of `usagecast analytics ltv`
  backtested point in time (analytics.ltv_formula_rows: the channel's AOV x frequency x
  expected active periods in the horizon, from the event store's events before each cutoff;
  it needs the store, not only the feature set's rows, and is skipped with a note when the
  store or the label's event type is not there). Its metrics are on the rows it predicts
  (`test_rows_predicted`);
- the served model is refit on the training and validation rows together with the best
  trial's parameters and last-fold best iteration (every label window of both ends by
  test_from): a value label drifts with the population's age (more users have already bought),
  and the latest labelled cutoffs carry it; validation metrics are those of the refit on the
  training rows alone (the model the selection scored), test metrics the served model's;
- total calibration: the served model's predictions are multiplied by one factor (param
  `total_calibration`), the validation rows' realised total over the selected model's
  predicted total there: what the model fitted on the rows labelled before a boundary misses
  of the total at the next cutoff (the population ages between cutoffs), carried one step on
  to the served model, fitted on the rows labelled before test_from. Applied inside the
  served model (lightgbm_regression.scaled), so serving needs no step of its own;
- metrics (experiments/value_metrics.py): RMSE, MAE, normalised Gini, calibration by decile,
  predicted/realised totals, on validation (before the total calibration, which makes its
  total ratio 1 by construction) and test (the served, calibrated model); no threshold;
- the per-channel table on test (`value_per_channel.json`: predicted and realised totals and
  means, ranked by each, when the feature set has a `channel` feature) and plots:
  calibration by decile, predicted vs realised, SHAP (in value units,
  serving/families.py) and Optuna's;
- on simulated data, the oracle is skipped and says why: the simulator's truth covers
  purchase and adoption probabilities, not values (on an export, there is no oracle to name).
One process, one in-memory Optuna study: --workers, --study, --storage and --resume are
classifier options and are refused here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

import numpy as np
import optuna
import pandas as pd
from tqdm import tqdm

from analytics import ltv_formula_rows
from analytics.io import open_engine
from contracts.errors import UsagecastError
from contracts.lineage import FEATURE_SET_TAG, MODEL_OUTPUT_TAG, VALUE_OUTPUT
from contracts.workspace import event_store_path
from experiments import tracking
from experiments.families import LightGBMRegressionFamily, TrainingRows
from experiments.families.lightgbm_family import NUM_BOOST_ROUND
from experiments.families.lightgbm_regression import (
    OBJECTIVE,
    SELECTION_METRIC,
    fixed_value_params,
    scaled,
    total_calibration,
)
from experiments.interrupts import deferred_stop, quiet_stop_tracebacks
from experiments.objective import BEST_ITERATION_ATTR, FOLD_SCORES_ATTR, fold_metrics
from experiments.oracle import simulation_config
from experiments.plots import optuna_figures, shap_figures
from experiments.run import (
    INPUT_EXAMPLE_ROWS,
    OPTUNA_TRIAL_LOGGER,
    SHAP_SAMPLE_ROWS,
    Prepared,
    TuneConfig,
    lineage_tags,
    study_data,
)
from experiments.study import finished_trials, make_pruner, make_sampler
from experiments.value_metrics import decile_calibration, evaluate_value
from experiments.value_plots import decile_calibration_figure, predicted_vs_realised_figure
from features import workspace
from features.mlflow_links import artifacts_location, is_tracking_server, ui_command
from serving import log_serving_model

CHANNEL_FEATURE = "channel"
ORACLE_NOTE = (
    "skipped: the simulator's truth covers purchase and adoption probabilities, not the value "
    "of a value_within label"
)
SHOWN = ("rmse", "mae", "normalised_gini", "decile_mae", "total_ratio")


@dataclass(frozen=True)
class ValueTuneResult:
    """What the CLI prints after a value run."""

    parent_run_id: str
    experiment_id: str
    study_name: str
    best_params: dict[str, object]
    validation_metrics: dict[str, float]
    test_metrics: dict[str, float]
    baseline_test: dict[str, dict[str, float]]
    per_channel: pd.DataFrame | None
    tracking_uri: str
    plots_uri: str
    total_calibration: float
    simulated: bool = False  # the data came from the simulator (its oracle note applies)

    def summary(self) -> str:
        """Run id, params, metrics of the model and baselines, per-channel totals, links."""

        def line(metrics: dict[str, float]) -> str:
            return "  ".join(f"{key}={metrics[key]:.4f}" for key in SHOWN if key in metrics)

        lines = [
            f"parent run: {self.parent_run_id} (experiment {self.experiment_id}, "
            f"study {self.study_name})",
            f"model: LightGBM regression ({OBJECTIVE}), selected on mean validation RMSE, "
            f"total calibrated x{self.total_calibration:.3f} on validation",
            "best params: " + json.dumps(self.best_params, sort_keys=True),
            "validation:  " + line(self.validation_metrics),
            "test:        " + line(self.test_metrics),
            *(f"baseline {name} (test): {line(m)}" for name, m in self.baseline_test.items()),
        ]
        if self.per_channel is not None:
            lines.append("test per channel (predicted vs realised total; per row):")
            lines += [
                f"  {row.channel}: {row.predicted_total:.2f} vs {row.realised_total:.2f}; "
                f"{row.predicted_mean:.3f} vs {row.realised_mean:.3f}"
                for row in self.per_channel.itertuples()
            ]
        if self.simulated:
            lines.append(f"oracle:      {ORACLE_NOTE}")
        lines.append(
            artifacts_location(
                "plots", self.plots_uri, self.tracking_uri, self.experiment_id, self.parent_run_id
            )
        )
        if not is_tracking_server(self.tracking_uri):
            lines.append(f"see it: {ui_command(self.tracking_uri)}")
        lines.append(f"next: usagecast promote {self.parent_run_id}   # register it, gate it")
        return "\n".join(lines)


def per_channel_table(
    channels: pd.Series, realised: np.ndarray, predicted: np.ndarray
) -> pd.DataFrame:
    """Per channel: rows, predicted and realised totals and means, ranks (1 = most value) by
    total and by mean per row, ordered by realised total. Totals mostly rank the channels by
    size; the means rank the value of a channel's users."""
    table = (
        pd.DataFrame(
            {
                "channel": channels.astype(str).to_numpy(),
                "predicted": predicted,
                "realised": realised,
            }
        )
        .groupby("channel")
        .agg(
            rows=("realised", "size"),
            predicted_total=("predicted", "sum"),
            realised_total=("realised", "sum"),
            predicted_mean=("predicted", "mean"),
            realised_mean=("realised", "mean"),
        )
    )
    table["predicted_rank"] = table["predicted_total"].rank(ascending=False, method="first")
    table["realised_rank"] = table["realised_total"].rank(ascending=False, method="first")
    table["predicted_mean_rank"] = table["predicted_mean"].rank(ascending=False, method="first")
    table["realised_mean_rank"] = table["realised_mean"].rank(ascending=False, method="first")
    return table.sort_values("realised_total", ascending=False).reset_index()


def training_and_validation(prepared: Prepared) -> TrainingRows:
    """The rows the served model is fitted on: training and validation together (every label
    window of both ends by test_from, so nothing of the test period is seen)."""
    rows = prepared.training_rows()
    return replace(
        rows,
        train=pd.concat([rows.train, rows.validation], ignore_index=True),
        train_y=np.concatenate([rows.train_y, rows.validation_y]),
    )


def _check_options(config: TuneConfig) -> None:
    refused = {
        "--workers": config.workers != 1,
        "--study": config.study is not None,
        "--storage": config.storage is not None,
        "--resume": config.resume,
        "--monotone true": config.monotone,
        f"--refit {config.refit}": config.refit != "train",
    }
    named = [flag for flag, given in refused.items() if given]
    if named:
        raise UsagecastError(
            f"{config.feature_set}: a value label is tuned in one process with an in-memory "
            f"study and its served model always refit on the training and validation rows; "
            f"{', '.join(named)} apply to classifier labels only"
        )


def formula_predictions(prepared: Prepared) -> tuple[np.ndarray, np.ndarray] | str:
    """The LTV formula's (validation, test) predictions, NaN where it has none, or why it
    cannot be computed here."""
    if not prepared.manifest.label.event_type:
        return "skipped: the label names no event type to take as purchases"
    if not event_store_path().exists():
        return "skipped: no event store in the workspace (the formula reads events before t)"
    engine = open_engine("duckdb")

    def predicted(rows: pd.DataFrame) -> np.ndarray:
        formula = ltv_formula_rows(engine, rows, prepared.manifest, ())
        return formula["predicted"].to_numpy(dtype=float)

    try:
        return predicted(prepared.parts.validation), predicted(prepared.parts.test)
    except UsagecastError as error:
        return f"skipped: {error}"
    finally:
        engine.close()


def metrics_where_predicted(realised: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """The value metrics over the rows with a prediction, and their count."""
    known = ~np.isnan(predicted)
    if not known.any():
        return {"rows_predicted": 0.0}
    return {
        **evaluate_value(realised[known], predicted[known]),
        "rows_predicted": float(known.sum()),
    }


def _prefixed(prefix: str, metrics: dict[str, float]) -> dict[str, float]:
    return {f"{prefix}_{key}": value for key, value in metrics.items()}


def _finite(metrics: dict[str, float]) -> tuple[dict[str, float], list[str]]:
    """Metrics MLflow can hold, and the names of those that are undefined (NaN)."""
    kept = {k: v for k, v in metrics.items() if np.isfinite(v)}
    return kept, sorted(set(metrics) - set(kept))


def _baselines(prepared: Prepared) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], str]:
    """{name: (validation, test) predictions} and the formula's note."""
    mean = float(np.mean(prepared.labels("train")))
    sizes = (len(prepared.parts.validation), len(prepared.parts.test))
    result = {"training_mean": (np.full(sizes[0], mean), np.full(sizes[1], mean))}
    formula = formula_predictions(prepared)
    if isinstance(formula, str):
        return result, formula
    result["ltv_formula"] = formula
    return result, "the LTV formula backtested at each cutoff (analytics.ltv_formula_rows)"


def tune_value(config: TuneConfig, prepared: Prepared) -> ValueTuneResult:
    """Tune, refit and log the LightGBM regression of a value label (module docstring)."""
    _check_options(config)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    inputs = prepared.inputs
    workspace.ensure_workspace()
    tracking_uri = workspace.activate_mlflow_tracking()
    experiment_id = tracking.prepare_experiment(tracking_uri, inputs.name)
    tracking.end_stale_runs(tracking_uri, experiment_id)
    family = LightGBMRegressionFamily(config.threads)
    lineage = lineage_tags(config, prepared)
    study_name = f"{inputs.ref}-value-{lineage['config_hash'][:10]}"
    labels = {part: prepared.labels(part) for part in ("validation", "test")}
    simulation, _ = simulation_config(prepared.manifest, event_store_path())
    simulated = simulation is not None
    with (
        deferred_stop() as stop,
        tracking.parent_run(
            experiment_id, study_name, {**lineage, MODEL_OUTPUT_TAG: VALUE_OUTPUT}, stop
        ) as parent,
    ):
        tracking.log_feature_set_input(inputs.ref, inputs.fingerprint)
        tracking.log_params_and_metrics(
            {**prepared.plan.params(), **prepared.folds.params()},
            {**prepared.plan.metrics(), **prepared.folds.metrics()},
        )
        baselines, formula_note = _baselines(prepared)
        baseline_test = {}
        for name, (validation_p, test_p) in baselines.items():
            metrics = {
                **_prefixed("val", metrics_where_predicted(labels["validation"], validation_p)),
                **_prefixed("test", metrics_where_predicted(labels["test"], test_p)),
            }
            baseline_test[name] = metrics_where_predicted(labels["test"], test_p)
            kept, undefined = _finite(metrics)
            tracking.log_child_run(
                tracking_uri,
                experiment_id,
                parent,
                f"baseline-{name}",
                params={},
                metrics=kept,
                tags={
                    "baseline": name,
                    FEATURE_SET_TAG: inputs.ref,
                    "undefined_metrics": ",".join(undefined),
                },
            )
        stop.check()
        data = study_data(prepared)
        study = optuna.create_study(
            study_name=study_name,
            direction="minimize",
            sampler=make_sampler(config.seed, 0),
            pruner=make_pruner(),
        )
        logger = tracking.TrialRunLogger(tracking_uri, experiment_id, parent, SELECTION_METRIC)
        with (
            tqdm(total=config.trials, desc="trials", unit="trial") as progress,
            quiet_stop_tracebacks(OPTUNA_TRIAL_LOGGER),
        ):
            study.optimize(
                family.objective(data, config.seed, checkpoint=stop.check),
                n_trials=config.trials,
                timeout=config.timeout_s,
                callbacks=[logger, lambda study, trial: progress.update(1)],
            )
        stop.check()
        completed = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
        if not completed:
            raise UsagecastError(
                f"study {study_name} has no completed trial; give it more --trials or a "
                "longer --timeout"
            )
        best = study.best_trial
        params = {**best.params, NUM_BOOST_ROUND: int(best.user_attrs[BEST_ITERATION_ATTR])}
        selected = family.fit(prepared.training_rows(), params, config.seed)
        validation_predicted = selected.raw_scores(prepared.encoded["validation"])
        calibration = total_calibration(labels["validation"], validation_predicted)
        model = scaled(
            family.fit(training_and_validation(prepared), params, config.seed), calibration
        )
        predicted = {
            "validation": validation_predicted,
            "test": model.raw_scores(prepared.encoded["test"]),
        }
        validation_metrics = evaluate_value(labels["validation"], predicted["validation"])
        test_metrics = evaluate_value(labels["test"], predicted["test"])
        test_parts = prepared.parts.test
        per_channel = (
            per_channel_table(test_parts[CHANNEL_FEATURE], labels["test"], predicted["test"])
            if CHANNEL_FEATURE in test_parts.columns
            else None
        )
        rng = np.random.default_rng(config.seed)
        test_x = prepared.encoded["test"]
        sample = np.sort(
            rng.choice(len(test_x), size=min(SHAP_SAMPLE_ROWS, len(test_x)), replace=False)
        )
        figures = {
            "decile_calibration": decile_calibration_figure(
                labels["test"],
                {
                    "lightgbm_regression": predicted["test"],
                    **{
                        name: test_p
                        for name, (_, test_p) in baselines.items()
                        if name != "training_mean"
                    },
                },
            ),
            "predicted_vs_realised": predicted_vs_realised_figure(
                labels["test"], predicted["test"]
            ),
            **shap_figures(
                model.contributions(test_x.iloc[sample]),
                test_x.iloc[sample].to_numpy(dtype=float),
                list(inputs.feature_names),
            ),
            **optuna_figures(study, config.seed),
        }
        metrics = {
            **_prefixed("val", validation_metrics),
            **_prefixed("test", test_metrics),
            **{
                f"baseline_{name}_test_{key}": value
                for name, m in baseline_test.items()
                for key, value in m.items()
            },
            **_prefixed(
                "best_trial",
                {
                    f"val_{SELECTION_METRIC}": best.value,
                    **fold_metrics(SELECTION_METRIC, best.user_attrs[FOLD_SCORES_ATTR]),
                },
            ),
            "trials_finished": finished_trials(study),
        }
        kept, undefined = _finite(metrics)
        plots_uri = tracking.log_parent_results(
            params={
                **best.params,
                "best_iteration": best.user_attrs[BEST_ITERATION_ATTR],
                "best_trial": best.number,
                "family": family.name,
                "objective": OBJECTIVE,
                "selection_metric": SELECTION_METRIC,
                "total_calibration": calibration,
            },
            metrics=kept,
            tags={
                **({"oracle": ORACLE_NOTE} if simulated else {}),
                "baseline_ltv_formula": formula_note,
                "selection": f"mean val_{SELECTION_METRIC} over {len(prepared.folds.folds)} "
                "rolling-origin fold(s)",
                "undefined_metrics": ",".join(undefined),
            },
            figures=figures,
            json_artifacts={
                "resolved_config.json": {
                    "feature_set": inputs.ref,
                    "trials": config.trials,
                    "seed": config.seed,
                    "threads": config.threads,
                    "split": prepared.plan.params(),
                    "lightgbm_fixed": fixed_value_params(config.seed, config.threads),
                },
                "test_decile_calibration.json": decile_calibration(
                    labels["test"], predicted["test"]
                ).to_dict(orient="records"),
                **(
                    {}
                    if per_channel is None
                    else {"value_per_channel.json": per_channel.to_dict(orient="records")}
                ),
            },
            test_set=test_parts,
        )
        stop.check()
        log_serving_model(
            model,
            inputs.model_metadata(0.5, family=family.name, output=family.output),
            test_parts.head(INPUT_EXAMPLE_ROWS),
        )
    return ValueTuneResult(
        parent_run_id=parent,
        experiment_id=experiment_id,
        study_name=study_name,
        best_params=dict(best.params),
        validation_metrics=validation_metrics,
        test_metrics=test_metrics,
        baseline_test=baseline_test,
        per_channel=per_channel,
        tracking_uri=tracking_uri,
        plots_uri=plots_uri,
        total_calibration=calibration,
        simulated=simulated,
    )
