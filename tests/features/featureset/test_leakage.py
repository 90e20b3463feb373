"""The leak checks as tables: label proxies (warn / flag, grouped categoricals) and the
snapshot-like rule for numeric attributes."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from features.featureset.leakage import scan_label_proxies, snapshot_like_unit

START, END = dt.datetime(2024, 1, 1), dt.datetime(2024, 6, 30)
CUTOFFS = pd.Series(pd.to_datetime(["2024-02-01", "2024-03-01", "2024-04-01", "2024-05-01"]))


def _epoch(text: str) -> float:
    return (pd.Timestamp(text) - pd.Timestamp(0)) / pd.Timedelta(seconds=1)


AFTER = [_epoch(t) for t in ("2024-06-20", "2024-06-25 13:07", "2024-06-29", "2024-07-02")]
BEFORE = [_epoch(t) for t in ("2024-01-05", "2024-01-20", "2024-02-10", "2024-03-03")]


@pytest.mark.parametrize(
    ("values", "unit"),
    [
        (AFTER, "seconds"),  # a last session, exported as epoch seconds
        ([v * 1000 for v in AFTER], "milliseconds"),
        ([AFTER[0], AFTER[1], AFTER[2], None], "seconds"),  # missing values are not counted
        ([AFTER[0], AFTER[1], BEFORE[2], BEFORE[3]], None),  # half after: not most
        (BEFORE, None),  # an account-creation date: before the cutoffs
        ([_epoch("1985-03-02"), _epoch("1990-07-14"), _epoch("1979-01-01"), None], None),  # birth
        ([23.0, 41.0, 35.0, 67.0], None),  # ages
        ([9.99, 120.0, 4999.0, 0.5], None),  # prices
        ([None, None, None, None], None),
    ],
)
def test_snapshot_like_rule(values, unit):
    assert snapshot_like_unit(pd.Series(values, dtype="float64"), CUTOFFS, START, END) == unit


def _scan_frame(seed: int = 0, rows: int = 2000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    org = np.arange(rows) % 80
    label = (org % 2 == 0).astype(int)  # 80 organisations, each all-positive or all-negative
    noise = rng.normal(size=rows)
    return pd.DataFrame(
        {
            "label": label,
            # mostly right, sometimes pure noise: AUC a little above 0.90
            "warned": np.where(rng.random(rows) < 0.87, label + 0.1 * noise, noise),
            "strong": label + 0.01 * noise,
            "weak": noise,
            "org_proxy": [f"org{k}" for k in org],  # 25 rows per level
            "org_plain": [f"org{k}" for k in rng.integers(0, 80, rows)],  # unrelated to label
            "row_id": [f"id{k}" for k in range(rows)],  # an id per row
        }
    )


def test_scan_warns_from_090_and_flags_from_095():
    dtypes = {"warned": "numeric", "strong": "numeric", "weak": "numeric"}
    scan = scan_label_proxies(_scan_frame(), dtypes)
    assert 0.90 <= scan["scores"]["warned"] < 0.95, scan["scores"]
    assert scan["flagged"] == ["strong"] and scan["warned"] == ["warned"]
    assert (scan["threshold"], scan["warn_threshold"]) == (0.95, 0.90)


def test_high_cardinality_categoricals_are_scanned_grouped_not_skipped():
    frame = _scan_frame()
    dtypes = {"org_proxy": "categorical", "org_plain": "categorical", "row_id": "categorical"}
    scan = scan_label_proxies(frame, dtypes)
    assert scan["flagged"] == ["org_proxy"]  # 80 levels: skipped before (more than 50)
    assert scan["scores"]["org_plain"] < 0.90
    assert scan["scores"]["row_id"] == 0.5  # every id rare: one level, no signal
