"""What-ifs on a registered model: one user's suggestions, a lever change over a segment.

Public API: whatif_user -> UserWhatIf, whatif_policy -> PolicyReport (each with `summary()`,
the text the CLI prints), explain_rows (the served explanations of feature rows),
select_segment, compare_with_truth, TruthComparison. Every what-if output carries
serving.whatif.CAUSAL_NOTE; on simulated data the policy what-if also carries the simulator's
true effect of the same lever (experiments/whatif/truth.py).
"""

from experiments.whatif.run import (
    MLFLOW_EXPERIMENT,
    PolicyReport,
    TruthComparison,
    UserWhatIf,
    compare_with_truth,
    explain_rows,
    select_segment,
    whatif_policy,
    whatif_user,
)

__all__ = [
    "MLFLOW_EXPERIMENT",
    "PolicyReport",
    "TruthComparison",
    "UserWhatIf",
    "compare_with_truth",
    "explain_rows",
    "select_segment",
    "whatif_policy",
    "whatif_user",
]
