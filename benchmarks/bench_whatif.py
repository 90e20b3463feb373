"""Benchmark: usagecast's what-if GA vs DiCE genetic on the same LightGBM model and query rows.

    .venv/bin/python benchmarks/bench_whatif.py [--rows 100] [--users 20000] [--seed 0]

Data: a synthetic product-like data set generated here with numpy (ad/play/like counts over
7 and 30 days, sessions, recency, an ads-per-play ratio, immutable tenure/age/device/tier),
because the benchmark must not depend on a built feature set. One LightGBM classifier is
trained on it; both tools explain the same model on the same query rows (users predicted
below the target).

DiCE (dice-ml) is a benchmark-only dependency and never enters the project's venv: when it
is not importable, this script creates bench_data/dice-venv (its own interpreter, seeing the
project's packages through a .pth file), installs the pinned DiCE packages there without
their optional heavy dependencies (xgboost), and re-runs itself with that interpreter.

Printed per tool: validity (share of rows with a suggestion reaching the target), feasible
validity (also keeping our constraints: immutables, directions, bounds, integers, couplings,
ratios), mean cost and range-normalised L1 proximity, mean number of changed features and
diversity (mean pairwise normalised L1 between a row's valid suggestions; distinct changed
feature sets per row) over valid suggestions, and seconds per row. Then usagecast's time
against the raw time to score the candidates it evaluated with Booster.predict (replaying
the same batches, and as one batch).
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

DICE_VENV = Path("bench_data/dice-venv")
DICE_PACKAGES = [
    "dice-ml==0.12",
    "raiutils==0.4.2",
    "jsonschema==4.26.0",
    "jsonschema-specifications==2025.9.1",
    "referencing==0.37.0",
    "rpds-py==2026.9.1",
]
TARGET = 0.5

ACTIONABLE = [
    {
        "name": "count_ad_7d",
        "direction": "decrease",
        "lower": 0,
        "upper": 40,
        "integer": True,
        "cost": 0.5,
    },
    {
        "name": "count_ad_30d",
        "direction": "decrease",
        "lower": 0,
        "upper": 150,
        "integer": True,
        "cost": 0.5,
    },
    {
        "name": "count_play_7d",
        "direction": "increase",
        "lower": 0,
        "upper": 300,
        "integer": True,
        "cost": 0.05,
    },
    {
        "name": "count_play_30d",
        "direction": "increase",
        "lower": 0,
        "upper": 1000,
        "integer": True,
        "cost": 0.02,
    },
    {
        "name": "count_like_30d",
        "direction": "increase",
        "lower": 0,
        "upper": 200,
        "integer": True,
        "cost": 0.2,
    },
    {
        "name": "sessions_30d",
        "direction": "increase",
        "lower": 0,
        "upper": 60,
        "integer": True,
        "cost": 1.0,
    },
    {
        "name": "days_since_last",
        "direction": "decrease",
        "lower": 0,
        "upper": 30,
        "integer": True,
        "cost": 1.0,
    },
]
COUPLINGS = [
    {"kind": "order", "smaller": "count_ad_7d", "larger": "count_ad_30d"},
    {"kind": "order", "smaller": "count_play_7d", "larger": "count_play_30d"},
    {
        "kind": "ratio",
        "feature": "ads_per_play_30d",
        "numerator": "count_ad_30d",
        "denominator": "count_play_30d",
    },
]
FEATURES = [
    "count_ad_7d",
    "count_ad_30d",
    "count_play_7d",
    "count_play_30d",
    "count_like_30d",
    "sessions_30d",
    "days_since_last",
    "ads_per_play_30d",
    "tenure_days",
    "age",
    "is_mobile",
    "country_tier",
]


def ensure_dice(argv: list[str]) -> None:
    """Re-run under the benchmark-only interpreter that has dice-ml, creating it if needed."""
    try:
        import dice_ml  # noqa: F401

        return
    except ImportError:
        pass
    python = DICE_VENV / "bin" / "python"
    if not python.exists():
        print(f"dice-ml not importable: creating {DICE_VENV} (benchmark only)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(DICE_VENV)], check=True)
        site = subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        project_site = __import__("sysconfig").get_paths()["purelib"]
        Path(site, "usagecast_project.pth").write_text(
            f"import site; site.addsitedir({project_site!r})\n"
        )
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--no-deps", *DICE_PACKAGES],
            check=True,
        )
    os.execv(str(python), [str(python), *argv])


def product_dataset(rng: np.random.Generator, n: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Synthetic users: engagement converts, ads and absence hurt, tenure helps a little."""
    play30 = rng.gamma(2.0, 60.0, n).round()
    play7 = rng.binomial(play30.astype(int), 0.25).astype(float)
    ad30 = rng.poisson(5 + play30 * 0.08).astype(float)
    ad7 = rng.binomial(ad30.astype(int), 0.25).astype(float)
    frame = pd.DataFrame(
        {
            "count_ad_7d": ad7,
            "count_ad_30d": ad30,
            "count_play_7d": play7,
            "count_play_30d": play30,
            "count_like_30d": rng.poisson(play30 * 0.05).astype(float),
            "sessions_30d": np.minimum(rng.poisson(3 + play30 / 25), 60).astype(float),
            "days_since_last": rng.integers(0, 31, n).astype(float),
            "ads_per_play_30d": np.where(play30 == 0, 0.0, ad30 / np.maximum(play30, 1)),
            "tenure_days": rng.integers(0, 720, n).astype(float),
            "age": rng.integers(18, 70, n).astype(float),
            "is_mobile": rng.integers(0, 2, n).astype(float),
            "country_tier": rng.integers(1, 4, n).astype(float),
        }
    )
    logit = (
        -3.2
        + 0.9 * np.log1p(frame.count_play_7d) / 2
        + 0.04 * frame.count_like_30d
        + 0.08 * frame.sessions_30d
        - 0.08 * frame.days_since_last
        - 1.5 * frame.ads_per_play_30d
        - 0.04 * frame.count_ad_7d
        + 0.0006 * frame.tenure_days
        + 0.3 * frame.is_mobile
    )
    labels = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame[FEATURES], labels


