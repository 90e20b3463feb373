"""What may change in a what-if: actionable genes, their bounds, couplings between features.

Built from the feature-set manifest's `actionable` and `couplings` lists (docs/architecture.md):

    actionable: [{name, direction: increase|decrease|both, lower, upper, integer, cost,
                  causal: increases|decreases (optional)}, ...]
    couplings:  [{kind: order, smaller: count_X_7d, larger: count_X_30d},
                 {kind: ratio, feature: share_X_30d, numerator: count_X_30d,
                  denominator: count_events_30d, on_zero: 0.0},
                 {kind: window, shorter: active_days_7d, longer: active_days_30d,
                  shorter_days: 7, longer_days: 30},
                 {kind: recency, days: active_days_30d, recency: days_since_last_event,
                  window_days: 30},
                 {kind: recency, events: count_PLAY_30d, recency: days_since_last_PLAY,
                  window_days: 30},
                 {kind: recency, events: count_PLAY_30d, recency: days_since_last_event,
                  window_days: 30, recency_sees: more},
                 {kind: recency, days: active_days_30d, recency: days_since_last_PLAY,
                  window_days: 30, recency_sees: fewer},
                 {kind: activity, events: count_PLAY_7d, days: active_days_30d},
                 {kind: sessions, days: active_days_30d, sessions: sessions_30d},
                 {kind: trend, count: count_PLAY_30d, trend: trend_PLAY_30d}]

Every feature that is not actionable is immutable. `lower`/`upper` bound the values a change
may reach (for integer genes they are tightened to whole numbers); `cost` is the price of one
unit of change (default 1.0); `causal` is the spec's causal prior, read by training (monotone
constraints), not by the search. An `order` coupling says `smaller <= larger` must hold in every
suggestion. A `ratio` coupling says the feature is derived from its parts: it is never
actionable itself and is recomputed as numerator / denominator whenever a part moves
(`on_zero` when the denominator is 0), and left exactly as it was otherwise.

A `recency` coupling says the days since the last event and the active days (`days`) or the
count of events (`events`) of a window describe the same events: k > 0 active days in the last
`window_days` put the last event at most window_days - k + 1 days back, k > 0 events at most
window_days back, none put it over window_days back. `recency_sees: more` when the recency
also sees events the driver does not count (the last event of any type against a count of one
type): a driver at 0 then says nothing about it; `fewer` when the driver counts events the
recency does not see (active days of every type against the last event of one): only a driver
at 0 does. When a what-if moves the driver (a gene or a follower), the recency follows to the
nearest value that holds (unchanged when it already holds; the bound itself when the row had
no event and k > 0; no event stays none at 0), applied after the window followers, each
coupling in turn.

An `activity` coupling says events counted in a window make a day of an active-days window at
least as long active: when a what-if moves the count to k > 0, active days that are no gene
become at least 1 (a count at 0 says nothing: other types' events may remain). Applied after
the window followers and before the recencies, which then follow the active days too.

A `sessions` coupling says the sessions of a window happen on its active days: when a what-if
moves the active days by d (a gene, a window or an activity follower), sessions that are no
gene move by d too (each day added brings a session, each day taken away takes one; at least
1 while a day is active, 0 when none is). Applied after the activity followers, before the
recencies.

A `trend` coupling says the trend of a window ((count + 1) / (count of the window before +
1)) moves with the window's count, the window before it being history: when a what-if moves
the count from c to c', a trend that is no gene becomes trend * (c' + 1) / (c + 1).

A `window` coupling says two windows of one additive feature share events: when a what-if
moves one of them and the other is not itself actionable, the other follows (`Follow`) instead
of blocking the change. A longer window scaled by a factor scales its shorter window by the
same factor (the change acts on the window's events alike); a shorter window's change adds the
same amount to the longer one. Integer followers round toward the row's value. With
`shorter_days`/`longer_days` (distinct active days) the follower also stays within the day
bounds: shorter <= shorter_days and longer - shorter <= longer_days - shorter_days. Followers
follow followers along chains (7d -> 30d -> 90d); a feature may follow only one gene.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from contracts.errors import UsagecastError
from contracts.manifest import FeatureSetManifest, plain_json

DIRECTIONS = ("increase", "decrease", "both")
ACTIONABLE_KEYS = ("name", "direction", "lower", "upper", "integer", "cost", "causal")
ORDER_KEYS = ("kind", "smaller", "larger")
RECENCY_KEYS = ("kind", "days", "events", "recency", "window_days", "recency_sees")
RECENCY_SEES = ("same", "more", "fewer")
ACTIVITY_KEYS = ("kind", "events", "days")
SESSIONS_KEYS = ("kind", "days", "sessions")
TREND_KEYS = ("kind", "count", "trend")
RATIO_KEYS = ("kind", "feature", "numerator", "denominator", "on_zero")
WINDOW_KEYS = ("kind", "shorter", "longer", "shorter_days", "longer_days")
COUPLING_KINDS = ("order", "ratio", "window", "recency", "activity", "sessions", "trend")


class ActionSpaceError(UsagecastError):
    """The actionable features, couplings or query rows do not form a valid what-if input."""


@dataclass(frozen=True)
class GeneSpec:
    """One actionable feature: where it sits in the model's input and how it may move."""

    name: str
    column: int
    direction: str
    lower: float
    upper: float
    integer: bool
    cost: float


