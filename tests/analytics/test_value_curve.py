"""Value per user by days since signup: worked by hand, against a brute-force reference, on
Spark and on a real-shaped export."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics import Filters
from analytics.value_curve import purchase_days, value_curve, value_curve_table
from contracts.errors import UsagecastError
from usagecast_cli.main import main

from .conftest import at, ingest_export

USERS = [
    ("a", at(0), "ads"),
    ("b", at(0), "seo"),
    ("c", at(5), "ads"),
    ("e", at(0), None),
]
EVENTS = [
    ("a", at(0, 6), "BUY", "shop", 10.0),  # day 0
    ("a", at(3), "BUY", "shop", 5.0),  # day 3
    ("a", at(6), "REFUND", "shop", -10.0),  # day 6, when refunds are purchases
    ("b", at(-1), "BUY", "shop", 7.0),  # before signup: not b's value
    ("c", at(6), "BUY", "shop", 20.0),  # day 1
    ("c", at(9, 12), "BUY", "shop", None),  # day 4, a purchase worth 0, past c's follow-up
    ("e", at(9, 23), "PLAY", "home", None),  # the data ends a second after it
]


def test_each_days_value_is_over_the_users_followed_through_it(tiny_store):
    engine = tiny_store(USERS, EVENTS)
    curve = value_curve(engine, ["BUY"], days=10)
    # a, b and e are followed 9 whole days, c (signed up on day 5) 4.
    assert curve["users"].tolist() == [4, 4, 4, 4, 3, 3, 3, 3, 3, 0]
    assert curve["value_per_user"].tolist()[:9] == pytest.approx(
        [10 / 4, 30 / 4, 30 / 4, 35 / 4, 5, 5, 5, 5, 5]
    )
    assert curve["buyers_share"].tolist()[:9] == pytest.approx([1 / 4, *[2 / 4] * 3, *[1 / 3] * 5])
    assert curve[["value_per_user", "buyers_share"]].iloc[-1].isna().all()  # nobody that long
    refunds = value_curve(engine, ["BUY", "REFUND"], days=10)
    assert refunds["value_per_user"].tolist()[6:9] == pytest.approx([5 / 3] * 3)


def test_filters_and_a_breakdown_choose_the_users(tiny_store):
    engine = tiny_store(USERS, EVENTS)
    ads = value_curve(engine, ["BUY"], Filters(segment="channel = 'ads'"), days=5)
    assert ads["users"].tolist() == [2, 2, 2, 2, 1]
    assert ads["value_per_user"].tolist() == pytest.approx([5, 15, 15, 17.5, 15])
    # The range's end ends the data: c signed up at it, so is not a user; a, b and e are
    # followed 5 days.
    early = purchase_days(engine, ["BUY"], Filters(end=at(5)))
    assert sorted(early["user_id"].unique()) == ["a", "b", "e"]
    assert early["followed_days"].unique().tolist() == [5]
    assert purchase_days(engine, ["BUY"], Filters(start=at(1)))["user_id"].unique().tolist() == [
        "c"
    ]
    by_channel = value_curve(engine, ["BUY"], days=3, breakdown="channel")
    assert by_channel["channel"].unique().tolist() == ["(missing)", "ads", "seo"]
    alone = value_curve(engine, ["BUY"], Filters(segment="channel = 'ads'"), days=3)
    part = by_channel[by_channel["channel"] == "ads"].drop(columns="channel")
    pd.testing.assert_frame_equal(part.reset_index(drop=True), alone)
    with pytest.raises(UsagecastError, match="an area filter does not apply"):
        purchase_days(engine, ["BUY"], Filters(area_prefix="shop"))
    with pytest.raises(UsagecastError, match="a window of 0 days after signup"):
        value_curve(engine, ["BUY"], days=0)


def test_days_count_from_a_start_event_and_its_value_is_day_0s(tiny_store):
    engine = tiny_store(USERS, EVENTS)
    # From each user's first BUY: a's at 6 h (then 5 at 2.75 days, followed 9 whole days),
    # b's before signup (followed 10), c's on day 6 (followed 3); e never bought.
    curve = value_curve(engine, ["BUY"], days=4, start_event="BUY")
    assert curve["users"].tolist() == [3, 3, 3, 2]
    assert curve["value_per_user"].tolist() == pytest.approx([37 / 3, 37 / 3, 14, 11])
    assert curve["buyers_share"].tolist() == [1.0] * 4
    later = purchase_days(engine, ["BUY"], Filters(start=at(0)), start_event="BUY")
    assert sorted(later["user_id"].unique()) == ["a", "c"]


def reference_curve(rows: list[tuple[int, list[tuple[int, float]]]], days: int) -> pd.DataFrame:
    """Day by day in plain Python: users followed through the day, their summed value to it."""
    out = []
    for day in range(days):
        followed = [purchases for days_followed, purchases in rows if days_followed > day]
        value = sum(v for purchases in followed for when, v in purchases if when <= day)
        buyers = sum(1 for purchases in followed if any(when <= day for when, _ in purchases))
        count = len(followed)
        out.append(
            (day, count, value / count if count else np.nan, buyers / count if count else np.nan)
        )
    return pd.DataFrame(out, columns=["day", "users", "value_per_user", "buyers_share"])


PURCHASE = st.tuples(st.integers(0, 12), st.sampled_from([0.0, 1.5, 9.99, -4.0, 100.0]))


@settings(max_examples=80, deadline=None)
@given(
    users=st.lists(st.tuples(st.integers(0, 12), st.lists(PURCHASE, max_size=4)), max_size=8),
    days=st.integers(1, 14),
)
def test_the_curve_is_the_brute_force_reference(users, days):
    rows = [
        (f"u{index}", followed, float(day), value)
        for index, (followed, purchases) in enumerate(users)
        for day, value in purchases
    ] + [(f"u{index}", followed, np.nan, np.nan) for index, (followed, _) in enumerate(users)]
    frame = pd.DataFrame(rows, columns=["user_id", "followed_days", "day", "value"])
    curve = value_curve_table(frame, days)
    expected = reference_curve(users, days)
    assert curve["users"].tolist() == expected["users"].tolist()
    for column in ("value_per_user", "buyers_share"):
        assert curve[column].tolist() == pytest.approx(expected[column].tolist(), nan_ok=True)


@pytest.mark.spark
def test_spark_reads_the_same_purchase_days(duck_and_spark):
    duck, spark = duck_and_spark(USERS, EVENTS)
    cases = [(Filters(), None), (Filters(segment="channel = 'ads'", end=at(8)), None)]
    for filters, start in [*cases, (Filters(start=at(0)), "BUY")]:
        on_spark = purchase_days(spark, ["BUY", "REFUND"], filters, start_event=start)
        on_duck = purchase_days(duck, ["BUY", "REFUND"], filters, start_event=start)
        order = ["user_id", "day"]
        pd.testing.assert_frame_equal(
            on_spark.sort_values(order, ignore_index=True),
            on_duck.sort_values(order, ignore_index=True),
        )


# A billing export as users bring one: BOMs, dates without times, ids written as floats by a
# spreadsheet, a blank id (quarantined), a duplicated row, a refund and an amount left blank.
EXPORT_USERS = """\ufeffCustomer,Signed up,Plan
1.0,2024-03-01,team
2.0,2024-03-01,solo
3.0,2024-03-10,team
"""
EXPORT_EVENTS = """\ufeffCustomer,Date,Type,Amount
1.0,2024-03-01,charge,20.00
1.0,2024-03-01,charge,20.00
1.0,2024-03-05,refund,-5.00
2.0,2024-03-09,charge,
,2024-03-09,charge,8.00
3.0,2024-03-11,charge,40.00
2.0,2024-03-20,login,
"""
EXPORT_CONFIG = """name: billing
users:
  files: users.csv
  columns: {user_id: Customer, signup_time: Signed up}
  attributes: {plan: {column: Plan, kind: static, dtype: categorical}}
