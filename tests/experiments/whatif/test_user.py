"""`usagecast whatif --model URI --user ID`: one user's suggestions as a table, with the note.

The user's row is a scoring row of the model's feature set: today's (the day after the last
event) unless --cutoff names another date.
"""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from contracts.errors import UsagecastError
from contracts.manifest import RowRule
from contracts.workspace import event_store_path
from experiments.whatif import explain_rows, sources
from experiments.whatif.run import UserWhatIf, why_no_row
from features.featureset import load_scoring_rows
from serving.whatif import CAUSAL_NOTE
from usagecast_cli.main import main

MODEL_URI = "models:/premium_30d@champion"
ADS = "count_ADVERTISEMENT_30d"  # the spec model's lever (decrease only)


def _table_line(output: str, feature: str) -> list[str]:
    return next(line.split() for line in output.splitlines() if f" {feature} " in line)


@pytest.mark.slow
def test_whatif_defaults_to_todays_row_of_a_user(spec_champion, capsys):
    code = main(["features", "build", "premium_30d@v1", "--scoring"])
    assert code == 0 and "at cutoff 2024-04-01" in capsys.readouterr().out
    rows, _ = load_scoring_rows("premium_30d@v1")
    row = rows.sort_values(ADS, ascending=False).iloc[0]
    code = main(
        [
            *("whatif", "--model", MODEL_URI, "--user", row["user_id"], "--target", "0.95"),
            *("--seed", "5", "--k", "2", "--budget-ms", "60000"),
        ]
    )
    output = capsys.readouterr().out
    assert code == 0
    assert f"user {row['user_id']} at cutoff 2024-04-01 (premium_30d@v1)" in output
    assert "(version 1)" in output and "seed 5" in output
    assert "feature" in output and "new probability" in output and "n changes" in output
    first = _table_line(output, ADS)
    assert float(first[2]) == float(row[ADS]) > 0
    assert 0 <= float(first[3]) < float(first[2])  # decrease-only lever, never under 0
    assert output.rstrip().endswith(f"note: {CAUSAL_NOTE}")


@pytest.mark.slow
def test_an_earlier_cutoff_uses_that_days_row(spec_champion, capsys):
    today, _ = load_scoring_rows("premium_30d@v1")
    earlier, _ = load_scoring_rows("premium_30d@v1", "2024-03-01")
    both = earlier.merge(today, on="user_id", suffixes=("_then", "_now"))
    moved = both[(both[f"{ADS}_then"] > 0) & (both[f"{ADS}_then"] != both[f"{ADS}_now"])]
    user = str(moved["user_id"].iloc[0])
    code = main(
        [
            *("whatif", "--model", MODEL_URI, "--user", user, "--cutoff", "2024-03-01"),
            *("--target", "0.95", "--budget-ms", "60000"),
        ]
    )
    output = capsys.readouterr().out
    assert code == 0
    assert "at cutoff 2024-03-01" in output
    assert float(_table_line(output, ADS)[2]) == float(moved[f"{ADS}_then"].iloc[0])


@pytest.mark.slow
def test_unknown_user_cutoff_and_model_are_one_line_errors(spec_champion, capsys):
    base = ["whatif", "--model", MODEL_URI, "--user"]
    assert main([*base, "nobody"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "user 'nobody' has no row in premium_30d@v1" in error
    assert "at cutoff 2024-04-01: the event store has no such user" in error
    with duckdb.connect(str(event_store_path()), read_only=True) as con:
        (buyer,) = con.execute(
            "SELECT user_id FROM events WHERE event_type = 'BUY_PREMIUM' "
            "AND event_time < TIMESTAMP '2024-04-01' ORDER BY event_time LIMIT 1"
        ).fetchone()
    assert main([*base, buyer]) == 2
    error = capsys.readouterr().err
    assert "already converted: their first BUY_PREMIUM was on 20" in error
    assert main([*base, "user01", "--cutoff", "2024-06-01"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "may be any date up to 2024-04-01" in error
    assert main(["whatif", "--model", "models:/nope@champion", "--user", "user01"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "models:/nope@champion" in error
    assert main(["whatif", "--user", "user01"]) == 2
    assert "needs --model" in capsys.readouterr().err


@pytest.mark.slow
def test_explain_rows_answers_as_the_served_model_with_the_rows_identity(spec_champion):
    rows, _ = load_scoring_rows("premium_30d@v1")
    chosen = rows.iloc[[2, 0]]
    explained = explain_rows(MODEL_URI, chosen, k=2)
    assert explained["user_id"].tolist() == chosen["user_id"].tolist()
    assert explained["cutoff"].tolist() == chosen["cutoff"].tolist()
    assert all(len(contributions) == 2 for contributions in explained["contributions"])
    model = sources.load_model(MODEL_URI)
    served = model.pyfunc.predict(chosen[list(model.feature_names)])
    assert explained["probability"].tolist() == served["probability"].tolist()


@pytest.mark.slow
def test_explain_rows_without_a_model_feature_names_it(spec_champion):
    rows, _ = load_scoring_rows("premium_30d@v1")
    with pytest.raises(UsagecastError, match=f"each row lacks the model's feature.*{ADS}"):
        explain_rows(MODEL_URI, rows.drop(columns=[ADS]))
    with pytest.raises(UsagecastError, match="explain: param 'k'"):
        explain_rows(MODEL_URI, rows, k=0)


CUTOFF = pd.Timestamp("2024-04-01")
CALENDAR = RowRule(active_within_days=30, not_converted="BUY_PREMIUM", after_signup_days=None)


def _history(signup="2024-01-05", last="2024-03-20", first=None) -> sources.UserHistory:
    stamp = lambda text: None if text is None else pd.Timestamp(text)  # noqa: E731
    return sources.UserHistory(stamp(signup), stamp(last), stamp(first))


@pytest.mark.parametrize(
    ("history", "rule", "reason"),
    [
        (None, CALENDAR, "the event store has no such user"),
        (_history(signup="2024-04-03"), CALENDAR, "they signed up on 2024-04-03, not before"),
        (
            _history(first="2024-02-10"),
            CALENDAR,
            "already converted: their first BUY_PREMIUM was on 2024-02-10",
        ),
        (
            _history(last="2024-02-29"),
            CALENDAR,
            "inactive: their last event was on 2024-02-29, over 30 days before it",
        ),
        (_history(last=None), CALENDAR, "inactive: no event before it"),
        (_history(last="2024-03-02"), CALENDAR, "not eligible then"),  # 30 days: still active
        (
            _history(last=None),
            RowRule(None, None, after_signup_days=14),
            "their cutoff, signup + 14 days, is not yet reached or its label window has closed",
        ),
    ],
)
def test_why_a_user_has_no_row_names_the_first_rule_that_leaves_them_out(history, rule, reason):
    assert why_no_row(history, rule, CUTOFF).startswith(reason)


def test_a_rows_own_cutoff_is_named_when_it_stands_before_the_scoring_day():
    def header(row_cutoff: str) -> str:
        result = UserWhatIf(
            *("models:/m@champion", "1", "trial@v1", "u1", "2024-07-01", 0.2, 0.5, 0, 1000),
            suggestions=(),
            note="n",
            row_cutoff=row_cutoff,
        )
        return result.summary().splitlines()[0]

    assert header("2024-07-01").startswith("user u1 at cutoff 2024-07-01 (trial@v1), model")
    assert header("2024-06-12").startswith(
        "user u1 at cutoff 2024-07-01 (trial@v1; features as of the row's own cutoff, "
        "2024-06-12), model"
    )
