"""What are the organisation's and the inviter's activity worth for adoption_14d@v1? Peer: the
same simulation with the organisations' effects switched off.

The simulator gives users organisations, teams and inviters whose shared latents cause their
behaviour (simulator/traits.py). This script measures the size of that effect on the
adoption label at the demo's size, with the production split (experiments.split):

1. adoption rate by tercile of the organisation's activity before the cutoff (the share of
   the other members active in the 14 days before it) and of the inviter's active days;
2. the oracle AUC (true adoption probabilities) on the test rows;
3. one fixed LightGBM configuration on adoption_14d@v1's features, then on those plus four
   related-entity features computed here in SQL (org active days and active share in the 14
   days before the cutoff, org members signed up before it, inviter active days), with each
   AUC's lift ratio against the oracle.

`--without-effects` sets the effect sizes of traits.py to 0 in this process (the same
organisations, teams and inviters, no effect): the control, whose related features should be
worth nothing.

    .venv/bin/python benchmarks/bench_org_effect.py [--users 2000] [--seed 7] [--without-effects]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from contracts.workspace import event_store_path
from experiments.oracle import ORACLE_REPLICAS, lift_ratio
from experiments.split import apply_split, plan_split
from features import load_feature_set
from simulator import SimulationConfig, simulate_to_dir, traits, true_adoption_probability

FEATURE_SET = "adoption_14d@v1"
EFFECTS = (
    "ORG_ENGAGEMENT",
    "TEAM_ENGAGEMENT",
    "INHERITANCE",
    "ORG_PURCHASE",
    "ORG_RETENTION",
    "INVITER_RETENTION",
)
RELATED = ["org_active_days_14d", "org_active_share_14d", "org_users", "inviter_active_days_14d"]
PARAMS = {
    "objective": "binary",
    "learning_rate": 0.03,
    "num_leaves": 15,
    "min_data_in_leaf": 20,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "num_threads": 1,
    "verbose": -1,
}
SEEDS = (0, 1, 2)

# Per row: the other members of the user's organisation and the user's inviter, their events
# in the 14 days before the cutoff (NULL without an organisation / an inviter).
RELATED_SQL = """
WITH r AS (
  SELECT r.user_id, r.cutoff, u.org_id, u.invited_by FROM rows r JOIN users u USING (user_id)),
members AS (
  SELECT r.user_id, r.cutoff, count(*) AS org_users
  FROM r JOIN users m ON m.org_id = r.org_id AND m.user_id <> r.user_id
   AND m.signup_time < r.cutoff
  GROUP BY ALL),
org AS (
  SELECT r.user_id, r.cutoff, count(DISTINCT e.event_date) AS days,
    count(DISTINCT e.user_id) AS active
  FROM r JOIN users m ON m.org_id = r.org_id AND m.user_id <> r.user_id
  JOIN events e ON e.user_id = m.user_id
   AND e.event_time >= r.cutoff - INTERVAL 14 DAY AND e.event_time < r.cutoff
  GROUP BY ALL),
inviter AS (
  SELECT r.user_id, r.cutoff, count(DISTINCT e.event_date) AS days
  FROM r JOIN events e ON e.user_id = r.invited_by
   AND e.event_time >= r.cutoff - INTERVAL 14 DAY AND e.event_time < r.cutoff
  GROUP BY ALL)
SELECT r.user_id, r.cutoff,
  CASE WHEN r.org_id IS NOT NULL THEN coalesce(org.days, 0) END AS org_active_days_14d,
  CASE WHEN r.org_id IS NOT NULL THEN coalesce(org.active, 0) / nullif(members.org_users, 0)
  END AS org_active_share_14d,
  CASE WHEN r.org_id IS NOT NULL THEN coalesce(members.org_users, 0) END AS org_users,
  CASE WHEN r.invited_by IS NOT NULL THEN coalesce(inviter.days, 0) END
    AS inviter_active_days_14d
