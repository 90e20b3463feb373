"""Hypothesis properties: every operator and the search keep every constraint, for any spec."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from serving.whatif import (
    ActionSpace,
    Goal,
    SearchOptions,
    apply_change,
    build_action_space,
    parse_change,
    search_counterfactuals,
)
from serving.whatif.constraints import row_bounds
from serving.whatif.operators import (
    changed,
    crossover,
    init_population,
    limit_changes,
    materialize,
    mutate,
    repair,
    tournament,
)

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@st.composite
def specs_and_rows(draw: st.DrawFn) -> tuple[ActionSpace, np.ndarray]:
    """A random model layout, actionable genes, order/ratio couplings and consistent rows."""
    n_features = draw(st.integers(2, 7))
    names = [f"f{i}" for i in range(n_features)]
    ratio_column = n_features - 1 if n_features >= 4 and draw(st.booleans()) else None
    plain = [i for i in range(n_features) if i != ratio_column]
    gene_columns = draw(st.lists(st.sampled_from(plain), min_size=1, unique=True))
    actionable = []
    for column in gene_columns:
        lower = draw(st.integers(-5, 5))
        actionable.append(
            {
                "name": names[column],
                "direction": draw(st.sampled_from(["increase", "decrease", "both"])),
                "lower": lower,
                "upper": lower + draw(st.integers(0, 12)),
                "integer": draw(st.booleans()),
                "cost": draw(st.sampled_from([0.0, 0.5, 1.0, 3.0])),
            }
        )
    pairs = draw(
        st.lists(
            st.tuples(st.sampled_from(plain), st.sampled_from(plain)).filter(
                lambda p: p[0] < p[1]
            ),
            unique=True,
            max_size=3,
        )
    )
    couplings: list[dict] = [
        {"kind": "order", "smaller": names[a], "larger": names[b]} for a, b in pairs
    ]
    if ratio_column is not None:
        couplings.append(
            {
                "kind": "ratio",
                "feature": names[ratio_column],
                "numerator": "f0",
                "denominator": "f1",
            }
        )
    space = build_action_space(names, actionable, couplings)
    n_rows = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    rows = np.round(rng.uniform(-7, 18, (n_rows, n_features)), draw(st.sampled_from([0, 2])))
    rows[rng.random(rows.shape) < 0.05] = np.nan
    for column in range(n_features):  # make the rows satisfy the order couplings
        for a, b in pairs:
            if b == column:
                rows[:, b] = np.fmax(rows[:, b], rows[:, a])
    if ratio_column is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            rows[:, ratio_column] = np.where(rows[:, 1] == 0, 0.0, rows[:, 0] / rows[:, 1])
    return space, rows


def _assert_rows_feasible(check, x0, full, space, max_changes=None, max_cost=None):
    size = len(full) // len(x0)
    for i, row in enumerate(full):
        problems = check(x0[i // size], row, space, max_changes, max_cost)
        assert not problems, (problems, x0[i // size], row)


@SETTINGS
@given(case=specs_and_rows(), max_changes=st.integers(1, 3), seed=st.integers(0, 1000))
def test_init_and_mutation_stay_in_row_intervals(case, max_changes, seed, check_feasible):
    space, x0 = case
    rng = np.random.default_rng(seed)
    base = x0[:, space.gene_columns]
    lo, hi = row_bounds(space, x0)
    pop = init_population(rng, base, lo, hi, space.integer, 16, max_changes)
    assert (changed(pop, base).sum(axis=2) <= max_changes).all()
    pop = mutate(rng, pop, base, lo, hi, space.integer, 0.5, 0.3)
    inside = ((pop >= lo[:, None]) & (pop <= hi[:, None])) | ~changed(pop, base)
    assert inside.all()
    whole = ~space.integer | (pop == np.round(pop)) | ~changed(pop, base)
    assert whole.all()


@SETTINGS
@given(case=specs_and_rows(), seed=st.integers(0, 1000))
def test_crossover_takes_each_gene_from_a_parent(case, seed):
    space, x0 = case
    rng = np.random.default_rng(seed)
    first = rng.normal(size=(len(x0), 8, len(space.genes)))
    second = rng.normal(size=first.shape)
    child = crossover(rng, first, second)
    assert ((child == first) | (child == second)).all()


@SETTINGS
@given(case=specs_and_rows(), max_changes=st.integers(1, 3), seed=st.integers(0, 1000))
def test_limit_changes_caps_the_number_of_moved_genes(case, max_changes, seed):
    space, x0 = case
    rng = np.random.default_rng(seed)
    base = x0[:, space.gene_columns]
    pop = base[:, None, :] + rng.integers(-2, 3, (len(x0), 8, len(space.genes)))
    limited = limit_changes(rng, pop, base, max_changes)
    assert (changed(limited, base).sum(axis=2) <= max_changes).all()
    kept = changed(limited, base)
    assert (limited[kept] == pop[kept]).all()


@SETTINGS
@given(
    case=specs_and_rows(),
    max_changes=st.integers(1, 3),
    max_cost=st.sampled_from([None, 0.5, 4.0]),
    seed=st.integers(0, 1000),
)
def test_repair_projects_any_proposal_onto_the_constraints(
    case, max_changes, max_cost, seed, check_feasible
):
    space, x0 = case
    rng = np.random.default_rng(seed)
    base = x0[:, space.gene_columns]
    lo, hi = row_bounds(space, x0)
    wild = base[:, None, :] + rng.normal(0, 8, (len(x0), 12, len(space.genes)))
    fixed = repair(rng, wild, base, lo, hi, space, max_changes, max_cost)
    full = materialize(x0, fixed, space)
    _assert_rows_feasible(check_feasible, x0, full, space, max_changes, max_cost)


def _monotone_score(space: ActionSpace, weights: np.ndarray):
    def score(matrix: np.ndarray) -> np.ndarray:
        filled = np.nan_to_num(matrix, nan=0.0)
        return 1.0 / (1.0 + np.exp(-(filled @ weights[: matrix.shape[1]]) / 4.0))

    return score


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    case=specs_and_rows(),
    max_changes=st.integers(1, 2),
    goal=st.sampled_from(
        [
            Goal(target=0.3),
            Goal(target=0.9),
            Goal(target=0.6, max_cost=2.0),
            Goal(kind="gain", target=None, max_cost=1.5),
        ]
    ),
    seed=st.integers(0, 1000),
)
def test_search_output_is_feasible_and_honest(case, max_changes, goal, seed, check_feasible):
    space, x0 = case
    weights = np.random.default_rng(seed).normal(size=x0.shape[1])
    score = _monotone_score(space, weights)
    options = SearchOptions(k=2, max_changes=max_changes, population=12, max_generations=6)
    result = search_counterfactuals(x0, space, score, goal, options, seed=seed)
    assert len(result.suggestions) == len(x0)
    for i, row_suggestions in enumerate(result.suggestions):
        assert len(row_suggestions) <= 2
        for suggestion in row_suggestions:
            after = x0[i].copy()
            for change in (*suggestion.changes, *suggestion.derived):
                after[space.feature_names.index(change.feature)] = change.to_value
            assert not check_feasible(x0[i], after, space, max_changes, goal.max_cost)
            assert suggestion.n_changes == len(suggestion.changes) <= max_changes
            rescored = float(score(after[None, :])[0])
            assert np.isclose(rescored, suggestion.probability)
            if goal.kind == "reach":
                assert suggestion.reached == (rescored >= goal.target)
            else:
                assert suggestion.reached == (suggestion.gain > 0)
        for a, b in itertools.permutations(row_suggestions, 2):  # none adds a change for nothing
            moved = {c.feature for c in b.changes}
            assert not (
                {c.feature for c in a.changes} < moved
                and a.probability >= b.probability
                and a.cost <= b.cost
            )


@SETTINGS
@given(
    fitness=st.lists(st.floats(-5, 5), min_size=1, max_size=12),
    seed=st.integers(0, 1000),
)
def test_tournament_picks_existing_candidates_and_favours_the_fit(fitness, seed):
    values = np.array([fitness, fitness[::-1]])
    winners = tournament(np.random.default_rng(seed), values, 200)
    assert winners.shape == (2, 200)
    assert ((winners >= 0) & (winners < len(fitness))).all()
    picked = np.take_along_axis(values, winners, 1)
    assert picked.mean() <= values.mean(axis=1).max() + 1e-9


@SETTINGS
@given(
    case=specs_and_rows(),
    operator=st.sampled_from(["=", "+=", "-=", "*=", "/="]),
    value=st.sampled_from([-3.0, 0.5, 2.0, 7.25]),
    pick=st.integers(0, 100),
)
def test_policy_changes_stay_feasible(case, operator, value, pick, check_feasible):
    space, x0 = case
    feature = space.genes[pick % len(space.genes)].name
    after, moved = apply_change(x0, space, parse_change(f"{feature} {operator} {value}"))
    for before_row, after_row in zip(x0, after, strict=True):
        assert not check_feasible(before_row, after_row, space)
    column = space.feature_names.index(feature)
    assert (moved == changed(after[:, column], x0[:, column])).all()
