"""Pure, vectorised genetic operators over a population of gene values.

Shapes: `base` is (rows, genes), the query rows' own gene values; `lo`/`hi` are (rows, genes)
from `constraints.row_bounds`; a population is (rows, candidates, genes). Every function that
draws random numbers takes a numpy Generator and touches no global state.

`repair` is the projection every candidate passes through before it is scored: afterwards the
candidate lies in its row's intervals (so immutables, directions and bounds hold), integer
genes hold whole numbers, at most `max_changes` genes differ from the row, every order
coupling between genes holds and the cost is within `max_cost`. A candidate that cannot be
repaired otherwise falls back to the row itself (no change), which is always feasible.
"""

from __future__ import annotations

import numpy as np

from serving.whatif.constraints import ActionSpace, follow

ORDER_PASSES = 4
RESET_SHARE = 0.35


def changed(pop: np.ndarray, base: np.ndarray) -> np.ndarray:
    """Which genes differ from the row (a missing value left missing is unchanged)."""
    ref = base[:, None, :] if pop.ndim == 3 else base
    return (pop != ref) & ~(np.isnan(pop) & np.isnan(ref))


def change_cost(pop: np.ndarray, base: np.ndarray, unit_cost: np.ndarray) -> np.ndarray:
    """Sum over genes of |new - old| times the gene's cost per unit, shape (rows, candidates)."""
    delta = np.where(changed(pop, base), np.abs(pop - base[:, None, :]), 0.0)
    return delta @ unit_cost


