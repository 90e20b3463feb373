"""Argument parsing: a mistyped option names the command's nearest one."""

from __future__ import annotations

import pytest

from usagecast_cli.main import build_parser, command_parsers, main


@pytest.mark.parametrize(
    ("argv", "hint"),
    [
        (["tune", "premium_30d@v1", "--trails", "20"], "(did you mean --trials?)"),
        (["tune", "premium_30d@v1", "--trails=20"], "(did you mean --trials?)"),
        (
            ["features", "build", "x@v1", "--sampel", "0.1", "--sed", "3"],
            "(did you mean --sample instead of --sampel, --seed instead of --sed?)",
        ),
        (["analytics", "top-features", "--limt", "3"], "(did you mean --limit?)"),
    ],
)
def test_a_mistyped_option_exits_2_naming_the_nearest_one(capsys, argv, hint):
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith(f"usagecast {' '.join(argv[: 2 if argv[0] != 'tune' else 1])}")
    assert error.endswith(hint)


def test_an_option_like_no_other_gets_no_guess(capsys):
    with pytest.raises(SystemExit):
        main(["tune", "premium_30d@v1", "--zzz"])
    assert capsys.readouterr().err.strip().endswith("unrecognized arguments: --zzz")


def test_every_command_knows_its_own_parser():
    leaves = list(command_parsers(build_parser()))
    names = {leaf.prog for leaf in leaves}
    assert {"usagecast tune", "usagecast features build", "usagecast ingest"} <= names
    assert all(leaf.get_default("command_parser") is leaf for leaf in leaves)
