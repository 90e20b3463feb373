"""The trainer's half of a model family: a name, an output kind, a search space and a fit.

A family turns training rows into a fitted model of serving/families.py, which the served
model scores, explains and saves whatever the family. Adding a family: a module here with a
class that satisfies `ModelFamily` (exported from experiments/families/__init__.py), its name
in serving.FITTED_MODELS (with a new class in serving/families.py when its fitted model is a
new kind of file), and the run that fits and logs it (experiments/run.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import optuna
import pandas as pd

from serving import FittedModel, ModelMetadata, Output


@dataclass(frozen=True)
class TrainingRows:
    """The rows a family fits on: raw feature rows (as the feature set holds them) with their
    labels, and the served model's metadata (feature names, the training rows' levels)."""

    train: pd.DataFrame
    train_y: np.ndarray
    validation: pd.DataFrame
    validation_y: np.ndarray
    metadata: ModelMetadata


class ModelFamily(Protocol):
    """A trainable model family. `output`: "probability" (a classifier, its raw score is
    log-odds) or "value" (a regressor, its raw score is the prediction)."""

    @property
    def name(self) -> str:
        """The family name metadata.json records (a key of serving.FITTED_MODELS)."""
        ...

    @property
    def output(self) -> Output: ...

    def search_space(self, trial: optuna.Trial, train_y: np.ndarray) -> dict[str, object]:
        """Sample one candidate's parameters (Optuna define-by-run); `train_y` are the training
        labels (a classifier's balance can bound its space)."""
        ...

    def fit(self, rows: TrainingRows, params: Mapping[str, object], seed: int) -> FittedModel:
        """Fit on `rows.train` with `params` (as `search_space` gives them, plus any the
        family documents) and `seed`; deterministic for the same inputs."""
        ...