@dataclass(frozen=True)
class OrderCoupling:
    """`smaller <= larger` must hold; both are model columns, either may be a gene."""

    smaller: str
    larger: str
    smaller_column: int
    larger_column: int


@dataclass(frozen=True)
class RatioCoupling:
    """Column `feature` equals numerator / denominator (`on_zero` when the denominator is 0)."""

    feature: str
    numerator: str
    denominator: str
    column: int
    numerator_column: int
    denominator_column: int
    on_zero: float


@dataclass(frozen=True)
class WindowCoupling:
    """Two windows of one additive feature; day bounds for distinct active days (else None)."""

    shorter: str
    longer: str
    shorter_column: int
    longer_column: int
    shorter_days: float | None = None
    longer_days: float | None = None


@dataclass(frozen=True)
class RecencyCoupling:
    """Column `recency` (whole days since the last event) and column `driver` (distinct active
    days when `distinct_days`, else a count of events, in the last `window_days`) describe the
    same events, or the recency sees more or fewer of them than the driver counts
    (`recency_sees`, module docstring)."""

    driver: str
    recency: str
    driver_column: int
    recency_column: int
    window_days: float
    distinct_days: bool = True
    recency_sees: str = "same"

    @property
    def ends(self) -> tuple[int, int]:
        """(driver column, follower column)."""
        return self.driver_column, self.recency_column


@dataclass(frozen=True)
class DrivenCoupling:
    """Column `follower` moves when column `driver` does, by the rule of `kind`: `activity`
    (a count drives the active days of a window at least as long), `sessions` (a window's
    active days drive its sessions) or `trend` (a window's count drives its trend) (module
    docstring)."""

    kind: str
    driver: str
    follower: str
    driver_column: int
    follower_column: int

    @property
    def ends(self) -> tuple[int, int]:
        """(driver column, follower column)."""
        return self.driver_column, self.follower_column


# The couplings whose follower follows one driver column, applied after the window followers.
MovedBy = RecencyCoupling | DrivenCoupling
# Their kinds in the order they are applied: active days, sessions, trends, recencies.
MOVED_BY_ORDER = ("activity", "sessions", "trend", "recency")


@dataclass(frozen=True)
class Follow:
    """Column `column` follows column `driver` through `coupling` when a what-if moves it;
    `integer` when the gene the chain starts from is integer. Applied in tuple order."""

    column: int
    driver: int
    coupling: WindowCoupling | MovedBy
    integer: bool

    @property
    def driver_is_longer(self) -> bool:
        coupling = self.coupling
        return isinstance(coupling, WindowCoupling) and self.driver == coupling.longer_column

    @property
    def kind(self) -> str:
        """The manifest's name of the coupling kind."""
        return coupling_kind(self.coupling)


def coupling_kind(coupling: object) -> str:
    """The manifest's name of a parsed coupling's kind."""
    if isinstance(coupling, DrivenCoupling):
        return coupling.kind
    kinds = {
        RecencyCoupling: "recency",
        WindowCoupling: "window",
        OrderCoupling: "order",
        RatioCoupling: "ratio",
    }
    return kinds[type(coupling)]


