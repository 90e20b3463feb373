"""`usagecast tune NAME@vN`: an Optuna-tuned LightGBM on a feature set, tracked in MLflow."""

from __future__ import annotations

import argparse
from datetime import datetime

from usagecast_cli.options import add_business_options, add_specs_option, parse_business_options

METRICS = ("roc_auc", "pr_auc", "logloss")


def _flag(value: str) -> bool:
    """`--resume` alone means yes; `--resume true|false` lets MLproject pass its parameter."""
    lowered = value.strip().lower()
    if lowered in ("true", "yes", "1"):
        return True
    if lowered in ("false", "no", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


def _timeout(value: str) -> float | None:
    """Seconds; 0 means no limit (MLproject parameters cannot be left out)."""
    seconds = float(value)
    if seconds < 0:
        raise argparse.ArgumentTypeError(f"timeout must be >= 0 seconds, got {value}")
    return seconds or None


def _boundary(value: str) -> datetime | None:
    """A split boundary: an ISO date or date-time; empty means automatic (MLproject default)."""
    if not value.strip():
        return None
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a date like 2024-05-01 (or 2024-05-01T12:00), got {value!r}"
        ) from None


def _tune(args: argparse.Namespace) -> int:
    from experiments import TuneConfig, format_summary, tune

    business = parse_business_options(args)  # refused before any work
    result = tune(
        TuneConfig(
            feature_set=args.feature_set,
            trials=args.trials,
            timeout_s=args.timeout,
            workers=args.workers,
            seed=args.seed,
            metric=args.metric,
            resume=args.resume,
            storage=args.storage,
            study=args.study,
            validation_from=args.validation_from,
            test_from=args.test_from,
            # Left out: the library's default (experiments.split.DEFAULT_FOLDS).
            **({} if args.folds is None else {"folds": args.folds}),
            business=business,
            monotone=args.monotone,
            refit=args.refit,
        )
    )
    print(format_summary(result))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `tune` subcommand."""
    tune = subparsers.add_parser(
        "tune",
        help="tune LightGBM on a feature set with Optuna, tracked in MLflow",
        description="Time-ordered split by cutoff time with a label embargo (validation and "
        "test about 20%% of the rows each unless --validation-from/--test-from say), "
        "baselines, an Optuna study (each trial a nested MLflow run), the refit best model "
        "logged as the serving pyfunc, and test metrics and plots on the parent run. The "
        "experiment is named after the set. A value_within label is tuned as a LightGBM "
        "regression (Poisson) selected on validation RMSE, in one process.",
    )
    tune.add_argument("feature_set", metavar="NAME@vN", help="a built feature set")
    tune.add_argument("--trials", type=int, default=20, help="trials in the study (total)")
    tune.add_argument(
        "--timeout", type=_timeout, default=None, help="stop starting trials after S seconds"
    )
    tune.add_argument("--workers", type=int, default=1, help="processes sharing the study")
    tune.add_argument("--seed", type=int, default=0, help="seed of sampler and LightGBM")
    tune.add_argument("--metric", choices=METRICS, default="roc_auc", help="tuning metric")
    tune.add_argument(
        "--resume",
        type=_flag,
        nargs="?",
        const=True,
        default=False,
        help="continue the newest study with this config from its finished trials",
    )
    tune.add_argument(
        "--storage",
        default=None,
        help="Optuna storage URL (default: a journal file in the workspace's optuna/ folder)",
    )
    tune.add_argument(
        "--study",
        default=None,
        metavar="NAME",
        help="a study shared by workers on several hosts: the first creates it with --trials "
        "queued trials, the others join; all stop when the queue is empty (use the same "
        "--storage, feature set and options everywhere)",
    )
    tune.add_argument(
        "--validation-from",
        type=_boundary,
        default=None,
        metavar="DATE",
        help="first cutoff time of the validation part (default: chosen so validation holds "
        "about 20%% of the rows)",
    )
    tune.add_argument(
        "--test-from",
        type=_boundary,
        default=None,
        metavar="DATE",
        help="first cutoff time of the test part (default: the latest about 20%% of the rows)",
    )
    tune.add_argument(
        "--folds",
        type=int,
        default=None,
        metavar="N",
        help="rolling-origin validation folds each trial is scored on; selection takes their "
        "mean (default 3, fewer when the data allow fewer; 1: the single validation block)",
    )
    tune.add_argument(
        "--monotone",
        type=_flag,
        nargs="?",
        const=True,
        default=False,
        metavar="true|false",
        help="constrain LightGBM to the spec's causal priors (actionable `causal: increases | "
        "decreases`) and report the test AUC the constraints cost (default false)",
    )
    tune.add_argument(
        "--refit",
        choices=("train", "train+validation"),
        default="train",
        help="rows the served model is fitted on: the training rows (default: the model the "
        "best trial scored) or every row labelled before the test part, with the same params, "
        "rounds, calibration and threshold",
    )
    add_specs_option(tune)
    add_business_options(tune)
    tune.set_defaults(handler=_tune)
