"""Policy simulation: apply one lever change to every row of a segment and total the effect.

A change is `FEATURE OP NUMBER` with OP one of `= += -= *= /=` (e.g.
`count_ADVERTISEMENT_30d *= 0.5`); it is parsed, never evaluated. The feature must be
actionable. Per row the new value is clipped to what the row may reach (direction and bounds,
see `constraints.row_bounds`), integer features round toward the row's value (a lever is
never over-applied), the features coupled to the lever follow by the manifest's couplings
(a halved 30-day count halves its 7-day count and lowers its 90-day count by as much; active
days stay within their day bounds; the days since the last event follow the active days and
counts; constraints.py) and ratios are recomputed from their parts; `PolicyResult.moved_with`
counts the rows each of them moved on. Rows where the lever cannot move are kept and counted
as unchanged: their predicted effect is 0.

The expected number of extra conversions is the sum over rows of p_after - p_before; its
interval is a percentile bootstrap over rows with a seeded Generator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from serving.whatif.constraints import ActionSpace, ActionSpaceError, as_matrix, row_bounds
from serving.whatif.operators import changed, materialize, repair
from serving.whatif.search import CAUSAL_NOTE, ScoreFn

OPERATORS = ("+=", "-=", "*=", "/=", "=")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")
BOOTSTRAP_CELLS = 2_000_000


@dataclass(frozen=True)
class LeverChange:
    """A parsed change expression."""

    feature: str
    operator: str
    value: float
    expression: str

    def apply(self, values: np.ndarray) -> np.ndarray:
        """The values the change asks for, before any constraint."""
        if self.operator == "=":
            return np.full_like(values, self.value)
        if self.operator == "+=":
            return values + self.value
        if self.operator == "-=":
            return values - self.value
        if self.operator == "*=":
            return values * self.value
        return values / self.value


@dataclass(frozen=True)
class PolicyResult:
    """Predicted conversion before/after a lever change over a segment's rows."""

    change: LeverChange
    n_rows: int
    n_changed: int
    before: np.ndarray
    after: np.ndarray
    mean_before: float
    mean_after: float
    expected_extra: float
    interval_low: float
    interval_high: float
    level: float
    n_bootstrap: int
    seed: int
    note: str = CAUSAL_NOTE
    # The features the change moved besides the lever (couplings), with the rows each moved on.
    moved_with: tuple[tuple[str, int], ...] = ()


def parse_change(expression: str) -> LeverChange:
    """Parse `FEATURE OP NUMBER`; the error names the part that is wrong."""
    text = expression.strip()
    name = _NAME.match(text)
    if name is None:
        raise ActionSpaceError(
            f"change {expression!r}: expected a feature name at the start, got {text[:20]!r}"
        )
    rest = text[name.end() :].lstrip()
    operator = next((op for op in OPERATORS if rest.startswith(op)), None)
    if operator is None:
        raise ActionSpaceError(
            f"change {expression!r}: expected an operator ({' '.join(OPERATORS)}) after "
            f"{name.group()!r}, got {rest[:10]!r}"
        )
    literal = rest[len(operator) :].strip()
    if not _NUMBER.fullmatch(literal):
        raise ActionSpaceError(f"change {expression!r}: value {literal!r} is not a number literal")
    value = float(literal)
    if operator == "/=" and value == 0:
        raise ActionSpaceError(f"change {expression!r}: division by zero")
    return LeverChange(name.group(), operator, value, expression)


def apply_change(
    rows: object, space: ActionSpace, change: LeverChange
) -> tuple[np.ndarray, np.ndarray]:
    """Rows after the change (model columns) and which rows' lever actually moved."""
    if change.feature not in space.gene_names:
        raise ActionSpaceError(
            f"change {change.expression!r}: feature {change.feature!r} is not actionable; "
            f"actionable features: {', '.join(space.gene_names) or '(none)'} (a model takes "
            "them from its feature set's `actionable:` entries: add the lever there, in a new "
            "version, then build, tune and promote it)"
        )
    x0 = as_matrix(rows, space)
    gene = space.gene_names.index(change.feature)
    base = x0[:, space.gene_columns]
    lo, hi = row_bounds(space, x0)
    wanted = change.apply(base[:, gene])
    step = wanted - base[:, gene]
    if space.genes[gene].integer:
        wanted = base[:, gene] + np.trunc(step)
    proposal = base.copy()
    proposal[:, gene] = np.clip(wanted, lo[:, gene], hi[:, gene])
    # Nothing here is random (no change limit to enforce); the Generator only fills the slot.
    fixed = repair(
        np.random.default_rng(0),
        proposal[:, None, :],
        base,
        lo,
        hi,
        space,
        len(space.genes),
        None,
    )
    moved = changed(fixed[:, 0, gene], base[:, gene])
    return materialize(x0, fixed, space), moved


def bootstrap_sum_interval(
    values: np.ndarray, n_bootstrap: int, level: float, rng: np.random.Generator
) -> tuple[float, float]:
    """Percentile interval of sum(values) under resampling rows with replacement."""
    n = values.size
    if n == 0:
        return 0.0, 0.0
    sums = np.empty(n_bootstrap)
    chunk = max(1, BOOTSTRAP_CELLS // n)
    for start in range(0, n_bootstrap, chunk):
        stop = min(start + chunk, n_bootstrap)
        sums[start:stop] = values[rng.integers(0, n, (stop - start, n))].sum(axis=1)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(sums, [tail, 1.0 - tail])
    return float(low), float(high)


def simulate_policy(
    rows: object,
    space: ActionSpace,
    score_fn: ScoreFn,
    change: LeverChange | str,
    seed: int,
    n_bootstrap: int = 1000,
    level: float = 0.95,
) -> PolicyResult:
    """Predicted conversions before/after the change and the expected extra conversions."""
    if isinstance(change, str):
        change = parse_change(change)
    if not 0.0 < level < 1.0:
        raise ActionSpaceError(f"level: must be in (0, 1), got {level!r}")
    if n_bootstrap < 1:
        raise ActionSpaceError(f"n_bootstrap: must be >= 1, got {n_bootstrap!r}")
    x0 = as_matrix(rows, space)
    after_rows, moved = apply_change(x0, space, change)
    rows_moved = changed(after_rows, x0).sum(axis=0)
    moved_with = tuple(
        (name, int(n))
        for name, n in zip(space.feature_names, rows_moved, strict=True)
        if n and name != change.feature
    )
    scores = np.asarray(score_fn(np.concatenate([x0, after_rows])), dtype=float)
    before, after = scores[: len(x0)], scores[len(x0) :]
    delta = after - before
    low, high = bootstrap_sum_interval(delta, n_bootstrap, level, np.random.default_rng(seed))
    return PolicyResult(
        change=change,
        n_rows=len(x0),
        n_changed=int(moved.sum()),
        before=before,
        after=after,
        mean_before=float(before.mean()) if len(x0) else 0.0,
        mean_after=float(after.mean()) if len(x0) else 0.0,
        expected_extra=float(delta.sum()),
        moved_with=moved_with,
        interval_low=low,
        interval_high=high,
        level=level,
        n_bootstrap=n_bootstrap,
        seed=seed,
    )