@dataclass(frozen=True)
class ActionSpace:
    """The model's feature order, its actionable genes and the couplings between features."""

    feature_names: tuple[str, ...]
    genes: tuple[GeneSpec, ...]
    orders: tuple[OrderCoupling, ...]
    ratios: tuple[RatioCoupling, ...]
    windows: tuple[WindowCoupling, ...] = ()
    follows: tuple[Follow, ...] = ()

    @property
    def follower_columns(self) -> frozenset[int]:
        return frozenset(f.column for f in self.follows)

    @property
    def gene_columns(self) -> np.ndarray:
        """Model column index of each gene, in gene order."""
        return np.array([g.column for g in self.genes], dtype=np.intp)

    @property
    def gene_names(self) -> tuple[str, ...]:
        return tuple(g.name for g in self.genes)

    @property
    def lower(self) -> np.ndarray:
        return np.array([g.lower for g in self.genes], dtype=float)

    @property
    def upper(self) -> np.ndarray:
        return np.array([g.upper for g in self.genes], dtype=float)

    @property
    def integer(self) -> np.ndarray:
        return np.array([g.integer for g in self.genes], dtype=bool)

    @property
    def unit_cost(self) -> np.ndarray:
        return np.array([g.cost for g in self.genes], dtype=float)

    @property
    def may_increase(self) -> np.ndarray:
        return np.array([g.direction != "decrease" for g in self.genes], dtype=bool)

    @property
    def may_decrease(self) -> np.ndarray:
        return np.array([g.direction != "increase" for g in self.genes], dtype=bool)

    def gene_pairs(self) -> tuple[tuple[int, int], ...]:
        """Order couplings whose both sides are genes, as (smaller gene, larger gene) indices."""
        index = {g.column: i for i, g in enumerate(self.genes)}
        return tuple(
            (index[o.smaller_column], index[o.larger_column])
            for o in self.orders
            if o.smaller_column in index and o.larger_column in index
        )


def _check_keys(entry: Any, path: str, allowed: Sequence[str], required: Sequence[str]) -> None:
    if not isinstance(entry, Mapping):
        raise ActionSpaceError(f"{path}: expected a mapping, got {type(entry).__name__}")
    unknown = sorted(set(entry) - set(allowed))
    if unknown:
        raise ActionSpaceError(
            f"{path}: unknown key(s) {unknown}; allowed keys: {', '.join(allowed)}"
        )
    missing = [k for k in required if k not in entry]
    if missing:
        raise ActionSpaceError(f"{path}: missing key(s) {missing}")


