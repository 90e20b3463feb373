"""Top layer: Optuna-tuned, MLflow-tracked training runs on versioned feature sets.

Public API: tune, TuneConfig, TuneResult, ValueTuneResult (a value label's run), format_summary,
plan_split, apply_split, SplitPlan, evaluate, METRIC_NAMES.
"""

from experiments.metrics import METRIC_NAMES, evaluate
from experiments.run import TuneConfig, TuneResult, format_summary, tune
from experiments.split import SplitPlan, apply_split, plan_split
from experiments.value_run import ValueTuneResult

__all__ = [
    "METRIC_NAMES",
    "SplitPlan",
    "TuneConfig",
    "TuneResult",
    "ValueTuneResult",
    "apply_split",
    "evaluate",
    "format_summary",
    "plan_split",
    "tune",
]
