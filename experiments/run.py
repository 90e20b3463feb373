"""A tuning run, composed: feature set -> split -> baselines -> Optuna study -> refit -> MLflow.

`tune(config)` is the one library call behind `usagecast tune` and the MLproject `tune` entry
point. The order matters for honesty and for concurrency:
1. the MLflow store, experiment and Optuna study are created here, serially, before any worker;
2. RUNNING runs/trials left by killed processes are ended (KILLED / FAIL) before new work;
3. the parent run is always closed (FINISHED, FAILED, or KILLED on Ctrl-C/SIGTERM);
4. the best trial (best mean over the rolling-origin folds) is refit on the training rows with
   its last fold's best iteration (the exact final-fold model the trial scored), its
   calibration and threshold are chosen on validation, and only then is the test set used
   (test metrics are on the calibrated probabilities, `test_ece_raw` on the booster's own);
   with `refit="train+validation"` the served model is that trial's params and rounds fitted
   again on every row labelled by test_from, with the training-rows fit's calibration (moved
   by the change in the training log-odds) and threshold: no row it learned from scores its
   own calibration.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import multiprocessing
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal, get_args

import numpy as np
import optuna
import pandas as pd
from tqdm import tqdm

import features
from contracts.errors import UsagecastError
from contracts.lineage import BETTER_BASELINE_TAG, FEATURE_SET_TAG, RunLineage
from contracts.manifest import FeatureSetManifest
from contracts.refs import FeatureSetRef
from contracts.workspace import event_store_path, optuna_dir
from experiments import baselines, oracle, plots, tracking
from experiments.business import BusinessOptions, business_metrics, profit_at_threshold
from experiments.calibration import fit_calibration, shifted_for_refit
from experiments.families import LightGBMFamily, TrainingRows
from experiments.families.lightgbm_family import NUM_BOOST_ROUND
from experiments.inputs import FeatureSetInputs, check_frame, read_inputs
from experiments.interrupts import StopRequest, deferred_stop, quiet_stop_tracebacks
from experiments.metrics import (
    METRIC_NAMES,
    MetricName,
    calibration_noise,
    evaluate,
    expected_calibration_error,
    max_f1_threshold,
)
from experiments.objective import (
    BEST_ITERATION_ATTR,
    FOLD_SCORES_ATTR,
    FoldRows,
    StudyData,
    build_study_data,
    fold_metrics,
    make_objective,
)
from experiments.search_space import fixed_params, monotone_constraints
from experiments.split import (
    DEFAULT_FOLDS,
    FoldPlan,
    SplitFrames,
    SplitPlan,
    apply_split,
    fold_frames,
    labelled_by,
    plan_folds,
    plan_split,
    require_horizon,
)
from experiments.study import (
    SurplusTrial,
    check_storage_url,
    choose_study_name,
    create_or_join,
    default_storage_url,
    drain_queue,
    fail_orphaned_trials,
    finished_trials,
    has_heartbeats,
    load_study,
    open_storage,
    queued_only,
    requeue_orphans,
    split_budget,
)
from features import workspace
from features.mlflow_links import (
    artifacts_location,
    hide_password,
    is_tracking_server,
    ui_command,
)
from serving import (
    UNCALIBRATED,
    Calibration,
    FittedModel,
    ModelMetadata,
    encode_features,
    log_serving_model,
)

if TYPE_CHECKING:
    from experiments.value_run import ValueTuneResult

SEARCH_SPACE_VERSION = 1
SHAP_SAMPLE_ROWS = 2000
INPUT_EXAMPLE_ROWS = 5
OPTUNA_TRIAL_LOGGER = "optuna.study._optimize"  # logs each failed trial, with its traceback
# The rows the served model is fitted on: the training rows (the model the best trial scored),
# or every row labelled by test_from (train, embargoed and validation rows).
Refit = Literal["train", "train+validation"]
REFITS: tuple[Refit, ...] = get_args(Refit)


@dataclass(frozen=True)
class TuneConfig:
    """Everything a tuning run depends on; unknown values are refused with the allowed ones."""

    feature_set: str
    trials: int = 20
    timeout_s: float | None = None
    workers: int = 1
    seed: int = 0
    metric: MetricName = "roc_auc"
    resume: bool = False
    storage: str | None = None
    # A study name shared by workers on several hosts (experiments/study.py); None: derived.
    study: str | None = None
    # Split boundaries (experiments/split.py); None: chosen by the split rule.
    validation_from: datetime | None = None
    test_from: datetime | None = None
    # Rolling-origin folds each trial is scored on (experiments/split.py); fewer when the
    # data allow fewer. 1: the single validation block.
    folds: int = DEFAULT_FOLDS
    # LightGBM threads per worker. 1 by default: on small data and shared cores more threads
    # spin-wait (docs/decisions/tuning.md); parallelism comes from --workers. Fixed, so
    # results do not depend on the machine.
    threads: int = 1
    # Capacity and contact economics: business metrics on validation and test, and a profit
    # curve (experiments/business.py); they change no model and no threshold.
    business: BusinessOptions = dataclasses.field(default_factory=BusinessOptions)
    # Turn the spec's causal priors (actionable `causal`) into LightGBM monotone constraints
    # for every trial and the refit; the run then also fits the best params unconstrained and
    # reports the difference in test AUC. Off by default: priors are a claim the user opts in.
    monotone: bool = False
    # The served model's rows (Refit). "train" by default: the served model is the one the
    # best trial scored, and every validation number is out of sample.
    refit: Refit = "train"

    def __post_init__(self) -> None:
        if self.metric not in METRIC_NAMES:
            raise UsagecastError(
                f"metric {self.metric!r} is not known; use one of: {', '.join(METRIC_NAMES)}"
            )
        if self.refit not in REFITS:
            raise UsagecastError(
                f"refit {self.refit!r} is not known; use one of: {', '.join(REFITS)}"
            )
        for name in ("trials", "workers", "threads", "folds"):
            if getattr(self, name) < 1:
                raise UsagecastError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.timeout_s is not None and self.timeout_s <= 0:
            raise UsagecastError(f"timeout must be positive seconds, got {self.timeout_s}")


@dataclass(frozen=True)
class Prepared:
    """A feature set split and encoded for training; identical in every worker."""

    inputs: FeatureSetInputs
    manifest: FeatureSetManifest
    frame: pd.DataFrame
    plan: SplitPlan
    parts: SplitFrames
    encoded: dict[str, pd.DataFrame]
    folds: FoldPlan
    earlier_folds: tuple[FoldRows, ...]  # encoded rows of every fold but the last (= parts)
    monotone: tuple[int, ...]  # LightGBM monotone constraints, model column order; () = none

    def labels(self, part: str) -> np.ndarray:
        """Labels of `train`, `validation` or `test` (0/1, or values for a value label)."""
        return getattr(self.parts, part)["label"].to_numpy(dtype=float)

    def training_rows(self) -> TrainingRows:
        """The split's train/validation rows as every model family fits on them."""
        return TrainingRows(
            self.parts.train,
            self.labels("train"),
            self.parts.validation,
            self.labels("validation"),
            self.inputs.model_metadata(threshold=0.5),
        )

    def final_rows(self, refit: Refit) -> TrainingRows:
        """The rows the served model is fitted on: `training_rows`, or with "train+validation"
        every row whose label window ends by test_from (never a test row)."""
        rows = self.training_rows()
        if refit == "train":
            return rows
        known = labelled_by(self.frame, self.plan.test_from, self.plan.horizon_days)
        return dataclasses.replace(rows, train=known, train_y=known["label"].to_numpy(dtype=float))


