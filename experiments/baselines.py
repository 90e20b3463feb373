"""Baselines every tuned model is compared with, fitted on the same split.

- majority class: predicts the training positive rate for everyone (AUC 0.5, the floor);
- the L1 logistic family (experiments/families/l1_logistic.py) with C chosen on validation:
  what a careful notebook would have done. Its fitted model is servable like the tuned one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from optuna.trial import FixedTrial

from experiments.families import L1LogisticFamily, TrainingRows
from experiments.families.l1_logistic import L1_C_GRID
from experiments.metrics import MetricName, greater_is_better, score
from serving import UNCALIBRATED, FittedModel, encode_matrix


@dataclass(frozen=True)
class BaselineResult:
    """A fitted baseline's chosen parameters and its validation/test probabilities; `model`
    is its fitted model when it is servable (None for the majority class)."""

    name: str
    params: dict[str, object]
    validation_probabilities: np.ndarray
    test_probabilities: np.ndarray
    model: FittedModel | None = None


@dataclass(frozen=True)
class ScoredBaseline:
    """A logged baseline: its test probabilities, validation and test metrics, its child run
    and whether that run holds a servable model (`usagecast promote RUN_ID` takes it)."""

    test_probabilities: np.ndarray
    validation: dict[str, float]
    test: dict[str, float]
    run_id: str
    promotable: bool


def better_baseline_note(
    baselines: dict[str, ScoredBaseline], validation: dict[str, float], metric: MetricName
) -> str | None:
    """What `tune` says when a promotable baseline beat the tuned model on the validation
    rows by the tuning metric (the rows both were chosen on; test stays for the gate): which,
    by how much, and how to promote it instead; None when none did."""
    sign = 1.0 if greater_is_better(metric) else -1.0
    tuned = validation[metric]
    better = [
        (name, scored)
        for name, scored in baselines.items()
        if scored.promotable and sign * (scored.validation[metric] - tuned) > 0
    ]
    if not better:
        return None
    name, scored = max(better, key=lambda item: sign * item[1].validation[metric])
    return (
        f"the {name} baseline scored better than the tuned model on the validation rows "
        f"({metric} {scored.validation[metric]:.4f} vs {tuned:.4f}); to promote it instead: "
        f"usagecast promote {scored.run_id}"
    )


def majority_class(train_y: np.ndarray, validation_rows: int, test_rows: int) -> BaselineResult:
    """Everyone gets the training positive rate."""
    rate = float(np.mean(train_y))
    return BaselineResult(
        name="majority_class",
        params={"positive_rate": rate},
        validation_probabilities=np.full(validation_rows, rate),
        test_probabilities=np.full(test_rows, rate),
    )


def l1_logistic(
    rows: TrainingRows, test_x: pd.DataFrame, metric: MetricName, seed: int
) -> BaselineResult:
    """Fit one model per C in the grid (in grid order), keep the best on validation.

    Probabilities are the fitted model's own (its log-odds through the identity calibration):
    exactly what the served model answers.
    """
    family = L1LogisticFamily()
    validation_x = encode_matrix(rows.validation, rows.metadata)
    best: tuple[float, dict[str, object], FittedModel, np.ndarray] | None = None
    for c in L1_C_GRID:
        params = family.search_space(FixedTrial({"C": c}), rows.train_y)
        model = family.fit(rows, params, seed)
        probabilities = UNCALIBRATED.apply(model.raw_scores(validation_x))
        value = score(metric, rows.validation_y, probabilities)
        better = best is None or (
            value > best[0] if greater_is_better(metric) else value < best[0]
        )
        if better:
            best = (value, params, model, probabilities)
    assert best is not None  # the grid is never empty
    _, params, model, validation_probabilities = best
    return BaselineResult(
        name=family.name,
        params={**params, "penalty": "l1", "solver": "liblinear"},
        validation_probabilities=validation_probabilities,
        test_probabilities=UNCALIBRATED.apply(
            model.raw_scores(encode_matrix(test_x, rows.metadata))
        ),
        model=model,
    )
