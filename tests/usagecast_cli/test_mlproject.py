"""MLproject entry points are the CLI's commands: each expands to the arguments `usagecast`
would get typed by hand, and a parameter left at its default means the CLI's default.

The expansion is MLflow's own (the project loader `mlflow run` uses) run through bash, as
`mlflow run` does; `mlflow run` itself is exercised in tests/experiments/test_process.py.
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest
import yaml
from mlflow.projects._project_spec import load_project

from usagecast_cli.main import build_parser

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "python -m usagecast_cli.main "
DATASET = "dataset.yaml"  # placeholder: written into the test's folder (a `path` must exist)


def _arguments(entry_point: str, parameters: dict[str, str], scratch: Path) -> list[str]:
    """The arguments the entry point's command passes to `usagecast`."""
    spec = load_project(str(ROOT)).get_entry_point(entry_point)
    command = spec.compute_command(parameters, str(scratch))
    assert command.count(PREFIX) == 1, command
    printed = subprocess.run(
        ["bash", "-c", command.replace(PREFIX, "printf '%s\\0' ")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return printed.split("\0")[:-1]


CASES = [
    ("ingest", {"dataset": DATASET}, f"ingest {DATASET}"),
    (
        "ingest",
        {
            "dataset": DATASET,
            "no_progress": "true",
            "allow_outside_files": "true",
            "allow_partial": "true",
        },
        f"ingest {DATASET} --no-progress --allow-outside-files --allow-partial",
    ),
    ("build", {"feature_set": "premium_30d@v1"}, "features build premium_30d@v1"),
    (
        "build",
        {
            "feature_set": "premium_30d@v1",
            "engine": "spark",
            "sample": "0.1",
            "seed": "3",
            "allow_leaky": "days_active,recency",
        },
        "features build premium_30d@v1 --engine spark --sample 0.1 --seed 3 "
        "--allow-leaky days_active --allow-leaky recency",
    ),
    (
        "build",
        {"feature_set": "premium_30d@v1", "scoring": "true", "cutoff": "2024-05-01"},
        "features build premium_30d@v1 --scoring --cutoff 2024-05-01",
    ),
    ("tune", {"feature_set": "premium_30d@v1"}, "tune premium_30d@v1"),
    (
        "tune",
        {"feature_set": "premium_30d@v1", "test_from": "2024-04-01"},
        "tune premium_30d@v1 --test-from 2024-04-01",
    ),
    (
        "tune",
        {
            "feature_set": "premium_30d@v1",
            "trials": "5",
            "timeout": "60",
            "workers": "2",
            "seed": "7",
            "metric": "pr_auc",
            "resume": "true",
            "validation_from": "2024-04-01",
            "test_from": "2024-05-01",
            "folds": "2",
            "storage": "sqlite:///optuna.db",
        },
        "tune premium_30d@v1 --trials 5 --timeout 60 --workers 2 --seed 7 --metric pr_auc "
        "--resume --validation-from 2024-04-01 --test-from 2024-05-01 --folds 2 "
        "--storage sqlite:///optuna.db",
    ),
    (
        "promote",
        {"feature_set": "premium_30d@v1"},
        "promote --latest --feature-set premium_30d@v1 --margin 0.002",
    ),
    (
        "promote",
        {
            "run_id": "0123abcd",
            "margin": "0.01",
            "allow_new_features": "true",
            "max_calibration_error": "0.05",
            "require_leakage_scan": "true",
            "allow_leaky": "recency",
        },
        "promote 0123abcd --margin 0.01 --allow-new-features --max-calibration-error 0.05 "
        "--require-leakage-scan --allow-leaky recency",
    ),
    (
        "score",
        {"feature_set": "premium_30d@v1", "model": "models:/m@champion", "out": "s.parquet"},
        "score premium_30d@v1 --model models:/m@champion --out s.parquet",
    ),
    (
        "score",
        {
            "feature_set": "premium_30d@v1",
            "model": "runs:/0123abcd/model",
            "out": "s.parquet",
            "cutoff": "2024-05-01",
        },
        "score premium_30d@v1 --model runs:/0123abcd/model --out s.parquet --cutoff 2024-05-01",
    ),
    (
        "score",
        {
            "feature_set": "premium_30d@v1",
            "model": "models:/m@champion",
            "out": "s.parquet",
            "capacity": "500",
            "contact_cost": "2",
            "conversion_value": "40",
        },
        "score premium_30d@v1 --model models:/m@champion --out s.parquet --capacity 500 "
        "--contact-cost 2 --conversion-value 40",
    ),
    (
        "tune",
        {"feature_set": "premium_30d@v1", "capacity": "0.05"},
        "tune premium_30d@v1 --capacity 0.05",
    ),
    (
        "tune",
        {"feature_set": "premium_30d@v1", "refit": "train+validation"},
        "tune premium_30d@v1 --refit train+validation",
    ),
    ("recommend", {}, "recommend train --window-days 30 --trials 20 --seed 0 --k 10"),
    (
        "recommend",
        {"cutoff": "2024-09-01", "trials": "5", "seed": "3", "register": "tracks"},
        "recommend train --cutoff 2024-09-01 --trials 5 --seed 3 --register tracks",
    ),
    (
        "recommend",
        {"events": "ORDER_PAID"},
        "recommend train --window-days 30 --events ORDER_PAID",
    ),
    ("top_features", {}, "analytics top-features --log"),
    (
        "top_features",
        {"period": "month", "by": "event_type"},
        "analytics top-features --by event_type --period month --log",
    ),
    (
        "top_features",
        {
            "by": "event_type",
            "per_event_type": "true",
            "start": "2024-01-01",
            "end": "2024-03-01",
            "segment": "channel = 'ads' and plan in ('free', 'trial')",
            "area": "home",
            "engine": "spark",
        },
        "analytics top-features --by event_type --per-event-type --start 2024-01-01 "
        "--end 2024-03-01 --segment \"channel = 'ads' and plan in ('free', 'trial')\" "
        "--area home --engine spark --log",
    ),
    (
        "before_conversion",
        {"event": "BUY_PREMIUM", "lookback_days": "14"},
        "analytics before-conversion --event BUY_PREMIUM --lookback-days 14 --log",
    ),
    (
        "before_conversion",
        {"event": "BUY_PREMIUM", "by": "event_type"},
        "analytics before-conversion --event BUY_PREMIUM --by event_type --log",
    ),
    (
        "funnel",
        {"steps": "SIGNUP,PLAY,BUY_PREMIUM"},
        "analytics funnel --steps SIGNUP,PLAY,BUY_PREMIUM --log",
    ),
    (
        "funnel",
        {"steps": "PLAY,BUY_PREMIUM", "window_days": "7", "breakdown": "platform"},
        "analytics funnel --steps PLAY,BUY_PREMIUM --window-days 7 --breakdown platform --log",
    ),
    ("retention", {}, "analytics retention --log"),
    (
        "retention",
        {"period": "month", "activity_event": "PLAY,LIKE"},
        "analytics retention --period month --activity-event PLAY --activity-event LIKE --log",
    ),
    ("active_users", {}, "analytics active-users --log"),
    (
        "active_users",
        {"period": "month", "activity_event": "PLAY", "end": "2024-06-01", "breakdown": "plan"},
        "analytics active-users --period month --activity-event PLAY --end 2024-06-01 "
        "--breakdown plan --log",
    ),
    ("paths", {}, "analytics paths --log"),
    (
        "paths",
        {"from_event": "LOGIN", "steps": "2", "by": "area", "keep_repeats": "true"},
        "analytics paths --from LOGIN --steps 2 --by area --keep-repeats --log",
    ),
    (
        "paths",
        {"to": "upgrade", "window_days": "7", "segment": "plan = 'team'"},
        "analytics paths --to upgrade --window-days 7 --segment \"plan = 'team'\" --log",
    ),
    (
        "paths",
        {"to": "upgrade", "breakdown": "plan"},
        "analytics paths --to upgrade --breakdown plan --log",
    ),
    ("time_to_convert", {}, "analytics time-to-convert --days 90 --log"),
    (
        "time_to_convert",
        {"event": "BUY_PREMIUM", "days": "30", "segment": "plan = 'pro team'", "breakdown": "c"},
        "analytics time-to-convert --days 30 --segment \"plan = 'pro team'\" "
        "--event BUY_PREMIUM --breakdown c --log",
    ),
    (
        "time_to_convert",
        {"adoption": "3/7", "activity_event": "PLAY,LIKE", "area": "home"},
        "analytics time-to-convert --days 90 --area home --adoption 3/7 --activity-event PLAY "
        "--activity-event LIKE --log",
    ),
    (
        "time_to_convert",
        {"event": "subscribed", "from_event": "trial_started"},
        "analytics time-to-convert --event subscribed --from-event trial_started --log",
    ),
    ("value_curve", {}, "analytics value-curve --days 180 --log"),
    (
        "value_curve",
        {"purchase_event": "charge,refund", "days": "30", "breakdown": "plan"},
        "analytics value-curve --days 30 --purchase-event charge --purchase-event refund "
        "--breakdown plan --log",
    ),
    (
        "value_curve",
        {"purchase_event": "order", "from_event": "order"},
        "analytics value-curve --purchase-event order --from-event order --log",
    ),
    ("channels", {}, "analytics channels --log"),
    (
        "channels",
        {"outcome": "ORDER", "channel": "utm_source", "purchase_event": "ORDER,RENEWAL"},
        "analytics channels --outcome ORDER --channel utm_source --purchase-event ORDER "
        "--purchase-event RENEWAL --log",
    ),
    ("ltv", {}, "analytics ltv --log"),
    (
        "ltv",
        {
            "purchase_event": "ORDER",
            "feature_set": "ltv_90d@v1",
            "model": "models:/ltv_90d@champion",
            "cutoff_from": "2024-05-01",
        },
        "analytics ltv --purchase-event ORDER --feature-set ltv_90d@v1 "
        "--model models:/ltv_90d@champion --cutoff-from 2024-05-01 --log",
    ),
    (
        "segments",
        {"feature_set": "premium_30d@v1", "k": "4"},
        "analytics segments --feature-set premium_30d@v1 --k 4 --log",
    ),
    (
        "ab_analyze",
        {"experiment": "paywall", "metric": "event_within BUY_PREMIUM 30d"},
        "ab analyze --experiment paywall --metric 'event_within BUY_PREMIUM 30d' --log",
    ),
    (
        "ab_analyze",
        {
            "experiment": "paywall",
            "metric": "value_within PURCHASE 30d",
            "alpha": "0.01",
            "split": "50/50",
            "cuped": "true",
            "breakdown": "platform",
            "sequential": "0.02",
            "segment": "country = 'NO'",
        },
        "ab analyze --experiment paywall --metric 'value_within PURCHASE 30d' --alpha 0.01 "
        "--split 50/50 --cuped --breakdown platform --sequential 0.02 "
        "--segment \"country = 'NO'\" --log",
    ),
]


@pytest.mark.parametrize(("entry_point", "parameters", "typed"), CASES)
def test_an_entry_point_is_the_cli_command(tmp_path, entry_point, parameters, typed):
    # In the working directory (tests/conftest.py): MLflow makes a relative `path` absolute.
    (tmp_path / DATASET).write_text("")
    parser = build_parser()
    launched = parser.parse_args(_arguments(entry_point, parameters, tmp_path))
    expected = parser.parse_args(shlex.split(typed.replace(DATASET, str(tmp_path / DATASET))))
    assert launched == expected


def test_every_pipeline_step_has_an_entry_point():
    entry_points = yaml.safe_load((ROOT / "MLproject").read_text())["entry_points"]
    assert set(entry_points) == {
        "ingest",
        "build",
        "tune",
        "promote",
        "score",
        "recommend",
        "top_features",
        "before_conversion",
        "funnel",
        "paths",
        "retention",
        "active_users",
        "time_to_convert",
        "value_curve",
        "channels",
        "ltv",
        "segments",
        "ab_analyze",
    }