@dataclass(frozen=True)
class TuneResult:
    """What the CLI prints after a run."""

    parent_run_id: str
    experiment_id: str
    study_name: str
    best_params: dict[str, object]
    validation_metrics: dict[str, float]
    test_metrics: dict[str, float]
    baseline_test_auc: dict[str, float]
    oracle: dict[str, float]
    tracking_uri: str
    folds: int
    folds_note: str | None
    split_note: str | None
    plots_uri: str  # artifact URI of the run's plots folder
    business: BusinessOptions = dataclasses.field(default_factory=BusinessOptions)
    business_metrics: dict[str, float] = dataclasses.field(default_factory=dict)  # test rows
    # Constrained features (name -> +1/-1) and the test AUC of the same params unconstrained.
    monotone: dict[str, int] = dataclasses.field(default_factory=dict)
    test_roc_auc_unconstrained: float | None = None
    refit: Refit = "train"
    refit_rows: int = 0  # rows the served model was fitted on
    baseline_note: str | None = None  # a promotable baseline that beat it on validation


def prepare(config: TuneConfig) -> Prepared:
    """Load the feature set, check it, split it by time and encode it like serving does."""
    frame, manifest = features.load_feature_set(config.feature_set)
    inputs = read_inputs(manifest)
    check_frame(config.feature_set, frame, inputs)
    plan = plan_split(
        frame,
        require_horizon(inputs.horizon_days),
        validation_from=config.validation_from,
        test_from=config.test_from,
    )
    parts = apply_split(frame, plan)
    inputs = inputs.with_training_levels(parts.train)
    metadata = inputs.model_metadata(threshold=0.5)
    encoded = {
        name: encode_features(getattr(parts, name), metadata)
        for name in ("train", "validation", "test")
    }
    folds = plan_folds(frame, plan, config.folds)
    earlier_folds = tuple(
        (
            encode_features(train, metadata),
            train["label"].to_numpy(dtype=float),
            encode_features(validation, metadata),
            validation["label"].to_numpy(dtype=float),
        )
        for train, validation in (
            fold_frames(frame, fold, plan.horizon_days) for fold in folds.folds[:-1]
        )
    )
    monotone = (
        monotone_constraints(
            metadata.feature_names,
            inputs.categorical_levels,
            inputs.actionable,
            inputs.couplings,
        )
        if config.monotone
        else ()
    )
    return Prepared(inputs, manifest, frame, plan, parts, encoded, folds, earlier_folds, monotone)


