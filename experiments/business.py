"""Business metrics of a ranking: precision, recall and lift at a contact capacity, and the
threshold that maximises profit for a contact cost and a conversion value.

Pure functions over numpy arrays, shared by `usagecast tune` (test labels), `usagecast score`
(no labels: calibrated probabilities as expected conversions) and `usagecast monitor`.

Decisions:
- Capacity ranks rows by probability, highest first, ties kept in row order (a stable sort on
  the negated probability, as `experiments.metrics.top_fraction_stats`), so the top k is
  deterministic. A count above the rows contacts every row; a fraction contacts
  ceil(fraction * rows) rows, at least one.
- Profit of contacting every row with probability >= t is V * conversions - C * contacted.
  It changes only where t crosses a probability, so the candidates are the distinct
  probabilities plus "contact nobody" (profit 0, threshold just above the highest
  probability): the maximum over them is the maximum over every threshold. Rows tied on a
  probability are contacted together. Among equal profits the highest threshold (fewest
  contacts) wins.
- Conversions are the labels (0/1) when known; for unlabelled scores they are the calibrated
  probabilities, so profit is expected profit: V * sum(p) - C * k.
- Recall is NaN without positives and lift NaN with a zero base rate (like the top-k% lift).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from contracts.errors import UsagecastError


@dataclass(frozen=True)
class Capacity:
    """How many users can be contacted: a count (>= 1) or a fraction of the rows in (0, 1)."""

    count: int | None = None
    fraction: float | None = None

    def __post_init__(self) -> None:
        if (self.count is None) == (self.fraction is None):
            raise UsagecastError("a capacity is either a count or a fraction, not both")
        if self.count is not None and self.count < 1:
            raise UsagecastError(f"capacity must be at least 1 user, got {self.count}")
        if self.fraction is not None and not 0 < self.fraction < 1:
            raise UsagecastError(f"a capacity fraction must be in (0, 1), got {self.fraction}")

    def rows(self, total: int) -> int:
        """Rows contacted among `total`: the count (at most `total`) or ceil(fraction * total)."""
        if self.count is not None:
            return min(self.count, total)
        # Rounded first: 0.07 * 100 is 7.000000000000001 in floating point, not 8 rows.
        return min(total, max(1, math.ceil(round(self.fraction * total, 9))))

    def __str__(self) -> str:
        return str(self.count) if self.count is not None else f"{self.fraction:g}"


def parse_capacity(text: str) -> Capacity:
    """`--capacity`: an integer count like `500`, or a fraction like `0.05`."""
    value = text.strip()
    if value.isdigit():
        return Capacity(count=int(value))
    try:
        fraction = float(value)
    except ValueError:
        fraction = math.nan
    if not 0 < fraction < 1:
        raise UsagecastError(
            f"capacity must be a whole number of users (>= 1) or a fraction in (0, 1) such as "
            f"0.05, got {text!r}"
        )
    return Capacity(fraction=fraction)


@dataclass(frozen=True)
class Economics:
    """Cost of one contact and value of one conversion, in the same currency."""

    contact_cost: float
    conversion_value: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.contact_cost) and self.contact_cost >= 0):
            raise UsagecastError(f"contact cost must be >= 0, got {self.contact_cost}")
        if not (math.isfinite(self.conversion_value) and self.conversion_value > 0):
            raise UsagecastError(f"conversion value must be > 0, got {self.conversion_value}")


@dataclass(frozen=True)
class BusinessOptions:
    """What `--capacity` and `--contact-cost/--conversion-value` asked for (either may be off)."""

    capacity: Capacity | None = None
    economics: Economics | None = None

    @property
    def requested(self) -> bool:
        return self.capacity is not None or self.economics is not None

    def params(self) -> dict[str, str]:
        """MLflow params of the options given: `capacity`, `contact_cost`, `conversion_value`."""
        params = {}
        if self.capacity is not None:
            params["capacity"] = str(self.capacity)
        if self.economics is not None:
            params["contact_cost"] = f"{self.economics.contact_cost:g}"
            params["conversion_value"] = f"{self.economics.conversion_value:g}"
        return params


def business_options(
    capacity: Capacity | None, contact_cost: float | None, conversion_value: float | None
) -> BusinessOptions:
    """The options, refusing a contact cost without a conversion value and the reverse."""
    if (contact_cost is None) != (conversion_value is None):
        given, missing = (
            ("--contact-cost", "--conversion-value")
            if conversion_value is None
            else ("--conversion-value", "--contact-cost")
        )
        raise UsagecastError(f"{given} needs {missing} too: profit needs both")
    economics = None if contact_cost is None else Economics(contact_cost, conversion_value)
    return BusinessOptions(capacity, economics)


def ranking(probabilities: np.ndarray) -> np.ndarray:
    """Row indices by probability, highest first, ties in row order."""
    return np.argsort(-np.asarray(probabilities, dtype=float), kind="stable")


@dataclass(frozen=True)
class CapacityStats:
    """The top `contacted` rows: their precision, recall and lift, and the lowest probability."""

    contacted: int
    precision: float
    recall: float
    lift: float
    probability_cutoff: float


def capacity_stats(labels: np.ndarray, probabilities: np.ndarray, count: int) -> CapacityStats:
    """Precision, recall and lift among the `count` highest-probability rows (1 <= count)."""
    y = np.asarray(labels, dtype=float)
    p = np.asarray(probabilities, dtype=float)
    top = ranking(p)[: min(count, len(p))]
    hits = float(y[top].sum())
    positives = float(y.sum())
    precision = hits / len(top)
    base_rate = positives / len(y)
    return CapacityStats(
        contacted=len(top),
        precision=precision,
        recall=hits / positives if positives > 0 else math.nan,
        lift=precision / base_rate if base_rate > 0 else math.nan,
        probability_cutoff=float(p[top[-1]]),
    )


@dataclass(frozen=True)
class ProfitCurve:
    """Profit when contacting every row with probability >= each threshold, fewest first.

    Index 0 is "contact nobody" (threshold above every probability, profit 0)."""

    thresholds: np.ndarray
    contacted: np.ndarray
    conversions: np.ndarray
    profit: np.ndarray

    @property
    def best(self) -> int:
        """Index of the highest profit (the fewest contacts among equals)."""
        return int(np.argmax(self.profit))


def profit_curve(
    conversions: np.ndarray, probabilities: np.ndarray, economics: Economics
) -> ProfitCurve:
    """Profit at every distinct probability as threshold (at least one row); `conversions`
    are 0/1 labels or, unlabelled, the probabilities themselves (expected conversions)."""
    p = np.asarray(probabilities, dtype=float)
    order = ranking(p)
    sorted_p = p[order]
    cumulative = np.cumsum(np.asarray(conversions, dtype=float)[order])
    # Last row of each run of equal probabilities: a threshold contacts the whole run.
    ends = np.flatnonzero(np.append(sorted_p[1:] != sorted_p[:-1], True))
    thresholds = np.concatenate([[np.nextafter(sorted_p[0], np.inf)], sorted_p[ends]])
    contacted = np.concatenate([[0], ends + 1]).astype(float)
    converted = np.concatenate([[0.0], cumulative[ends]])
    profit = economics.conversion_value * converted - economics.contact_cost * contacted
    return ProfitCurve(thresholds, contacted, converted, profit)


def profit_at(
    conversions: np.ndarray, probabilities: np.ndarray, count: int, economics: Economics
) -> float:
    """Profit of contacting the `count` highest-probability rows (ties in row order)."""
    top = ranking(probabilities)[:count]
    converted = float(np.asarray(conversions, dtype=float)[top].sum())
    return economics.conversion_value * converted - economics.contact_cost * len(top)


def profit_at_threshold(
    conversions: np.ndarray, probabilities: np.ndarray, threshold: float, economics: Economics
) -> float:
    """Profit of contacting every row with probability >= `threshold` (e.g. one chosen on
    other rows)."""
    contacted = np.asarray(probabilities, dtype=float) >= threshold
    converted = float(np.asarray(conversions, dtype=float)[contacted].sum())
    return economics.conversion_value * converted - economics.contact_cost * int(contacted.sum())


def business_metrics(
    labels: np.ndarray, probabilities: np.ndarray, options: BusinessOptions
) -> dict[str, float]:
    """Metrics of labelled rows (unprefixed; `tune` logs them as `test_<name>`):
    capacity: `capacity_rows`, `precision_at_capacity`, `recall_at_capacity`,
    `lift_at_capacity`, `probability_cutoff_at_capacity`;
    cost/value: `profit_optimal_threshold`, `profit_at_optimum`, `contacted_at_optimum`,
    `precision_at_optimum`, `recall_at_optimum`, and with both `profit_at_capacity`."""
    metrics: dict[str, float] = {}
    count = None
    if options.capacity is not None:
        count = options.capacity.rows(len(probabilities))
        stats = capacity_stats(labels, probabilities, count)
        metrics |= {
            "capacity_rows": stats.contacted,
            "precision_at_capacity": stats.precision,
            "recall_at_capacity": stats.recall,
            "lift_at_capacity": stats.lift,
            "probability_cutoff_at_capacity": stats.probability_cutoff,
        }
    if options.economics is not None:
        curve = profit_curve(labels, probabilities, options.economics)
        best = curve.best
        contacted = curve.contacted[best]
        positives = float(np.sum(labels))
        metrics |= {
            "profit_optimal_threshold": float(curve.thresholds[best]),
            "profit_at_optimum": float(curve.profit[best]),
            "contacted_at_optimum": int(contacted),
            # Contacting nobody converts nobody: precision 0 rather than 0/0.
            "precision_at_optimum": float(curve.conversions[best] / contacted)
            if contacted
            else 0.0,
            "recall_at_optimum": float(curve.conversions[best] / positives)
            if positives
            else math.nan,
        }
        if count is not None:
            metrics["profit_at_capacity"] = profit_at(
                labels, probabilities, count, options.economics
            )
    return metrics


def expected_business(probabilities: np.ndarray, options: BusinessOptions) -> dict[str, float]:
    """The same for unlabelled scores, the probabilities taken as expected conversions:
    `users`; capacity: `capacity_users`, `probability_cutoff_at_capacity`,
    `expected_conversions_at_capacity`; cost/value: `profit_optimal_threshold`,
    `best_k` (users to contact), `expected_profit_at_optimum`, and with both
    `expected_profit_at_capacity`."""
    p = np.asarray(probabilities, dtype=float)
    summary: dict[str, float] = {"users": len(p)}
    count = None
    if options.capacity is not None:
        count = options.capacity.rows(len(p))
        top = ranking(p)[:count]
        summary |= {
            "capacity_users": count,
            "probability_cutoff_at_capacity": float(p[top[-1]]),
            "expected_conversions_at_capacity": float(p[top].sum()),
        }
    if options.economics is not None:
        curve = profit_curve(p, p, options.economics)
        best = curve.best
        summary |= {
            "profit_optimal_threshold": float(curve.thresholds[best]),
            "best_k": int(curve.contacted[best]),
            "expected_profit_at_optimum": float(curve.profit[best]),
        }
        if count is not None:
            summary["expected_profit_at_capacity"] = profit_at(p, p, count, options.economics)
    return summary
