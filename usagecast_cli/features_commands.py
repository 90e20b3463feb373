"""`usagecast features build|sql|list`: versioned point-in-time feature sets."""

from __future__ import annotations

import argparse


def _fraction(value: str) -> float:
    fraction = float(value)
    if not 0.0 < fraction <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1], got {value}")
    return fraction


def _build(args: argparse.Namespace) -> int:
    from features.errors import UsagecastError
    from features.featureset import build_feature_set, format_build

    if args.scoring:
        return _build_scoring(args)
    if args.cutoff is not None:
        raise UsagecastError(
            "--cutoff needs --scoring: training cutoffs come from the spec's `cutoffs`"
        )
    result = build_feature_set(
        args.ref,
        engine=args.engine,
        sample=args.sample,
        seed=args.seed,
        allow_leaky=tuple(args.allow_leaky),
    )
    print(format_build(result))
    return 0


def _build_scoring(args: argparse.Namespace) -> int:
    from features.errors import UsagecastError
    from features.featureset import build_scoring_rows, format_scoring_build

    if args.allow_leaky:
        raise UsagecastError(
            "--allow-leaky applies to training builds; scoring rows carry no label to scan"
        )
    result = build_scoring_rows(
        args.ref, args.cutoff, engine=args.engine, sample=args.sample, seed=args.seed
    )
    print(format_scoring_build(result))
    return 0


def _sql(args: argparse.Namespace) -> int:
    from features.featureset import compile_sql

    print(compile_sql(args.ref, args.dialect), end="")
    return 0


def _list(args: argparse.Namespace) -> int:
    from features.featureset import format_listing, list_feature_sets

    print(format_listing(list_feature_sets()))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `features build`, `features sql` and `features list`."""
    features = subparsers.add_parser(
        "features",
        help="build, inspect and list versioned feature sets",
        description="Feature sets are YAML specs (features/sets/<name>/v<N>.yaml) compiled to "
        "SQL: features see only events before each cutoff, labels only events from it on.",
    )
    commands = features.add_subparsers(dest="features_command", required=True, metavar="ACTION")

    build = commands.add_parser(
        "build",
        help="materialise NAME@vN as Parquet + manifest (reused when already built)",
    )
    build.add_argument("ref", metavar="NAME@vN")
    build.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb")
    build.add_argument(
        "--sample", type=_fraction, default=None, help="keep this fraction of users (by id hash)"
    )
    build.add_argument("--seed", type=int, default=None, help="seed of the user sample (0)")
    build.add_argument(
        "--allow-leaky",
        action="append",
        default=[],
        metavar="FEATURE",
        help="accept a feature the label-proxy scan flags (repeat for several)",
    )
    build.add_argument(
        "--scoring",
        action="store_true",
        help="build unlabelled rows of every eligible user at one cutoff, for scoring "
        "(stored apart from training builds)",
    )
    build.add_argument(
        "--cutoff",
        metavar="DATE",
        help="with --scoring: YYYY-MM-DD, at most the day after the last event (the default)",
    )
    build.set_defaults(handler=_build)

    sql = commands.add_parser("sql", help="print the SQL that builds NAME@vN")
    sql.add_argument("ref", metavar="NAME@vN")
    sql.add_argument("--dialect", choices=("duckdb", "spark"), default="duckdb")
    sql.set_defaults(handler=_sql)

    listing = commands.add_parser("list", help="list feature sets, versions and builds")
    listing.set_defaults(handler=_list)
