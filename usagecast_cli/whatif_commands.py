"""`usagecast whatif` (one user's suggestions) and `usagecast whatif policy` (a lever change
over a segment, logged to MLflow, with the simulator's true effect on simulated data)."""

from __future__ import annotations

import argparse

from usagecast_cli.options import add_specs_option


def _whatif(args: argparse.Namespace) -> int:
    from contracts.errors import UsagecastError

    if not args.model or not args.user:
        raise UsagecastError(
            "whatif needs --model URI --user USER_ID (or: usagecast whatif policy ...)"
        )
    from experiments.whatif import whatif_user

    result = whatif_user(
        args.model,
        args.user,
        cutoff=args.cutoff,
        target=args.target,
        k=args.k,
        max_changes=args.max_changes,
        seed=args.seed,
        budget_ms=args.budget_ms,
    )
    print(result.summary())
    return 0


def _policy(args: argparse.Namespace) -> int:
    from experiments.whatif import whatif_policy

    report = whatif_policy(
        args.model,
        args.feature_set,
        args.change,
        segment=args.segment,
        cutoff=args.cutoff,
        seed=args.seed,
        n_bootstrap=args.bootstrap,
        truth_replicas=args.truth_replicas,
        experiment=args.experiment,
    )
    print(report.summary())
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `whatif` and its `policy` subcommand."""
    whatif = subparsers.add_parser(
        "whatif",
        help="what would raise a user's predicted probability (or: whatif policy ...)",
        description="Looks the user's scoring row up in the feature set the model was "
        "trained on (tag feature_set; at the latest cutoff, the day after the last event, by "
        "default; built from the event store unless already built) and runs the served "
        "model's genetic what-if search. Suggestions are the model's predictions on "
        "observational data, not measured effects.",
    )
    whatif.add_argument("--model", help="e.g. models:/premium_30d@champion")
    whatif.add_argument("--user", help="user id")
    whatif.add_argument(
        "--cutoff", help="YYYY-MM-DD (default: the latest, the day after the last event)"
    )
    whatif.add_argument(
        "--target", type=float, default=0.5, help="probability to reach (default 0.5)"
    )
    whatif.add_argument("--k", type=int, default=3, help="suggestions wanted (default 3)")
    whatif.add_argument(
        "--max-changes", type=int, default=2, help="features a suggestion may move (default 2)"
    )
    whatif.add_argument("--seed", type=int, default=0, help="search seed (default 0; printed)")
    whatif.add_argument(
        "--budget-ms", type=int, default=1000, help="search time budget in ms (default 1000)"
    )
    add_specs_option(whatif)
    whatif.set_defaults(handler=_whatif)

    actions = whatif.add_subparsers(dest="whatif_command", metavar="policy")
    policy = actions.add_parser(
        "policy",
        help="apply one lever change to every row of a segment; predicted (and true) effect",
        description="Applies CHANGE (respecting bounds, directions and couplings) to every "
        "row of the segment at the cutoff, reports predicted conversion before/after and "
        "the expected extra conversions with a seeded bootstrap interval, and logs an MLflow "
        "run (experiment 'whatif') with the per-row table and a plot. When the data came "
        "from `usagecast simulate`, the simulator's true effect of the same lever is printed "
        "and logged next to the prediction.",
    )
    policy.add_argument("--model", required=True, help="e.g. models:/premium_30d@champion")
    policy.add_argument("--feature-set", required=True, help="NAME@vN")
    policy.add_argument("--change", required=True, help='e.g. "count_ADVERTISEMENT_30d *= 0.5"')
    policy.add_argument(
        "--segment",
        help="SQL predicate over the feature set's and the users table's columns, "
        "e.g. \"channel = 'reddit'\" (default: every row)",
    )
    policy.add_argument(
        "--cutoff",
        help="YYYY-MM-DD (default: the latest cutoff). A signup-relative feature set's rows "
        "are its scoring rows at that day instead (default: the day after the last event): "
        "the users whose signup + offset has passed and whose outcome is still open",
    )
    policy.add_argument(
        "--experiment",
        help="a saved or logged experiment that tested this lever, for its estimate and a "
        "two-model uplift (default: the simulated data's ad experiment, when the change is "
        "the ad lever)",
    )
    policy.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    policy.add_argument(
        "--bootstrap", type=int, default=1000, help="bootstrap resamples (default 1000)"
    )
    policy.add_argument(
        "--truth-replicas",
        type=int,
        default=128,
        help="Monte Carlo futures per user for the simulator's truth (default 128)",
    )
    add_specs_option(policy)
    policy.set_defaults(handler=_policy)
