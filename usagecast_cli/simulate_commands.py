"""`usagecast simulate --users N --seed S --out DIR [--months M] [--fault-rate R]
[--drift KIND ... --drift-from DATE [--drift-event-type TYPE]]
[--experiment ads=F,share=S,from=DATE] [--ad-load-spread S]`."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path


def _simulate(args: argparse.Namespace) -> int:
    from simulator import Drift, LeverExperiment, SimulationConfig, simulate_to_dir

    _check_drift_arguments(args)
    config = SimulationConfig(
        n_users=args.users,
        seed=args.seed,
        months=args.months,
        fault_rate=args.fault_rate,
        drift=tuple(
            Drift(kind, args.drift_from, args.drift_event_type if kind == "tracking_bug" else None)
            for kind in args.drift or ()
        ),
        experiment=None if args.experiment is None else LeverExperiment.parse(args.experiment),
        ad_load_spread=args.ad_load_spread,
    )
    summary = simulate_to_dir(args.out, config, progress=not args.no_progress)
    print(summary.describe())
    return 0


def _check_drift_arguments(args: argparse.Namespace) -> None:
    """--drift and --drift-from go together; --drift-event-type needs a tracking_bug."""
    from contracts.errors import UsagecastError

    if args.drift and args.drift_from is None:
        raise UsagecastError("--drift needs --drift-from DATE (e.g. --drift-from 2024-05-01)")
    if args.drift_from is not None and not args.drift:
        raise UsagecastError("--drift-from needs at least one --drift KIND")
    if args.drift_event_type is not None and "tracking_bug" not in (args.drift or ()):
        raise UsagecastError("--drift-event-type applies to --drift tracking_bug only")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `simulate` subcommand."""
    simulate = subparsers.add_parser(
        "simulate",
        help="write a seeded, simulated music-streaming export plus its dataset.yaml",
        description="Simulate users, tracks and their listening sessions (PLAY, SKIP, LIKE, "
        "ADVERTISEMENT, BUY_PREMIUM, LOGIN) and write them as a realistic export into DIR, "
        "with DIR/dataset.yaml for `usagecast ingest` and DIR/faults.json. Same seed, same "
        "bytes. --drift plants a change from --drift-from on (recorded in faults.json): "
        "channel_mix (new signups come from another channel mix), lever_effect (a product "
        "change turns the ads' effect on premium purchases around), tracking_bug (one event "
        "type stops being recorded).",
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
    simulate.add_argument(
        "--drift",
        action="append",
        metavar="KIND",
        help="plant drift from --drift-from on, repeatable: channel_mix, lever_effect or "
        "tracking_bug (none)",
    )
    simulate.add_argument(
        "--drift-from",
        type=dt.date.fromisoformat,
        metavar="DATE",
        help="first day of the drift, YYYY-MM-DD, inside the simulated period",
    )
    simulate.add_argument(
        "--drift-event-type",
        metavar="TYPE",
        help="event type a tracking_bug stops recording (LIKE)",
    )
    simulate.add_argument(
        "--experiment",
        metavar="SPEC",
        help="run a randomized ad experiment, e.g. ads=0.5,share=0.5,from=2024-06-01: a seeded "
        "random share of users hears ads per hour x ads from the date on; each user's arm is "
        "logged at exposure in experiment_assignments.csv (none)",
    )
    simulate.add_argument(
        "--ad-load-spread",
        type=float,
        default=0.0,
        metavar="S",
        help="serve users uneven ad loads (markets, frequency caps): each user hears ads per "
        "hour x a seeded multiplier of their own, log-normal with mean 1 and sigma S, e.g. 0.5 "
        "(0: the same ads per hour for everyone)",
    )
    simulate.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    simulate.set_defaults(handler=_simulate)
