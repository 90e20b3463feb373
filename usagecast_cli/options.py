"""Options shared by several command groups."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from features.workspace import SPECS_ENV


def add_specs_option(parser: argparse.ArgumentParser) -> None:
    """`--specs DIR`: the project's spec folder, for a command that resolves NAME@vN."""
    parser.add_argument(
        "--specs",
        type=Path,
        metavar="DIR",
        # Absent unless given: `whatif --specs DIR policy ...` keeps the parent's value.
        default=argparse.SUPPRESS,
        help=f"the project's spec folder, searched before the shipped examples (default: "
        f"${SPECS_ENV}, else ./specs)",
    )


def apply_specs_option(args: argparse.Namespace) -> None:
    """Make `--specs DIR` the spec folder of this process (read by features.featureset)."""
    specs = getattr(args, "specs", None)
    if specs is not None:
        os.environ[SPECS_ENV] = str(specs)