def study_data(prepared: Prepared) -> StudyData:
    """LightGBM Datasets for the study: built once per process, reused by every trial."""
    return build_study_data(
        prepared.encoded["train"],
        prepared.labels("train"),
        prepared.encoded["validation"],
        prepared.labels("validation"),
        list(prepared.inputs.categorical_levels),
        earlier_folds=prepared.earlier_folds,
    )


def resolved_config(config: TuneConfig, prepared: Prepared, study_name: str, storage: str) -> dict:
    """The config as run: flags, defaults, threads, split boundaries and sizes, lineage
    (a storage URL's password hidden: the config is logged where the whole team reads it)."""
    plan = prepared.plan
    return {
        **dataclasses.asdict(config),
        "storage": hide_password(storage),
        "study_name": study_name,
        "search_space_version": SEARCH_SPACE_VERSION,
        "feature_set_fingerprint": prepared.inputs.fingerprint,
        "split": {
            "rule": "by cutoff time; label windows end before the next part starts (embargo)",
            "horizon_days": plan.horizon_days,
            "validation_from": plan.validation_from.isoformat(),
            "test_from": plan.test_from.isoformat(),
            "automatic": list(plan.automatic),
            "note": plan.note,
            "sizes": {part: dataclasses.asdict(size) for part, size in plan.sizes},
            "folds_requested": prepared.folds.requested,
            "folds": [dataclasses.asdict(fold) for fold in prepared.folds.folds],
        },
        "lightgbm_fixed": fixed_params(
            config.metric, config.seed, config.threads, prepared.monotone
        ),
    }