class RecordingScorer:
    """Booster.predict (one thread, as served) that remembers each batch and its time.

    One thread because on small, shared machines LightGBM's threads spin-wait and make the
    raw-scoring baseline noisy; the raw replay uses the same setting."""

    def __init__(self, booster) -> None:
        self.booster = booster
        self.batches: list[np.ndarray] = []
        self.seconds = 0.0

    def __call__(self, matrix: np.ndarray) -> np.ndarray:
        started = time.perf_counter()
        scores = self.booster.predict(matrix, num_threads=1)
        self.seconds += time.perf_counter() - started
        self.batches.append(matrix)
        return scores


def summarise(before: np.ndarray, per_row: list[np.ndarray], booster, space) -> dict:
    """Quality metrics for suggested rows (model columns) per query row."""
    from serving.whatif import violations
    from serving.whatif.operators import changed

    columns = space.gene_columns
    width = np.maximum(space.upper - space.lower, 1e-12)
    valid_rows = feasible_rows = 0
    reasons: dict[str, int] = {}
    costs, proximities, n_changes, diversities, subsets = [], [], [], [], []
    for row, suggested in zip(before, per_row, strict=True):
        if len(suggested) == 0:
            continue
        reach = booster.predict(suggested) >= TARGET
        problems = [violations(row, s, space) for s in suggested]
        for problem in itertools.chain.from_iterable(problems):
            kind = problem.split(":")[0] if ":" in problem else problem
            reasons[kind] = reasons.get(kind, 0) + 1
        feasible = np.array([not p for p in problems])
        valid_rows += bool(reach.any())
        feasible_rows += bool((reach & feasible).any())
        good = suggested[reach]
        moved = changed(good[:, columns], row[columns])
        delta = np.abs(good[:, columns] - row[columns])
        costs.extend((delta * space.unit_cost).sum(axis=1))
        proximities.extend((delta / width).sum(axis=1))
        n_changes.extend(moved.sum(axis=1))
        subsets.append(len({tuple(m) for m in moved}))
        pairs = list(itertools.combinations(range(len(good)), 2))
        if pairs:
            diversities.append(
                np.mean(
                    [np.sum(np.abs(good[a, columns] - good[b, columns]) / width) for a, b in pairs]
                )
            )
    n = len(before)
    return {
        "validity": valid_rows / n,
        "feasible validity": feasible_rows / n,
        "mean cost": float(np.mean(costs)) if costs else float("nan"),
        "mean proximity (L1/range)": float(np.mean(proximities)) if costs else float("nan"),
        "mean changed features": float(np.mean(n_changes)) if costs else float("nan"),
        "diversity (pairwise L1/range)": float(np.mean(diversities)) if diversities else 0.0,
        "distinct feature sets / row": float(np.mean(subsets)) if subsets else 0.0,
    }, reasons


