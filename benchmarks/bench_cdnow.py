"""CDNOW repeat purchase, end to end through the public CLI, against a plain pandas script.

The public CDNOW_master.txt (69,659 purchase lines of 23,570 customers, 1997-01..1998-06,
whitespace-separated, YYYYMMDD dates) is taken as shipped inside the `lifetimes` wheel on
PyPI: `pip download` fetches the wheel, and the file is copied out of it byte for byte.
usagecast then ingests it, builds a feature set with monthly cutoffs 1997-04..1998-06
(label: buys again within 30 days; the 540-day windows reach back to the cohort's first
purchases) and tunes it with the test set fixed at the 1998-06-01 cutoff. The spec was
chosen on validation cutoffs 1998-03..05 only (docs/performance.md). `--refit` is passed to
`usagecast tune` (default here train+validation: the served model also learns from the
validation months, the latest before the test cutoff). The peers, on the same file and the
same test cutoff:
- a plain pandas + LightGBM script with fixed parameters (monthly cutoffs 1997-04..1998-05,
  purchase counts and value over 7/30/90 days and all history, recency, tenure);
- recency alone (days since the last purchase, lower = more likely).
Printed: test ROC-AUC and wall time of each, and usagecast's AUC minus the script's.

Headroom: the plain script again, also trained on four fifths of the test cutoff's own rows
and labels and scored on the fifth it did not see (5 folds, stratified, out-of-fold AUC over
every test row). No model can be trained on the test month's labels; this one sees the very
period it is scored on, so its AUC shows about how much better features of this kind can
do on this cutoff.

`--starter` adds what a new user gets without writing a config or a spec: `dataset new` on
the file, `ingest`, `features new` and the starter spec as written (its cutoffs, population
and features are the starter's own), tuned the same way on the same test cutoff.

Run: .venv/bin/python benchmarks/bench_cdnow.py [--trials N] [--seed N] [--refit ROWS]
     [--keep DIR] [--script-only] [--starter]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from mlflow.tracking import MlflowClient
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

WHEEL = "lifetimes==0.11.3"
MEMBER = "lifetimes/datasets/CDNOW_master.txt"
TEST_CUTOFF = "1998-06-01"
HORIZON_DAYS = 30
HEADROOM_FOLDS = 5
DATASET = """\
name: cdnow
events:
  files: CDNOW_master.txt
  format: csv
  delimiter: whitespace
  header: true
  event_type: purchase
  dedupe: false   # each line is an order: two equal orders on one day are two orders
  columns: {user_id: customer_id, timestamp: date, value: dollar_value}
  timestamp_formats: ["%Y%m%d"]
"""
SPEC = """\
name: cdnow_repeat
version: 1
description: Every CDNOW customer at each month start; label = buys again within 30 days.
dataset: cdnow
cutoffs:
  calendar: {start: 1997-04-01, end: 1998-06-01, every: month}
label: {kind: event_within, event_type: purchase, horizon_days: 30}
features:
  - {kind: count, event_types: [purchase], windows: [7, 30, 90, 180, 365, 540]}
  - {kind: value_sum, event_types: [purchase], windows: [30, 90, 365, 540]}
  - {kind: value_mean, event_types: [purchase], windows: [30, 90, 365, 540]}
  - {kind: active_days, windows: [30, 90, 180, 365, 540]}
  - {kind: gaps, event_types: [purchase]}
  - {kind: trend, event_types: [purchase], windows: [7, 30, 90, 180]}
  - {kind: recency}
  - {kind: tenure}