events:
  files: events.csv
  columns: {user_id: Customer, timestamp: Date, event_type: Type, value: Amount}
"""


def test_cli_value_curve_on_a_billing_export(tmp_path, capsys):
    files = {"users.csv": EXPORT_USERS, "events.csv": EXPORT_EVENTS}
    ingest_export(tmp_path, files, EXPORT_CONFIG)
    capsys.readouterr()
    args = ["analytics", "value-curve", "--purchase-event", "charge", "--purchase-event", "refund"]
    assert main([*args, "--days", "14", "--log"]) == 0
    out = capsys.readouterr().out
    # The data ends with Mar 20: 1 and 2 are followed 20 days, 3 for 11. Day 0: 1's charge
    # (its duplicate row dropped); day 4: 1's refund; day 8: 2's charge without an amount;
    # day 1 of 3: its charge.
    blocks = [block.splitlines() for block in out.split("\n\n")]
    assert [line.split() for line in blocks[0][1:3]] == [
        ["1d", "7d", "14d"],
        [f"{20 / 3:.4g}", f"{(15 + 40) / 3:.4g}", "7.5"],
    ]
    assert [line.split() for line in blocks[1][1:3]] == [
        ["1d", "7d", "14d"],
        [f"{1 / 3:.4g}", f"{2 / 3:.4g}", "1"],
    ]
    assert [line.split() for line in blocks[2][1:3]] == [["1d", "7d", "14d"], ["3", "3", "2"]]
    (run,) = mlflow.search_runs(experiment_names=["analytics"], output_format="list")
    assert run.data.params["purchase_events"] == "charge,refund"
    artifacts = {item.path for item in mlflow.MlflowClient().list_artifacts(run.info.run_id)}
    assert artifacts == {"value_curve.csv", "value_curve.parquet", "value_curve.png"}
    assert main([*args, "--breakdown", "plan", "--days", "7"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[2:4]]
    assert rows == [["solo", "0", "0"], ["team", "10", "27.5"]]
    assert main([*args, "--segment", "plan = 'enterprise'"]) == 0
    assert "no user in the segment signed up" in capsys.readouterr().out
    assert main(["analytics", "value-curve"]) == 2
    assert "no --purchase-event given" in capsys.readouterr().err
    # From each customer's first charge (Mar 1, Mar 9 without an amount, Mar 11): 1's 20 and
    # then its refund on day 4, 2's 0, 3's 40.
    assert main([*args, "--from-event", "charge", "--days", "7"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [out[1].split(), out[2].split()] == [["1d", "7d"], ["20", f"{55 / 3:.4g}"]]
    assert main([*args, "--from-event", "signup"]) == 2
    assert "'signup' is not in the event store" in capsys.readouterr().err
