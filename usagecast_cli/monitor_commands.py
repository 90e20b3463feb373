"""`usagecast monitor NAME`: drift and performance of the champion; exit 1 on an alert."""

from __future__ import annotations

import argparse
from pathlib import Path

from usagecast_cli.options import add_business_options, add_specs_option, parse_business_options


def _monitor(args: argparse.Namespace) -> int:
    from experiments.monitor import load_thresholds, monitor

    business = parse_business_options(args)  # refused before any work
    result = monitor(
        args.name,
        args.feature_set,
        args.cutoff,
        load_thresholds(args.config),
        prediction_log=args.prediction_log,
        business=business,
    )
    print(result.summary())
    return 1 if result.report.alerted else 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `monitor` subcommand."""
    parser = subparsers.add_parser(
        "monitor",
        help="drift (PSI) and performance over time of a model's @champion; exit 1 on an alert",
        description="PSI per feature and of the prediction between the scoring rows at "
        "--cutoff and (a) the @champion's training rows (warns only), (b) the scoring rows one "
        "cadence earlier (alerts); PSI of static attributes of recent signups vs the training "
        "period's (alerts); scores the labelled rows of later cutoffs whose labels have "
        "matured (ROC-AUC, ECE, lift at 10%%; alerts on a drop beyond its sampling error). "
        "With a prediction log holding rows of the champion, PSI vs training uses the served "
        "rows instead of the scoring rows, and training/serving skew compares each served "
        "feature value with the feature set's for the same user and cutoff (alerts). "
        "--capacity/--contact-cost/--conversion-value add business metrics on the latest "
        "matured cutoff. "
        "Writes a Markdown and an HTML report under the workspace's reports/monitor "
        "folder and an MLflow run in experiment 'monitor'. Exit 0 when no alert threshold "
        "is crossed, 1 when one is, 2 on bad input.",
    )
    parser.add_argument("name", help="registered model name (the feature set's name)")
    parser.add_argument(
        "--feature-set",
        help="NAME@vN whose scoring rows to compare (default: the champion's run's)",
    )
    parser.add_argument(
        "--cutoff",
        help="YYYY-MM-DD scoring cutoff (default: the latest, the day after the last event)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        help="YAML file of thresholds (keys and defaults: feature_psi_warn 0.1, "
        "feature_psi_alert 0.25, prediction_psi_alert 0.2, acquisition_psi_alert 0.1, "
        "acquisition_window_days 60, psi_noise_multiple 4, auc_drop_alert 0.05, auc_drop_z 2.5, "
        "ece_alert 0.1, skew_share_alert 0.01)",
    )
    parser.add_argument(
        "--prediction-log",
        type=Path,
        metavar="DIR",
        help="folder of the serving prediction log (an error when missing or empty; default: "
        "$USAGECAST_PREDICTION_LOG, else <workspace>/prediction_log/NAME, where `usagecast "
        "serve NAME` writes it; used when it holds rows)",
    )
    add_business_options(parser)
    add_specs_option(parser)
    parser.set_defaults(handler=_monitor)
