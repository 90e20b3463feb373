"""Shared pieces for the what-if tests: a tiny real LightGBM model and a feasibility check."""

from __future__ import annotations

from collections.abc import Callable

import lightgbm as lgb
import numpy as np
import pytest

from serving.whatif import ActionSpace, build_action_space

NAMES = ["count_ad_7d", "count_ad_30d", "count_events_30d", "share_ad_30d", "tenure_days"]
ACTIONABLE = [
    {"name": "count_ad_7d", "direction": "both", "lower": 0, "upper": 30, "integer": True},
    {
        "name": "count_ad_30d",
        "direction": "both",
        "lower": 0,
        "upper": 90,
        "integer": True,
        "cost": 0.5,
    },
    {
        "name": "count_events_30d",
        "direction": "increase",
        "lower": 0,
        "upper": 400,
        "integer": True,
        "cost": 0.1,
    },
]
COUPLINGS = [
    {"kind": "order", "smaller": "count_ad_7d", "larger": "count_ad_30d"},
    {"kind": "order", "smaller": "count_ad_30d", "larger": "count_events_30d"},
    {
        "kind": "ratio",
        "feature": "share_ad_30d",
        "numerator": "count_ad_30d",
        "denominator": "count_events_30d",
    },
]


def product_rows(rng: np.random.Generator, n: int) -> np.ndarray:
    """Product-like rows that satisfy the couplings above."""
    ad7 = rng.poisson(2, n).astype(float)
    ad30 = ad7 + rng.poisson(6, n)
    events = ad30 + rng.poisson(25, n)
    tenure = rng.uniform(0, 365, n)
    return np.column_stack([ad7, ad30, events, ad30 / events, tenure])


@pytest.fixture(scope="session")
def product_space() -> ActionSpace:
    return build_action_space(NAMES, ACTIONABLE, COUPLINGS)


@pytest.fixture(scope="session")
def product_data() -> tuple[np.ndarray, lgb.Booster]:
    """3,000 synthetic users and a small LightGBM model: more events convert, ads hurt."""
    rng = np.random.default_rng(7)
    rows = product_rows(rng, 3000)
    logit = -2.0 + 0.06 * rows[:, 2] - 4.0 * rows[:, 3] + 0.002 * rows[:, 4]
    labels = (rng.random(len(rows)) < 1.0 / (1.0 + np.exp(-logit))).astype(int)
    params = {"objective": "binary", "verbose": -1, "num_leaves": 8, "num_threads": 1, "seed": 1}
    booster = lgb.train(params, lgb.Dataset(rows, labels), num_boost_round=30)
    return rows, booster


def feasibility_problems(
    before: np.ndarray,
    after: np.ndarray,
    space: ActionSpace,
    max_changes: int | None = None,
    max_cost: float | None = None,
) -> list[str]:
    """Every constraint a suggested row breaks, checked from the spec (not from the operators)."""
    problems = []
    genes = {g.column: g for g in space.genes}
    ratios = {r.column: r for r in space.ratios}
    n_changes, cost = 0, 0.0
    for column, name in enumerate(space.feature_names):
        old, new = before[column], after[column]
        same = old == new or (np.isnan(old) and np.isnan(new))
        if column in ratios:
            ratio = ratios[column]
            num, den = after[ratio.numerator_column], after[ratio.denominator_column]
            parts_moved = not (
                num == before[ratio.numerator_column] and den == before[ratio.denominator_column]
            )
            if parts_moved:
                expected = ratio.on_zero if den == 0 else num / den
                if not np.isclose(new, expected, equal_nan=True):
                    problems.append(f"{name}: ratio {new} != {expected}")
            elif not same:
                problems.append(f"{name}: ratio moved while its parts did not")
            continue
        if same:
            continue
        gene = genes.get(column)
        if gene is None:
            problems.append(f"{name}: immutable moved {old} -> {new}")
            continue
        n_changes += 1
        cost += abs(new - old) * gene.cost
        if not gene.lower <= old <= gene.upper:
            problems.append(f"{name}: moved although the row's value is outside the bounds")
        if not gene.lower <= new <= gene.upper:
            problems.append(f"{name}: {new} outside [{gene.lower}, {gene.upper}]")
        if new > old and gene.direction == "decrease":
            problems.append(f"{name}: decrease-only rose {old} -> {new}")
        if new < old and gene.direction == "increase":
            problems.append(f"{name}: increase-only fell {old} -> {new}")
        if gene.integer and new != np.round(new):
            problems.append(f"{name}: integer became {new}")
    for order in space.orders:
        if after[order.smaller_column] > after[order.larger_column]:
            problems.append(f"coupling {order.smaller} <= {order.larger} broken")
    if max_changes is not None and n_changes > max_changes:
        problems.append(f"{n_changes} changes > max_changes {max_changes}")
    if max_cost is not None and cost > max_cost * (1 + 1e-9) + 1e-12:
        problems.append(f"cost {cost} > max_cost {max_cost}")
    return problems


@pytest.fixture
def check_feasible() -> Callable[..., list[str]]:
    return feasibility_problems
