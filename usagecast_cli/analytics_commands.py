"""`usagecast analytics top-features|before-conversion|funnel|paths|retention|active-users|
time-to-convert|value-curve|channels|ltv|segments` and `usagecast ab assign|plan|analyze`."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from usagecast_cli.options import add_engine_options, add_specs_option

# The demo's conversion event (analytics.event_types.DEMO_CONVERSION), named here for the
# help text without importing the analytics package at startup.
DEMO_DEFAULT = "BUY_PREMIUM"
# What --breakdown takes (analytics.scope.SIGNUP_COHORTS names the cohorts).
BREAKDOWN = "a user attribute, e.g. channel, or a signup cohort: signup_week or signup_month"


def _timestamp(text: str) -> datetime:
    """An ISO date or timestamp (naive UTC) from the command line."""
    try:
        return datetime.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO date/time such as 2024-01-31 or 2024-01-31T12:00"
        ) from error


def _filters(args: argparse.Namespace):
    from analytics import Filters

    return Filters(start=args.start, end=args.end, segment=args.segment, area_prefix=args.area)


def _common(args: argparse.Namespace) -> dict:
    return {"engine_name": args.engine, "log": args.log, "limit": args.limit}


def _top_features(args: argparse.Namespace) -> int:
    from analytics.runs import run_top_features

    print(
        run_top_features(
            _filters(args),
            per_event_type=args.per_event_type,
            by=args.by,
            period=args.period,
            **_common(args),
        )
    )
    return 0


def _funnel(args: argparse.Namespace) -> int:
    from analytics.funnel import parse_steps
    from analytics.runs import run_funnel

    print(
        run_funnel(
            parse_steps(args.steps),
            _filters(args),
            window_days=args.window_days,
            breakdown=args.breakdown,
            **_common(args),
        )
    )
    return 0


def _paths(args: argparse.Namespace) -> int:
    from analytics.runs import run_paths

    print(
        run_paths(
            args.to,
            args.from_event,
            _filters(args),
            steps=args.steps,
            window_days=args.window_days,
            by=args.by,
            keep_repeats=args.keep_repeats,
            breakdown=args.breakdown,
            **_common(args),
        )
    )
    return 0


def _before_conversion(args: argparse.Namespace) -> int:
    from analytics.runs import run_before_conversion

    print(
        run_before_conversion(
            args.event,
            _filters(args),
            lookback_days=args.lookback_days,
            by=args.by,
            **_common(args),
        )
    )
    return 0


def _retention(args: argparse.Namespace) -> int:
    from analytics.runs import run_retention

    print(
        run_retention(
            _filters(args),
            period=args.period,
            activity_events=args.activity_event or (),
            **_common(args),
        )
    )
    return 0


def _active_users(args: argparse.Namespace) -> int:
    from analytics.runs import run_active_users

    print(
        run_active_users(
            _filters(args),
            period=args.period,
            activity_events=args.activity_event or (),
            breakdown=args.breakdown,
            **_common(args),
        )
    )
    return 0


def _time_to_convert(args: argparse.Namespace) -> int:
    from analytics.runs import run_time_to_convert

    print(
        run_time_to_convert(
            args.event,
            _filters(args),
            days=args.days,
            breakdown=args.breakdown,
            adoption=args.adoption,
            activity_events=args.activity_event or (),
            start_event=args.from_event,
            **_common(args),
        )
    )
    return 0


def _value_curve(args: argparse.Namespace) -> int:
    from analytics.runs import run_value_curve

    print(
        run_value_curve(
            args.purchase_event or (),
            _filters(args),
            days=args.days,
            breakdown=args.breakdown,
            start_event=args.from_event,
            **_common(args),
        )
    )
    return 0


def _adoption(text: str):
    """--adoption MIN_DAYS/WINDOW_DAYS as an analytics Adoption (argparse's error otherwise)."""
    from analytics.conversion_time import parse_adoption
    from contracts.errors import UsagecastError

    try:
        return parse_adoption(text)
    except UsagecastError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def _channels(args: argparse.Namespace) -> int:
    from analytics.runs import run_channels

    print(
        run_channels(
            args.outcome,
            _filters(args),
            channel=args.channel,
            purchase_events=args.purchase_event or (),
            **_common(args),
        )
    )
    return 0


def _ltv(args: argparse.Namespace) -> int:
    from analytics.runs import run_ltv

    print(
        run_ltv(
            args.purchase_event or (),
            _filters(args),
            channel=args.channel,
            feature_set=args.feature_set,
            model=args.model,
            cutoff_from=args.cutoff_from,
            **_common(args),
        )
    )
    return 0


def _segments(args: argparse.Namespace) -> int:
    from analytics.runs import run_segments

    print(run_segments(args.feature_set, args.k, _filters(args), seed=args.seed, **_common(args)))
    return 0


def _ab_assign(args: argparse.Namespace) -> int:
    from analytics.runs import run_ab_assign

    print(
        run_ab_assign(
            args.experiment,
            args.split,
            args.start_date or datetime.now(UTC).replace(tzinfo=None, microsecond=0),
            salt=args.salt,
            groups=args.groups.split(",") if args.groups else (),
            engine_name=args.engine,
        )
    )
    return 0


def _ab_plan(args: argparse.Namespace) -> int:
    from analytics import Filters
    from analytics.runs import ab_plan, format_ab_plan

    print(
        format_ab_plan(
            ab_plan(
                args.metric,
                args.mde,
                Filters(segment=args.segment),
                relative=args.relative,
                alpha=args.alpha,
                power=args.power,
                split=args.split,
                baseline=args.baseline,
                baseline_sd=args.baseline_sd,
                baseline_days=args.baseline_days,
                cuped=args.cuped,
                sequential=args.sequential,
                engine_name=args.engine,
            )
        )
    )
    return 0


def _ab_analyze(args: argparse.Namespace) -> int:
    from analytics.runs import run_ab_analyze

    print(
        run_ab_analyze(
            args.experiment,
            args.metric,
            _filters(args),
            alpha=args.alpha,
            split=args.split,
            cuped=args.cuped,
            breakdown=args.breakdown,
            sequential=args.sequential,
            **_common(args),
        )
    )
    return 0


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    """Filters, engine, --log and --limit: every analytics model takes them."""
    parser.add_argument("--start", type=_timestamp, help="time range start (inclusive)")
    parser.add_argument("--end", type=_timestamp, help="time range end (exclusive)")
    parser.add_argument(
        "--segment", help="SQL predicate over user attributes, e.g. \"channel = 'ads'\""
    )
    parser.add_argument("--area", help="keep product areas starting with this prefix")
    add_engine_options(parser)
    parser.add_argument("--log", action="store_true", help="record an MLflow run")
    parser.add_argument("--limit", type=int, default=20, help="rows to print (0 = all)")


def _by(text: str) -> str:
    """--by's value: area, event_type or item:ATTR (analytics.usage.FEATURES, ITEM_PREFIX)."""
    if text in ("area", "event_type") or (text.startswith("item:") and len(text) > 5):
        return text
    raise argparse.ArgumentTypeError(
        f"invalid choice: {text!r} (choose from area, event_type, item:ATTR)"
    )


def _add_by_option(parser: argparse.ArgumentParser) -> None:
    """--by: what a feature is (analytics.usage.FEATURES, or an item attribute)."""
    parser.add_argument(
        "--by",
        type=_by,
        default=None,
        metavar="{area,event_type,item:ATTR}",
        help="what a feature is: a product area (the events' area), an event type or a "
        "categorical attribute of the events' items, as of each event (item:type: a shop's "
        "product types); --area still filters events by area (default: product areas, or "
        "event types when no event in scope has an area, noted)",
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `analytics` and `ab` command groups."""
    analytics = subparsers.add_parser(
        "analytics",
        help="product-analytics models",
        description="Product-analytics models over the event store. Event types come from "
        f"flags; a flag left out falls back to {DEMO_DEFAULT} only when the store holds it. "
        "An event type the store does not hold is refused (exit 2) with the known ones.",
    )
    models = analytics.add_subparsers(dest="model", required=True, metavar="MODEL")

    top = models.add_parser("top-features", help="most used product areas (or event types)")
    top.add_argument(
        "--per-event-type",
        action="store_true",
        help="rank areas within each event type (not with --by event_type)",
    )
    top.add_argument(
        "--period",
        choices=("day", "week", "month"),
        help="the trend instead: each feature's share of each period's active users (weeks "
        "from Monday), the most used features as columns, the latest --limit periods",
    )
    _add_by_option(top)
    top.set_defaults(handler=_top_features)

    before = models.add_parser(
        "before-conversion",
        help="areas (or event types) used before a first conversion, with lift",
    )
    before.add_argument(
        "--event", required=True, help="conversion event type (one the store holds)"
    )
    before.add_argument("--lookback-days", type=int, default=30)
    _add_by_option(before)
    before.set_defaults(handler=_before_conversion)

    steps = models.add_parser(
        "funnel",
        help="users who go on from one event type to the next, in order, within a window",
        description="An ordered funnel: a user enters at their first event of the first step "
        "(in the time range); each next step is their first event of that type at or after "
        "the previous step, within --window-days of entering. Users whose window runs past "
        "the end of the data are left out and counted.",
    )
    steps.add_argument(
        "--steps", required=True, help="event types in order, e.g. 'PLAY,LIKE,BUY_PREMIUM'"
    )
    steps.add_argument(
        "--window-days", type=int, default=30, help="days from entering (default 30)"
    )
    steps.add_argument("--breakdown", help=f"{BREAKDOWN}: one funnel per value of it")
    steps.set_defaults(handler=_funnel)

    walks = models.add_parser(
        "paths",
        help="the steps users take just before a conversion (or just after an event)",
        description="Each user's first event of the anchor type in the time range anchors "
        "their path: with --to, their last --steps steps within --window-days before it; "
        "with --from, their next --steps steps within --window-days after it. A step is an "
        "event type (or a product area with --by area); a step repeated in a row is one "
        "step unless --keep-repeats. Events at the same time keep the export's order. Users "
        "whose window reaches outside the data are left out and counted. Prints the most "
        "taken paths and each position's shares.",
    )
    anchor = walks.add_mutually_exclusive_group()
    anchor.add_argument(
        "--to", help=f"the paths' last event type (default {DEMO_DEFAULT} if the store holds it)"
    )
    anchor.add_argument(
        "--from", dest="from_event", metavar="FROM", help="the paths' first event type"
    )
    walks.add_argument(
        "--steps", type=int, default=3, help="steps before (or after) the anchor (default 3)"
    )
    walks.add_argument(
        "--window-days",
        type=int,
        default=30,
        help="days before (or after) the anchor a step may lie in (default 30)",
    )
    walks.add_argument(
        "--by",
        choices=("event_type", "area"),
        default="event_type",
        help="what a step is: an event type (default) or a product area (events without "
        "one are no step)",
    )
    walks.add_argument(
        "--keep-repeats",
        action="store_true",
        help="count each event of a step repeated in a row (PLAY, PLAY) as a step of its own",
    )
    walks.add_argument(
        "--breakdown", help=f"{BREAKDOWN}: the paths counted within each value of it"
    )
    walks.set_defaults(handler=_paths)

    cohort = models.add_parser(
        "retention",
        help="cohort retention matrix",
        description="Cohort retention; a period still running at the end of the data is "
        "partial: starred in the table (a lower bound, not a drop), hatched in the plot.",
    )
    cohort.add_argument("--period", choices=("week", "month"), default="week")
    cohort.add_argument(
        "--activity-event",
        action="append",
        help="event type that counts as activity (repeat; default every event type)",
    )
    cohort.set_defaults(handler=_retention)

    active = models.add_parser(
        "active-users",
        help="active users per day, week or month: new, retained, resurrected, churned",
        description="Users active in each calendar period (weeks from Monday), split by what "
        "they did the period before: new (first active period in the data), retained, "
        "resurrected; churned: active the period before, not in this one. Quick ratio = (new "
        "+ resurrected) / churned; for weeks and months, the mean daily active users and "
        "stickiness (their share of the period's). --start only drops earlier periods: the "
        "history before it still decides. Prints the latest --limit periods, logs all.",
    )
    active.add_argument("--period", choices=("day", "week", "month"), default="week")
    active.add_argument(
        "--activity-event",
        action="append",
        help="event type that counts as activity (repeat; default every event type)",
    )
    active.add_argument("--breakdown", help=f"{BREAKDOWN}: the table per value of it")
    active.set_defaults(handler=_active_users)

    timing = models.add_parser(
        "time-to-convert",
        help="days from signup (or an event) to a first conversion (or adoption): the share "
        "converted within N days",
        description="Users who signed up in the time range (and before the end of the data), "
        "followed from signup to their first conversion event at or after it; with "
        "--from-event, the users who did that event in the time range, followed from their "
        "first one there. A user who has "
        "not converted is followed to the end of the data and no further, so the share "
        "converted within N days is a Kaplan-Meier estimate, not converters over everyone. "
        "With --adoption the conversion is the day a user becomes adopted. Prints the shares "
        "within 1, 7, 14, 30, ... days; logs the daily curve.",
    )
    timing.add_argument(
        "--event", help=f"conversion event type (default {DEMO_DEFAULT} if the store holds it)"
    )
    timing.add_argument(
        "--adoption",
        type=_adoption,
        metavar="MIN_DAYS/WINDOW_DAYS",
        help="convert = adopt instead of an event: MIN_DAYS distinct active days within some "
        "WINDOW_DAYS days (the active_days_in_window label's rule), e.g. 3/7; --area and "
        "--activity-event choose the activity",
    )
    timing.add_argument(
        "--activity-event",
        action="append",
        help="with --adoption: event type that counts as activity (repeat; default every "
        "event type)",
    )
    timing.add_argument(
        "--from-event",
        help="start each user's clock at their first event of this type in the time range "
        "instead of signup (e.g. a trial's start); a conversion before it does not count",
    )
    timing.add_argument(
        "--days", type=int, default=90, help="the window after signup in days (default 90)"
    )
    timing.add_argument("--breakdown", help=f"{BREAKDOWN}: a curve per value of it")
    timing.set_defaults(handler=_time_to_convert)

    worth = models.add_parser(
        "value-curve",
        help="value per user within N days of signup (and the share who bought)",
        description="The users who signed up in the time range (and before the end of the "
        "data): the mean value of their purchase events within 1, 7, 30, ... days of signup, "
        "each over the users followed that long only (a user who signed up last week is "
        "left out of the 30-day value, not counted as 0), the share who had bought, and "
        "how many users each holds. With --from-event, the users who did that event in the "
        "time range, from their first one there. Logs the daily curve.",
    )
    worth.add_argument(
        "--purchase-event",
        action="append",
        help=f"revenue event type (repeat; default {DEMO_DEFAULT} if the store holds it)",
    )
    worth.add_argument(
        "--from-event",
        help="count each user's days from their first event of this type in the time range "
        "instead of signup (e.g. a first order: its value counts on day 0)",
    )
    worth.add_argument(
        "--days", type=int, default=180, help="the window after signup in days (default 180)"
    )
    worth.add_argument("--breakdown", help=f"{BREAKDOWN}: a curve per value of it")
    worth.set_defaults(handler=_value_curve)

    channel = models.add_parser("channels", help="per-channel users, actions, conversion")
    channel.add_argument(
        "--outcome", help=f"conversion event type (default {DEMO_DEFAULT} if the store holds it)"
    )
    channel.add_argument("--channel", default="channel", help="user attribute of the channel")
    channel.add_argument(
        "--purchase-event", action="append", help="revenue event type (repeat; default outcome)"
    )
    channel.set_defaults(handler=_channels)

    value = models.add_parser("ltv", help="lifetime value per user and per channel")
    value.add_argument(
        "--purchase-event",
        action="append",
        help=f"purchase event type (repeat; default {DEMO_DEFAULT} if the store holds it)",
    )
    value.add_argument("--channel", default="channel", help="user attribute of the channel")
    value.add_argument(
        "--feature-set", help="NAME@vN with a value_within label: predicted vs realised"
    )
    value.add_argument(
        "--model",
        help="with --feature-set: a value model (e.g. models:/ltv_90d@champion) whose mean "
        "prediction per channel is shown beside the formula's and the realised value",
    )
    value.add_argument(
        "--cutoff-from",
        type=_timestamp,
        help="with --feature-set: only rows at cutoffs from this date (e.g. a model's test rows)",
    )
    add_specs_option(value)
    value.set_defaults(handler=_ltv)

    segment = models.add_parser("segments", help="k-means segments of a feature set")
    segment.add_argument("--feature-set", required=True, help="NAME@vN")
    segment.add_argument("--k", type=int, required=True)
    segment.add_argument("--seed", type=int, default=0)
    add_specs_option(segment)
    segment.set_defaults(handler=_segments)

    for parser in (
        top,
        before,
        steps,
        walks,
        cohort,
        active,
        timing,
        worth,
        channel,
        value,
        segment,
    ):
        _add_model_options(parser)

    ab = subparsers.add_parser("ab", help="A/B test planning, assignment and analysis")
    actions = ab.add_subparsers(dest="action", required=True, metavar="ACTION")
    assign = actions.add_parser("assign", help="sticky hash assignment of every user")
    assign.add_argument("--experiment", required=True)
    assign.add_argument("--split", required=True, help="percents, e.g. 50/50 or 10/45/45")
    assign.add_argument("--salt", help="hash salt (default: the experiment name)")
    assign.add_argument("--groups", help="comma-separated group names (default control,...)")
    assign.add_argument(
        "--start-date", type=_timestamp, help="experiment start (default: now, UTC)"
    )
    add_engine_options(assign)
    assign.set_defaults(handler=_ab_assign)

    plan = actions.add_parser(
        "plan",
        help="users (and days) a test needs to detect an effect, from the store's baseline",
    )
    plan.add_argument(
        "--metric",
        required=True,
        help="as for analyze: 'event_within BUY_PREMIUM 30d', 'value_within PURCHASE 30d' or "
        "'count_within PLAY 7d'",
    )
    plan.add_argument(
        "--mde",
        type=float,
        required=True,
        help="minimum detectable effect: absolute (0.02: two points of conversion), or a "
        "share of the baseline with --relative (0.1: +10%%)",
    )
    plan.add_argument("--relative", action="store_true", help="--mde is a share of the baseline")
    plan.add_argument("--alpha", type=float, default=0.05, help="two-sided (default 0.05)")
    plan.add_argument("--power", type=float, default=0.8, help="default 0.8")
    plan.add_argument("--split", default="50/50", help="percents, control first (default 50/50)")
    plan.add_argument(
        "--baseline",
        type=float,
        help="the control's rate (or mean) instead of measuring it in the store",
    )
    plan.add_argument("--baseline-sd", type=float, help="with --baseline of an amount metric")
    plan.add_argument(
        "--baseline-days",
        type=int,
        default=56,
        help="days of entering users the baseline is measured on (default 56), ending where "
        "the last whole metric window ends",
    )
    plan.add_argument(
        "--cuped",
        action="store_true",
        help="plan for `ab analyze --cuped`: fewer users by the share of the metric's variance "
        "that the baseline users' behaviour before entering explains",
    )
    plan.add_argument(
        "--sequential",
        action="store_true",
        help="plan for `ab analyze --sequential MDE` (always-valid, safe to look at daily): "
        "more users for the same power",
    )
    plan.add_argument(
        "--segment", help="SQL predicate over user attributes, e.g. \"channel = 'ads'\""
    )
    add_engine_options(plan)
    plan.set_defaults(handler=_ab_plan)

    analyze = actions.add_parser("analyze", help="rates, difference CI, z-test, SRM check")
    analyze.add_argument("--experiment", required=True)
    analyze.add_argument(
        "--metric",
        required=True,
        help="'event_within BUY_PREMIUM 30d' (a conversion rate), 'value_within PURCHASE "
        "30d' (the mean of each user's PURCHASE values in 30 days: revenue per user) or "
        "'count_within PLAY 7d' (PLAY events per user in 7 days)",
    )
    analyze.add_argument("--alpha", type=float, default=0.05)
    analyze.add_argument(
        "--split",
        help="planned percents of a logged experiment (EXPERIMENT_ASSIGNED events), e.g. "
        "50/50, for the sample-ratio check (default: not tested)",
    )
    analyze.add_argument(
        "--cuped",
        action="store_true",
        help="test outcomes adjusted by what each user did in the metric's window length "
        "before entering (CUPED): the same expected difference, a narrower interval",
    )
    analyze.add_argument(
        "--breakdown",
        help=f"{BREAKDOWN}: the comparison within each of its values too",
    )
    analyze.add_argument(
        "--sequential",
        type=float,
        metavar="MDE",
        help="always-valid p-values and intervals (mSPRT) that stay right however often you "
        "look, most sensitive to an absolute effect of about MDE (the plan's --mde)",
    )
    _add_model_options(analyze)
    analyze.set_defaults(handler=_ab_analyze)
