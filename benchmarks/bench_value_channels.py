"""Does the value model order the acquisition channels by value per user as realised? Peer:
the same simulation with every channel on the standard plan.

The simulator makes a purchase worth the price times the plan factor of the buyer's channel
(simulator/config.py CHANNEL_PLAN_VALUE), so the channels' value per user differs by a
known amount while their behaviour does not. This script simulates, ingests and builds
ltv_90d@v2, tunes the value model once per tuning seed (registering each as a version of
ltv_90d), and prints, for each, the test total ratio, the total calibration the run applied
(the validation rows' realised over predicted total) and what
`usagecast analytics ltv --feature-set ltv_90d@v2 --model URI --cutoff-from TEST_CUTOFF`
prints: mean predicted vs realised value per channel (`ltv_predicted_vs_realised`) and the
channels' order by value per row, predicted beside realised, with their Spearman
correlation (`ltv_channel_ranking`).

Before the runs it prints whether the question is well posed at this size (`truth`): the
simulator's true purchase probability of each test row (simulator.truth, horizon 90 days)
times its purchase's value gives the expected value per row; the channels' expected order
beside the realised one, how often labels drawn from those probabilities order the channels
as expected (TRUTH_DRAWS draws), and the realised total's standard deviation around its
expectation.

The default size is 6,000 users, three times the demo's: at 2,000 the first cutoff holds 231
labelled rows (the selection's only training rows), and with the test labels drawn from the
simulator's true purchase probabilities the realised channel order differs from the expected
one in 10% of draws and the realised total has a 5.8% standard deviation around its
expectation (none of 2,000 draws and 3.3% at 6,000): docs/decisions/value-model.md, "The
benchmark's size".

`--without-plans` sets every plan factor to 1 in this process: the control, the same events
with every purchase at the standard price (the simulator before plans), where the channels'
value per user differs only through their small effects on behaviour.

    .venv/bin/python benchmarks/bench_value_channels.py [--users 6000] [--seed 7]
        [--tune-seeds 0,7,1,2,3] [--trials 20] [--without-plans]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from simulator import SimulationConfig, simulate_to_dir, tables
from simulator.config import CHANNELS
from simulator.truth import true_purchase_probability

FEATURE_SET = "ltv_90d@v2"
HORIZON_DAYS = 90
TRUTH_REPLICAS = 128
TRUTH_DRAWS = 2000


def usagecast(*args: str) -> str:
    """Run a `usagecast` command line in a subprocess and return what it printed."""
    done = subprocess.run(
        [sys.executable, "-m", "usagecast_cli.main", *args],
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout


def order(means: pd.Series) -> str:
    """Channels by descending mean, as `analytics ltv` prints an order."""
    return " > ".join(means.sort_values(ascending=False, kind="stable").index)


def truth(config: SimulationConfig, test_rows: pd.DataFrame) -> str:
    """Expected against realised value per channel at the test rows, from the simulator's
    true purchase probabilities (module docstring)."""
    probability = true_purchase_probability(
        config,
        pd.to_numeric(test_rows["user_id"]).to_numpy(np.int64),
        pd.to_datetime(test_rows["cutoff"]).to_numpy(dtype="datetime64[s]"),
        horizon_days=HORIZON_DAYS,
        replicas=TRUTH_REPLICAS,
    )
    channel = test_rows["channel"].astype(str).to_numpy()
    plan = dict(zip(CHANNELS, tables.CHANNEL_PLAN_VALUE, strict=True))
    worth = np.round(config.levers.premium_price * pd.Series(channel).map(plan).to_numpy(), 2)
    realised = test_rows["label"].to_numpy(dtype=float)
    table = (
        pd.DataFrame({"realised_mean": realised, "expected_mean": probability * worth})
        .groupby(channel)
        .mean()
    )
    expected_order = order(table["expected_mean"])
    rng = np.random.default_rng(config.seed)
    same = sum(
        order(
            pd.Series((rng.random(len(probability)) < probability) * worth).groupby(channel).mean()
        )
        == expected_order
        for _ in range(TRUTH_DRAWS)
    )
    expected_total = float(np.sum(probability * worth))
    sd = float(np.sqrt(np.sum(probability * (1 - probability) * worth**2)))
    return (
        f"truth\n{table.round(4).to_string()}\n"
        f"expected order {expected_order}; realised order {order(table['realised_mean'])}; "
        f"labels drawn from the truth order the channels as expected in {same / TRUTH_DRAWS:.2%} "
        f"of {TRUTH_DRAWS} draws\nrealised total {realised.sum():.1f} = "
        f"{realised.sum() / expected_total:.3f} x expected {expected_total:.1f}; its sd around "
        f"the expectation {sd / expected_total:.1%}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=6000)
    parser.add_argument("--months", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--tune-seeds", default="0,7,1,2,3")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--without-plans", action="store_true")
    parser.add_argument("--workdir", type=Path, default=Path("bench_data/value_channels"))
    args = parser.parse_args(argv)
    if args.without_plans:
        tables.CHANNEL_PLAN_VALUE = (1.0,) * len(tables.CHANNEL_PLAN_VALUE)
    label = "without" if args.without_plans else "with"
    workdir = args.workdir / f"u{args.users}-m{args.months}-s{args.seed}-{label}"
    os.environ["USAGECAST_HOME"] = str((workdir / "home").resolve())
    data = workdir / "data"
    config = SimulationConfig(n_users=args.users, months=args.months, seed=args.seed)
    if not (data / "dataset.yaml").exists():
        simulate_to_dir(data, config, progress=False)
        usagecast("ingest", str(data / "dataset.yaml"), "--no-progress")
        usagecast("features", "build", FEATURE_SET, "--no-progress")

    from experiments.run import TuneConfig, tune
    from features.featureset import load_feature_set
    from registry import promote_run

    frame, _ = load_feature_set(FEATURE_SET)
    test_cutoff = pd.to_datetime(frame["cutoff"]).max()
    print(
        f"{FEATURE_SET} on {args.users} simulated users, {args.months} months (seed "
        f"{args.seed}), {label} the channels' plans; test cutoff {test_cutoff.date()}"
    )
    print(truth(config, frame[pd.to_datetime(frame["cutoff"]) == test_cutoff]))
    for seed in (int(part) for part in args.tune_seeds.split(",")):
        result = tune(TuneConfig(FEATURE_SET, trials=args.trials, seed=seed))
        registered = promote_run(result.parent_run_id)
        model = f"models:/{registered.name}/{registered.version}"
        printed = usagecast(
            "analytics",
            "ltv",
            "--feature-set",
            FEATURE_SET,
            "--model",
            model,
            "--cutoff-from",
            test_cutoff.date().isoformat(),
        )
        backtest = printed[printed.index("ltv_predicted_vs_realised") :]
        print(
            f"\n--- tune --seed {seed} --trials {args.trials} ({model}): test total ratio "
            f"{result.test_metrics['total_ratio']:.3f} (total calibration "
            f"x{result.total_calibration:.3f})\n{backtest}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