def _movable(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return hi > lo


def _round_integer(values: np.ndarray, integer: np.ndarray) -> np.ndarray:
    return np.where(integer, np.round(values), values)


def init_population(
    rng: np.random.Generator,
    base: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    integer: np.ndarray,
    size: int,
    max_changes: int,
) -> np.ndarray:
    """Candidates that each move 1..max_changes movable genes, small moves more likely.

    A moved gene goes a share u**2 (u uniform) of the way to the bound on a side it may move
    to, so cheap changes dominate the start; integer genes move at least one unit.
    """
    rows, genes = base.shape
    movable = np.broadcast_to(_movable(lo, hi)[:, None, :], (rows, size, genes))
    keys = np.where(movable, rng.random((rows, size, genes)), np.inf)
    n_moves = rng.integers(1, max(max_changes, 1) + 1, size=(rows, size, 1))
    if genes == 0:
        return np.repeat(base[:, None, :], size, axis=1)
    nth = np.take_along_axis(np.sort(keys, axis=2), np.minimum(n_moves, genes) - 1, axis=2)
    chosen = movable & (keys <= nth)
    up_room = (hi - base)[:, None, :]
    down_room = (base - lo)[:, None, :]
    go_up = np.where(
        (up_room > 0) & (down_room > 0),
        rng.random((rows, size, genes)) < 0.5,
        up_room > 0,
    )
    room = np.where(go_up, up_room, down_room)
    step = rng.random((rows, size, genes)) ** 2 * room
    step = np.where(integer, np.minimum(np.ceil(step), room), step)
    moved = base[:, None, :] + np.where(go_up, step, -step)
    return np.where(chosen, moved, base[:, None, :])


def mutate(
    rng: np.random.Generator,
    pop: np.ndarray,
    base: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    integer: np.ndarray,
    rate: float,
    scale: float,
) -> np.ndarray:
    """Each movable gene, with probability `rate`, resets to the row's value or takes a
    Gaussian step of `scale` times its interval width (then clipped and rounded)."""
    draw = rng.random(pop.shape)
    hit = (draw < rate) & _movable(lo, hi)[:, None, :]
    reset = draw < rate * RESET_SHARE
    where = np.nonzero(hit & ~reset)
    width = (hi - lo)[where[0], where[2]]
    step = rng.normal(0.0, 1.0, width.shape) * scale * width
    step = np.where(integer[where[2]] & (np.abs(step) < 1), np.sign(step), step)
    stepped = pop[where] + step
    stepped = np.where(integer[where[2]], np.round(stepped), stepped)
    mutated = np.where(hit & reset, base[:, None, :], pop)
    mutated[where] = np.clip(stepped, lo[where[0], where[2]], hi[where[0], where[2]])
    return mutated


def crossover(rng: np.random.Generator, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Uniform crossover: each gene from either parent with equal chance."""
    return np.where(rng.random(first.shape) < 0.5, first, second)


def tournament(rng: np.random.Generator, fitness: np.ndarray, count: int) -> np.ndarray:
    """Indices (rows, count) of binary-tournament winners; lower fitness wins."""
    rows, size = fitness.shape
    a = rng.integers(0, size, (rows, count))
    b = rng.integers(0, size, (rows, count))
    take_b = np.take_along_axis(fitness, b, 1) < np.take_along_axis(fitness, a, 1)
    return np.where(take_b, b, a)


def limit_changes(
    rng: np.random.Generator, pop: np.ndarray, base: np.ndarray, max_changes: int
) -> np.ndarray:
    """Revert randomly chosen changed genes until at most `max_changes` differ from the row."""
    moved = changed(pop, base)
    keys = np.where(moved, rng.random(pop.shape), np.inf)
    if max_changes >= pop.shape[2]:
        return pop
    cutoff = np.partition(keys, max_changes - 1, axis=2)[..., max_changes - 1 : max_changes]
    return np.where(moved & (keys > cutoff), base[:, None, :], pop)


def enforce_orders(
    pop: np.ndarray,
    base: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    integer: np.ndarray,
    pairs: tuple[tuple[int, int], ...],
) -> np.ndarray:
    """Make `gene[small] <= gene[large]` hold for each pair, staying inside [lo, hi].

    `lo`/`hi` broadcast against `pop`. When the larger side moved down, the smaller follows it
    (if it may go that low); otherwise the larger side is lifted to the smaller one (if it may
    go that high); otherwise both return to the row's values. A few passes settle chains;
    `repair` reverts anything still inconsistent.
    """
    pop = pop.copy()
    for _ in range(ORDER_PASSES):
        settled = True
        for small, large in pairs:
            a, b = pop[..., small], pop[..., large]
            broken = a > b
            if not broken.any():
                continue
            settled = False
            lo_a, hi_a = lo[..., small], hi[..., small]
            lo_b, hi_b = lo[..., large], hi[..., large]
            a0, b0 = base[:, None, small], base[:, None, large]
            follow = broken & (b != b0) & (lo_a <= b)
            lift = broken & ~follow & (hi_b >= a)
            undo = broken & ~follow & ~lift
            a_follow = np.clip(np.floor(b) if integer[small] else b, lo_a, hi_a)
            b_lift = np.clip(np.ceil(a) if integer[large] else a, lo_b, hi_b)
            pop[..., small] = np.where(follow, a_follow, np.where(undo, a0, a))
            pop[..., large] = np.where(lift, b_lift, np.where(undo, b0, b))
        if settled:
            break
    return pop


def orders_hold(pop: np.ndarray, pairs: tuple[tuple[int, int], ...]) -> np.ndarray:
    """Whether every order pair holds, shape (rows, candidates); missing values never break."""
    ok = np.ones(pop.shape[:2], dtype=bool)
    for small, large in pairs:
        ok &= ~(pop[..., small] > pop[..., large])
    return ok


def shrink_to_budget(
    pop: np.ndarray,
    base: np.ndarray,
    integer: np.ndarray,
    unit_cost: np.ndarray,
    max_cost: float,
) -> np.ndarray:
    """Scale each over-budget candidate's changes toward the row until its cost fits.

    Integer changes round toward the row, so cost only falls and every interval and order
    pair that held still holds (both are convex and contain the row). Candidates within budget
    are returned as they are (row + (value - row) can differ from value in the last bit), and
    a shrunk value is held on the segment from the row to the candidate for the same reason.
    """
    cost = change_cost(pop, base, unit_cost)
    over = cost > max_cost
    share = np.where(over, max_cost / np.where(cost > 0, cost, 1.0), 1.0)
    row = base[:, None, :]
    delta = (pop - row) * share[..., None]
    delta = np.where(integer, np.trunc(delta), delta)
    shrunk = np.clip(row + delta, np.minimum(row, pop), np.maximum(row, pop))
    return np.where(over[..., None] & changed(pop, base), shrunk, pop)


def repair(
    rng: np.random.Generator,
    pop: np.ndarray,
    base: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    space: ActionSpace,
    max_changes: int,
    max_cost: float | None,
) -> np.ndarray:
    """Project candidates onto the constraints (see the module docstring)."""
    integer = space.integer
    pairs = space.gene_pairs()
    lo3, hi3 = lo[:, None, :], hi[:, None, :]
    pop = np.clip(_round_integer(pop, integer), lo3, hi3)
    pop = enforce_orders(pop, base, lo3, hi3, integer, pairs)
    pop = limit_changes(rng, pop, base, max_changes)
    moved = changed(pop, base)
    pop = enforce_orders(
        pop,
        base,
        np.where(moved, lo3, base[:, None, :]),
        np.where(moved, hi3, base[:, None, :]),
        integer,
        pairs,
    )
    if max_cost is not None:
        pop = shrink_to_budget(pop, base, integer, space.unit_cost, max_cost)
    ok = orders_hold(pop, pairs)
    if max_cost is not None:
        ok &= change_cost(pop, base, space.unit_cost) <= max_cost * (1 + 1e-9)
    return np.where(ok[..., None], pop, base[:, None, :])


def materialize(x0: np.ndarray, pop: np.ndarray, space: ActionSpace) -> np.ndarray:
    """Full model rows (rows * candidates, features) for a population, followers moved with
    their genes (window couplings) and ratios recomputed.

    A ratio is recomputed from its parts only where a part moved; elsewhere it keeps the row's
    value exactly, so an unchanged candidate scores exactly like its row.
    """
    rows, size, _ = pop.shape
    before = np.repeat(x0, size, axis=0)
    full = before.copy()
    full[:, space.gene_columns] = pop.reshape(rows * size, -1)
    for rule in space.follows:  # a column with several rules (a recency) takes them in turn
        full[:, rule.column] = follow(
            full[:, rule.column], before[:, rule.driver], full[:, rule.driver], rule
        )
    for ratio in space.ratios:
        parts = [ratio.numerator_column, ratio.denominator_column]
        moved = changed(full[:, parts], before[:, parts]).any(axis=1)
        num = full[:, ratio.numerator_column]
        den = full[:, ratio.denominator_column]
        with np.errstate(divide="ignore", invalid="ignore"):
            value = np.where(den == 0, ratio.on_zero, num / den)
        full[:, ratio.column] = np.where(moved, value, full[:, ratio.column])
    return full