def _hash(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def split_key(folds: FoldPlan) -> list[str]:
    """The boundaries in effect (every fold start, test_from): given or chosen, the same dates
    give the same split; with one fold, the split's two boundaries."""
    return folds.boundaries()


def config_hash(config: TuneConfig, prepared: Prepared) -> str:
    """Hash of what determines the result (not storage, workers, resume or timeout)."""
    return _hash(
        {
            "feature_set": prepared.inputs.ref,
            "fingerprint": prepared.inputs.fingerprint,
            "trials": config.trials,
            "seed": config.seed,
            "metric": config.metric,
            "split": split_key(prepared.folds),
            "threads": config.threads,
            "search_space_version": SEARCH_SPACE_VERSION,
            **_monotone_key(prepared),
            # Only when not the default, so default runs keep the hash they had.
            **({"refit": config.refit} if config.refit != "train" else {}),
        }
    )


def study_base_name(config: TuneConfig, prepared: Prepared) -> str:
    """`<ref>-<key>`: the key covers what defines the search, so --resume finds the study."""
    key = _hash(
        {
            "fingerprint": prepared.inputs.fingerprint,
            "seed": config.seed,
            "metric": config.metric,
            "split": split_key(prepared.folds),
            "search_space_version": SEARCH_SPACE_VERSION,
            **_monotone_key(prepared),
        }
    )
    return f"{prepared.inputs.ref}-{key[:10]}"


def _monotone_key(prepared: Prepared) -> dict[str, object]:
    """Constraints change the search: they key the study and config hash (only when on, so
    unconstrained runs keep the keys they had and --resume still finds their studies)."""
    return {"monotone": list(prepared.monotone)} if prepared.monotone else {}


def lineage_tags(config: TuneConfig, prepared: Prepared) -> dict[str, str]:
    """The tags that trace a run (and the model versions registered from it) to its inputs."""
    inputs = prepared.inputs
    return RunLineage(
        feature_set=FeatureSetRef.parse(inputs.ref),
        fingerprint=inputs.fingerprint,
        config_hash=config_hash(config, prepared),
        git_commit=git_commit(),
        seed=config.seed,
        leakage_scan=inputs.leakage_scan,
        leakage_flagged=inputs.leakage_flagged,
        leakage_warned=inputs.leakage_warned,
    ).to_tags()


def git_commit() -> str:
    """The project's git commit (with `-dirty` when files changed), or `unknown` outside git."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}-dirty" if dirty else head


@dataclass(frozen=True)
class WorkerJob:
    """What a tuning worker process needs (picklable for the spawn start method)."""

    config: TuneConfig
    storage_url: str
    study_name: str
    tracking_uri: str
    experiment_id: str
    parent_run_id: str
    worker_index: int
    trials: int | None  # None: queued trials until none is left (`--study`)
    monotone: tuple[int, ...]  # Prepared.monotone


def _run_trials(
    job: WorkerJob, data: StudyData, progress: tqdm | None, stop: StopRequest | None
) -> None:
    """Optimise `job.trials` trials of the shared study in this process (or its queue)."""
    storage = open_storage(job.storage_url)
    study = load_study(
        storage, job.study_name, job.config.metric, job.config.seed, job.worker_index
    )
    callbacks: list = [
        tracking.TrialRunLogger(
            job.tracking_uri, job.experiment_id, job.parent_run_id, job.config.metric
        )
    ]
    if progress is not None:
        callbacks.append(_progress_callback(progress))
    objective = make_objective(
        data,
        job.config.metric,
        job.config.seed,
        job.config.threads,
        checkpoint=None if stop is None else stop.check,
        monotone=job.monotone,
    )
    with quiet_stop_tracebacks(OPTUNA_TRIAL_LOGGER):
        if job.trials is not None:
            study.optimize(
                objective, n_trials=job.trials, timeout=job.config.timeout_s, callbacks=callbacks
            )
            return
        timeout = job.config.timeout_s
        drain_queue(
            study,
            lambda: study.optimize(
                queued_only(objective), n_trials=1, callbacks=callbacks, catch=(SurplusTrial,)
            ),
            waits=has_heartbeats(storage),
            deadline=None if timeout is None else time.monotonic() + timeout,
        )


def worker_main(job: WorkerJob) -> None:
    """Entry point of a spawned tuning worker: load, split, build the Dataset once, optimise."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    _run_trials(job, study_data(prepare(job.config)), progress=None, stop=None)


def _progress_callback(progress: tqdm):
    """Optuna callback: move the bar to the study's finished-trial count, show the best."""

    def update(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        progress.n = min(progress.total, finished_trials(study))
        with contextlib.suppress(ValueError):  # no completed trial yet
            progress.set_postfix(best=f"{study.best_value:.4f}", refresh=False)
        progress.refresh()

    return update


def run_study(jobs: list[WorkerJob], data: StudyData, progress: tqdm, stop: StopRequest) -> None:
    """Run job 0 here and the others in spawned processes; fail loudly if a worker failed.

    Workers keep the default signal handling: terminated, they die at once, and the trial they
    were running is failed as an orphan on the next start.
    """
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=worker_main, args=(job,), daemon=True) for job in jobs[1:]]
    for process in processes:
        process.start()
    try:
        _run_trials(jobs[0], data, progress, stop)
        for process in processes:
            while process.is_alive():  # a stop request ends the wait (and the workers)
                process.join(timeout=0.5)
                stop.check()
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
                process.join()
    failed = [p.exitcode for p in processes if p.exitcode != 0]
    if failed:
        raise RuntimeError(f"{len(failed)} tuning worker(s) failed (exit codes {failed})")


def _figures(
    prepared: Prepared,
    model: FittedModel,
    study: optuna.Study,
    test_scores: dict[str, np.ndarray],
    test_raw_probabilities: np.ndarray,
    seed: int,
) -> dict[str, object]:
    """All plots of the parent run."""
    labels = prepared.labels("test")
    tuned = test_scores["lightgbm"]
    test_x = prepared.encoded["test"]
    rng = np.random.default_rng(seed)
    sample = np.sort(
        rng.choice(len(test_x), size=min(SHAP_SAMPLE_ROWS, len(test_x)), replace=False)
    )
    sample_x = test_x.iloc[sample]
    contributions = model.contributions(sample_x)
    return {
        "roc": plots.roc_figure(labels, test_scores),
        "precision_recall": plots.precision_recall_figure(labels, test_scores),
        "gains_lift": plots.gains_lift_figure(labels, tuned),
        "calibration": plots.calibration_figure(
            labels, {"calibrated": tuned, "uncalibrated": test_raw_probabilities}
        ),
        **plots.shap_figures(
            contributions, sample_x.to_numpy(dtype=float), list(prepared.inputs.feature_names)
        ),
        **plots.optuna_figures(study, seed),
    }


def _prefixed(prefix: str, metrics: dict[str, float]) -> dict[str, float]:
    return {f"{prefix}_{key}": value for key, value in metrics.items()}


