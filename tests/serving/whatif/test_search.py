"""The GA on a real LightGBM model: goals reached when claimed, determinism, diversity, budget."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from serving.whatif import (
    CAUSAL_NOTE,
    ActionSpaceError,
    Goal,
    SearchOptions,
    build_action_space,
    counterfactuals,
    search_counterfactuals,
    suggestions_to_json,
)
from serving.whatif.operators import changed
from serving.whatif.search import dominated


def _queries(product_data, count=12):
    rows, booster = product_data
    probs = booster.predict(rows)
    return rows[(probs > 0.1) & (probs < 0.4)][:count], booster


def _apply(row, space, suggestion):
    after = row.copy()
    for change in (*suggestion.changes, *suggestion.derived):
        after[space.feature_names.index(change.feature)] = change.to_value
    return after


def test_reached_suggestions_really_reach_the_target(product_data, product_space, check_feasible):
    queries, booster = _queries(product_data)
    options = SearchOptions(k=3, max_changes=2)
    result = search_counterfactuals(
        queries, product_space, booster.predict, Goal(target=0.5), options, seed=3
    )
    reached_rows = 0
    for row, row_suggestions in zip(queries, result.suggestions, strict=True):
        reached_rows += any(s.reached for s in row_suggestions)
        for suggestion in row_suggestions:
            after = _apply(row, product_space, suggestion)
            assert not check_feasible(row, after, product_space, max_changes=2)
            rescored = float(booster.predict(after[None, :])[0])
            assert rescored == pytest.approx(suggestion.probability, abs=1e-12)
            assert suggestion.reached == (rescored >= 0.5)
            assert suggestion.gain == pytest.approx(
                rescored - float(booster.predict(row[None, :])[0])
            )
    assert reached_rows >= len(queries) // 2


def test_decreasing_the_30d_count_pulls_the_7d_count_and_recomputes_the_share(
    product_data, product_space
):
    queries, booster = _queries(product_data)
    suggestions = counterfactuals(
        queries, product_space, booster.predict, Goal(target=0.5), SearchOptions(k=3), seed=0
    )
    moved_30d = [
        (row, s)
        for row, row_suggestions in zip(queries, suggestions, strict=True)
        for s in row_suggestions
        if any(c.feature == "count_ad_30d" for c in s.changes)
    ]
    assert moved_30d, "the model punishes ads, so some suggestion should cut count_ad_30d"
    for row, suggestion in moved_30d:
        after = _apply(row, product_space, suggestion)
        assert after[0] <= after[1] <= after[2]
        assert after[3] == pytest.approx(after[1] / after[2])
        assert [c.feature for c in suggestion.derived] == ["share_ad_30d"]


def test_same_seed_same_suggestions_other_seed_still_valid(product_data, product_space):
    queries, booster = _queries(product_data, 6)
    run = [
        counterfactuals(queries, product_space, booster.predict, Goal(), SearchOptions(), seed=s)
        for s in (11, 11, 12)
    ]
    assert run[0] == run[1]
    assert suggestions_to_json(run[0]) == suggestions_to_json(run[1])
    assert all(len(r) > 0 for r in run[2])


def test_suggestions_of_a_row_are_diverse(product_data, product_space):
    queries, booster = _queries(product_data)
    options = SearchOptions(k=3, max_changes=2, min_distance=0.1)
    suggestions = counterfactuals(
        queries, product_space, booster.predict, Goal(target=0.5), options, seed=5
    )
    width = product_space.upper - product_space.lower
    columns = product_space.gene_columns
    assert max(len(r) for r in suggestions) == 3
    for row, row_suggestions in zip(queries, suggestions, strict=True):
        genes = [_apply(row, product_space, s)[columns] for s in row_suggestions]
        for a, b in itertools.combinations(genes, 2):
            same_set = np.array_equal(changed(a, row[columns]), changed(b, row[columns]))
            assert not same_set or np.sum(np.abs(a - b) / width) >= 0.1


def test_time_budget_stops_the_generations_early(product_data, product_space):
    queries, booster = _queries(product_data)
    elapsed_ms = [0.0]

    def slow_score(matrix: np.ndarray) -> np.ndarray:  # each model call takes 1 ms
        elapsed_ms[0] += 1.0
        return booster.predict(matrix)

    def clock() -> float:
        return elapsed_ms[0] / 1000.0

    options = SearchOptions(time_budget_ms=5.5, max_generations=40, patience=40)
    budgeted = search_counterfactuals(
        queries, product_space, slow_score, Goal(), options, 0, clock=clock
    )
    free = search_counterfactuals(
        queries,
        product_space,
        booster.predict,
        Goal(),
        SearchOptions(max_generations=40, patience=40),
        0,
    )
    assert budgeted.stopped_by == "time_budget"
    assert budgeted.generations == 5, "a 6th 1-ms generation would end past 5.5 ms"
    assert elapsed_ms[0] <= 5.5
    assert free.generations == 40
    assert budgeted.n_scored < free.n_scored
    assert all(len(r) > 0 for r in budgeted.suggestions)


def test_gain_goal_respects_the_cost_budget(product_data, product_space, check_feasible):
    queries, booster = _queries(product_data)
    goal = Goal(kind="gain", target=None, max_cost=3.0)
    result = search_counterfactuals(
        queries, product_space, booster.predict, goal, SearchOptions(k=2), seed=2
    )
    gains = []
    for row, row_suggestions in zip(queries, result.suggestions, strict=True):
        for suggestion in row_suggestions:
            after = _apply(row, product_space, suggestion)
            assert not check_feasible(row, after, product_space, max_changes=2, max_cost=3.0)
            assert suggestion.cost <= 3.0 + 1e-9
            gains.append(suggestion.gain)
    assert gains and max(gains) > 0


def test_row_already_at_target_needs_no_change(product_data, product_space):
    rows, booster = product_data
    high = rows[booster.predict(rows) > 0.7][:2]
    suggestions = counterfactuals(high, product_space, booster.predict, Goal(target=0.7))
    assert all(len(r) == 1 and r[0].n_changes == 0 and r[0].reached for r in suggestions)


def test_json_carries_changes_and_the_causal_note(product_data, product_space):
    queries, booster = _queries(product_data, 2)
    payload = suggestions_to_json(
        counterfactuals(queries, product_space, booster.predict, Goal(), SearchOptions(k=1))
    )
    assert len(payload) == 2
    assert payload[0]["note"] == CAUSAL_NOTE
    first = payload[0]["suggestions"][0]
    assert set(first) == {
        "changes",
        "derived",
        "probability",
        "gain",
        "cost",
        "n_changes",
        "reached",
    }
    assert set(first["changes"][0]) == {"feature", "from", "to"}


@pytest.mark.parametrize(
    ("goal_args", "options_args", "message"),
    [
        ({"target": 1.5}, {}, "goal.target"),
        ({"kind": "gain", "target": None}, {}, "goal.max_cost"),
        ({"kind": "best"}, {}, "goal.kind"),
        ({}, {"k": 0}, "options.k"),
        ({}, {"max_changes": 1.5}, "options.max_changes"),
        ({}, {"time_budget_ms": 0}, "options.time_budget_ms"),
    ],
)
def test_bad_goal_or_options_name_the_field(goal_args, options_args, message):
    with pytest.raises(ActionSpaceError, match=message):
        Goal(**goal_args)
        SearchOptions(**options_args)


def test_rows_that_keep_improving_keep_searching():
    names = ["a", "b", "c"]
    actionable = [{"name": n, "direction": "both", "lower": 0, "upper": 100} for n in names]
    space = build_action_space(names, actionable)

    def score(matrix: np.ndarray) -> np.ndarray:  # smooth: cheaper near-misses keep appearing
        return 1.0 / (1.0 + np.exp(-(matrix.sum(axis=1) - 150.0) / 10.0))

    rows = np.full((20, 3), 20.0)
    options = SearchOptions(patience=3, max_generations=30)
    result = search_counterfactuals(rows, space, score, Goal(target=0.5), options, seed=1)
    assert result.generations > 4, "stopped as soon as patience allows: improvements unseen"


@pytest.mark.parametrize("goal", [Goal(target=0.9), Goal(kind="gain", target=None, max_cost=50)])
def test_short_of_the_goal_only_changes_that_raise_the_probability_are_suggested(goal):
    names = ["a", "b"]
    actionable = [{"name": "a", "direction": "increase", "lower": 0, "upper": 100}]
    actionable.append({"name": "b", "direction": "decrease", "lower": 0, "upper": 100})
    space = build_action_space(names, actionable)

    def score(matrix: np.ndarray) -> np.ndarray:  # more `a` lowers it; less `b` raises it
        return 0.5 - matrix[:, 0] / 400 + (50 - matrix[:, 1]) / 1000

    rows = np.array([[10.0, 50.0], [10.0, 0.0]])  # the second row's `b` is at its lower bound
    raised, stuck = counterfactuals(rows, space, score, goal, SearchOptions(k=3), seed=4)
    assert raised and all(s.gain > 0 for s in raised)
    assert all(s.reached == (goal.kind == "gain") for s in raised)  # 0.9 is out of reach
    assert stuck == []  # only more `a` is allowed there, and it lowers the probability


def test_a_candidate_that_adds_a_change_for_nothing_is_dominated():
    moved = np.array([[1, 0], [1, 1], [1, 1], [0, 1], [1, 0]], dtype=bool)
    probs = np.array([0.60, 0.60, 0.70, 0.55, 0.50])
    costs = np.array([10.0, 11.0, 12.0, 3.0, 12.0])
    usable = np.array([True, True, True, True, True])
    # 1 moves 0's feature and one more for no gain at more cost; 4 is 0 made worse and dearer.
    assert dominated(moved, probs, costs, usable).tolist() == [False, True, False, False, True]
    # Only a usable candidate dominates (the row itself, padding the archive, is not one).
    usable[0] = False
    assert dominated(moved, probs, costs, usable).tolist() == [False, False, False, False, False]
