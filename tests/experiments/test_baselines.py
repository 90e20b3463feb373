"""When a promotable baseline beat the tuned model on validation, tune says so and how to
promote it instead."""

from __future__ import annotations

import numpy as np
import pytest

from experiments import format_summary
from experiments.baselines import ScoredBaseline, better_baseline_note
from experiments.run import TuneResult


def scored(validation: dict[str, float], run_id: str, promotable: bool = True) -> ScoredBaseline:
    return ScoredBaseline(np.zeros(2), validation, {}, run_id, promotable)


BASELINES = {
    "majority_class": scored({"roc_auc": 0.5, "logloss": 0.2}, "m", promotable=False),
    "l1_logistic": scored({"roc_auc": 0.8, "logloss": 0.3}, "l1"),
}


@pytest.mark.parametrize(
    ("tuned", "metric", "named"),
    [
        ({"roc_auc": 0.6}, "roc_auc", True),
        ({"roc_auc": 0.8}, "roc_auc", False),  # a tie is no better
        ({"roc_auc": 0.9}, "roc_auc", False),
        ({"logloss": 0.4}, "logloss", True),  # lower is better
        ({"logloss": 0.25}, "logloss", False),
        ({"logloss": 0.1}, "logloss", False),  # the majority class is lower, but no model
    ],
)
def test_only_a_promotable_baseline_better_by_the_tuning_metric_is_named(tuned, metric, named):
    note = better_baseline_note(BASELINES, tuned, metric)
    if not named:
        assert note is None
        return
    value = BASELINES["l1_logistic"].validation[metric]
    assert note == (
        f"the l1_logistic baseline scored better than the tuned model on the validation rows "
        f"({metric} {value:.4f} vs {tuned[metric]:.4f}); to promote it instead: "
        "usagecast promote l1"
    )


def test_the_summary_prints_the_note_before_the_next_step():
    result = TuneResult(
        parent_run_id="parent",
        experiment_id="1",
        study_name="study",
        best_params={},
        validation_metrics={"roc_auc": 0.6},
        test_metrics={"roc_auc": 0.6},
        baseline_test_auc={"l1_logistic": 0.8},
        oracle={},
        tracking_uri="http://127.0.0.1:5000",
        folds=1,
        folds_note=None,
        split_note=None,
        plots_uri="mlflow-artifacts:/1/parent/artifacts/plots",
        baseline_note=better_baseline_note(BASELINES, {"roc_auc": 0.6}, "roc_auc"),
    )
    lines = format_summary(result).splitlines()
    assert lines[-2].startswith("note: the l1_logistic baseline scored better")
    assert lines[-1].startswith("next: usagecast promote parent")
