"""Tuning benchmark: Optuna pruning vs none, and LightGBM vs sklearn HistGradientBoosting.

1. The study `usagecast tune` runs (objective, search space, its pruner, Dataset built once)
   with pruning and without, on the same data and the same seeds: trials per minute, time to
   reach the study's best validation AUC (wall and this process's CPU seconds: on a shared
   machine the CPU time is the steadier measure of work), and the best AUC itself. Ratios are
   printed. `--history-bound` instead prints, per seed, the most any pruner could shorten
   the unpruned study's CPU time to its best trial while TPE still proposes the same trials.
2. One fit each of LightGBM and sklearn's HistGradientBoostingClassifier at the same budget
   (rounds, leaves, learning rate, bins, threads): fit time and test AUC, and the time ratio.

Run: .venv/bin/python benchmarks/bench_tuning.py [--rows N] [--features N] [--trials N]
     [--seeds N] [--threads N] [--pruner NAME | --history-bound]
     (guard heavy runs: flock /tmp/usagecast_bench.lock ...)
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import optuna
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

from experiments.objective import StudyData, build_study_data, make_objective
from experiments.study import PRUNER_WARMUP_STEPS, make_pruner

TPE_STARTUP_TRIALS = 10  # TPESampler's default random phase, which ignores the history

# The pruner compared with none: usagecast's own (experiments/study.py) or a named alternative.
PRUNERS: dict[str, Callable[[], optuna.pruners.BasePruner]] = {
    "usagecast": make_pruner,
    "median-10-10": lambda: optuna.pruners.MedianPruner(n_startup_trials=10, n_warmup_steps=10),
    "median-10-20": lambda: optuna.pruners.MedianPruner(n_startup_trials=10, n_warmup_steps=20),
    "keep75-10-20": lambda: optuna.pruners.PercentilePruner(
        75.0, n_startup_trials=10, n_warmup_steps=20
    ),
    "asha-20-2": lambda: optuna.pruners.SuccessiveHalvingPruner(
        min_resource=20, reduction_factor=2
    ),
    "asha": optuna.pruners.SuccessiveHalvingPruner,
    # Median pruning only once a trial has stalled: slow learners still climbing run on.
    "patient5-median-3-20": lambda: optuna.pruners.PatientPruner(
        optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=20), patience=5
    ),
}


@dataclass(frozen=True)
class StudyStats:
    """What one study cost and found."""

    wall_s: float
    trials_per_minute: float
    best_auc: float
    time_to_best_s: float
    cpu_to_best_s: float
    pruned: int


def synthetic_frame(rows: int, features: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Numeric features with interactions and a categorical one; labels from a known logit."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, features))
    group = rng.integers(0, 8, rows)
    logit = (
        -2.0
        + x[:, 0]
        + 0.8 * x[:, 1] * x[:, 2]
        + 0.5 * np.sin(3 * x[:, 3])
        + 0.6 * (x[:, 4] > 1)
        + 0.3 * (group % 3)
    )
    labels = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(float)
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(features)])
    frame["group"] = group.astype(float)
    return frame, labels


def study_data(rows: int, features: int) -> StudyData:
    """The studies' Datasets: the first 70% of the synthetic rows train, the rest validate."""
    frame, labels = synthetic_frame(rows, features, seed=0)
    cut = int(0.7 * len(frame))
    return build_study_data(frame[:cut], labels[:cut], frame[cut:], labels[cut:], ["group"])


def optimize(
    data, seed: int, trials: int, threads: int, pruner: str | None
) -> tuple[optuna.Study, list[tuple[float, float]]]:
    """One in-memory study with the production objective, and the wall and CPU seconds from
    its start at which each trial finished."""
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.NopPruner() if pruner is None else PRUNERS[pruner](),
    )
    finished_at: list[tuple[float, float]] = []
    start, start_cpu = time.perf_counter(), time.process_time()

    def record(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        finished_at.append((time.perf_counter() - start, time.process_time() - start_cpu))

    study.optimize(
        make_objective(data, "roc_auc", seed, threads), n_trials=trials, callbacks=[record]
    )
    return study, finished_at


def run_study(data, seed: int, trials: int, threads: int, pruner: str | None) -> StudyStats:
    """One study's cost and find; the time to best is when the best trial finished."""
    study, finished_at = optimize(data, seed, trials, threads, pruner)
    wall = finished_at[-1][0]
    time_to_best, cpu_to_best = finished_at[study.best_trial.number]
    pruned = sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials)
    return StudyStats(
        wall, 60 * trials / wall, study.best_value, time_to_best, cpu_to_best, pruned
    )


