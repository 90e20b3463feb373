"""What-if search: actionable counterfactuals per user and policy simulation per segment.

Entry points (pure numpy; the model is any `score_fn(X) -> probabilities`):

    space = action_space_from_manifest(manifest)          # or build_action_space(...)
    suggestions = counterfactuals(rows, space, booster.predict,
                                  Goal(kind="reach", target=0.5),
                                  SearchOptions(k=3, max_changes=2, time_budget_ms=200),
                                  seed=0)
    payload = suggestions_to_json(suggestions)            # one object per row, with the note
    result = simulate_policy(rows, space, booster.predict,
                             "count_ADVERTISEMENT_30d *= 0.5", seed=0)

The served `mode: whatif` params are checked once, by serving/validation.py
(`ServingParams.whatif_search()` gives the Goal and SearchOptions).

`rows` is a DataFrame holding the model's feature columns or a matrix in the model's column
order. `search_counterfactuals(...)` is `counterfactuals` plus what the search spent
(generations, candidates scored, why it stopped). Invalid specs, rows, goals, options or
change expressions raise `ActionSpaceError` (a `UsagecastError`) naming the field. Every
output carries CAUSAL_NOTE: model predictions on observational data, not measured effects.
"""

from serving.whatif.constraints import (
    ActionSpace,
    ActionSpaceError,
    GeneSpec,
    OrderCoupling,
    RatioCoupling,
    action_space_from_manifest,
    build_action_space,
    violations,
)
from serving.whatif.policy import (
    LeverChange,
    PolicyResult,
    apply_change,
    parse_change,
    simulate_policy,
)
from serving.whatif.search import (
    CAUSAL_NOTE,
    Change,
    Goal,
    SearchOptions,
    SearchResult,
    Suggestion,
    counterfactuals,
    lowered,
    search_counterfactuals,
    suggestions_to_json,
)

__all__ = [
    "CAUSAL_NOTE",
    "ActionSpace",
    "ActionSpaceError",
    "Change",
    "GeneSpec",
    "Goal",
    "LeverChange",
    "OrderCoupling",
    "PolicyResult",
    "RatioCoupling",
    "SearchOptions",
    "SearchResult",
    "Suggestion",
    "action_space_from_manifest",
    "apply_change",
    "build_action_space",
    "counterfactuals",
    "lowered",
    "parse_change",
    "search_counterfactuals",
    "simulate_policy",
    "suggestions_to_json",
    "violations",
]
