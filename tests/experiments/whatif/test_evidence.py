"""The two-model uplift learner on data whose uplift is known."""

from __future__ import annotations

import numpy as np
import pytest

from contracts.errors import UsagecastError
from experiments.whatif.evidence import two_model_uplift


def _experiment(seed: int, n: int = 4000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x in {0, 1} and noise; treatment lifts conversion from 0.2 to 0.5 where x = 1 only."""
    rng = np.random.default_rng(seed)
    x = np.column_stack([rng.integers(0, 2, n), rng.normal(size=n)])
    treated = rng.random(n) < 0.5
    p = np.where(treated & (x[:, 0] == 1), 0.5, 0.2)
    return x, treated, (rng.random(n) < p).astype(int)


def test_uplift_is_found_where_the_treatment_acts_and_only_there() -> None:
    x, treated, label = _experiment(0)
    control, treatment = two_model_uplift(x, treated, label, seed=0)
    probe, _, _ = _experiment(5)  # fresh users, averaged per segment as the policy does
    uplift = treatment.predict_proba(probe)[:, 1] - control.predict_proba(probe)[:, 1]
    acts = probe[:, 0] == 1
    assert uplift[acts].mean() == pytest.approx(0.3, abs=0.08)
    assert uplift[~acts].mean() == pytest.approx(0.0, abs=0.08)


def test_same_seed_same_models() -> None:
    x, treated, label = _experiment(1, n=600)
    first, second = (two_model_uplift(x, treated, label, seed=3) for _ in range(2))
    assert np.array_equal(first[1].predict_proba(x), second[1].predict_proba(x))


def test_an_arm_with_one_outcome_is_an_error() -> None:
    x, treated, label = _experiment(2, n=200)
    with pytest.raises(UsagecastError, match="treatment arm"):
        two_model_uplift(x, treated, np.where(treated, 0, label), seed=0)
