"""`usagecast whatif --model URI --user ID`: one user's suggestions as a table, with the note."""

from __future__ import annotations

import pandas as pd

from serving.whatif import CAUSAL_NOTE
from usagecast_cli.main import main

MODEL_URI = "models:/premium_30d@champion"
CUTOFFS = (pd.Timestamp("2026-01-01"), pd.Timestamp("2026-02-01"))  # the champion fixture's


def _pick_user(frame: pd.DataFrame) -> str:
    """A user at the latest cutoff with ads to remove (the tiny model's lever)."""
    latest = frame[frame["cutoff"] == CUTOFFS[1]]
    return str(latest.sort_values("ads_30d", ascending=False)["user_id"].iloc[0])


def _table_line(output: str, feature: str) -> list[str]:
    return next(line.split() for line in output.splitlines() if f" {feature} " in line)


def test_whatif_prints_suggestions_for_a_user(champion, capsys):
    user = _pick_user(champion)
    row = champion[(champion["user_id"] == user) & (champion["cutoff"] == CUTOFFS[1])]
    code = main(
        [
            *("whatif", "--model", MODEL_URI, "--user", user, "--target", "0.95"),
            *("--seed", "5", "--k", "2", "--budget-ms", "60000"),
        ]
    )
    output = capsys.readouterr().out
    assert code == 0
    assert f"user {user} at cutoff 2026-02-01 (premium_30d@v1)" in output
    assert "(version 1)" in output and "seed 5" in output
    assert "feature" in output and "new probability" in output and "n changes" in output
    first = _table_line(output, "ads_30d")
    assert float(first[2]) == float(row["ads_30d"].iloc[0])
    assert float(first[3]) < float(first[2])  # decrease-only lever, never over 0
    assert float(first[3]) >= 0
    assert output.rstrip().endswith(f"note: {CAUSAL_NOTE}")


def test_an_earlier_cutoff_uses_that_row(champion, capsys):
    wide = champion.pivot(index="user_id", columns="cutoff", values="ads_30d")
    moved = wide[(wide[CUTOFFS[0]] > 0) & (wide[CUTOFFS[0]] != wide[CUTOFFS[1]])]
    user = str(moved.index[0])
    code = main(
        [
            *("whatif", "--model", MODEL_URI, "--user", user, "--cutoff", "2026-01-01"),
            *("--target", "0.95", "--budget-ms", "60000"),
        ]
    )
    output = capsys.readouterr().out
    assert code == 0
    assert "at cutoff 2026-01-01" in output
    assert float(_table_line(output, "ads_30d")[2]) == float(moved[CUTOFFS[0]].iloc[0])


def test_unknown_user_cutoff_and_model_are_one_line_errors(champion, capsys):
    base = ["whatif", "--model", MODEL_URI, "--user"]
    assert main([*base, "nobody"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "user 'nobody' has no row in premium_30d@v1" in error
    assert main([*base, "u1", "--cutoff", "2025-06-01"]) == 2
    assert "cutoffs: ['2026-01-01', '2026-02-01']" in capsys.readouterr().err
    assert main(["whatif", "--model", "models:/nope@champion", "--user", "u1"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "models:/nope@champion" in error
    assert main(["whatif", "--user", "u1"]) == 2
    assert "needs --model" in capsys.readouterr().err
