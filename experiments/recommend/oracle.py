"""The recommender's oracle: each user's true taste in the simulator, ranked like the models.

The simulator draws a played track by genre, then by popularity within the genre
(simulator/events.py): a favourite genre with probability 0.35 + 0.5 x taste_match
(the first favourite 60% of those times, the second 40%), else any genre uniformly; within a
genre, a track in proportion to its popularity. The true score of (user, track) is that
probability. Ranked with the user's consumed items removed, it is the best any recommender of
this data could do on average.
"""

from __future__ import annotations

import numpy as np

from contracts.errors import UsagecastError
from simulator import GENRES, SimulationConfig
from simulator.tables import track_ids
from simulator.traits import draw_catalog, draw_user_traits

FAVOURITE_BASE, FAVOURITE_TASTE, FIRST_FAVOURITE = 0.35, 0.5, 0.6


def within_genre_share(genre_cumulative: np.ndarray, track_genre: np.ndarray) -> np.ndarray:
    """P(track | its genre) from the catalog's genre + cumulative-share column."""
    cumulative = genre_cumulative - track_genre
    previous = np.concatenate([[0.0], cumulative[:-1]])
    same_genre = np.concatenate([[False], track_genre[1:] == track_genre[:-1]])
    return cumulative - np.where(same_genre, previous, 0.0)


def genre_probabilities(
    genre_a: np.ndarray, genre_b: np.ndarray, taste_match: np.ndarray
) -> np.ndarray:
    """users x genres: P(a play's genre) per user."""
    favourite = FAVOURITE_BASE + FAVOURITE_TASTE * taste_match
    n = len(genre_a)
    probability = np.tile(((1.0 - favourite) / len(GENRES))[:, None], (1, len(GENRES)))
    probability[np.arange(n), genre_a] += favourite * FIRST_FAVOURITE
    probability[np.arange(n), genre_b] += favourite * (1.0 - FIRST_FAVOURITE)
    return probability


def true_item_scores(
    config: SimulationConfig, user_ids: tuple[str, ...], item_ids: tuple[str, ...]
) -> np.ndarray:
    """users x items: the probability that a play of the user is that track."""
    catalog = draw_catalog(config)
    share = within_genre_share(catalog.genre_cumulative, catalog.track_genre)
    track_position = {track: i for i, track in enumerate(track_ids(len(catalog.track_genre)))}
    items = np.array([track_position.get(item, -1) for item in item_ids])
    try:
        index = np.array([int(user) - 1 for user in user_ids])
    except ValueError:
        raise UsagecastError("user ids are not the simulator's; no oracle") from None
    if (items < 0).any() or (index < 0).any() or (index >= config.n_users).any():
        raise UsagecastError("users or items are not the simulator's; no oracle")
    genres = np.empty((len(index), len(GENRES)))
    for chunk in np.unique(index // config.chunk_size):
        in_chunk = np.flatnonzero(index // config.chunk_size == chunk)
        traits = draw_user_traits(config, int(chunk))
        local = index[in_chunk] - int(chunk) * config.chunk_size
        genres[in_chunk] = genre_probabilities(
            traits.genre_a[local], traits.genre_b[local], traits.taste_match[local]
        )
    return genres[:, catalog.track_genre[items]] * share[items]
