"""`usagecast promote | rollback | models | score`: the registry and batch scoring."""

from __future__ import annotations

import argparse
from pathlib import Path

from usagecast_cli.options import (
    add_business_options,
    add_specs_option,
    parse_business_options,
    warn_of_stray_months,
)


def _promote(args: argparse.Namespace) -> int:
    from contracts.errors import UsagecastError
    from registry import PolicyConfig, latest_run_id, promote_run, tuned_feature_sets

    if bool(args.run_id) == bool(args.latest):
        raise UsagecastError("promote: give either RUN_ID or --latest --feature-set NAME@vN")
    if args.latest and not args.feature_set:
        tuned = tuned_feature_sets()
        raise UsagecastError(
            "promote --latest needs --feature-set NAME@vN "
            + (
                f"(tuned in this store: {', '.join(tuned)})"
                if tuned
                else "(no tuning run has logged a model in this store yet: usagecast tune first)"
            )
        )
    run_id = args.run_id or latest_run_id(args.feature_set)
    limits = {"margin": args.margin, "max_calibration_error": args.max_calibration_error}
    config = PolicyConfig(
        **{key: value for key, value in limits.items() if value is not None},
        require_leakage_scan=args.require_leakage_scan,
        allow_new_features=args.allow_new_features,
        allow_leaky=tuple(args.allow_leaky),
    )
    result = promote_run(run_id, config)
    print(result.summary())
    return 0 if result.promoted else 1


def _rollback(args: argparse.Namespace) -> int:
    from registry import rollback

    print(rollback(args.name).summary())
    return 0


def _models(args: argparse.Namespace) -> int:
    from registry import list_models

    header = ("version", "aliases", "feature_set", "roc_auc", "ece", "gini", "decision", "reason")
    rows = [
        (
            row.version,
            ",".join(row.aliases) or "-",
            row.feature_set or "-",
            row.roc_auc or "-",
            row.calibration_error or "-",
            row.normalised_gini or "-",
            row.decision or "-",
            row.reason or "-",
        )
        for row in list_models(args.name)
    ]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header) - 1)]
    for row in [header, *rows]:
        cells = [str(cell).ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[-1]]))
    return 0


def _score(args: argparse.Namespace) -> int:
    from registry import score_feature_set

    business = parse_business_options(args)  # refused before any work
    summary = score_feature_set(
        args.feature_set, args.model, args.out, args.cutoff, reasons=args.reasons
    )
    print(summary.summary())
    warn_of_stray_months()
    if business.requested:
        from experiments.business_report import write_score_business

        print(write_score_business(summary.out, business))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `promote`, `rollback`, `models` and `score` subcommands."""
    promote = subparsers.add_parser(
        "promote",
        help="register a tuning run's model and promote it to @champion if it passes the gate",
        description="Registers the run's model under its feature set's name, loads and "
        "smoke-tests it, compares it with @champion on the run's test rows, tags the version "
        "with the decision and reason. Exit 0 when promoted, 1 when refused, 2 on bad input.",
    )
    promote.add_argument("run_id", nargs="?", help="the tuning (parent) run id")
    promote.add_argument("--latest", action="store_true", help="the newest tuning run instead")
    promote.add_argument("--feature-set", help="NAME@vN, with --latest")
    promote.add_argument(
        "--margin",
        type=float,
        help="ROC-AUC gain over the champion needed (default: registry.PolicyConfig's)",
    )
    promote.add_argument(
        "--max-calibration-error",
        type=float,
        help="largest test ECE accepted (default: registry.PolicyConfig's)",
    )
    promote.add_argument(
        "--require-leakage-scan",
        action="store_true",
        help="refuse runs that recorded no leakage scan",
    )
    promote.add_argument(
        "--allow-new-features",
        action="store_true",
        help="compare recorded metrics when the champion cannot be re-scored on these rows",
    )
    add_specs_option(promote)
    promote.add_argument(
        "--allow-leaky",
        action="append",
        default=[],
        metavar="FEATURE",
        help="promote although the run's feature set kept this leak suspect (label-proxy "
        "AUC >= 0.95, built with --allow-leaky); repeat per feature",
    )
    promote.set_defaults(handler=_promote)

    rollback = subparsers.add_parser("rollback", help="move @champion back to @previous")
    rollback.add_argument("name", help="registered model name (the feature set's name)")
    rollback.set_defaults(handler=_rollback)

    models = subparsers.add_parser(
        "models", help="list a model's versions: aliases, metrics, feature set, decision"
    )
    models.add_argument("name", help="registered model name (the feature set's name)")
    models.set_defaults(handler=_models)

    score = subparsers.add_parser(
        "score",
        help="score every eligible user of a feature set at a cutoff, to Parquet",
        description="NAME@vN scores its scoring rows (unlabelled, the training rows' SQL) at "
        "--cutoff, by default the day after the last event: today's users. They are built "
        "from the event store unless a build with the same fingerprint exists. "
        "NAME@vN/FINGERPRINT scores one existing build at one of its cutoffs instead.",
    )
    score.add_argument("feature_set", help="NAME@vN, or NAME@vN/FINGERPRINT for one build")
    score.add_argument("--model", required=True, help="e.g. models:/premium_30d@champion")
    score.add_argument(
        "--out",
        required=True,
        type=Path,
        help="output .parquet file, or .csv for a CRM (provenance then in "
        "<stem>.provenance.json beside it)",
    )
    score.add_argument(
        "--cutoff",
        help="YYYY-MM-DD (default: the latest, the day after the last event; with "
        "NAME@vN/FINGERPRINT: that build's latest cutoff)",
    )
    score.add_argument(
        "--reasons",
        type=int,
        default=0,
        metavar="K",
        help="also write each user's K largest SHAP contributions (reason_1, reason_1_value, "
        "reason_1_contribution, ...): why the model scores them so, for the team that calls "
        "them (default 0: none)",
    )
    add_specs_option(score)
    add_business_options(score)
    score.set_defaults(handler=_score)