def tpe_good(values: list[float], finished: int) -> set[int]:
    """The trials TPE models as good once `finished` trials are done, all completed: the best
    ceil(0.1 n), at most 25 (TPESampler's default gamma), maximising."""
    ranked = sorted(range(finished), key=lambda number: -values[number])
    return set(ranked[: min(math.ceil(0.1 * finished), 25)])


@dataclass(frozen=True)
class HistoryBound:
    """An unpruned study's CPU seconds to its best trial, and the least a pruned study that
    proposes the same trials could spend, for each warm-up."""

    best_auc: float
    best_trial: int
    cpu_to_best_s: float
    bound_s: tuple[float, ...]
    completed: tuple[int, ...]


def history_bound(
    data: StudyData, seed: int, trials: int, threads: int, warmups: tuple[int, ...]
) -> HistoryBound:
    """The most any pruner could speed a study to its best trial without changing what TPE
    proposes.

    TPE ranks pruned trials below completed ones and otherwise models them as completed ones,
    so a sequential pruned study proposes the unpruned study's trials exactly when it
    completes every trial that is in TPE's good group (tpe_good) when a trial up to the best
    is sampled; the bound completes exactly those and prunes every other trial after the
    warm-up's rounds.
    """
    study, finished_at = optimize(data, seed, trials, threads, None)
    values = [float(trial.value) for trial in study.trials]
    best = study.best_trial.number
    kept = {best}.union(*(tpe_good(values, n) for n in range(TPE_STARTUP_TRIALS, best + 1)))
    cpu = np.diff([0.0, *(seconds for _, seconds in finished_at)])
    rounds = [len(trial.intermediate_values) for trial in study.trials]
    bounds = tuple(
        float(
            sum(
                cpu[n] if n in kept else cpu[n] * min(1.0, warmup / rounds[n])
                for n in range(best + 1)
            )
        )
        for warmup in warmups
    )
    return HistoryBound(
        study.best_value, best, float(sum(cpu[: best + 1])), bounds, tuple(sorted(kept))
    )


def print_history_bounds(args: argparse.Namespace) -> None:
    """history_bound over the seeds, with the ratio of the sums (as compare_pruning's)."""
    data = study_data(args.rows, args.features)
    warmups = (0, PRUNER_WARMUP_STEPS)
    print(
        f"history-preserving bound: {args.rows} rows x {args.features + 1} features, "
        f"{args.trials} trials, seeds 0..{args.seeds - 1}, {args.threads} thread(s); "
        f"pruned trials cost nothing / run {warmups[1]} rounds"
    )
    print(f"{'seed':>4} {'best AUC':>9} {'trial':>5} {'CPU s':>7} {'bound s':>15}  completed")
    bounds = [
        history_bound(data, seed, args.trials, args.threads, warmups) for seed in range(args.seeds)
    ]
    for seed, bound in enumerate(bounds):
        print(
            f"{seed:>4} {bound.best_auc:>9.5f} {bound.best_trial:>5} {bound.cpu_to_best_s:>7.1f} "
            f"{bound.bound_s[0]:>7.1f} {bound.bound_s[1]:>7.1f}  {list(bound.completed)}"
        )
    total = sum(bound.cpu_to_best_s for bound in bounds)
    ratios = [total / sum(bound.bound_s[index] for bound in bounds) for index in range(2)]
    print(f"largest CPU time-to-best ratio (none / pruned): x{ratios[0]:.2f} / x{ratios[1]:.2f}")


