"""`usagecast recommend train`: tune ALS with Optuna, compare it with popularity (and on
simulated data the oracle), log everything in MLflow, optionally register the model.

Selection never sees the evaluation window: trials train on the events before
cutoff - window and are scored on [cutoff - window, cutoff); the best parameters are refit on
every event before the cutoff and evaluated, with the baselines, on [cutoff, cutoff + window).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
import numpy as np
import optuna
from matplotlib.figure import Figure

from contracts.errors import UsagecastError
from contracts.lineage import GIT_COMMIT_TAG
from contracts.names import check_name
from contracts.workspace import event_store_path
from events.store import StoreMissingError, latest_dataset_digest, open_store
from experiments import plots
from experiments.interrupts import deferred_stop
from experiments.oracle import simulation_config_path
from experiments.recommend.interactions import (
    INTERACTION_EVENTS,
    InteractionSplit,
    default_cutoff,
    last_event_time,
    read_interactions,
    split_interactions,
)
from experiments.recommend.metrics import ranking_metrics
from experiments.recommend.models import (
    AlsParams,
    als_recommender,
    popularity_rows,
    recommend_rows,
    suggest_als,
)
from experiments.recommend.oracle import true_item_scores
from experiments.recommend.register import Registration, decide, register_recommender
from experiments.run import git_commit
from experiments.tracking import (
    TrialRunLogger,
    log_child_run,
    log_params_and_metrics,
    parent_run,
    prepare_experiment,
)
from features.workspace import activate_mlflow_tracking
from serving.recommend import log_recommender_model, top_k
from simulator import SimulationConfig, load_simulation_config

EXPERIMENT = "recommend"
MODEL = "als"
BASELINE = "popularity"
ORACLE = "oracle"


@dataclass(frozen=True)
class RecommendConfig:
    """What `usagecast recommend train` was asked to do."""

    cutoff: dt.datetime | None = None  # None: the latest cutoff whose window is in the data
    window_days: int = 30
    trials: int = 20
    seed: int = 0
    k: int = 10
    register: str | None = None  # a registered model name
    store: Path | None = None  # None: the workspace's event store
    event_types: tuple[str, ...] = INTERACTION_EVENTS

    def __post_init__(self) -> None:
        for name in ("window_days", "trials", "k"):
            if getattr(self, name) < 1:
                raise UsagecastError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.seed < 0:
            raise UsagecastError(f"seed must be >= 0, got {self.seed}")
        if self.register is not None:
            check_name(self.register, "model name")


@dataclass(frozen=True)
class RecommendResult:
    """The run, the windows and each recommender's metrics on the evaluation window."""

    run_id: str
    cutoff: dt.datetime
    window_end: dt.datetime
    users_evaluated: int
    best_params: AlsParams
    metrics: dict[str, dict[str, float]]  # recommender -> recall_at_k, ndcg_at_k, coverage_at_k
    model_uri: str
    k: int
    registration: Registration | None = field(default=None)


def _checked(split: InteractionSplit, what: str) -> InteractionSplit:
    if split.train.nnz == 0 or len(split.evaluated_users) == 0:
        raise UsagecastError(
            f"{what}: no interactions before {split.cutoff:%Y-%m-%d} or no user took up a new "
            f"item before {split.window_end:%Y-%m-%d}; choose another --cutoff or --window-days"
        )
    return split


def _dataset_digest(store: Path) -> str | None:
    """The digest of the data the store holds (lineage), None for a store without an ingest
    record."""
    con = open_store(store)
    try:
        return latest_dataset_digest(con)
    except StoreMissingError:
        return None
    finally:
        con.close()


def _simulation(digest: str | None, store: Path) -> tuple[SimulationConfig | None, str]:
    """The simulator's config for the data in the store, or None and why not."""
    path = None if digest is None else simulation_config_path(digest, store)
    if path is None:
        return None, "skipped: the ingest record names no dataset config"
    try:
        return load_simulation_config(path), "the simulator's true taste of each user"
    except UsagecastError as error:
        return None, f"skipped: {error}"


def _figure(metrics: dict[str, dict[str, float]], k: int) -> Figure:
    """Grouped bars: recall@k, NDCG@k and coverage per recommender."""
    plt = plots._pyplot()
    names = list(metrics)
    keys = [f"recall_at_{k}", f"ndcg_at_{k}", f"coverage_at_{k}"]
    figure, axes = plt.subplots(figsize=(6, 4))
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        axes.bar(np.arange(len(keys)) + i * width, [metrics[name][key] for key in keys], width)
    axes.set_xticks(
        np.arange(len(keys)) + 0.4 - width / 2, [f"recall@{k}", f"NDCG@{k}", "coverage"]
    )
    axes.legend(names)
    axes.set_title("Evaluation window")
    return plots._detach(plt, figure)