"""


def fetch_cdnow(cache: Path, target: Path) -> Path:
    """The CDNOW file from the lifetimes wheel (downloaded once into `cache`)."""
    wheels = sorted(cache.glob("[Ll]ifetimes-0.11.3-*.whl"))
    if not wheels:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-q", WHEEL, "-d", str(cache)],
            check=True,
        )
        wheels = sorted(cache.glob("[Ll]ifetimes-0.11.3-*.whl"))
    path = target / Path(MEMBER).name
    with zipfile.ZipFile(wheels[0]) as wheel, wheel.open(MEMBER) as source:
        path.write_bytes(source.read())
    return path


def usagecast(env: dict[str, str], *argv: str) -> str:
    """Run one CLI command; its stdout (progress and errors pass through to the terminal)."""
    command = [sys.executable, "-m", "usagecast_cli.main", *argv]
    print("$ usagecast", " ".join(argv), flush=True)
    done = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True, check=True)
    return done.stdout


def cli_env(work: Path) -> dict[str, str]:
    """The CLI's environment for a workspace and spec folder under `work`."""
    env = {
        **os.environ,
        "USAGECAST_HOME": str(work / "workspace"),
        "USAGECAST_SPECS": str(work / "specs"),
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def run_usagecast(work: Path, trials: int, seed: int, refit: str) -> dict[str, float]:
    """Ingest, build and tune through the CLI; test metrics of the tuned model and its L1."""
    (work / "specs" / "cdnow_repeat").mkdir(parents=True)
    (work / "specs" / "cdnow_repeat" / "v1.yaml").write_text(SPEC)
    (work / "dataset.yaml").write_text(DATASET)
    env = cli_env(work)
    started = time.perf_counter()
    usagecast(env, "ingest", str(work / "dataset.yaml"), "--no-progress")
    return build_and_tune(env, work, "cdnow_repeat@v1", (trials, seed, refit), started)


def run_starter(path: Path, trials: int, seed: int, refit: str) -> dict[str, float]:
    """What a new user gets with no spec or config of their own: `dataset new` on the file,
    `ingest`, `features new` (the starter spec as written), build and tune, in a folder of
    its own beside `path`."""
    work = path.parent / "starter"
    work.mkdir()
    shutil.copyfile(path, work / path.name)
    env = cli_env(work)
    started = time.perf_counter()
    usagecast(env, "dataset", "new", str(work / path.name), "--name", "cdnow")
    usagecast(env, "ingest", str(work / "dataset.yaml"), "--no-progress")
    usagecast(env, "features", "new", "cdnow_starter")
    return build_and_tune(env, work, "cdnow_starter@v1", (trials, seed, refit), started)


def build_and_tune(
    env: dict[str, str], work: Path, ref: str, tuning: tuple[int, int, str], started: float
) -> dict[str, float]:
    """Build `ref`, tune it with the test set at TEST_CUTOFF; the test metrics of the tuned
    model and its L1 baseline, and the seconds since `started`."""
    trials, seed, refit = tuning
    usagecast(env, "features", "build", ref, "--no-progress")
    out = usagecast(
        env, "tune", ref, "--trials", str(trials), "--seed", str(seed),
        "--test-from", TEST_CUTOFF, "--refit", refit,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    run_id = re.search(r"^parent run: (\w+)", out, re.M).group(1)
    client = MlflowClient(f"sqlite:///{work / 'workspace' / 'mlflow.db'}")
    metrics = client.get_run(run_id).data.metrics
    return {
        "auc": metrics["test_roc_auc"],
        "l1_auc": metrics["baseline_l1_logistic_test_roc_auc"],
        "ece": metrics["test_ece"],
        "seconds": seconds,
    }


def script_rows(orders: pd.DataFrame, first: pd.Series, cutoff: pd.Timestamp) -> pd.DataFrame:
    """The plain script's rows at one cutoff: customers seen before it, label in 30 days."""
    before = orders[orders.day < cutoff]
    frame = pd.DataFrame(index=first[first < cutoff].index)
    for window in (7, 30, 90):
        recent = before[before.day >= cutoff - pd.Timedelta(days=window)].groupby("customer_id")
        frame[f"orders_{window}d"] = recent.size()
        frame[f"value_{window}d"] = recent["dollar_value"].sum()
    history = before.groupby("customer_id")
    frame["orders_all"] = history.size()
    frame["value_all"] = history["dollar_value"].sum()
    frame["recency"] = (cutoff - history["day"].max()).dt.days
    frame["tenure"] = (cutoff - first[frame.index]).dt.days
    frame = frame.fillna(0)
    window = orders[
        (orders.day >= cutoff) & (orders.day < cutoff + pd.Timedelta(HORIZON_DAYS, "D"))
    ]
    frame["label"] = frame.index.isin(window.customer_id).astype(int)
    return frame


def script_model(train: pd.DataFrame, seed: int) -> lgb.LGBMClassifier:
    """The plain script's LightGBM, fixed parameters, fitted on `train`'s features and label."""
    model = lgb.LGBMClassifier(
        n_estimators=300, learning_rate=0.03, num_leaves=31, min_child_samples=100,
        random_state=seed, verbose=-1,
    )  # fmt: skip
    return model.fit(train.drop(columns="label"), train["label"])


def headroom_auc(train: pd.DataFrame, test: pd.DataFrame, seed: int) -> float:
    """Out-of-fold test AUC of the script's model trained on `train` plus the other folds of
    the test rows (see the module docstring: a reference, not a deployable model)."""
    scores = np.zeros(len(test))
    folds = StratifiedKFold(HEADROOM_FOLDS, shuffle=True, random_state=seed)
    for seen, unseen in folds.split(test, test["label"]):
        model = script_model(pd.concat([train, test.iloc[seen]]), seed)
        held_out = test.iloc[unseen].drop(columns="label")
        scores[unseen] = model.predict_proba(held_out)[:, 1]
    return roc_auc_score(test["label"], scores)


def run_script(path: Path, seed: int) -> dict[str, float]:
    """The plain pandas + LightGBM reference and recency alone, on the same test cutoff, and
    the script's headroom (timed apart)."""
    started = time.perf_counter()
    orders = pd.read_csv(path, sep=r"\s+")
    orders["day"] = pd.to_datetime(orders["date"].astype(str), format="%Y%m%d")
    first = orders.groupby("customer_id")["day"].min()
    months = pd.date_range("1997-04-01", "1998-05-01", freq="MS")
    train = pd.concat([script_rows(orders, first, month) for month in months])
    test = script_rows(orders, first, pd.Timestamp(TEST_CUTOFF))
    model = script_model(train, seed)
    auc = roc_auc_score(test["label"], model.predict_proba(test.drop(columns="label"))[:, 1])
    seconds = time.perf_counter() - started
    return {
        "auc": auc,
        "recency_auc": roc_auc_score(test["label"], -test["recency"]),
        "headroom_auc": headroom_auc(train, test, seed),
        "test_rows": len(test),
        "base_rate": test["label"].mean(),
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--refit", choices=("train", "train+validation"), default="train+validation"
    )
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "usagecast-bench")
    parser.add_argument("--keep", type=Path, default=None, help="work here and keep it")
    parser.add_argument(
        "--script-only", action="store_true", help="the peers and headroom only (no usagecast)"
    )
    parser.add_argument(
        "--starter",
        action="store_true",
        help="also run the starter path: dataset new, features new, no edits",
    )
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    work = args.keep or Path(tempfile.mkdtemp(prefix="usagecast-cdnow-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        path = fetch_cdnow(args.cache, work)
        ours = starter = None
        if not args.script_only:
            ours = run_usagecast(work, args.trials, args.seed, args.refit)
            if args.starter:
                starter = run_starter(path, args.trials, args.seed, args.refit)
        script = run_script(path, args.seed)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print(
        f"\nCDNOW repeat purchase within {HORIZON_DAYS} days, test cutoff {TEST_CUTOFF}: "
        f"{script['test_rows']:,} customers, base rate {script['base_rate']:.3f}"
    )
    print(f"{'model':<48} {'test ROC-AUC':>12} {'seconds':>9}")
    if ours is not None:
        print(
            f"{'usagecast (CLI: ingest, build, tune ' + str(args.trials) + ' trials)':<48} "
            f"{ours['auc']:>12.4f} {ours['seconds']:>9.1f}"
        )
        print(f"  (served model refit on {args.refit} rows)")
        print(f"{'  its L1 logistic baseline':<48} {ours['l1_auc']:>12.4f}")
    if starter is not None:
        print(
            f"{'usagecast starter (dataset new, features new)':<48} "
            f"{starter['auc']:>12.4f} {starter['seconds']:>9.1f}"
        )
        print(f"{'  its L1 logistic baseline':<48} {starter['l1_auc']:>12.4f}")
    print(
        f"{'plain pandas + LightGBM script':<48} {script['auc']:>12.4f} {script['seconds']:>9.1f}"
    )
    print(f"{'recency alone':<48} {script['recency_auc']:>12.4f}")
    print(
        f"{'headroom: script + 4/5 of the test rows, 5-fold':<48} {script['headroom_auc']:>12.4f}"
    )
    if ours is not None:
        print(
            f"usagecast - script: {ours['auc'] - script['auc']:+.4f} ROC-AUC; "
            f"usagecast test ECE {ours['ece']:.4f}"
        )


if __name__ == "__main__":
    main()