def _baseline_runs(
    config: TuneConfig,
    prepared: Prepared,
    tracking_uri: str,
    experiment_id: str,
    parent: str,
    lineage: dict[str, str],
) -> dict[str, baselines.ScoredBaseline]:
    """Fit and log both baselines as child runs; returns each one's scores and run.

    A baseline with a fitted model (the L1 logistic) is logged as the serving pyfunc with its
    label threshold (max F1 on validation), the run's test rows and `lineage` tags, so
    `usagecast promote CHILD_RUN_ID` gates and registers it like a tuning run.
    """
    inputs = prepared.inputs
    parts = prepared.parts
    results = [
        baselines.majority_class(prepared.labels("train"), len(parts.validation), len(parts.test)),
        baselines.l1_logistic(prepared.training_rows(), parts.test, config.metric, config.seed),
    ]
    scored = {}
    for result in results:
        validation = evaluate(prepared.labels("validation"), result.validation_probabilities)
        test = evaluate(prepared.labels("test"), result.test_probabilities)
        params: dict[str, object] = dict(result.params)
        metrics = {**_prefixed("val", validation), **_prefixed("test", test)}
        tags = {"baseline": result.name, FEATURE_SET_TAG: inputs.ref}
        log_model = None
        if result.model is not None:
            threshold = max_f1_threshold(
                prepared.labels("validation"), result.validation_probabilities
            )
            params["threshold"] = threshold
            metrics["test_ece_noise95"] = calibration_noise(result.test_probabilities, config.seed)
            tags = {**lineage, **tags}
            log_model = _servable(
                result.model,
                inputs.model_metadata(threshold, UNCALIBRATED, family=result.name),
                prepared.parts.test,
            )
        run_id = tracking.log_child_run(
            tracking_uri,
            experiment_id,
            parent,
            f"baseline-{result.name}",
            params=params,
            metrics=metrics,
            tags=tags,
            log_artifacts=log_model,
        )
        scored[result.name] = baselines.ScoredBaseline(
            result.test_probabilities, validation, test, run_id, result.model is not None
        )
    return scored


def _servable(
    model: FittedModel, metadata: ModelMetadata, test_set: pd.DataFrame
) -> Callable[[], None]:
    """What makes a run promotable: its test rows and the serving pyfunc (logged into the
    active run)."""

    def log() -> None:
        tracking.log_test_set(test_set)
        log_serving_model(model, metadata, test_set.head(INPUT_EXAMPLE_ROWS))

    return log


def open_tuning_study(
    config: TuneConfig, prepared: Prepared, storage_url: str
) -> tuple[str, list[int], int]:
    """Create or find the study (serially, before workers); fail orphaned trials.

    Returns the study name, the trials failed as orphans, and the finished trial count.
    """
    storage = open_storage(storage_url)
    if config.study is not None:
        study = create_or_join(
            storage,
            config.study,
            config.metric,
            config.seed,
            config_hash(config, prepared),
            config.trials,
        )
        orphaned = requeue_orphans(study, storage_url)
        return config.study, orphaned, finished_trials(study)
    existing = [
        s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False)
    ]
    name = choose_study_name(existing, study_base_name(config, prepared), resume=config.resume)
    study = load_study(storage, name, config.metric, config.seed, worker_index=0)
    orphaned = fail_orphaned_trials(study)
    return name, orphaned, finished_trials(study)


def refit_best(
    study: optuna.Study, prepared: Prepared, config: TuneConfig
) -> tuple[optuna.trial.FrozenTrial, FittedModel]:
    """The best trial's model again: its params, its last fold's best iteration, the training
    rows (the last fold's, the split's own). Its validation scores give the calibration."""
    completed = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not completed:
        raise UsagecastError(
            f"study {study.study_name} has no completed trial (all pruned, failed or timed "
            "out); give it more --trials or a longer --timeout"
        )
    best = study.best_trial
    family = LightGBMFamily(config.metric, config.threads, prepared.monotone)
    return best, family.fit(prepared.training_rows(), _refit_params(best), config.seed)


def final_model(
    best: optuna.trial.FrozenTrial,
    selected: FittedModel,
    final: TrainingRows,
    prepared: Prepared,
    config: TuneConfig,
) -> FittedModel:
    """The served model: `selected` (the best trial's model, refit "train"), or its params and
    rounds fitted on `final`, the rows of `Prepared.final_rows` (refit "train+validation")."""
    if config.refit == "train":
        return selected
    family = LightGBMFamily(config.metric, config.threads, prepared.monotone)
    return family.fit(final, _refit_params(best), config.seed)


def _refit_params(best: optuna.trial.FrozenTrial) -> dict[str, object]:
    """The trial's params plus its last fold's best iteration as the number of rounds."""
    return {**best.params, NUM_BOOST_ROUND: int(best.user_attrs[BEST_ITERATION_ATTR])}


