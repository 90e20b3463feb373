"""Next-best-item recommendations: implicit-feedback ALS tuned with Optuna, compared with a
popularity baseline and, on simulated data, the oracle; served by serving/recommend.py.

Public API: RecommendConfig, RecommendResult, train_recommender, format_summary.
"""

from experiments.recommend.run import (
    RecommendConfig,
    RecommendResult,
    format_summary,
    train_recommender,
)

__all__ = ["RecommendConfig", "RecommendResult", "format_summary", "train_recommender"]
