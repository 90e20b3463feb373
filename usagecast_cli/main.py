"""Entry point of the `usagecast` console script.

Each command module exposes `register(subparsers)`; it parses arguments and calls one library
function. Libraries are imported inside handlers so `usagecast --help` stays fast.
A UsagecastError becomes one line on stderr and exit code 2; no stack trace.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from features.errors import UsagecastError
from usagecast_cli import (
    analytics_commands,
    experiments_commands,
    features_commands,
    ingest_commands,
    registry_commands,
    simulate_commands,
    whatif_commands,
)
from usagecast_cli.options import apply_specs_option

# Each helper module adds itself here, in the order `usagecast --help` lists them.
COMMAND_MODULES: tuple = (
    simulate_commands,
    ingest_commands,
    features_commands,
    experiments_commands,
    registry_commands,
    analytics_commands,
    whatif_commands,
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, one subcommand group per module."""
    parser = argparse.ArgumentParser(
        prog="usagecast",
        description="Predict what a product's users will do next from what they already did.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, dispatch to the chosen handler, and turn user errors into exit code 2."""
    args = build_parser().parse_args(argv)
    apply_specs_option(args)
    try:
        return int(args.handler(args) or 0)
    except UsagecastError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