def unconstrained_test_auc(
    best: optuna.trial.FrozenTrial, final: TrainingRows, prepared: Prepared, config: TuneConfig
) -> float:
    """Test AUC of the best trial's params refit without monotone constraints on the served
    model's rows (`final`): what the causal priors cost (AUC is rank-based, so no calibration
    is needed)."""
    model = LightGBMFamily(config.metric, config.threads).fit(
        final, _refit_params(best), config.seed
    )
    raw = UNCALIBRATED.apply(model.raw_scores(prepared.encoded["test"]))
    return evaluate(prepared.labels("test"), raw)["roc_auc"]


def calibration_rows(prepared: Prepared) -> tuple[pd.DataFrame, np.ndarray]:
    """(encoded features, labels) of the validation rows the best trial's model is evaluated
    on: the rows its calibration is fitted on (none of them trained that model)."""
    return prepared.encoded["validation"], prepared.labels("validation")


def calibrate(model: FittedModel, prepared: Prepared) -> Calibration:
    """Platt scaling of the model's raw score on `calibration_rows`."""
    encoded, labels = calibration_rows(prepared)
    return fit_calibration(labels, model.raw_scores(encoded))


def served_calibration(
    calibration: Calibration, final: TrainingRows, prepared: Prepared, refit: Refit
) -> Calibration:
    """The training-rows fit's `calibration` for the model fitted on `final`, the rows of
    `Prepared.final_rows(refit)`."""
    if refit == "train":
        return calibration
    return shifted_for_refit(calibration, prepared.labels("train"), final.train_y)


