"""Population stability index (PSI): how far a current sample's distribution moved from a
reference sample's, over bins fixed by the reference.

Binning (docs/reference/monitoring.md):
- numeric: the reference's deciles (inner edges at its 10th..90th percentiles, repeated
  edges merged, so a feature with few distinct values gets fewer bins); a value equal to an
  edge falls in the bin below it;
- categorical: one bin per reference category plus one for categories the reference never
  had (`UNSEEN`);
- either kind: missing values form their own bin (`MISSING`), so a tracking bug that empties
  a column shows up as drift.
PSI = sum over bins of (a - e) * ln(a / e), with shares e (reference) and a (current) floored
at EPSILON so an empty bin stays finite. Each term is >= 0 (a - e and ln(a / e) share their
sign), so PSI >= 0, it is 0 for samples with equal shares, it is symmetric in (e, a) for fixed
bins, and it is at most 2 * ln(1 / EPSILON) (the shares' total change is at most 2).

Sample-size noise: two samples of sizes n1 and n2 drawn from one distribution over k occupied
bins have PSI of about (k - 1) * (1/n1 + 1/n2) on average (PSI is then close to a chi-square
statistic with k - 1 degrees of freedom, scaled by 1/n1 + 1/n2), so small samples show PSI
without any drift; `expected_noise` gives that value for the bins at hand.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DECILES = 10
EPSILON = 1e-4
MISSING = "(missing)"
UNSEEN = "(unseen)"


def numeric_edges(reference: np.ndarray, bins: int = DECILES) -> np.ndarray:
    """Inner bin edges: the reference's quantiles at 1/bins .. (bins-1)/bins (values of the
    reference, no interpolation), deduplicated."""
    values = np.asarray(reference, dtype="float64")
    values = values[~np.isnan(values)]
    if values.size == 0:
        return np.array([], dtype="float64")
    return np.unique(np.quantile(values, np.arange(1, bins) / bins, method="inverted_cdf"))


def numeric_shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of `values` in each bin between `edges` (len(edges) + 1 bins), then the missing
    bin."""
    values = np.asarray(values, dtype="float64")
    missing = np.isnan(values)
    counts = np.bincount(
        np.searchsorted(edges, values[~missing], side="left"), minlength=len(edges) + 1
    )
    return _shares(np.append(counts, missing.sum()), len(values))


def categorical_shares(values: pd.Series, categories: tuple[str, ...]) -> np.ndarray:
    """Share of `values` in each of `categories`, then UNSEEN (any other), then MISSING."""
    missing = values.isna()
    present = values[~missing].astype(str)
    counts = [int((present == category).sum()) for category in categories]
    unseen = len(present) - sum(counts)
    return _shares(np.array([*counts, unseen, int(missing.sum())]), len(values))


def _shares(counts: np.ndarray, total: int) -> np.ndarray:
    return counts / total if total else np.zeros(len(counts))


def psi_from_shares(expected: np.ndarray, actual: np.ndarray, epsilon: float = EPSILON) -> float:
    """PSI of two share vectors over the same bins, each share floored at `epsilon`."""
    e = np.maximum(np.asarray(expected, dtype="float64"), epsilon)
    a = np.maximum(np.asarray(actual, dtype="float64"), epsilon)
    return float(np.sum((a - e) * np.log(a / e)))


def is_categorical(values: pd.Series) -> bool:
    """Strings, categories and booleans-as-objects are binned by category; numbers by decile."""
    return not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)


def binned_shares(reference: pd.Series, current: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(reference shares, current shares) of one column over the bins the reference fixes."""
    if is_categorical(reference):
        categories = tuple(sorted(reference.dropna().astype(str).unique()))
        return categorical_shares(reference, categories), categorical_shares(current, categories)
    edges = numeric_edges(reference.to_numpy(dtype="float64", na_value=np.nan))
    return (
        numeric_shares(reference.to_numpy(dtype="float64", na_value=np.nan), edges),
        numeric_shares(current.to_numpy(dtype="float64", na_value=np.nan), edges),
    )


def population_stability(reference: pd.Series, current: pd.Series) -> float:
    """PSI of one column between the reference rows and the current rows (module binning)."""
    return psi_from_shares(*binned_shares(reference, current))


def expected_noise(
    expected: np.ndarray, actual: np.ndarray, n_expected: int, n_actual: int
) -> float:
    """The PSI two samples of these sizes from one distribution show on average over the bins
    either occupies: (k - 1) * (1/n1 + 1/n2); infinite when a sample is empty."""
    if n_expected == 0 or n_actual == 0:
        return float("inf")
    occupied = int(np.count_nonzero((np.asarray(expected) > 0) | (np.asarray(actual) > 0)))
    return max(occupied - 1, 0) * (1 / n_expected + 1 / n_actual)