def train_recommender(config: RecommendConfig) -> RecommendResult:
    """Tune, evaluate, log and (with `register`) register an ALS recommender."""
    store = Path(config.store or event_store_path())
    window = dt.timedelta(days=config.window_days)
    cutoff = config.cutoff or default_cutoff(
        last_event_time(store, config.event_types), config.window_days
    )
    events, catalogue = read_interactions(store, cutoff + window, config.event_types)
    test = _checked(split_interactions(events, cutoff, config.window_days, catalogue), "cutoff")
    tuning = _checked(
        split_interactions(events, cutoff - window, config.window_days, catalogue),
        "tuning window (the window before the cutoff)",
    )
    k = config.k
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    tracking_uri = activate_mlflow_tracking()
    experiment_id = prepare_experiment(tracking_uri, EXPERIMENT)
    digest = _dataset_digest(store)
    tags = {
        "usagecast.model_kind": "recommender",
        GIT_COMMIT_TAG: git_commit(),
        "dataset_digest": digest or "unknown",
    }
    with (
        deferred_stop() as stop,
        parent_run(experiment_id, f"{MODEL}-{cutoff:%Y-%m-%d}", tags, stop) as run_id,
    ):
        tuning_rows = tuning.evaluated_users

        def objective(trial: optuna.Trial) -> float:
            stop.check()
            recommender = als_recommender(tuning, suggest_als(trial), config.seed)
            recommended = recommend_rows(recommender, tuning, tuning_rows, k)
            return ranking_metrics(recommended, tuning.relevant[tuning_rows], k)[f"ndcg_at_{k}"]

        study = optuna.create_study(
            direction="maximize", sampler=optuna.samplers.TPESampler(seed=config.seed)
        )
        logger = TrialRunLogger(tracking_uri, experiment_id, run_id, f"ndcg_at_{k}")
        study.optimize(objective, n_trials=config.trials, callbacks=[logger])
        best = AlsParams(**study.best_params)
        final = als_recommender(test, best, config.seed)
        rows = test.evaluated_users
        relevant = test.relevant[rows]
        ranked = {
            MODEL: recommend_rows(final, test, rows, k),
            BASELINE: popularity_rows(test, rows, k),
        }
        simulation, oracle_note = _simulation(digest, store)
        if simulation is not None:
            users = tuple(test.user_ids[i] for i in rows)
            truth = true_item_scores(simulation, users, test.item_ids)
            ranked[ORACLE] = top_k(truth, test.train[rows], k)
        metrics = {name: ranking_metrics(r, relevant, k) for name, r in ranked.items()}
        for name in (BASELINE, ORACLE):
            if name in metrics:
                log_child_run(
                    tracking_uri,
                    experiment_id,
                    run_id,
                    name,
                    params={"k": k},
                    metrics={f"test_{key}": v for key, v in metrics[name].items()},
                    tags={"baseline": name},
                )
        log_params_and_metrics(
            {
                "cutoff": cutoff.isoformat(),
                "window_days": config.window_days,
                "event_types": ",".join(config.event_types),
                "seed": config.seed,
                "k": k,
                "trials": config.trials,
                "users": len(test.user_ids),
                "items": len(test.item_ids),
                "users_evaluated": len(rows),
                "train_interactions": int(test.train.sum()),
                "oracle": oracle_note,
                **{f"als_{key}": value for key, value in vars(best).items()},
            },
            {
                **{f"test_{key}": v for key, v in metrics[MODEL].items()},
                **{
                    f"{name}_{key}": v
                    for name in (BASELINE, ORACLE)
                    for key, v in metrics.get(name, {}).items()
                },
                f"val_ndcg_at_{k}": study.best_value,
            },
        )
        for name, figure in {
            "recommenders": _figure(metrics, k),
            **plots.optuna_figures(study, config.seed),
        }.items():
            mlflow.log_figure(figure, f"plots/{name}.png")
        info = log_recommender_model(final)
    registration = None
    if config.register is not None:
        promote, reason = decide(metrics[MODEL], metrics[BASELINE], k)
        registration = register_recommender(
            info.model_uri, run_id, config.register, promote, reason
        )
    return RecommendResult(
        run_id=run_id,
        cutoff=cutoff,
        window_end=test.window_end,
        users_evaluated=len(rows),
        best_params=best,
        metrics=metrics,
        model_uri=info.model_uri,
        k=k,
        registration=registration,
    )


def format_summary(result: RecommendResult) -> str:
    """What `usagecast recommend train` prints."""
    k = result.k
    lines = [
        f"cutoff {result.cutoff:%Y-%m-%d}, evaluated on "
        f"[{result.cutoff:%Y-%m-%d}, {result.window_end:%Y-%m-%d}) for "
        f"{result.users_evaluated} users who took up new items",
        f"{'recommender':<12} {f'recall@{k}':>10} {f'NDCG@{k}':>10} {'coverage':>10}",
    ]
    for name, values in result.metrics.items():
        lines.append(
            f"{name:<12} {values[f'recall_at_{k}']:>10.4f} {values[f'ndcg_at_{k}']:>10.4f} "
            f"{values[f'coverage_at_{k}']:>10.4f}"
        )
    lines.append(f"best ALS params: {vars(result.best_params)}")
    lines.append(f"run {result.run_id}; model {result.model_uri}")
    if result.registration is not None:
        r = result.registration
        verdict = "promoted to @champion" if r.promoted else "registered, not promoted"
        lines.append(f"{r.name} version {r.version}: {verdict} ({r.reason})")
    return "\n".join(lines)
