"""The genetic what-if search: k diverse, feasible changes per query row.

All query rows evolve together: each generation builds one (rows * population, features)
matrix and makes ONE call to `score_fn`, which returns the probability of the wanted outcome
per row (for an outcome to avoid, e.g. churn, pass `lambda X: 1 - p(X)`).

Goals:
- `Goal(kind="reach", target=p)`: reach probability >= p at the lowest cost, with few changes;
  an optional `max_cost` caps the cost.
- `Goal(kind="gain", max_cost=C)`: the largest probability whose cost is <= C.

Fitness (lower is better) ranks candidates that meet the goal first, by
cost * (1 + CHANGE_WEIGHT * (n_changes - 1)); the rest by how far they fall short.
`n_changes` counts actionable features that moved, a coupled follower included (a 7-day count
pulled down with its 30-day count is a change the user makes, and counts toward
`max_changes`); recomputed ratios and the followers that are no actionable feature (the days
since the last event a raised active-day count brings into its window) are listed in
`Suggestion.derived` and do not count.

Diversity: the k suggestions of a row are chosen greedily by fitness; a candidate joins only
if, against every suggestion already chosen, it changes a different set of features or its
range-normalised L1 distance (sum of |difference| / (upper - lower)) is >= `min_distance`.
A candidate that another one dominates (it moves a subset of the features and reaches at least
the probability at no more cost) is never suggested: a change added for nothing is noise.
When some candidate reaches the target, only such candidates are suggested; otherwise the
closest ones that raise the probability are, flagged `reached=False`, and none when no change
tried raises it (a change that lowers the probability answers nothing the user asked: there
the model predicts no more as the actionable features move their allowed ways). A row that already
meets the target gets one suggestion with no changes.

Stopping: after `max_generations`; for each row when its best fitness has not improved for
`patience` generations (the row leaves the batch); or before a generation that, judged by the
last one, would end past `time_budget_ms` (for the whole call, all rows, from the start of
the call; the first generation always runs). The clock is a parameter so tests can drive it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from serving.whatif.constraints import ActionSpace, ActionSpaceError, as_matrix, row_bounds
from serving.whatif.operators import (
    change_cost,
    changed,
    crossover,
    init_population,
    materialize,
    mutate,
    repair,
    tournament,
)

ScoreFn = Callable[[np.ndarray], np.ndarray]
CHANGE_WEIGHT = 0.25
SHORTFALL_OFFSET = 2.0
GOAL_KINDS = ("reach", "gain")
CAUSAL_NOTE = (
    "What-if numbers are the model's predictions on observational data, not measured effects "
    "of an intervention; test a lever (e.g. an experiment) before relying on it."
)


@dataclass(frozen=True)
class Goal:
    """What a suggestion must achieve; see the module docstring."""

    kind: str = "reach"
    target: float | None = 0.5
    max_cost: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in GOAL_KINDS:
            raise ActionSpaceError(f"goal.kind: {self.kind!r} is not one of {GOAL_KINDS}")
        if self.kind == "reach" and (self.target is None or not 0.0 <= self.target <= 1.0):
            raise ActionSpaceError(f"goal.target: must be in [0, 1], got {self.target!r}")
        if self.kind == "gain" and self.max_cost is None:
            raise ActionSpaceError("goal.max_cost: required when goal.kind is 'gain'")
        if self.max_cost is not None and not self.max_cost >= 0:
            raise ActionSpaceError(f"goal.max_cost: must be >= 0, got {self.max_cost!r}")


@dataclass(frozen=True)
class SearchOptions:
    """How hard and how wide to search."""

    k: int = 3
    max_changes: int = 2
    time_budget_ms: float | None = None
    population: int = 48
    max_generations: int = 40
    patience: int = 8
    mutation_rate: float = 0.3
    mutation_scale: float = 0.15
    elite: int = 6
    archive: int = 32
    min_distance: float = 0.1

    def __post_init__(self) -> None:
        for name in ("k", "max_changes", "population", "max_generations", "patience", "archive"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ActionSpaceError(f"options.{name}: must be an integer >= 1, got {value!r}")
        if not 0 <= self.elite < self.population:
            raise ActionSpaceError(
                f"options.elite: must be in [0, population), got {self.elite!r}"
            )
        if self.time_budget_ms is not None and not self.time_budget_ms > 0:
            raise ActionSpaceError(
                f"options.time_budget_ms: must be > 0, got {self.time_budget_ms!r}"
            )


@dataclass(frozen=True)
class Change:
    """One feature moved: from the row's value to the suggested one."""

    feature: str
    from_value: float
    to_value: float


