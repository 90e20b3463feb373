"""`usagecast recommend train`: next-best-item recommendations from the event store."""

from __future__ import annotations

import argparse
from pathlib import Path

from usagecast_cli.experiments_commands import _boundary


def _event_types(text: str) -> tuple[str, ...]:
    """`--events PLAY,LIKE`: event types, comma-separated, none blank."""
    types = tuple(part.strip() for part in text.split(","))
    if not all(types):
        raise argparse.ArgumentTypeError(
            f"{text!r}: event types separated by commas, none blank (PLAY,LIKE)"
        )
    return types


def _train(args: argparse.Namespace) -> int:
    from experiments.recommend import RecommendConfig, format_summary, train_recommender

    result = train_recommender(
        RecommendConfig(
            cutoff=args.cutoff,
            window_days=args.window_days,
            trials=args.trials,
            seed=args.seed,
            k=args.k,
            register=args.register,
            store=args.store,
            **({} if args.events is None else {"event_types": args.events}),
        )
    )
    print(format_summary(result))
    return 1 if result.registration is not None and not result.registration.promoted else 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `recommend` group and its `train` command."""
    group = subparsers.add_parser(
        "recommend",
        help="next-best-item recommendations (implicit ALS vs popularity)",
        description="Recommendations of items a user has not consumed yet, learned from "
        "the events that carry an item_id: PLAY and LIKE, or the types --events names.",
    )
    commands = group.add_subparsers(dest="recommend_command", required=True, metavar="COMMAND")
    train = commands.add_parser(
        "train",
        help="tune ALS on the events before a cutoff, evaluate on the window after it",
        description="Trials train on the events before CUTOFF - WINDOW and are scored on the "
        "window before the cutoff; the best parameters are refit on every event before the "
        "cutoff and evaluated, beside the popularity baseline (and the simulator's oracle on "
        "simulated data), on [CUTOFF, CUTOFF + WINDOW): recall@K, NDCG@K and catalogue "
        "coverage, logged in the MLflow experiment 'recommend' with the model (a pyfunc "
        "answering params.mode = recommend). Exit 1 when --register refused the model.",
    )
    train.add_argument(
        "--cutoff",
        type=_boundary,
        default=None,
        metavar="DATE",
        help="train on events before it (default: the latest cutoff whose window ends "
        "within the data)",
    )
    train.add_argument(
        "--window-days", type=int, default=30, metavar="N", help="evaluation window (days)"
    )
    train.add_argument("--trials", type=int, default=20, help="Optuna trials")
    train.add_argument("--seed", type=int, default=0, help="seed of the sampler and of ALS")
    train.add_argument("--k", type=int, default=10, help="items per user in the metrics")
    train.add_argument(
        "--register",
        default=None,
        metavar="NAME",
        help="register the model as a version of NAME; @champion moves to it when it beats "
        "the popularity baseline's NDCG@K",
    )
    train.add_argument(
        "--events",
        type=_event_types,
        default=None,
        metavar="TYPES",
        help="event types whose item is one the user wanted, comma-separated (default: "
        "PLAY,LIKE; a shop's ORDER_PAID, a catalogue's VIEW,ADD_TO_CART)",
    )
    train.add_argument(
        "--store",
        type=Path,
        default=None,
        metavar="PATH",
        help="an events.duckdb (default: the workspace's event store)",
    )
    train.set_defaults(handler=_train)