def tune(config: TuneConfig) -> TuneResult | ValueTuneResult:
    """Run (or resume) a tuning study on a feature set and record everything in MLflow; a
    value label (value_within) is tuned as a regression (experiments/value_run.py)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if config.storage:
        check_storage_url(config.storage)
    prepared = prepare(config)
    if prepared.inputs.is_value:
        from experiments.value_run import tune_value

        return tune_value(config, prepared)
    inputs = prepared.inputs
    workspace.ensure_workspace()
    tracking_uri = workspace.activate_mlflow_tracking()
    experiment_id = tracking.prepare_experiment(tracking_uri, inputs.name)
    tracking.end_stale_runs(tracking_uri, experiment_id)

    storage_url = config.storage or default_storage_url(optuna_dir(), inputs.name)
    study_name, orphaned, done = open_tuning_study(config, prepared, storage_url)
    # --study: each worker takes queued trials until none is left (the queue is the budget).
    budget = (
        split_budget(config.trials - done, config.workers)
        if config.study is None
        else [None] * config.workers
    )

    settings = resolved_config(config, prepared, study_name, storage_url)
    lineage = lineage_tags(config, prepared)
    tags = {**lineage, "optuna_study": study_name, "resumed": str(config.resume).lower()}
    with (
        deferred_stop() as stop,
        tracking.parent_run(experiment_id, study_name, tags, stop) as parent,
    ):
        # stop.check(): Ctrl-C/SIGTERM take effect here, between steps, and every boosting
        # iteration of a trial, never inside an MLflow write (experiments/interrupts.py).
        tracking.log_feature_set_input(inputs.ref, inputs.fingerprint)
        # Logged first, so a run that fails later still says how it split the rows.
        tracking.log_params_and_metrics(
            {**prepared.plan.params(), **prepared.folds.params()},
            {**prepared.plan.metrics(), **prepared.folds.metrics()},
        )
        baseline = _baseline_runs(config, prepared, tracking_uri, experiment_id, parent, lineage)
        stop.check()
        data = study_data(prepared)  # once for this process's trials
        baseline_test_auc = {name: scored.test["roc_auc"] for name, scored in baseline.items()}
        # Workers of one --study on several hosts would share seeds: offset them by the pid.
        first = 0 if config.study is None else os.getpid() * config.workers
        jobs = [
            WorkerJob(
                config,
                storage_url,
                study_name,
                tracking_uri,
                experiment_id,
                parent,
                first + i,
                n,
                prepared.monotone,
            )
            for i, n in enumerate(budget)
        ]
        with tqdm(total=config.trials, initial=done, desc="trials", unit="trial") as progress:
            if jobs:
                run_study(jobs, data, progress, stop)
        stop.check()
        study = load_study(
            open_storage(storage_url), study_name, config.metric, config.seed, worker_index=0
        )
        best, selected = refit_best(study, prepared, config)
        selected_calibration = calibrate(selected, prepared)
        final = prepared.final_rows(config.refit)
        model = final_model(best, selected, final, prepared, config)
        calibration = served_calibration(selected_calibration, final, prepared, config.refit)
        refit_rows = len(final.train)
        # Validation numbers are the best trial's model's (out of sample), test the served one's.
        raw = {
            "validation": selected.raw_scores(prepared.encoded["validation"]),
            "test": model.raw_scores(prepared.encoded["test"]),
        }
        validation_p = selected_calibration.apply(raw["validation"])
        test_p = calibration.apply(raw["test"])
        test_raw_p = UNCALIBRATED.apply(raw["test"])
        threshold = max_f1_threshold(prepared.labels("validation"), validation_p)
        validation_metrics = evaluate(prepared.labels("validation"), validation_p)
        test_metrics = evaluate(prepared.labels("test"), test_p)
        monotone_metrics = {}
        if prepared.monotone:
            unconstrained = unconstrained_test_auc(best, final, prepared, config)
            monotone_metrics = {
                "test_roc_auc_unconstrained": unconstrained,
                "test_roc_auc_monotone_cost": unconstrained - test_metrics["roc_auc"],
            }
        business = {
            "val": business_metrics(prepared.labels("validation"), validation_p, config.business),
            "test": business_metrics(prepared.labels("test"), test_p, config.business),
        }
        if config.business.economics is not None:
            # The profit threshold chosen on validation (as the served one is), judged on test.
            business["test"]["profit_at_val_optimal_threshold"] = profit_at_threshold(
                prepared.labels("test"),
                test_p,
                business["val"]["profit_optimal_threshold"],
                config.business.economics,
            )
        uncalibrated_ece = {
            "val_ece_raw": expected_calibration_error(
                prepared.labels("validation"), UNCALIBRATED.apply(raw["validation"])
            ),
            "test_ece_raw": expected_calibration_error(prepared.labels("test"), test_raw_p),
            "test_ece_noise95": calibration_noise(test_p, config.seed),
        }
        oracle_result = oracle.oracle_metrics(
            prepared.manifest,
            prepared.parts.test,
            test_metrics["roc_auc"],
            event_store_path(),
        )
        test_scores = {
            "lightgbm": test_p,
            **{name: scored.test_probabilities for name, scored in baseline.items()},
        }
        baseline_note = baselines.better_baseline_note(baseline, validation_metrics, config.metric)
        figures = {
            **_figures(prepared, model, study, test_scores, test_raw_p, config.seed),
            **plots.business_figures(prepared.labels("test"), test_p, config.business),
        }
        stop.check()
        plots_uri = tracking.log_parent_results(
            params={
                **best.params,
                "best_iteration": best.user_attrs[BEST_ITERATION_ATTR],
                "threshold": threshold,
                "best_trial": best.number,
                "calibration": calibration.method,
                "calibration_slope": calibration.slope,
                "calibration_intercept": calibration.intercept,
                "refit": config.refit,
                **config.business.params(),
                "monotone": str(config.monotone).lower(),
                **(
                    {"monotone_constraints": json.dumps(list(prepared.monotone))}
                    if prepared.monotone
                    else {}
                ),
            },
            metrics={
                **_prefixed("val", validation_metrics),
                **_prefixed("test", test_metrics),
                **_prefixed("val", business["val"]),
                **_prefixed("test", business["test"]),
                **uncalibrated_ece,
                **monotone_metrics,
                **{
                    f"baseline_{name}_test_roc_auc": auc for name, auc in baseline_test_auc.items()
                },
                **oracle_result.metrics,
                **_prefixed(
                    "best_trial",
                    {
                        f"val_{config.metric}": best.value,
                        # A trial of a study started before folds were recorded had one fold.
                        **fold_metrics(
                            config.metric, best.user_attrs.get(FOLD_SCORES_ATTR, [best.value])
                        ),
                    },
                ),
                "refit_rows": refit_rows,
                "trials_finished": finished_trials(study),
                "trials_orphaned_failed": len(orphaned),
            },
            tags={
                "threshold_rule": "max F1 on validation (calibrated probabilities)",
                "calibration_rule": "Platt scaling of the raw score on the validation rows"
                + (
                    ""
                    if config.refit == "train"
                    else " (the training-rows fit's score; the intercept moved by the change "
                    "in the training log-odds, applied to the refit's)"
                ),
                "oracle": oracle_result.note,
                "selection": f"mean val_{config.metric} over {len(prepared.folds.folds)} "
                "rolling-origin fold(s)",
                **({BETTER_BASELINE_TAG: baseline_note} if baseline_note else {}),
            },
            figures=figures,
            json_artifacts={"resolved_config.json": settings},
            test_set=prepared.parts.test,
        )
        stop.check()
        log_serving_model(
            model,
            inputs.model_metadata(threshold, calibration),
            prepared.parts.test.head(INPUT_EXAMPLE_ROWS),
        )
    return TuneResult(
        parent_run_id=parent,
        experiment_id=experiment_id,
        study_name=study_name,
        best_params=dict(best.params),
        validation_metrics=validation_metrics,
        test_metrics=test_metrics,
        baseline_test_auc=baseline_test_auc,
        oracle=oracle_result.metrics,
        tracking_uri=tracking_uri,
        folds=len(prepared.folds.folds),
        folds_note=prepared.folds.note(),
        split_note=prepared.plan.note,
        plots_uri=plots_uri,
        business=config.business,
        business_metrics=business["test"],
        monotone={
            name: sign
            for name, sign in zip(inputs.feature_names, prepared.monotone, strict=False)
            if sign
        },
        test_roc_auc_unconstrained=monotone_metrics.get("test_roc_auc_unconstrained"),
        refit=config.refit,
        refit_rows=refit_rows,
        baseline_note=baseline_note,
    )


def business_line(options: BusinessOptions, metrics: dict[str, float]) -> str:
    """The summary's business line: test metrics at the capacity and at the profit optimum."""
    parts = []
    if options.capacity is not None:
        parts.append(
            f"at capacity {options.capacity} ({metrics['capacity_rows']} test rows): "
            f"precision={metrics['precision_at_capacity']:.4f} "
            f"recall={metrics['recall_at_capacity']:.4f} lift={metrics['lift_at_capacity']:.4f}"
        )
    if options.economics is not None:
        parts.append(
            f"profit-optimal threshold {metrics['profit_optimal_threshold']:.4f} on test "
            f"(contacts {metrics['contacted_at_optimum']}, profit "
            f"{metrics['profit_at_optimum']:.2f}); the validation one makes "
            f"{metrics['profit_at_val_optimal_threshold']:.2f} on test"
            + (
                f"; profit at capacity {metrics['profit_at_capacity']:.2f}"
                if "profit_at_capacity" in metrics
                else ""
            )
            + " (not served: the model keeps its max-F1 threshold)"
        )
    return "; ".join(parts)