def _number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ActionSpaceError(f"{path}: expected a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ActionSpaceError(f"{path}: expected a finite number, got {value!r}")
    return number


def _column(name: Any, path: str, columns: Mapping[str, int]) -> int:
    if name not in columns:
        raise ActionSpaceError(f"{path}: {name!r} is not one of the model's features")
    return columns[name]


def _named_columns(
    entry: Mapping[str, Any], path: str, columns: Mapping[str, int], keys: Sequence[str]
) -> tuple[Any, ...]:
    """A coupling's feature names under `keys`, then their model columns, in the order its
    dataclass takes them."""
    names = tuple(entry[key] for key in keys)
    return (*names, *(_column(entry[key], f"{path}.{key}", columns) for key in keys))


def _gene(entry: Any, path: str, columns: Mapping[str, int]) -> GeneSpec:
    _check_keys(entry, path, ACTIONABLE_KEYS, ("name", "direction", "lower", "upper"))
    name = entry["name"]
    column = _column(name, f"{path}.name", columns)
    direction = entry["direction"]
    if direction not in DIRECTIONS:
        raise ActionSpaceError(
            f"{path}.direction: {direction!r} is not one of {', '.join(DIRECTIONS)}"
        )
    integer = entry.get("integer", False)
    if not isinstance(integer, bool):
        raise ActionSpaceError(f"{path}.integer: expected true or false, got {integer!r}")
    lower = _number(entry["lower"], f"{path}.lower")
    upper = _number(entry["upper"], f"{path}.upper")
    if integer:
        lower, upper = float(math.ceil(lower)), float(math.floor(upper))
    if lower > upper:
        raise ActionSpaceError(
            f"{path}: lower {entry['lower']!r} > upper {entry['upper']!r}"
            + (" (no whole number between them)" if integer else "")
        )
    cost = _number(entry.get("cost", 1.0), f"{path}.cost")
    if cost < 0:
        raise ActionSpaceError(f"{path}.cost: must be >= 0, got {cost!r}")
    return GeneSpec(str(name), column, direction, lower, upper, integer, cost)


def _coupling(
    entry: Any, path: str, columns: Mapping[str, int]
) -> OrderCoupling | RatioCoupling | WindowCoupling | MovedBy:
    kind = entry.get("kind") if isinstance(entry, Mapping) else None
    driven = {"activity": ACTIVITY_KEYS, "sessions": SESSIONS_KEYS, "trend": TREND_KEYS}
    if kind in driven:
        keys = driven[kind]
        _check_keys(entry, path, keys, keys)
        return DrivenCoupling(kind, *_named_columns(entry, path, columns, keys[1:]))
    if kind == "recency":
        _check_keys(entry, path, RECENCY_KEYS, ("kind", "recency", "window_days"))
        drivers = [key for key in ("days", "events") if key in entry]
        if len(drivers) != 1:
            raise ActionSpaceError(
                f"{path}: give `days` (active days) or `events` (a count of events), "
                "exactly one of them"
            )
        window_days = _number(entry["window_days"], f"{path}.window_days")
        if window_days < 1:
            raise ActionSpaceError(f"{path}.window_days: expected >= 1, got {window_days!r}")
        sees = entry.get("recency_sees", "same")
        if sees not in RECENCY_SEES:
            raise ActionSpaceError(
                f"{path}.recency_sees: {sees!r} is not one of {', '.join(RECENCY_SEES)}"
            )
        return RecencyCoupling(
            *_named_columns(entry, path, columns, (drivers[0], "recency")),
            window_days,
            distinct_days=drivers[0] == "days",
            recency_sees=sees,
        )
    if kind == "window":
        _check_keys(entry, path, WINDOW_KEYS, ("kind", "shorter", "longer"))
        if ("shorter_days" in entry) != ("longer_days" in entry):
            raise ActionSpaceError(f"{path}: give both shorter_days and longer_days, or neither")
        days = [
            _number(entry[key], f"{path}.{key}") if key in entry else None
            for key in ("shorter_days", "longer_days")
        ]
        if days[0] is not None and not 0 < days[0] < days[1]:
            raise ActionSpaceError(f"{path}: expected 0 < shorter_days < longer_days")
        return WindowCoupling(*_named_columns(entry, path, columns, ("shorter", "longer")), *days)
    if kind == "order":
        _check_keys(entry, path, ORDER_KEYS, ORDER_KEYS)
        smaller, larger = entry["smaller"], entry["larger"]
        if smaller == larger:
            raise ActionSpaceError(f"{path}: smaller and larger are both {smaller!r}")
        return OrderCoupling(*_named_columns(entry, path, columns, ("smaller", "larger")))
    if kind == "ratio":
        _check_keys(entry, path, RATIO_KEYS, ("kind", "feature", "numerator", "denominator"))
        return RatioCoupling(
            *_named_columns(entry, path, columns, ("feature", "numerator", "denominator")),
            _number(entry.get("on_zero", 0.0), f"{path}.on_zero"),
        )
    raise ActionSpaceError(f"{path}.kind: {kind!r} is not one of {', '.join(COUPLING_KINDS)}")


def build_action_space(
    feature_names: Sequence[str],
    actionable: Sequence[Mapping[str, Any]],
    couplings: Sequence[Mapping[str, Any]] = (),
) -> ActionSpace:
    """Validate the manifest's lists against the model's feature order; errors name the entry."""
    names = tuple(str(n) for n in feature_names)
    if len(set(names)) != len(names):
        duplicated = sorted({n for n in names if names.count(n) > 1})
        raise ActionSpaceError(f"feature_names: duplicated {duplicated}")
    columns = {n: i for i, n in enumerate(names)}
    genes = tuple(_gene(e, f"actionable[{i}]", columns) for i, e in enumerate(actionable))
    seen: set[str] = set()
    for i, gene in enumerate(genes):
        if gene.name in seen:
            raise ActionSpaceError(f"actionable[{i}].name: {gene.name!r} is listed twice")
        seen.add(gene.name)
    parsed = [_coupling(e, f"couplings[{i}]", columns) for i, e in enumerate(couplings)]
    ratios = tuple(c for c in parsed if isinstance(c, RatioCoupling))
    for i, coupling in enumerate(parsed):
        if isinstance(coupling, RatioCoupling) and coupling.feature in seen:
            raise ActionSpaceError(
                f"couplings[{i}].feature: {coupling.feature!r} is derived from its parts, "
                "so it cannot also be actionable"
            )
    derived = {r.feature for r in ratios}
    for i, coupling in enumerate(parsed):
        if isinstance(coupling, OrderCoupling) and {coupling.smaller, coupling.larger} & derived:
            raise ActionSpaceError(
                f"couplings[{i}]: order couplings between derived ratio features are not supported"
            )
    orders = tuple(c for c in parsed if isinstance(c, OrderCoupling))
    windows = tuple(c for c in parsed if isinstance(c, WindowCoupling))
    follows = _follows(genes, windows, names)
    for kind in MOVED_BY_ORDER:
        follows += _moved_by(genes, follows, [c for c in parsed if coupling_kind(c) == kind])
    return ActionSpace(names, genes, orders, ratios, windows, follows)


def _moved_by(
    genes: Sequence[GeneSpec], follows: Sequence[Follow], couplings: Sequence[MovedBy]
) -> tuple[Follow, ...]:
    """The active days (`activity`), sessions (`sessions`) or recencies (`recency`) that
    follow the counts or active days a what-if moves (a gene's, or an earlier follower's),
    after those followers; a gene follows nothing."""
    gene_columns = {g.column for g in genes}
    moving = gene_columns | {f.column for f in follows}
    return tuple(
        Follow(c.ends[1], c.ends[0], c, True)
        for c in couplings
        if c.ends[0] in moving and c.ends[1] not in gene_columns
    )


def _follows(
    genes: Sequence[GeneSpec], windows: Sequence[WindowCoupling], names: Sequence[str]
) -> tuple[Follow, ...]:
    """Which non-gene columns follow which column, outward from each gene along windows."""
    gene_columns = {g.column for g in genes}
    origin: dict[int, str] = {}
    follows: list[Follow] = []
    for gene in genes:
        frontier = [gene.column]
        while frontier:
            driver = frontier.pop(0)
            for window in windows:
                ends = (window.shorter_column, window.longer_column)
                if driver not in ends:
                    continue
                column = ends[1] if driver == ends[0] else ends[0]
                if column in gene_columns or origin.get(column) == gene.name:
                    continue
                if column in origin:
                    raise ActionSpaceError(
                        f"couplings: {names[column]!r} would follow both {origin[column]!r} and "
                        f"{gene.name!r}; make it actionable too, or only one of them"
                    )
                origin[column] = gene.name
                follows.append(Follow(column, driver, window, gene.integer))
                frontier.append(column)
    return tuple(follows)


def follow(
    follower: np.ndarray, driver_before: np.ndarray, driver_after: np.ndarray, rule: Follow
) -> np.ndarray:
    """A follower's new values once its driver moved (the `window`, `recency`, `activity`,
    `sessions` and `trend` rules, module docstring)."""
    coupling = rule.coupling
    if isinstance(coupling, RecencyCoupling):
        return _recency_followed(follower, driver_before, driver_after, coupling)
    if isinstance(coupling, DrivenCoupling) and coupling.kind == "activity":
        moved = (driver_after != driver_before) & ~np.isnan(driver_before) & (driver_after > 0)
        return np.where(moved, np.fmax(follower, 1.0), follower)
    if isinstance(coupling, DrivenCoupling) and coupling.kind == "trend":
        moved = (driver_after != driver_before) & ~np.isnan(driver_before)
        return np.where(moved, follower * (driver_after + 1) / (driver_before + 1), follower)
    if isinstance(coupling, DrivenCoupling):  # sessions
        moved = (driver_after != driver_before) & ~np.isnan(driver_before)
        shifted = np.where(
            driver_after > 0, np.fmax(follower + driver_after - driver_before, 1), 0
        )
        return np.where(moved & ~np.isnan(follower), shifted, follower)
    with np.errstate(divide="ignore", invalid="ignore"):
        if rule.driver_is_longer:
            wanted = np.where(driver_before > 0, follower * driver_after / driver_before, follower)
        else:
            wanted = follower + (driver_after - driver_before)
    if rule.integer:
        wanted = follower + np.trunc(wanted - follower)
    gap = np.inf if coupling.shorter_days is None else coupling.longer_days - coupling.shorter_days
    cap = np.inf if coupling.shorter_days is None else coupling.shorter_days
    if rule.driver_is_longer:  # follower is the shorter window
        lo, hi = np.maximum(driver_after - gap, 0.0), np.minimum(driver_after, cap)
    else:
        lo, hi = driver_after, driver_after + gap
    moved = driver_after != driver_before
    keep = np.isnan(follower) | np.isnan(driver_before) | np.isnan(driver_after) | ~moved
    return np.where(keep, follower, np.clip(wanted, lo, np.maximum(lo, hi)))


def _recency_followed(
    recency: np.ndarray, before: np.ndarray, after: np.ndarray, coupling: RecencyCoupling
) -> np.ndarray:
    """The days since the last event once the window's active days or count moved: to
    k > 0, at most window_days - k + 1 for active days, window_days for events (that value
    when the row had no event) unless the recency sees fewer events than the driver counts;
    to 0, at least window_days + 1 (the last event before the window) unless it sees more; as
    it was otherwise."""
    window_days = coupling.window_days
    latest = (
        window_days - after + 1 if coupling.distinct_days else np.full_like(after, window_days)
    )
    wanted = np.where(np.isnan(recency), latest, np.minimum(recency, latest))
    moved = (after != before) & ~np.isnan(before)
    if coupling.recency_sees == "fewer":
        wanted = recency
    emptied = np.maximum(recency, window_days + 1)  # NaN (no event at all) stays NaN
    if coupling.recency_sees == "more":
        emptied = recency
    return np.where(moved & (after > 0), wanted, np.where(moved, emptied, recency))


def action_space_from_manifest(
    manifest: FeatureSetManifest, feature_names: Sequence[str] | None = None
) -> ActionSpace:
    """The action space a feature-set manifest declares (feature order from the manifest)."""
    features = manifest.features
    if feature_names is None:
        feature_names = [f.name for f in features]
    categorical = {f.name for f in features if f.dtype == "categorical"}
    actionable = plain_json(manifest.actionable)
    for i, entry in enumerate(actionable):
        if isinstance(entry, Mapping) and entry.get("name") in categorical:
            raise ActionSpaceError(
                f"manifest actionable[{i}].name: {entry['name']!r} is categorical; "
                "only numeric features can be actionable"
            )
    return build_action_space(feature_names, actionable, plain_json(manifest.couplings))


def as_matrix(rows: Any, space: ActionSpace) -> np.ndarray:
    """Query rows as a float matrix in the model's column order; errors name the column."""
    if hasattr(rows, "columns"):
        missing = [n for n in space.feature_names if n not in rows.columns]
        if missing:
            raise ActionSpaceError(f"rows: missing feature column(s) {missing}")
        frame = rows[list(space.feature_names)]
        try:
            matrix = frame.to_numpy(dtype=float)
        except (TypeError, ValueError) as error:
            bad = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
            raise ActionSpaceError(f"rows: non-numeric feature column(s) {bad}") from error
    else:
        matrix = np.asarray(rows, dtype=float)
    if matrix.ndim != 2 or matrix.shape[1] != len(space.feature_names):
        raise ActionSpaceError(
            f"rows: expected shape (n, {len(space.feature_names)}), got {matrix.shape}"
        )
    check_rows(matrix, space)
    return matrix


def check_rows(matrix: np.ndarray, space: ActionSpace) -> None:
    """Query rows must already satisfy every order coupling (a suggestion can't repair history)."""
    for coupling in space.orders:
        smaller = matrix[:, coupling.smaller_column]
        larger = matrix[:, coupling.larger_column]
        bad = np.flatnonzero(smaller > larger)
        if bad.size:
            row = int(bad[0])
            raise ActionSpaceError(
                f"row {row}: {coupling.smaller}={float(smaller[row])!r} > "
                f"{coupling.larger}={float(larger[row])!r} breaks the coupling "
                f"{coupling.smaller} <= {coupling.larger}"
            )


def row_bounds(space: ActionSpace, x0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row interval [lo, hi] each gene may take, shape (rows, genes) each.

    The interval holds the row's own value (not changing is always allowed) and, on the
    allowed side(s), reaches the declared bound. A gene whose value is missing, lies outside
    its bounds, or is fractional while the gene is integer is frozen for that row. Order
    couplings with an immutable partner narrow the interval here, so the partner never moves.
    """
    values = x0[:, space.gene_columns]
    lower, upper = space.lower, space.upper
    lo = np.where(space.may_decrease, lower, values)
    hi = np.where(space.may_increase, upper, values)
    frozen = (
        np.isnan(values)
        | (values < lower)
        | (values > upper)
        | (space.integer & (values != np.round(values)))
    )
    gene_of = {g.column: i for i, g in enumerate(space.genes)}
    followers = space.follower_columns
    for coupling in space.orders:
        if {coupling.smaller_column, coupling.larger_column} & followers:
            continue  # the partner follows the change (a window coupling), it never blocks it
        small_gene = gene_of.get(coupling.smaller_column)
        large_gene = gene_of.get(coupling.larger_column)
        if small_gene is not None and large_gene is None:
            cap = x0[:, coupling.larger_column]
            frozen[:, small_gene] |= np.isnan(cap)
            hi[:, small_gene] = np.fmin(
                hi[:, small_gene], _round_down(cap, space.genes[small_gene])
            )
        if large_gene is not None and small_gene is None:
            floor = x0[:, coupling.smaller_column]
            frozen[:, large_gene] |= np.isnan(floor)
            lo[:, large_gene] = np.fmax(
                lo[:, large_gene], _round_up(floor, space.genes[large_gene])
            )
    lo = np.where(frozen, values, lo)
    hi = np.where(frozen, values, hi)
    return lo, hi


def _round_down(values: np.ndarray, gene: GeneSpec) -> np.ndarray:
    return np.floor(values) if gene.integer else values


def _round_up(values: np.ndarray, gene: GeneSpec) -> np.ndarray:
    return np.ceil(values) if gene.integer else values


def violations(before: np.ndarray, after: np.ndarray, space: ActionSpace) -> list[str]:
    """Why `after` is not a feasible what-if of the model row `before` (empty when it is).

    Used to judge suggestions that did not come from our search (e.g. another tool's)."""
    problems = []
    lo, hi = row_bounds(space, before[None, :])
    genes = set(space.gene_columns.tolist())
    derived = {r.column for r in space.ratios} | space.follower_columns
    moved = (after != before) & ~(np.isnan(after) & np.isnan(before))
    for column in np.flatnonzero(moved):
        if column not in genes and column not in derived:
            problems.append(f"{space.feature_names[column]}: immutable but changed")
    for i, gene in enumerate(space.genes):
        value = after[gene.column]
        if moved[gene.column] and not lo[0, i] <= value <= hi[0, i]:
            problems.append(
                f"{gene.name}: {float(before[gene.column])!r} -> {float(value)!r} leaves the "
                f"allowed [{float(lo[0, i])!r}, {float(hi[0, i])!r}] "
                f"({gene.direction}, bounds, couplings)"
            )
        if moved[gene.column] and gene.integer and value != np.round(value):
            problems.append(f"{gene.name}: integer feature set to {float(value)!r}")
    expected = before.copy()
    for rule in space.follows:  # in order: windows, then MOVED_BY_ORDER
        driver = rule.driver
        expected[rule.column] = follow(
            expected[None, rule.column], before[None, driver], after[None, driver], rule
        )[0]
    for column in dict.fromkeys(rule.column for rule in space.follows):
        if not np.isclose(after[column], expected[column], equal_nan=True):
            name, value = space.feature_names[column], float(after[column])
            rules = [r for r in space.follows if r.column == column and moved[r.driver]]
            if not rules:
                problems.append(f"{name}: {value!r} moved though nothing it follows did")
                continue
            drivers = " and ".join(space.feature_names[r.driver] for r in rules)
            kinds = " and ".join(dict.fromkeys(r.kind for r in rules))
            problems.append(f"{name}: {value!r} does not follow {drivers} ({kinds} coupling)")
    for order in space.orders:
        if after[order.smaller_column] > after[order.larger_column]:
            problems.append(f"coupling {order.smaller} <= {order.larger} broken")
    for ratio in space.ratios:
        num, den = after[ratio.numerator_column], after[ratio.denominator_column]
        parts_moved = moved[ratio.numerator_column] or moved[ratio.denominator_column]
        expected = (
            (ratio.on_zero if den == 0 else num / den) if parts_moved else before[ratio.column]
        )
        if not np.isclose(after[ratio.column], expected, equal_nan=True):
            problems.append(
                f"{ratio.feature}: {float(after[ratio.column])!r} does not follow its parts"
            )
    return problems
