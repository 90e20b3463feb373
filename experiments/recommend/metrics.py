"""Ranking metrics of top-k recommendations against each user's relevant items.

`recommended` holds item positions per evaluated user, best first, -1 for an empty slot;
`relevant` the same users' rows of the relevant matrix (binary). Every metric is the mean over
those users:
- recall@k = hits in the top k / min(k, relevant items): 1 when the list is as good as a list
  of k can be, so users with many new items do not drown the ones with few;
- NDCG@k with binary gains: sum of 1 / log2(rank + 1) over hits, divided by the same sum for
  the best possible list (min(k, relevant items) hits at the top);
- catalogue coverage: distinct items recommended to anyone / catalogue size.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix


def _hits(recommended: np.ndarray, relevant: csr_matrix) -> np.ndarray:
    """Boolean matrix: recommended[u, r] is one of user u's relevant items."""
    rows = np.repeat(np.arange(recommended.shape[0]), recommended.shape[1])
    items = recommended.ravel()
    hit = np.zeros(len(items), dtype=bool)
    real = items >= 0
    hit[real] = np.asarray(relevant[rows[real], items[real]]).ravel() > 0
    return hit.reshape(recommended.shape)


def _relevant_counts(relevant: csr_matrix) -> np.ndarray:
    counts = np.diff(relevant.indptr)
    if (counts == 0).any():
        raise ValueError("every evaluated user needs at least one relevant item")
    return counts


def recall_at_k(recommended: np.ndarray, relevant: csr_matrix, k: int) -> float:
    """Mean of hits@k / min(k, relevant items) over users."""
    hits = _hits(recommended[:, :k], relevant).sum(axis=1)
    return float(np.mean(hits / np.minimum(k, _relevant_counts(relevant))))


def ndcg_at_k(recommended: np.ndarray, relevant: csr_matrix, k: int) -> float:
    """Mean NDCG@k with binary gains over users."""
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    hits = _hits(recommended[:, :k], relevant)
    dcg = (hits * discount[: hits.shape[1]]).sum(axis=1)
    ideal = np.cumsum(discount)[np.minimum(k, _relevant_counts(relevant)) - 1]
    return float(np.mean(dcg / ideal))


def catalogue_coverage(recommended: np.ndarray, catalogue_size: int) -> float:
    """Share of the catalogue recommended to at least one user."""
    return float(len(np.unique(recommended[recommended >= 0])) / catalogue_size)


def ranking_metrics(recommended: np.ndarray, relevant: csr_matrix, k: int) -> dict[str, float]:
    """recall_at_K, ndcg_at_K and coverage_at_K for one recommender."""
    return {
        f"recall_at_{k}": recall_at_k(recommended, relevant, k),
        f"ndcg_at_{k}": ndcg_at_k(recommended, relevant, k),
        f"coverage_at_{k}": catalogue_coverage(recommended[:, :k], relevant.shape[1]),
    }
