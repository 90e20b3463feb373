"""recall@k, NDCG@k and coverage, computed by hand on a tiny case."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.sparse import csr_matrix

from experiments.recommend.metrics import (
    catalogue_coverage,
    ndcg_at_k,
    ranking_metrics,
    recall_at_k,
)

# Two users, six items. User 0 likes items 1 and 4; user 1 likes items 0, 2, 3 and 5.
RELEVANT = csr_matrix(np.array([[0, 1, 0, 0, 1, 0], [1, 0, 1, 1, 0, 1]], dtype=np.float32))
# Top 2 per user, -1 = an empty slot.
RECOMMENDED = np.array([[4, 0], [5, -1]])


def test_recall_divides_hits_by_the_best_a_list_of_k_can_do():
    # user 0: 1 hit / min(2, 2); user 1: 1 hit / min(2, 4)
    assert recall_at_k(RECOMMENDED, RELEVANT, 2) == pytest.approx((1 / 2 + 1 / 2) / 2)
    # k = 1: user 0's item 4 is a hit (1/1), user 1's item 5 too (1/1)
    assert recall_at_k(RECOMMENDED, RELEVANT, 1) == 1.0


def test_ndcg_discounts_by_rank():
    ideal = 1 + 1 / math.log2(3)
    # user 0: hit at rank 1 -> 1 / ideal; user 1: hit at rank 1 -> 1 / ideal
    assert ndcg_at_k(RECOMMENDED, RELEVANT, 2) == pytest.approx(1 / ideal)
    late = np.array([[0, 4], [1, 2]])  # hits at rank 2 only
    assert ndcg_at_k(late, RELEVANT, 2) == pytest.approx((1 / math.log2(3)) / ideal)


def test_coverage_counts_distinct_items_over_the_catalogue():
    assert catalogue_coverage(RECOMMENDED, 6) == pytest.approx(3 / 6)
    assert ranking_metrics(RECOMMENDED, RELEVANT, 2)["coverage_at_2"] == pytest.approx(3 / 6)


def test_a_user_without_relevant_items_is_an_error_not_a_zero():
    with pytest.raises(ValueError, match="relevant item"):
        recall_at_k(RECOMMENDED, csr_matrix((2, 6), dtype=np.float32), 2)
