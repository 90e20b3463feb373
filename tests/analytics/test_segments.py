"""k-means segments: seeded, numbered by size, profiles against the overall means."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics import cluster_profiles
from contracts.errors import UsagecastError


def two_groups(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "plays": np.r_[rng.normal(5, 1, 60), rng.normal(50, 1, 20)],
            "likes": np.r_[rng.normal(1, 0.1, 60), rng.normal(1, 0.1, 20)],
            "constant": 3.0,
            "label": np.r_[np.zeros(60), np.ones(20)],
        }
    )


def test_segments_recover_the_planted_groups():
    table = cluster_profiles(two_groups(1), ["plays", "likes", "constant"], k=2, seed=0)
    assert table["size"].tolist() == [60, 20]
    assert table["conversion_rate"].tolist() == [0.0, 1.0]
    assert table["mean_plays"].iloc[1] > 45
    assert table["z_plays"].iloc[1] > 1.5 and table["z_constant"].tolist() == [0.0, 0.0]


def test_same_seed_same_table():
    frame = two_groups(2)
    first = cluster_profiles(frame, ["plays", "likes"], k=3, seed=5)
    pd.testing.assert_frame_equal(first, cluster_profiles(frame, ["plays", "likes"], k=3, seed=5))


def test_k_must_fit_the_rows():
    with pytest.raises(UsagecastError, match="k must be between 2"):
        cluster_profiles(two_groups(3), ["plays"], k=1, seed=0)
