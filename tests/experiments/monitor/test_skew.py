"""Training/serving skew on tiny frames: equal values never differ, a perturbation is found on
exactly the perturbed rows, and logged rows without a feature-set row are counted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from experiments.monitor.skew import SkewInputError, training_serving_skew

NAMES = ["plays_30d", "recency_days", "city"]


def _rows(n: int, plays: list[float], cities: list[str | None]) -> pd.DataFrame:
    """Feature-set rows as a build writes them: str ids, us timestamps, int64 counts."""
    return pd.DataFrame(
        {
            "user_id": [f"{i}.0" for i in range(n)],
            "cutoff": pd.to_datetime(["2024-03-01"] * n).astype("datetime64[us]"),
            "plays_30d": pd.Series(plays, dtype="float64"),
            "recency_days": np.arange(n, dtype="int64"),
            "city": pd.Series(cities, dtype="str"),
        }
    )


def _logged(rows: pd.DataFrame) -> pd.DataFrame:
    """The same rows as the prediction log holds them: floats, object strings, shuffled."""
    log = rows.astype({"recency_days": "float64", "city": "object"})
    return log.sample(frac=1.0, random_state=0).reset_index(drop=True)


frames = st.integers(1, 12).flatmap(
    lambda n: st.tuples(
        st.just(n),
        st.lists(
            st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False)), min_size=n, max_size=n
        ),
        st.lists(st.sampled_from(["lima", "lagos", None]), min_size=n, max_size=n),
    )
)


@settings(max_examples=60, deadline=None)
@given(frames)
def test_identical_values_never_differ(frame):
    rows = _rows(*frame)
    skew = training_serving_skew(_logged(rows), rows, NAMES)
    assert skew["rows_differing"].tolist() == [0, 0, 0]
    assert skew["rows_compared"].tolist() == [len(rows)] * 3
    assert skew["rows_unmatched"].tolist() == [0, 0, 0]


@settings(max_examples=60, deadline=None)
@given(frames, st.data())
def test_a_perturbed_feature_is_reported_on_exactly_the_perturbed_rows(frame, data):
    rows = _rows(*frame)
    picked = data.draw(st.sets(st.integers(0, len(rows) - 1)))
    delta = data.draw(st.floats(1e-3, 1e3))
    log = rows.astype({"recency_days": "float64"})
    log.loc[sorted(picked), "recency_days"] += delta
    skew = training_serving_skew(_logged(log), rows, NAMES).set_index("feature")
    assert skew["rows_differing"].to_dict() == {
        "plays_30d": 0,
        "recency_days": len(picked),
        "city": 0,
    }
    if picked:
        assert skew.loc["recency_days", "max_abs_difference"] == pytest.approx(delta)


def test_missing_on_one_side_differs_and_on_both_is_equal():
    rows = _rows(3, [1.0, None, None], ["lima", None, None])
    log = rows.copy()
    log.loc[2, ["plays_30d", "city"]] = [5.0, "lima"]
    skew = training_serving_skew(log, rows, NAMES).set_index("feature")
    assert skew.loc["plays_30d", "rows_differing"] == 1
    assert skew.loc["city", "rows_differing"] == 1
    assert skew.loc["city", "kind"] == "categorical"


def test_tiny_float_noise_is_within_the_relative_tolerance():
    rows = _rows(2, [1e6, 3.0], ["lima", "lima"])
    log = rows.assign(plays_30d=rows["plays_30d"] * (1 + 1e-12))
    skew = training_serving_skew(log, rows, NAMES).set_index("feature")
    assert skew.loc["plays_30d", "rows_differing"] == 0


def test_logged_rows_without_a_feature_set_row_are_counted():
    rows = _rows(3, [1.0, 2.0, 3.0], ["lima"] * 3)
    log = pd.concat(
        [
            rows,
            rows.head(1).assign(user_id="stranger"),
            rows.head(1).assign(cutoff=pd.Timestamp("2024-04-01")),
            rows.head(1).assign(user_id=None, cutoff=pd.NaT),  # sent without identity
        ],
        ignore_index=True,
    )
    skew = training_serving_skew(log, rows, NAMES)
    assert skew["rows_compared"].tolist() == [3, 3, 3]
    assert skew["rows_unmatched"].tolist() == [3, 3, 3]


def test_repeated_feature_set_keys_are_refused():
    rows = _rows(2, [1.0, 2.0], ["lima"] * 2).assign(user_id="same")
    with pytest.raises(SkewInputError, match="repeats"):
        training_serving_skew(rows, rows, NAMES)


def test_a_missing_feature_column_names_the_frame():
    rows = _rows(2, [1.0, 2.0], ["lima"] * 2)
    with pytest.raises(SkewInputError, match=r"prediction log.*city"):
        training_serving_skew(rows.drop(columns="city"), rows, NAMES)
