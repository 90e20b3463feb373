"""The skew and business report sections, and the skew alert rule, on tiny frames."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments.business import BusinessOptions, Capacity, Economics, business_metrics
from experiments.monitor.checks import SKEW, skew_findings
from experiments.monitor.config import Thresholds, thresholds_from_mapping
from experiments.monitor.sections import business_section, cutoff_list, skew_section
from experiments.monitor.skew import training_serving_skew
from serving.prediction_log import PREDICTION_LOG_ENV

NAMES = ["plays_30d", "ads_30d", "city"]


def _skew(plays_off: int, ads_off: int, rows: int = 100) -> pd.DataFrame:
    """The skew table of `rows` logged rows, `plays_off` / `ads_off` of them served wrong."""
    offline = pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in range(rows)],
            "cutoff": pd.Timestamp("2024-05-01"),
            "plays_30d": np.arange(rows, dtype="int64"),
            "ads_30d": np.arange(rows, dtype="int64") % 7,
            "city": ["lima"] * rows,
        }
    )
    served = offline.astype({"plays_30d": "float64", "ads_30d": "float64"})
    served.loc[: plays_off - 1, "plays_30d"] -= 1  # a stale count
    served.loc[: ads_off - 1, "ads_30d"] += 2
    return training_serving_skew(served, offline, NAMES)


@pytest.mark.parametrize(
    ("plays_off", "ads_off", "limit", "alerted"),
    [
        (0, 0, 0.01, []),
        (1, 0, 0.01, []),  # 1% is not above 1%
        (2, 0, 0.01, ["plays_30d"]),
        (50, 3, 0.01, ["plays_30d", "ads_30d"]),
        (50, 3, 0.05, ["plays_30d"]),
        (1, 0, 0.0, ["plays_30d"]),
    ],
)
def test_skew_alerts_on_a_share_strictly_above_the_threshold(plays_off, ads_off, limit, alerted):
    found = skew_findings(_skew(plays_off, ads_off), Thresholds(skew_share_alert=limit))
    assert [f.subject for f in found] == alerted
    assert all(f.level == "alert" and f.measure == SKEW for f in found)


def test_the_skew_threshold_is_read_from_a_config():
    assert thresholds_from_mapping({"skew_share_alert": 0.2}, "t.yaml").skew_share_alert == 0.2


def test_no_compared_row_crosses_nothing():
    table = _skew(0, 0).assign(rows_compared=0, share_differing=math.nan)
    assert skew_findings(table, Thresholds(skew_share_alert=0.0)) == ()


def test_the_skew_section_puts_the_worst_feature_first():
    section = skew_section(_skew(3, 40), "100 logged rows", Thresholds())
    table = [line for line in section.lines if line.startswith("| ") and "---" not in line]
    assert [line.split(" | ")[0] for line in table[1:]] == ["| ads_30d", "| plays_30d", "| city"]
    assert "Worst: ads_30d (40.00%), plays_30d (3.00%)." in section.lines
    assert section.metrics["skew_share.ads_30d"] == 0.4
    assert section.metrics["skew_rows_compared"] == 100
    assert set(section.figures) == {"skew"}


def test_the_business_section_holds_tunes_metrics_prefixed():
    rng = np.random.default_rng(0)
    probabilities = rng.random(200)
    labels = (rng.random(200) < probabilities).astype(float)
    options = BusinessOptions(Capacity(fraction=0.1), Economics(1.0, 20.0))
    section = business_section(labels, probabilities, options, "200 rows")
    expected = business_metrics(labels, probabilities, options)
    assert section.metrics == {f"business.{k}": v for k, v in expected.items()}
    assert section.params == {"capacity": "0.1", "contact_cost": "1", "conversion_value": "20"}
    assert set(section.figures) == {"profit_curve"}
    capacity_only = business_section(labels, probabilities, BusinessOptions(Capacity(count=5)), "")
    assert capacity_only.figures == {} and "business.capacity_rows" in capacity_only.metrics


def test_monitor_reads_by_default_the_log_usagecast_serve_writes_by_default(monkeypatch):
    from contracts.workspace import workspace_dir
    from experiments.monitor.run import default_prediction_log

    monkeypatch.delenv(PREDICTION_LOG_ENV, raising=False)
    assert (
        default_prediction_log("premium_30d") == workspace_dir() / "prediction_log" / "premium_30d"
    )
    monkeypatch.setenv(PREDICTION_LOG_ENV, "/srv/log")
    assert default_prediction_log("premium_30d") == Path("/srv/log")


def test_open_cutoffs_are_listed_or_summed_up_past_six():
    days = tuple(pd.Timestamp("2024-06-02") + pd.Timedelta(days=k) for k in range(31))
    assert cutoff_list(()) == "none"
    assert cutoff_list(days[:2]) == "2024-06-02, 2024-06-03"
    assert cutoff_list(days) == "31 cutoffs, 2024-06-02 .. 2024-07-02"
