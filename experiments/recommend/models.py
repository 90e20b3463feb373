"""The recommenders compared: implicit's ALS (tuned), popularity (the baseline).

Each turns a split's training matrix into a score per (user, item); `serving.recommend.top_k`
ranks the scores with consumed items removed, for evaluation and serving alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import optuna
from scipy.sparse import csr_matrix

from experiments.recommend.interactions import InteractionSplit
from serving.recommend import Recommender, RecommenderMetadata, top_k


@dataclass(frozen=True)
class AlsParams:
    """Hyperparameters of implicit's AlternatingLeastSquares (confidence = alpha x count)."""

    factors: int = 64
    regularization: float = 0.05
    iterations: int = 15
    alpha: float = 1.0


def suggest_als(trial: optuna.Trial) -> AlsParams:
    """The search space Optuna samples."""
    return AlsParams(
        factors=trial.suggest_int("factors", 8, 128, log=True),
        regularization=trial.suggest_float("regularization", 1e-3, 10.0, log=True),
        iterations=trial.suggest_int("iterations", 5, 30),
        alpha=trial.suggest_float("alpha", 0.01, 50.0, log=True),
    )


def fit_als(train: csr_matrix, params: AlsParams, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(user factors, item factors) of ALS on the training counts; one thread and the seed
    make it deterministic."""
    from implicit.cpu.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, "blas"):  # implicit warns about (and slows on) threaded BLAS
        model = AlternatingLeastSquares(
            factors=params.factors,
            regularization=params.regularization,
            iterations=params.iterations,
            alpha=params.alpha,
            num_threads=1,
            random_state=seed,
        )
        model.fit(train, show_progress=False)
    return np.asarray(model.user_factors), np.asarray(model.item_factors)


def als_recommender(split: InteractionSplit, params: AlsParams, seed: int) -> Recommender:
    """ALS trained on the split's training rows, packaged as the served recommender; it knows
    only the users with an interaction before the cutoff (the others get popularity)."""
    users, items = fit_als(split.train, params, seed)
    active = np.flatnonzero(np.diff(split.train.indptr) > 0)
    metadata = RecommenderMetadata(
        user_ids=tuple(split.user_ids[i] for i in active),
        item_ids=split.item_ids,
        popularity=tuple(int(v) for v in split.popularity()),
        cutoff=split.cutoff.isoformat(),
        array_sha256={},
    )
    return Recommender(users[active], items, split.train[active], metadata)


def recommend_rows(
    recommender: Recommender, split: InteractionSplit, rows: np.ndarray, k: int
) -> np.ndarray:
    """Top-k item positions for the split's users at `rows`: exactly what the served model
    answers them (the model's ranking, popularity for a user without history)."""
    if recommender.metadata.item_ids != split.item_ids:
        raise ValueError("the recommender was trained on another item index")
    return recommender.ranked([split.user_ids[i] for i in rows], k)[0]


def popularity_rows(split: InteractionSplit, rows: np.ndarray, k: int) -> np.ndarray:
    """Top-k item positions by distinct users before the cutoff, consumed items removed."""
    scores = np.broadcast_to(
        split.popularity().astype(np.float64), (len(rows), len(split.item_ids))
    )
    return top_k(scores, split.train[rows], k)
