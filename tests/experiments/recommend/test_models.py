"""Popularity by hand, ALS deterministic under its seed, the oracle's probabilities, and the
registration gate."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from experiments.recommend.interactions import split_interactions
from experiments.recommend.models import (
    AlsParams,
    als_recommender,
    popularity_rows,
    recommend_rows,
)
from experiments.recommend.oracle import genre_probabilities, true_item_scores, within_genre_share
from experiments.recommend.register import decide
from simulator import GENRES, SimulationConfig
from simulator.traits import draw_catalog

CUTOFF = dt.datetime(2024, 3, 1)


def _split(rows):
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "event_time"])
    return split_interactions(
        frame.assign(event_time=pd.to_datetime(frame["event_time"])), CUTOFF, 30
    )


def test_popularity_ranks_by_distinct_users_and_skips_what_each_user_had():
    split = _split(
        [
            ("u1", "a", "2024-02-01"),
            ("u2", "a", "2024-02-01"),
            ("u3", "a", "2024-02-01"),
            ("u1", "b", "2024-02-02"),
            ("u1", "b", "2024-02-03"),  # one user, twice: still 1
            ("u2", "c", "2024-02-02"),
            ("u3", "c", "2024-02-02"),
            ("u3", "d", "2024-02-02"),
        ]
    )
    # a: 3 users, c: 2, b: 1, d: 1 (tie: item order)
    ranked = popularity_rows(split, np.arange(3), 3)
    names = [[split.item_ids[i] for i in row if i >= 0] for row in ranked]
    assert names == [["c", "d"], ["b", "d"], ["b"]]


def _random_split(seed: int = 0):
    rng = np.random.default_rng(seed)
    rows = [
        (f"u{rng.integers(30)}", f"i{rng.integers(40)}", f"2024-02-{rng.integers(1, 29):02d}")
        for _ in range(600)
    ]
    return _split(rows)


def test_als_is_deterministic_for_a_seed_and_varies_with_it():
    split = _random_split()
    params = AlsParams(factors=8, iterations=5)
    first, again = als_recommender(split, params, 3), als_recommender(split, params, 3)
    other = als_recommender(split, params, 4)
    assert np.array_equal(first.user_factors, again.user_factors)
    assert np.array_equal(first.item_factors, again.item_factors)
    assert not np.array_equal(first.item_factors, other.item_factors)


def test_als_never_recommends_a_consumed_item():
    split = _random_split(1)
    recommender = als_recommender(split, AlsParams(factors=8, iterations=5), 0)
    rows = np.arange(len(split.user_ids))
    ranked = recommend_rows(recommender, split, rows, 10)
    consumed = split.train.toarray() > 0
    for row, items in zip(rows, ranked, strict=True):
        kept = items[items >= 0]
        assert not consumed[row, kept].any()
        assert len(kept) == min(10, int((~consumed[row]).sum()))


def test_true_taste_is_a_probability_over_the_catalogue():
    config = SimulationConfig(n_users=20, seed=3, months=1, n_tracks=200, n_artists=30)
    catalog = draw_catalog(config)
    share = within_genre_share(catalog.genre_cumulative, catalog.track_genre)
    by_genre = np.bincount(catalog.track_genre, weights=share, minlength=len(GENRES))
    assert by_genre[np.bincount(catalog.track_genre, minlength=len(GENRES)) > 0] == pytest.approx(
        1
    )
    genres = genre_probabilities(np.array([0, 2]), np.array([1, 0]), np.array([0.0, 1.0]))
    assert genres.sum(axis=1) == pytest.approx(1)
    # taste_match 1: 0.85 of plays from the favourites, 60/40, the rest spread evenly
    assert genres[1, 2] == pytest.approx(0.85 * 0.6 + 0.15 / len(GENRES))
    items = tuple(f"TR{i:06d}" for i in range(200))
    scores = true_item_scores(config, ("1", "2", "20"), items)
    assert scores.sum(axis=1) == pytest.approx(1)


@pytest.mark.parametrize(("model_ndcg", "promoted"), [(0.30, True), (0.20, False), (0.10, False)])
def test_gate_promotes_only_a_model_above_popularity(model_ndcg, promoted):
    popularity = {"ndcg_at_10": 0.20, "recall_at_10": 0.2}
    decision, reason = decide({"ndcg_at_10": model_ndcg, "recall_at_10": 0.3}, popularity, 10)
    assert decision is promoted
    assert f"NDCG@10 {model_ndcg:.4f} vs popularity 0.2000" in reason


def test_true_taste_matches_the_simulators_own_draws():
    from simulator.events import _draw_tracks
    from simulator.traits import draw_user_traits

    config = SimulationConfig(n_users=5, seed=11, months=1, n_tracks=300, n_artists=40)
    catalog, traits = draw_catalog(config), draw_user_traits(config, 0)
    draws = 200_000
    tracks = _draw_tracks(catalog, traits, np.full(draws, 2), np.random.default_rng(0))
    observed = np.bincount(tracks, minlength=300) / draws
    items = tuple(f"TR{i:06d}" for i in range(300))
    expected = true_item_scores(config, ("3",), items)[0]
    assert np.abs(observed - expected).max() < 0.004
    assert np.corrcoef(observed, expected)[0, 1] > 0.99


def test_a_user_without_history_is_ranked_by_popularity_as_the_server_would():
    split = _split(
        [
            *[(f"u{i}", "a", "2024-02-01") for i in range(5)],
            *[(f"u{i}", "b", "2024-02-02") for i in range(3)],
            ("u0", "c", "2024-02-03"),
            ("new", "c", "2024-03-02"),  # first seen in the window
        ]
    )
    recommender = als_recommender(split, AlsParams(factors=4, iterations=3), 0)
    assert "new" not in recommender.metadata.user_ids
    row = np.array([split.user_ids.index("new")])
    ranked = recommend_rows(recommender, split, row, 2)
    assert ranked.tolist() == popularity_rows(split, row, 2).tolist()
    assert [split.item_ids[i] for i in ranked[0]] == ["a", "b"]
