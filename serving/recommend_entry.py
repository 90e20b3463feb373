"""Models-from-code entry point of the served recommender (see serving/model_entry.py)."""

import mlflow.models

from serving.recommend import RecommendModel

mlflow.models.set_model(RecommendModel())