FROM r LEFT JOIN members USING (user_id, cutoff) LEFT JOIN org USING (user_id, cutoff)
LEFT JOIN inviter USING (user_id, cutoff)
"""


def usagecast(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "usagecast_cli.main", *args], check=True)


def related_features(rows: pd.DataFrame) -> pd.DataFrame:
    """RELATED of each (user_id, cutoff) row, from the event store."""
    con = duckdb.connect(str(event_store_path()), read_only=True)
    try:
        con.register("rows", rows[["user_id", "cutoff"]])
        return con.execute(RELATED_SQL).df()
    finally:
        con.close()


def terciles(frame: pd.DataFrame, column: str) -> str:
    """Adoption rate per tercile of `column` (rows where it is known)."""
    known = frame.dropna(subset=[column])
    bins = pd.qcut(known[column].rank(method="first"), 3, labels=["low", "mid", "high"])
    rates = known.groupby(bins, observed=True)["label"].mean()
    return ", ".join(f"{name} {rate:.3f}" for name, rate in rates.items())


def mean_test_auc(parts: dict, columns: list[str], categorical: list[str]) -> float:
    """Test AUC of LightGBM (early stopping on validation), averaged over SEEDS."""
    x = {}
    for part, frame in parts.items():
        x[part] = frame[columns].copy()
        for name in categorical:
            x[part][name] = pd.Categorical(
                x[part][name], categories=sorted(parts["train"][name].unique())
            )
    aucs = []
    for seed in SEEDS:
        booster = lgb.train(
            {**PARAMS, "seed": seed},
            lgb.Dataset(x["train"], parts["train"]["label"]),
            num_boost_round=2000,
            valid_sets=[lgb.Dataset(x["validation"], parts["validation"]["label"])],
            callbacks=[lgb.early_stopping(100, verbose=False)],
        )
        predicted = booster.predict(x["test"], num_iteration=booster.best_iteration)
        aucs.append(roc_auc_score(parts["test"]["label"], predicted))
    return float(np.mean(aucs))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--months", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--without-effects", action="store_true")
    parser.add_argument("--workdir", type=Path, default=Path("bench_data/org_effect"))
    args = parser.parse_args(argv)
    if args.without_effects:
        for name in EFFECTS:
            setattr(traits, name, 0.0)
    label = "without" if args.without_effects else "with"
    workdir = args.workdir / f"u{args.users}-m{args.months}-s{args.seed}-{label}"
    os.environ["USAGECAST_HOME"] = str((workdir / "home").resolve())
    config = SimulationConfig(n_users=args.users, months=args.months, seed=args.seed)
    data = workdir / "data"
    if not (data / "dataset.yaml").exists():
        simulate_to_dir(data, config, progress=False)
        usagecast("ingest", str(data / "dataset.yaml"), "--no-progress")
        usagecast("features", "build", FEATURE_SET)
    frame, manifest = load_feature_set(FEATURE_SET)
    frame = frame.merge(related_features(frame), on=["user_id", "cutoff"])
    target = manifest.label
    split = apply_split(frame, plan_split(frame, int(target.horizon_days)))
    parts = {"train": split.train, "validation": split.validation, "test": split.test}
    test = parts["test"]
    truth = true_adoption_probability(
        config,
        test["user_id"].astype(np.int64).to_numpy(),
        pd.to_datetime(test["cutoff"]).to_numpy(dtype="datetime64[s]"),
        horizon_days=int(target.horizon_days),
        min_days=int(target.min_days),
        window_days=int(target.window_days),
        replicas=ORACLE_REPLICAS,
    )
    oracle_auc = roc_auc_score(test["label"], truth)
    columns = list(manifest.feature_names)
    categorical = [f.name for f in manifest.features if f.dtype == "categorical"]
    print(
        f"{FEATURE_SET} on {args.users} simulated users, {args.months} months (seed "
        f"{args.seed}), {label} the organisations' effects: {len(frame)} rows, train "
        f"{len(split.train)}, validation {len(split.validation)}, test {len(test)}; label rate "
        f"{frame['label'].mean():.3f}"
    )
    no_org = frame.loc[frame["org_users"].isna(), "label"].mean()
    print(
        f"adoption by org activity share tercile: {terciles(frame, 'org_active_share_14d')}; "
        f"without an org {no_org:.3f}"
    )
    print(f"adoption by inviter active days tercile: {terciles(frame, 'inviter_active_days_14d')}")
    print(f"{'model':<40} {'test AUC':>8} {'lift ratio':>10}")
    print(f"{'oracle (true probabilities)':<40} {oracle_auc:8.4f} {1.0:10.3f}")
    for name, used in (
        (f"LightGBM, {FEATURE_SET} features", columns),
        ("  + org and inviter activity", [*columns, *RELATED]),
    ):
        auc = mean_test_auc(parts, used, categorical)
        print(f"{name:<40} {auc:8.4f} {lift_ratio(auc, oracle_auc):10.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
