"""Tuning benchmark: Optuna pruning vs none, and LightGBM vs sklearn HistGradientBoosting.

1. The study `usagecast tune` runs (objective, search space, its pruner, Dataset built once)
   with pruning and without, on the same data and the same seeds: trials per minute, time to
   reach the study's best validation AUC (wall and this process's CPU seconds: on a shared
   machine the CPU time is the steadier measure of work), and the best AUC itself. Ratios are
   printed.
2. One fit each of LightGBM and sklearn's HistGradientBoostingClassifier at the same budget
   (rounds, leaves, learning rate, bins, threads): fit time and test AUC, and the time ratio.

Run: .venv/bin/python benchmarks/bench_tuning.py [--rows N] [--features N] [--trials N]
     [--seeds N] [--threads N] [--pruner NAME]
     (guard heavy runs: flock /tmp/usagecast_bench.lock ...)
"""

from __future__ import annotations

import argparse
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

from experiments.objective import build_study_data, make_objective
from experiments.study import make_pruner

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


def run_study(data, seed: int, trials: int, threads: int, pruner: str | None) -> StudyStats:
    """One in-memory study with the production objective; timings per finished trial."""
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.NopPruner() if pruner is None else PRUNERS[pruner](),
    )
    finished_at: list[tuple[float, float, float | None]] = []
    start, start_cpu = time.perf_counter(), time.process_time()

    def record(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        now = (time.perf_counter() - start, time.process_time() - start_cpu)
        finished_at.append((*now, trial.value))

    study.optimize(
        make_objective(data, "roc_auc", seed, threads), n_trials=trials, callbacks=[record]
    )
    wall = time.perf_counter() - start
    best = study.best_value
    time_to_best, cpu_to_best = next((t, cpu) for t, cpu, value in finished_at if value == best)
    pruned = sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials)
    return StudyStats(wall, 60 * trials / wall, best, time_to_best, cpu_to_best, pruned)


def compare_pruning(args: argparse.Namespace) -> None:
    """Pruning vs none over several seeds on the same Datasets."""
    frame, labels = synthetic_frame(args.rows, args.features, seed=0)
    cut = int(0.7 * len(frame))
    data = build_study_data(frame[:cut], labels[:cut], frame[cut:], labels[cut:], ["group"])
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
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    compare_pruning(args)
    compare_libraries(args)


if __name__ == "__main__":
    main()