def run_usagecast(queries, booster, space, args) -> tuple[dict, dict]:
    from serving.whatif import Goal, SearchOptions, search_counterfactuals

    scorer = RecordingScorer(booster)
    options = SearchOptions(k=args.k, max_changes=args.max_changes)
    started = time.perf_counter()
    result = search_counterfactuals(
        queries, space, scorer, Goal(target=TARGET), options, seed=args.seed
    )
    seconds = time.perf_counter() - started
    per_row = []
    for row, suggestions in zip(queries, result.suggestions, strict=True):
        rows = []
        for suggestion in suggestions:
            after = row.copy()
            for change in (*suggestion.changes, *suggestion.derived):
                after[space.feature_names.index(change.feature)] = change.to_value
            rows.append(after)
        per_row.append(np.array(rows).reshape(-1, len(row)))
    metrics, reasons = summarise(queries, per_row, booster, space)
    metrics["seconds / row"] = seconds / len(queries)
    assert not reasons, f"usagecast broke its own constraints: {reasons}"
    replay = time.perf_counter()
    for batch in scorer.batches:
        booster.predict(batch, num_threads=1)
    replay = time.perf_counter() - replay
    everything = np.concatenate(scorer.batches)
    one_batch = time.perf_counter()
    booster.predict(everything, num_threads=1)
    one_batch = time.perf_counter() - one_batch
    cost = {
        "generations": result.generations,
        "stopped by": result.stopped_by,
        "candidates scored": result.n_scored,
        "model calls": len(scorer.batches),
        "total seconds": seconds,
        "seconds inside score_fn": scorer.seconds,
        "raw predict, same batches": replay,
        "raw predict, one batch": one_batch,
    }
    return metrics, cost


def run_dice(queries, frame, labels, model, space, args) -> dict:
    import dice_ml

    actionable = [g.name for g in space.genes]
    data = dice_ml.Data(
        dataframe=frame.assign(label=labels), continuous_features=FEATURES, outcome_name="label"
    )
    explainer = dice_ml.Dice(data, dice_ml.Model(model=model, backend="sklearn"), "genetic")
    ranges = {g.name: [g.lower, g.upper] for g in space.genes}
    query_frame = pd.DataFrame(queries, columns=FEATURES)
    # DiCE genetic draws from numpy's and the random module's global states: seed both.
    np.random.seed(args.seed)
    random.seed(args.seed)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = explainer.generate_counterfactuals(
            query_frame,
            total_CFs=args.k,
            desired_class=1,
            features_to_vary=actionable,
            permitted_range=ranges,
        )
    seconds = time.perf_counter() - started
    per_row = []
    for example in result.cf_examples_list:
        found = example.final_cfs_df
        per_row.append(
            np.zeros((0, len(FEATURES))) if found is None else found[FEATURES].to_numpy(float)
        )
    metrics, reasons = summarise(queries, per_row, model.booster_, space)
    metrics["seconds / row"] = seconds / len(queries)
    return metrics, reasons


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100, help="query rows (default 100)")
    parser.add_argument("--users", type=int, default=20000, help="training users")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--max-changes", type=int, default=2)
    parser.add_argument("--no-dice", action="store_true", help="usagecast only (quick run)")
    args = parser.parse_args()
    if not args.no_dice:
        ensure_dice([str(Path(__file__).resolve()), *sys.argv[1:]])

    import lightgbm as lgb

    from serving.whatif import build_action_space

    rng = np.random.default_rng(args.seed)
    frame, labels = product_dataset(rng, args.users)
    model = lgb.LGBMClassifier(
        n_estimators=200, num_leaves=31, learning_rate=0.05, random_state=args.seed, verbose=-1
    ).fit(frame, labels)
    booster = model.booster_
    space = build_action_space(FEATURES, ACTIONABLE, COUPLINGS)
    held_out, _ = product_dataset(np.random.default_rng(args.seed + 1), 5 * args.rows + 1000)
    held = held_out.to_numpy(float)
    queries = held[booster.predict(held) < TARGET][: args.rows]
    print(
        f"data: synthetic product-like (numpy), {args.users} users, base rate "
        f"{labels.mean():.2f}; model: LightGBM 200 trees x 31 leaves; {len(queries)} query "
        f"rows below p={TARGET}; k={args.k}, max_changes={args.max_changes}, seed={args.seed}"
    )
    ours, spent = run_usagecast(queries, booster, space, args)
    if args.no_dice:
        dice, dice_reasons = {name: float("nan") for name in ours}, {}
    else:
        dice, dice_reasons = run_dice(queries, frame, labels, model, space, args)

    print(f"\n{'metric':34s}{'usagecast':>12s}{'DiCE genetic':>14s}")
    for name in ours:
        print(f"{name:34s}{ours[name]:12.4f}{dice[name]:14.4f}")
    print(
        f"{'time per row ratio (ours / DiCE)':34s}"
        f"{ours['seconds / row'] / dice['seconds / row']:12.3f}   (goal <= 0.33)"
    )
    if dice_reasons:
        print("DiCE constraint violations (count over its suggestions):")
        for kind, count in sorted(dice_reasons.items(), key=lambda item: -item[1]):
            print(f"  {kind:48s}{count}")
    print("\nusagecast search cost:")
    for name, value in spent.items():
        print(f"  {name:32s}{value}")
    print(
        f"  {'ratio total / raw same batches':32s}"
        f"{spent['total seconds'] / spent['raw predict, same batches']:.2f}   (goal <= 1.5)"
    )
    print(
        f"  {'ratio total / raw one batch':32s}"
        f"{spent['total seconds'] / spent['raw predict, one batch']:.2f}"
    )


if __name__ == "__main__":
    main()
