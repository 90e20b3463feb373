"""`--capacity`, `--contact-cost`, `--conversion-value`: refused with exit 2 and a message that
names the option, before any work (the feature set below does not exist)."""

from __future__ import annotations

import pytest

from experiments.business import BusinessOptions, Capacity, Economics
from usagecast_cli.main import build_parser, main

COMMANDS = (["tune", "nothing@v1"], ["score", "nothing@v1", "--model", "m", "--out", "s.parquet"])


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--capacity", "0"], "argument --capacity: capacity must be at least 1 user, got 0"),
        (["--capacity", "1.5"], "argument --capacity: capacity must be a whole number of users"),
        (["--contact-cost", "-1", "--conversion-value", "5"], "argument --contact-cost: "),
        (["--contact-cost", "1", "--conversion-value", "0"], "argument --conversion-value: "),
    ],
)
def test_a_bad_value_is_a_usage_error(capsys, command, options, message):
    with pytest.raises(SystemExit) as exited:
        main([*command, *options])
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--conversion-value", "5"], "error: --conversion-value needs --contact-cost too"),
        (["--contact-cost", "1"], "error: --contact-cost needs --conversion-value too"),
    ],
)
def test_cost_and_value_come_together(capsys, command, options, message):
    assert main([*command, *options]) == 2
    assert capsys.readouterr().err.strip() == f"{message}: profit needs both"


def test_the_options_reach_the_handler_typed():
    from usagecast_cli.options import parse_business_options

    args = build_parser().parse_args(
        ["tune", "x@v1", "--capacity", "0.05", "--contact-cost", "2", "--conversion-value", "30"]
    )
    assert parse_business_options(args) == BusinessOptions(
        Capacity(fraction=0.05), Economics(contact_cost=2.0, conversion_value=30.0)
    )
    assert not parse_business_options(build_parser().parse_args(["tune", "x@v1"])).requested