def compare_pruning(args: argparse.Namespace) -> None:
    """Pruning vs none over several seeds on the same Datasets."""
    data = study_data(args.rows, args.features)
    print(
        f"pruning ({args.pruner}) vs none: {args.rows} rows x {args.features + 1} features, "
        f"{args.trials} trials, seeds 0..{args.seeds - 1}, {args.threads} thread(s)"
    )
    print(
        f"{'seed':>4} {'pruner':>7} {'wall s':>8} {'trials/min':>10} {'to best s':>9} "
        f"{'CPU s':>7} {'best AUC':>9} {'pruned':>6}"
    )
    results: dict[bool, list[StudyStats]] = {True: [], False: []}
    for seed in range(args.seeds):
        for prune in (False, True):
            stats = run_study(
                data, seed, args.trials, args.threads, args.pruner if prune else None
            )
            results[prune].append(stats)
            print(
                f"{seed:>4} {'yes' if prune else 'none':>7} {stats.wall_s:>8.1f} "
                f"{stats.trials_per_minute:>10.1f} {stats.time_to_best_s:>9.1f} "
                f"{stats.cpu_to_best_s:>7.1f} {stats.best_auc:>9.5f} {stats.pruned:>6}"
            )

    def mean(prune: bool, field: str) -> float:
        return statistics.mean(getattr(s, field) for s in results[prune])

    print(
        f"trials/min ratio (pruned / none): "
        f"{mean(True, 'trials_per_minute') / mean(False, 'trials_per_minute'):.2f}x"
    )
    print(
        f"time-to-best ratio (none / pruned): wall "
        f"{mean(False, 'time_to_best_s') / mean(True, 'time_to_best_s'):.2f}x, CPU "
        f"{mean(False, 'cpu_to_best_s') / mean(True, 'cpu_to_best_s'):.2f}x"
    )
    print(
        f"best AUC (mean over seeds): none {mean(False, 'best_auc'):.5f}, "
        f"pruned {mean(True, 'best_auc'):.5f}, "
        f"difference {mean(True, 'best_auc') - mean(False, 'best_auc'):+.5f}"
    )


def compare_libraries(args: argparse.Namespace) -> None:
    """LightGBM vs HistGradientBoosting at the same budget: fit time and test AUC."""
    frame, labels = synthetic_frame(args.rows, args.features, seed=1)
    cut = int(0.7 * len(frame))
    train_x, test_x, train_y, test_y = frame[:cut], frame[cut:], labels[:cut], labels[cut:]
    rounds, leaves, rate = 200, 31, 0.1
    start = time.perf_counter()
    booster = lgb.train(
        {
            "objective": "binary",
            "num_leaves": leaves,
            "learning_rate": rate,
            "max_bin": 255,
            "min_data_in_leaf": 20,
            "num_threads": args.threads,
            "seed": 0,
            "verbosity": -1,
        },
        lgb.Dataset(train_x, train_y, categorical_feature=["group"]),
        num_boost_round=rounds,
    )
    lightgbm_s = time.perf_counter() - start
    lightgbm_auc = roc_auc_score(test_y, booster.predict(test_x))
    model = HistGradientBoostingClassifier(
        max_iter=rounds,
        max_leaf_nodes=leaves,
        learning_rate=rate,
        max_bins=255,
        min_samples_leaf=20,
        early_stopping=False,
        random_state=0,
        categorical_features=[frame.columns.get_loc("group")],
    )
    with threadpool_limits(limits=args.threads):
        start = time.perf_counter()
        model.fit(train_x, train_y)
        sklearn_s = time.perf_counter() - start
    sklearn_auc = roc_auc_score(test_y, model.predict_proba(test_x)[:, 1])
    print(
        f"\nLightGBM vs sklearn HistGradientBoosting: {rounds} rounds, {leaves} leaves, "
        f"{cut} training rows, {args.threads} thread(s)"
    )
    print(f"  LightGBM      fit {lightgbm_s:6.2f} s  test AUC {lightgbm_auc:.5f}")
    print(f"  HistGradBoost fit {sklearn_s:6.2f} s  test AUC {sklearn_auc:.5f}")
    print(
        f"fit time ratio (HistGradientBoosting / LightGBM): {sklearn_s / lightgbm_s:.2f}x, "
        f"AUC difference {lightgbm_auc - sklearn_auc:+.5f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--pruner", choices=sorted(PRUNERS), default="usagecast", help="the pruned side's pruner"
    )
    parser.add_argument(
        "--history-bound",
        action="store_true",
        help="print the most any pruner could gain while TPE proposes the unpruned trials",
    )
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if args.history_bound:
        print_history_bounds(args)
        return
    compare_pruning(args)
    compare_libraries(args)


if __name__ == "__main__":
    main()
