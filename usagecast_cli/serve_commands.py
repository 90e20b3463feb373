"""`usagecast serve NAME`: the front door in front of the champion (and a challenger)."""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_PORT = 5001


def _serve(args: argparse.Namespace) -> int:
    import os

    from contracts.errors import UsagecastError
    from contracts.workspace import prediction_log_dir
    from front_door.app import ServeConfig, serve
    from front_door.limits import Limits
    from serving.prediction_log import PREDICTION_LOG_ENV

    if not 0 < args.share < 1 or round(args.share * 100, 2) != args.share * 100:
        raise UsagecastError(
            f"--share {args.share}: give a fraction strictly between 0 and 1 with at most "
            f"4 decimals (e.g. 0.1)"
        )
    token = None
    if args.token_file is not None:
        try:
            token = args.token_file.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise UsagecastError(f"--token-file {args.token_file}: {error.strerror}") from None
        if not token:
            raise UsagecastError(f"--token-file {args.token_file}: the file is empty")
    log_dir = None
    if not args.no_prediction_log:
        log_dir = args.prediction_log or Path(
            os.environ.get(PREDICTION_LOG_ENV, "").strip() or prediction_log_dir(args.name)
        )
    limits = Limits(
        max_body_bytes=args.max_body_bytes,
        max_depth=args.max_depth,
        max_rows=args.max_rows,
        max_whatif_rows=args.max_whatif_rows,
        whatif_deadline_ms=args.whatif_deadline_ms,
        whatif_concurrency=args.whatif_concurrency,
    )
    config = ServeConfig(
        name=args.name,
        challenger=args.challenger,
        share=args.share,
        experiment=args.experiment,
        token=token,
        limits=limits,
        prediction_log=log_dir,
    )
    serve(config, args.host, args.port)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `serve` subcommand."""
    defaults = _limit_defaults()
    parser = subparsers.add_parser(
        "serve",
        help="serve models:/NAME@champion (and a challenger) behind limits, with a log",
        description="Answers POST /invocations like `mlflow models serve` (same bodies, same "
        '{"predictions": [...]}), adding the model version and variant; routes each user '
        "by the A/B sticky hash; refuses oversized, deep, duplicate-key or non-JSON bodies "
        "with a 4xx JSON error; GET /ping, /health, /version, /metrics. Every answered row "
        "goes to the prediction log.",
    )
    parser.add_argument("name", help="registered model name (the feature set's name)")
    parser.add_argument("--challenger", metavar="ALIAS", help="alias served to --share of users")
    parser.add_argument(
        "--share", type=float, default=0.1, help="challenger's share of users (default 0.1)"
    )
    parser.add_argument(
        "--experiment",
        help="A/B experiment name, the hash salt (default NAME-ALIAS); `usagecast ab assign "
        "--experiment E --split 90/10 --groups champion,ALIAS` gives the same groups",
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    parser.add_argument(
        "--token-file",
        type=Path,
        help="file holding a bearer token clients must send (required off loopback)",
    )
    log = parser.add_mutually_exclusive_group()
    log.add_argument(
        "--prediction-log",
        type=Path,
        metavar="DIR",
        help="Parquet log folder (default $USAGECAST_PREDICTION_LOG, else "
        "<workspace>/prediction_log/NAME)",
    )
    log.add_argument("--no-prediction-log", action="store_true", help="write no log")
    for flag, help_text in (
        ("max-body-bytes", "largest body (413 above)"),
        ("max-depth", "deepest JSON nesting (400 above)"),
        ("max-rows", "rows per request (413 above)"),
        ("max-whatif-rows", "rows per whatif request (413 above)"),
        ("whatif-deadline-ms", "whatif answer deadline (504 past it)"),
        ("whatif-concurrency", "whatif searches at once (503 beyond)"),
    ):
        default = defaults[flag.replace("-", "_")]
        parser.add_argument(
            f"--{flag}", type=int, default=default, help=f"{help_text}; default {default}"
        )
    parser.set_defaults(handler=_serve)


def _limit_defaults() -> dict[str, int]:
    from dataclasses import asdict

    from front_door.limits import Limits

    return asdict(Limits())