def format_summary(result: TuneResult | ValueTuneResult) -> str:
    """The text `usagecast tune` prints at the end: run id, params, metrics, how to look."""
    if not isinstance(result, TuneResult):
        return result.summary()
    shown = ("roc_auc", "pr_auc", "logloss", "brier", "ece", "lift_at_10pct")

    def line(metrics: dict[str, float]) -> str:
        return "  ".join(f"{key}={metrics[key]:.4f}" for key in shown if key in metrics)

    lines = [
        f"parent run: {result.parent_run_id} (experiment {result.experiment_id}, "
        f"study {result.study_name})",
        *([f"note: {result.split_note}"] if result.split_note else []),
        *([f"note: {result.folds_note}"] if result.folds_note else []),
        f"selection: mean validation score over {result.folds} rolling-origin fold(s)",
        "best params: " + json.dumps(result.best_params, sort_keys=True),
        *(
            [
                f"refit:       {result.refit} ({result.refit_rows} rows; validation metrics, "
                "calibration and threshold are the training-rows fit's)"
            ]
            if result.refit != "train"
            else []
        ),
        "validation:  " + line(result.validation_metrics),
        "test:        " + line(result.test_metrics),
        "baselines (test roc_auc): "
        + "  ".join(f"{name}={auc:.4f}" for name, auc in result.baseline_test_auc.items()),
    ]
    if result.business.requested:
        lines.append("business:    " + business_line(result.business, result.business_metrics))
    if result.test_roc_auc_unconstrained is not None:
        constrained = result.test_metrics["roc_auc"]
        lines.append(
            "monotone:    "
            + " ".join(f"{name}{sign:+d}" for name, sign in result.monotone.items())
            + f"; test roc_auc {constrained:.4f} constrained, "
            f"{result.test_roc_auc_unconstrained:.4f} without (cost "
            f"{result.test_roc_auc_unconstrained - constrained:+.4f})"
        )
    if result.oracle:
        lines.append("oracle:      " + "  ".join(f"{k}={v:.4f}" for k, v in result.oracle.items()))
    lines.append(
        artifacts_location(
            "plots",
            result.plots_uri,
            result.tracking_uri,
            result.experiment_id,
            result.parent_run_id,
        )
    )
    if not is_tracking_server(result.tracking_uri):
        lines.append(f"see it: {ui_command(result.tracking_uri)}")
    if result.baseline_note:
        lines.append(f"note: {result.baseline_note}")
    lines.append(f"next: usagecast promote {result.parent_run_id}   # register it, gate it")
    return "\n".join(lines)
