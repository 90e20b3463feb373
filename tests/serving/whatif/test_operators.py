"""serving/whatif/operators.py: budget shrinking keeps candidates exactly inside their bounds."""

from __future__ import annotations

import numpy as np

from serving.whatif.operators import change_cost, shrink_to_budget


def test_a_candidate_within_budget_keeps_its_exact_value():
    """2.9 + (-2.0 - 2.9) is -2.0000000000000004: a bound of -2.0 would be crossed."""
    base = np.array([[2.9, 5.0]])
    pop = np.array([[[-2.0, 5.0]]])
    shrunk = shrink_to_budget(pop, base, np.array([False, False]), np.ones(2), max_cost=10.0)
    assert shrunk[0, 0, 0] == -2.0


def test_a_shrunk_candidate_stays_between_the_row_and_the_proposal_and_fits_the_budget():
    rng = np.random.default_rng(7)
    base = rng.normal(0, 3, (50, 4))
    pop = base[:, None, :] + rng.normal(0, 8, (50, 6, 4))
    unit_cost = np.array([0.3, 1.0, 2.0, 0.7])
    shrunk = shrink_to_budget(pop, base, np.zeros(4, dtype=bool), unit_cost, max_cost=1.5)
    row = base[:, None, :]
    assert (shrunk >= np.minimum(row, pop)).all() and (shrunk <= np.maximum(row, pop)).all()
    assert (change_cost(shrunk, base, unit_cost) <= 1.5 * (1 + 1e-9)).all()