@dataclass(frozen=True)
class Suggestion:
    """A feasible change set for one row and what the model predicts after it."""

    changes: tuple[Change, ...]
    derived: tuple[Change, ...]
    probability: float
    gain: float
    cost: float
    n_changes: int
    reached: bool


@dataclass(frozen=True)
class SearchResult:
    """Suggestions per row plus what the search spent."""

    suggestions: list[list[Suggestion]]
    base_probability: np.ndarray
    generations: int
    n_scored: int
    stopped_by: str
    seed: int
    extra: dict[str, float] = field(default_factory=dict)


def _fitness(prob: np.ndarray, cost: np.ndarray, n_changes: np.ndarray, goal: Goal) -> np.ndarray:
    effort = cost * (1.0 + CHANGE_WEIGHT * np.maximum(n_changes - 1, 0))
    squashed = effort / (1.0 + effort)
    if goal.kind == "gain":
        return -prob + 1e-6 * squashed
    return np.where(prob >= goal.target, squashed, SHORTFALL_OFFSET + (goal.target - prob))


def _subset_keys(moved: np.ndarray) -> np.ndarray:
    """A number per candidate naming its set of changed genes (exact up to 52 genes)."""
    return moved.astype(float) @ np.exp2(np.arange(moved.shape[-1]) % 52)


