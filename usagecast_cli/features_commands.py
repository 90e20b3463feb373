"""`usagecast features build|sql|list|new|release`: versioned point-in-time feature sets."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from usagecast_cli.options import add_engine_options, add_specs_option, warn_of_stray_months

# `features new --label`: catalog.LABEL_STARTER_KINDS, written out so that building the
# parser imports no feature-set code (a test keeps the two equal).
LABEL_CHOICES = ("event_within", "churn", "active_days_in_window", "value_within")

if TYPE_CHECKING:
    from features.featureset import Starter


def _fraction(value: str) -> float:
    fraction = float(value)
    if not 0.0 < fraction <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1], got {value}")
    return fraction


def _build(args: argparse.Namespace) -> int:
    from contracts.errors import UsagecastError
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
        force=args.force,
        progress=not args.no_progress,
    )
    print(format_build(result))
    warn_of_stray_months()
    return 0


def _build_scoring(args: argparse.Namespace) -> int:
    from contracts.errors import UsagecastError
    from features.featureset import build_scoring_rows, format_scoring_build

    if args.allow_leaky:
        raise UsagecastError(
            "--allow-leaky applies to training builds; scoring rows carry no label to scan"
        )
    result = build_scoring_rows(
        args.ref,
        args.cutoff,
        engine=args.engine,
        sample=args.sample,
        seed=args.seed,
        force=args.force,
        progress=not args.no_progress,
    )
    print(format_scoring_build(result))
    warn_of_stray_months()
    return 0


def _sql(args: argparse.Namespace) -> int:
    from features.featureset import compile_sql

    print(compile_sql(args.ref, args.dialect), end="")
    return 0


def _list(args: argparse.Namespace) -> int:
    from features.featureset import format_listing, list_feature_sets

    print(format_listing(list_feature_sets()))
    return 0


def _format_filled(starter: Starter) -> str:
    """What `features new` took from the store, and what is left to the user."""
    filled = ["dataset"]
    if starter.after_signup is not None:
        filled.append(f"cutoffs at each user's signup + {starter.after_signup} days (asked)")
    if starter.calendar is not None:
        filled.append(f"cutoffs ({starter.calendar})")
    if starter.counted:
        filled.append(f"counted event types ({', '.join(starter.counted)})")
    if starter.label:
        filled.append(f"the label's event type ({starter.label}: {starter.label_why}, check it)")
    if starter.valued:
        filled.append(f"value sums ({', '.join(starter.valued)}: their events carry a value)")
    if starter.rhythm:
        filled.append(f"the gaps between {starter.rhythm} events")
    if starter.windows:
        filled.append(f"windows of {', '.join(map(str, starter.windows))} days (the store's span)")
    if starter.sessions:
        filled.append("sessions features (your events carry session ids)")
    if starter.areas:
        filled.append("product-area breadth (distinct_areas: your events carry areas)")
    if starter.area_changes:
        changes = ", ".join(starter.area_changes)
        filled.append(f"the area each {changes} moved users to, as of the cutoff (last)")
    if starter.attributes:
        filled.append(f"user attribute features ({', '.join(starter.attributes)})")
    if starter.item_means:
        means = ", ".join(starter.item_means)
        filled.append(f"the mean {means} of the items in users' events (item_mean)")
    if starter.item_counts:
        categories = ", ".join(starter.item_counts)
        filled.append(f"users' events per item {categories}, its most common values (item_count)")
    left = [
        *(
            []
            if starter.label or starter.label_kind != "event_within"
            else ["the label's event type"]
        ),
        *([] if starter.counted else ["the counted ones"]),
        *(
            []
            if starter.calendar or starter.after_signup
            else [
                "the cutoffs (too few days of events for three weekly cutoffs with two weeks "
                "of history before and the 30-day label after: set calendar dates by hand, or "
                "shorten the label's horizon_days)"
            ]
        ),
    ]
    lines = [f"filled in from your store: {'; '.join(filled)}"]
    if left:
        lines.append(f"still placeholders: {' and '.join(left)}")
    return "\n".join(lines)


def _new(args: argparse.Namespace) -> int:
    from events.quality import NoReportError, load_latest_report, render_for_spec
    from features.featureset import new_spec
    from features.featureset.catalog import cancellation_event_type, store_facts

    try:
        report = load_latest_report()
    except NoReportError:
        report = None
    store = None if report is None else store_facts(report)
    starter = new_spec(
        args.name, store=store, label_kind=args.label, after_signup=args.after_signup
    )
    print(f"wrote {starter.path}")
    if report is not None:
        print(render_for_spec(report))
        print(_format_filled(starter))
    cancellation = None if store is None else cancellation_event_type(store.event_types)
    if cancellation is not None and args.label != "churn":
        print(
            f"also: your store holds {cancellation}; `usagecast features new NAME --label "
            f"churn` asks who has one next"
        )
    print(
        f"next: edit it (dataset, cutoffs, label, event types), then\n"
        f"  usagecast features sql {args.name}@v1\n"
        f"  usagecast features build {args.name}@v1\n"
        f"  usagecast features release {args.name}@v1   # freeze v1 once it is right"
    )
    return 0


def _release(args: argparse.Namespace) -> int:
    from features.featureset import release_spec

    entry, digest = release_spec(args.ref)
    print(f"released {entry.ref}: hash {digest[:12]} locked in {entry.folder / 'LOCK.json'}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `features build`, `sql`, `list`, `new` and `release`."""
    features = subparsers.add_parser(
        "features",
        help="write, build, inspect and list versioned feature sets",
        description="Feature sets are YAML specs compiled to SQL: features see only events "
        "before each cutoff, labels only events from it on. NAME@vN is the file "
        "<spec folder>/NAME/vN.yaml, looked up in the project's spec folder (./specs under "
        "the working directory; USAGECAST_SPECS or --specs DIR to move it), then in the "
        "examples shipped with usagecast. A NAME@vN in both is an error.",
    )
    commands = features.add_subparsers(dest="features_command", required=True, metavar="ACTION")

    build = commands.add_parser(
        "build",
        help="materialise NAME@vN as Parquet + manifest (reused when already built)",
    )
    build.add_argument("ref", metavar="NAME@vN")
    add_engine_options(build)
    build.add_argument(
        "--sample", type=_fraction, default=None, help="keep this fraction of users (by id hash)"
    )
    build.add_argument("--seed", type=int, default=None, help="seed of the user sample (0)")
    build.add_argument("--no-progress", action="store_true", help="hide the stage bar")
    build.add_argument(
        "--force",
        action="store_true",
        help="build again even when a build of this spec, data and sample exists (it is replaced)",
    )
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

    listing = commands.add_parser(
        "list", help="list specs (project or shipped), versions and builds"
    )
    listing.set_defaults(handler=_list)

    new = commands.add_parser(
        "new", help="write a commented starter spec NAME@v1 into the project's spec folder"
    )
    new.add_argument("name", metavar="NAME")
    new.add_argument(
        "--label",
        choices=LABEL_CHOICES,
        default="event_within",
        help="the question: event_within (will they convert or buy again; default), churn, "
        "active_days_in_window (adoption: 3 active days in some 7-day window) or value_within "
        "(what they will spend: a regression), each within 30 days",
    )
    new.add_argument(
        "--after-signup",
        type=int,
        metavar="DAYS",
        help="ask it of each user at signup + DAYS days (an onboarding question: will a new "
        "user adopt, convert or churn, from their first DAYS days) instead of at monthly "
        "cutoffs; windows stay inside those days",
    )
    new.set_defaults(handler=_new)

    release = commands.add_parser(
        "release",
        help="lock NAME@vN's meaning in the project's LOCK.json; later edits are refused",
    )
    release.add_argument("ref", metavar="NAME@vN")
    release.set_defaults(handler=_release)

    for command in (build, sql, listing, new, release):
        add_specs_option(command)
