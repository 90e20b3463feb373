"""Options shared by several command groups."""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from contracts.workspace import SPARK_MASTER_ENV, SPECS_ENV

if TYPE_CHECKING:  # imported when used: experiments is heavy for `usagecast --help`
    from experiments.business import BusinessOptions, Capacity


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


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    """`--engine duckdb|spark` and, for Spark, `--spark-master URL`."""
    parser.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb")
    parser.add_argument(
        "--spark-master",
        metavar="URL",
        help=f"with --engine spark: spark://HOST:PORT (a standalone cluster), local[N], yarn "
        f"or k8s://URL (default: ${SPARK_MASTER_ENV}, else local[2]); for Spark Connect set "
        "SPARK_REMOTE=sc://HOST:PORT instead",
    )


def apply_engine_options(args: argparse.Namespace) -> None:
    """Make `--spark-master URL` the Spark master of this process (read by the Spark engine)."""
    master = getattr(args, "spark_master", None)
    if master is None:
        return
    if args.engine != "spark":
        args.command_parser.error("--spark-master needs --engine spark")
    os.environ[SPARK_MASTER_ENV] = master


def apply_specs_option(args: argparse.Namespace) -> None:
    """Make `--specs DIR` the spec folder of this process (read by features.featureset)."""
    specs = getattr(args, "specs", None)
    if specs is not None:
        os.environ[SPECS_ENV] = str(specs)


def _capacity(text: str) -> Capacity:
    """`--capacity`: experiments.business.parse_capacity, its refusal as argparse's."""
    from contracts.errors import UsagecastError
    from experiments.business import parse_capacity

    try:
        return parse_capacity(text)
    except UsagecastError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _amount(minimum: float, strict: bool):
    """An argparse type: a finite number >= minimum (> minimum when strict)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not (math.isfinite(value) and (value > minimum if strict else value >= minimum)):
            bound = f"{'>' if strict else '>='} {minimum:g}"
            raise argparse.ArgumentTypeError(f"expected a number {bound}, got {text!r}")
        return value

    return parse


def add_business_options(parser: argparse.ArgumentParser) -> None:
    """`--capacity N|FRACTION`, `--contact-cost C`, `--conversion-value V`: precision, recall
    and lift at a contact capacity, and the profit-optimal threshold (experiments/business.py).
    Read them back with `parse_business_options`."""
    group = parser.add_argument_group("business metrics")
    group.add_argument(
        "--capacity",
        type=_capacity,
        default=None,
        metavar="N",
        help="users you can contact: a count (500) or a fraction of the rows (0.05); reports "
        "precision, recall and lift among the highest-probability N",
    )
    group.add_argument(
        "--contact-cost",
        type=_amount(0.0, strict=False),
        default=None,
        metavar="C",
        help="cost of contacting one user (>= 0), with --conversion-value: the profit-optimal "
        "threshold and a profit curve",
    )
    group.add_argument(
        "--conversion-value",
        type=_amount(0.0, strict=True),
        default=None,
        metavar="V",
        help="value of one conversion (> 0), with --contact-cost",
    )


def parse_business_options(args: argparse.Namespace) -> BusinessOptions:
    """The `add_business_options` values as an experiments.business.BusinessOptions; a cost
    without a value (or the reverse) is a UsagecastError (exit 2)."""
    from experiments.business import business_options

    return business_options(args.capacity, args.contact_cost, args.conversion_value)


def warn_of_stray_months() -> None:
    """The latest ingest's far-off event months, on stderr, after a build or a scoring whose
    cutoffs and labels they move."""
    from events.quality import latest_stray_warnings

    for line in latest_stray_warnings():
        print(line, file=sys.stderr)