def _merge_archive(
    pop: np.ndarray, fit: np.ndarray, prob: np.ndarray, base: np.ndarray, size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keep per row the best candidate of each changed-feature set first, then the next best.

    No-change candidates are dropped, and so are repeats: candidates with the same changed set
    and the same fitness count as one. The archive is padded with the row itself, at infinite
    fitness, while fewer than `size` candidates exist."""
    if pop.shape[1] < size:
        missing = size - pop.shape[1]
        pop = np.concatenate([pop, np.repeat(base[:, None, :], missing, axis=1)], axis=1)
        fit = np.concatenate([fit, np.full((len(fit), missing), np.inf)], axis=1)
        prob = np.concatenate([prob, np.zeros((len(prob), missing))], axis=1)
    moved = changed(pop, base)
    keys = _subset_keys(moved)
    fit = np.where(keys > 0, fit, np.inf)
    order = np.lexsort((fit, keys), axis=1)
    fit, keys = _take(fit, order), _take(keys, order)
    same_set = np.zeros_like(fit, dtype=bool)
    same_set[:, 1:] = keys[:, 1:] == keys[:, :-1]
    repeat = np.zeros_like(same_set)
    repeat[:, 1:] = same_set[:, 1:] & (fit[:, 1:] == fit[:, :-1])
    fit = np.where(repeat, np.inf, fit)
    priority = np.where(same_set, fit + 10.0, fit)
    keep = np.argsort(priority, axis=1, kind="stable")[:, :size]
    chosen = _take(order, keep)
    return _take(pop, chosen), _take(fit, keep), _take(prob, chosen)


def _take(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Per-row gather along the candidate axis, for (rows, n) and (rows, n, genes) arrays."""
    return values[np.arange(len(index))[:, None], index]


def _distance(a: np.ndarray, b: np.ndarray, width: np.ndarray) -> float:
    diff = np.where(np.isnan(a) & np.isnan(b), 0.0, np.abs(a - b))
    return float(np.sum(diff / width))


def dominated(
    moved: np.ndarray, probs: np.ndarray, costs: np.ndarray, usable: np.ndarray
) -> np.ndarray:
    """Which of one row's candidates a usable other one beats: it moves a subset of their
    features (`moved`: candidates x genes) and reaches at least their probability at no more
    cost, and differs in one of the three."""
    subset = (moved[:, None, :] <= moved[None, :, :]).all(axis=2)  # [d, c]: moved[d] <= moved[c]
    no_worse = (probs[:, None] >= probs[None, :]) & (costs[:, None] <= costs[None, :])
    better = (
        (probs[:, None] > probs[None, :])
        | (costs[:, None] < costs[None, :])
        | (moved[:, None, :] != moved[None, :, :]).any(axis=2)
    )
    return (subset & no_worse & better & usable[:, None]).any(axis=0)


def pick_diverse(
    candidates: np.ndarray,
    fitness: np.ndarray,
    allowed: np.ndarray,
    base: np.ndarray,
    width: np.ndarray,
    k: int,
    min_distance: float,
    probs: np.ndarray,
    costs: np.ndarray,
) -> list[int]:
    """Greedy choice of up to k of one row's `allowed` candidate indices, none dominated (see
    the module docstring)."""
    usable = np.isfinite(fitness) & allowed
    usable &= ~dominated(changed(candidates, base), probs, costs, usable)
    chosen: list[int] = []
    sets: list[np.ndarray] = []
    for index in np.argsort(fitness, kind="stable"):
        if not usable[index]:
            continue
        moved = changed(candidates[index], base)
        if all(
            not np.array_equal(moved, other_set)
            or _distance(candidates[index], candidates[other], width) >= min_distance
            for other, other_set in zip(chosen, sets, strict=True)
        ):
            chosen.append(int(index))
            sets.append(moved)
        if len(chosen) == k:
            break
    return chosen


def _changes(names: tuple[str, ...], before: np.ndarray, after: np.ndarray) -> tuple[Change, ...]:
    moved = changed(after, before)
    return tuple(
        Change(names[i], float(before[i]), float(after[i])) for i in np.flatnonzero(moved)
    )


def derived_columns_of(space: ActionSpace) -> tuple[int, ...]:
    """The model columns a suggestion moves besides its genes, in the order they are worked
    out: the followers that are no gene (a 7-day count under its 30-day one, the days since
    the last event brought into a window whose active days went up), then the ratios."""
    genes = set(space.gene_columns.tolist())
    followers = [f.column for f in space.follows if f.column not in genes]
    return tuple(dict.fromkeys([*followers, *(ratio.column for ratio in space.ratios)]))


def search_counterfactuals(
    rows: object,
    space: ActionSpace,
    score_fn: ScoreFn,
    goal: Goal,
    options: SearchOptions,
    seed: int,
    clock: Callable[[], float] = time.perf_counter,
) -> SearchResult:
    """Run the GA over all query rows at once; see the module docstring."""
    started = clock()
    rng = np.random.default_rng(seed)
    x0 = as_matrix(rows, space)
    n_rows = x0.shape[0]
    base = x0[:, space.gene_columns]
    lo, hi = row_bounds(space, x0)
    max_cost = goal.max_cost
    width = np.where(space.upper > space.lower, space.upper - space.lower, 1.0)

    def evaluate(at: np.ndarray, pop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        prob = np.asarray(score_fn(materialize(x0[at], pop, space)), dtype=float)
        prob = prob.reshape(pop.shape[0], pop.shape[1])
        n_changes = changed(pop, base[at]).sum(axis=2)
        cost = change_cost(pop, base[at], space.unit_cost)
        return prob, _fitness(prob, cost, n_changes, goal)

    every = np.arange(n_rows)
    pop = init_population(
        rng, base, lo, hi, space.integer, options.population, options.max_changes
    )
    pop = repair(rng, pop, base, lo, hi, space, options.max_changes, max_cost)
    pop = np.concatenate([base[:, None, :], pop], axis=1)
    prob, fit = evaluate(every, pop)
    n_scored = pop.shape[0] * pop.shape[1]
    base_prob = prob[:, 0]
    pop, fit, prob = pop[:, 1:], fit[:, 1:], prob[:, 1:]
    archive, archive_fit, archive_prob = _merge_archive(pop, fit, prob, base, options.archive)
    # Rows leave the search once their best fitness stops improving, or if nothing can move.
    stale = np.zeros(n_rows, dtype=int)
    active = np.flatnonzero((hi > lo).any(axis=1))
    if goal.kind == "reach":
        active = active[base_prob[active] < goal.target]
    generations, stopped_by = 1, "generations"
    last_tick = clock()
    n_children = options.population - options.elite
    while generations < options.max_generations:
        now = clock()
        # Stop when one more generation (as long as the last one) would overrun the budget.
        if options.time_budget_ms is not None and (
            (2 * now - started - last_tick) * 1000.0 >= options.time_budget_ms
        ):
            stopped_by = "time_budget"
            break
        last_tick = now
        active = active[stale[active] < options.patience]
        if active.size == 0:
            stopped_by = "converged"
            break
        at = active if active.size < n_rows else slice(None)
        row_base, row_lo, row_hi = base[at], lo[at], hi[at]
        pool = np.concatenate([archive[at], pop[at]], axis=1)
        pool_fit = np.concatenate([archive_fit[at], fit[at]], axis=1)
        first = _take(pool, tournament(rng, pool_fit, n_children))
        second = _take(pool, tournament(rng, pool_fit, n_children))
        children = crossover(rng, first, second)
        children = mutate(
            rng,
            children,
            row_base,
            row_lo,
            row_hi,
            space.integer,
            options.mutation_rate,
            options.mutation_scale,
        )
        children = repair(
            rng, children, row_base, row_lo, row_hi, space, options.max_changes, max_cost
        )
        new_pop = np.concatenate([archive[at, : options.elite], children], axis=1)
        new_prob, new_fit = evaluate(at, new_pop)
        n_scored += new_pop.shape[0] * new_pop.shape[1]
        generations += 1
        best_before = archive_fit[at, 0].copy()  # `at` may be a slice: keep a copy
        merged = _merge_archive(
            np.concatenate([archive[at], new_pop], axis=1),
            np.concatenate([archive_fit[at], new_fit], axis=1),
            np.concatenate([archive_prob[at], new_prob], axis=1),
            row_base,
            options.archive,
        )
        archive[at], archive_fit[at], archive_prob[at] = merged
        pop[at], fit[at] = new_pop, new_fit
        improved = archive_fit[at, 0] < best_before - 1e-12
        stale[at] = np.where(improved, 0, stale[at] + 1)

    suggestions = [
        _row_suggestions(
            r,
            x0,
            base,
            base_prob[r],
            archive[r],
            archive_fit[r],
            archive_prob[r],
            space,
            goal,
            options,
            width,
        )
        for r in range(n_rows)
    ]
    return SearchResult(
        suggestions,
        base_prob,
        generations,
        n_scored,
        stopped_by,
        seed,
        {"seconds": clock() - started},
    )


def _row_suggestions(
    r: int,
    x0: np.ndarray,
    base: np.ndarray,
    base_prob: float,
    candidates: np.ndarray,
    fitness: np.ndarray,
    probs: np.ndarray,
    space: ActionSpace,
    goal: Goal,
    options: SearchOptions,
    width: np.ndarray,
) -> list[Suggestion]:
    if goal.kind == "reach" and base_prob >= goal.target:
        return [Suggestion((), (), float(base_prob), 0.0, 0.0, 0, True)]
    raised = probs > base_prob
    reached = probs >= goal.target if goal.kind == "reach" else raised
    costs = change_cost(candidates[None], base[r : r + 1], space.unit_cost)[0]
    chosen = pick_diverse(
        candidates,
        fitness,
        reached if reached.any() else raised,
        base[r],
        width,
        options.k,
        options.min_distance,
        probs,
        costs,
    )
    if not chosen:
        return []
    derived_columns = np.array(derived_columns_of(space), dtype=np.intp)
    derived_names = tuple(space.feature_names[c] for c in derived_columns)
    full = materialize(x0[r : r + 1], candidates[None, chosen], space)
    cost = costs[chosen]
    result = []
    for j, index in enumerate(chosen):
        changes = _changes(space.gene_names, base[r], candidates[index])
        derived = _changes(derived_names, x0[r, derived_columns], full[j, derived_columns])
        result.append(
            Suggestion(
                changes,
                derived,
                float(probs[index]),
                float(probs[index] - base_prob),
                float(cost[j]),
                len(changes),
                bool(reached[index]),
            )
        )
    return result


def counterfactuals(
    rows: object,
    space: ActionSpace,
    score_fn: ScoreFn,
    goal: Goal | None = None,
    options: SearchOptions | None = None,
    seed: int = 0,
) -> list[list[Suggestion]]:
    """k diverse suggestions per query row (the served `mode: whatif` entry point)."""
    return search_counterfactuals(
        rows, space, score_fn, goal or Goal(), options or SearchOptions(), seed
    ).suggestions


def lowered(suggestions: list[list[Suggestion]]) -> list[list[Suggestion]]:
    """Suggestions of a search on 1 - p (an outcome to lower, such as churn), stated in p:
    the new probability 1 - q, and the gain as the change in p (a drop, negative)."""
    return [
        [replace(s, probability=1.0 - s.probability, gain=-s.gain) for s in row]
        for row in suggestions
    ]


def suggestions_to_json(
    suggestions: list[list[Suggestion]], direction: str = "raise"
) -> list[dict[str, object]]:
    """One JSON-ready object per query row: its suggestions, whether they `raise` the
    probability toward the target or `lower` it (an outcome to avoid, churn), and the
    causal-honesty note."""
    return [
        {
            "direction": direction,
            "suggestions": [
                {
                    "changes": [_change_json(c) for c in s.changes],
                    "derived": [_change_json(c) for c in s.derived],
                    "probability": s.probability,
                    "gain": s.gain,
                    "cost": s.cost,
                    "n_changes": s.n_changes,
                    "reached": s.reached,
                }
                for s in row
            ],
            "note": CAUSAL_NOTE,
        }
        for row in suggestions
    ]


def _change_json(change: Change) -> dict[str, object]:
    return {"feature": change.feature, "from": change.from_value, "to": change.to_value}
