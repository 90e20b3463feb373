"""`usagecast simulate --users N --seed S --out DIR [--months M] [--fault-rate R]`."""

from __future__ import annotations

import argparse
from pathlib import Path


def _simulate(args: argparse.Namespace) -> int:
    from features.simulate import SimulationConfig, simulate_to_dir

    config = SimulationConfig(
        n_users=args.users, seed=args.seed, months=args.months, fault_rate=args.fault_rate
    )
    summary = simulate_to_dir(args.out, config, progress=not args.no_progress)
    print(summary.describe())
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `simulate` subcommand."""
    simulate = subparsers.add_parser(
        "simulate",
        help="write a seeded, simulated music-streaming export plus its dataset.yaml",
        description="Simulate users, tracks and their listening sessions (PLAY, SKIP, LIKE, "
        "ADVERTISEMENT, BUY_PREMIUM, LOGIN) and write them as a realistic export into DIR, "
        "with DIR/dataset.yaml for `usagecast ingest` and DIR/faults.json. Same seed, same "
        "bytes.",
    )
    simulate.add_argument("--users", type=int, default=3000, help="number of users (3000)")
    simulate.add_argument("--seed", type=int, default=0, help="random seed (0)")
    simulate.add_argument("--out", type=Path, required=True, help="new or empty output folder")
    simulate.add_argument("--months", type=int, default=6, help="months simulated (6)")
    simulate.add_argument(
        "--fault-rate",
        type=float,
        default=0.0,
        help="share of event rows given an injected fault, e.g. 0.01 (0)",
    )
    simulate.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    simulate.set_defaults(handler=_simulate)
