"""usagecast's Python API, for notebooks and scripts: the CLI's pipeline as typed calls that
return objects and DataFrames instead of printing.

    import usagecast

    path, starter = usagecast.dataset_new("export/")       # -> starter dataset.yaml, checks
    usagecast.ingest("data/dataset.yaml")                  # -> IngestSummary
    usagecast.spec_new("trial")                            # -> starter specs/trial/v1.yaml
    usagecast.build("premium_30d@v1")                      # -> BuildResult (fingerprint, path)
    rows = usagecast.load("premium_30d@v1")                # -> DataFrame of training rows
    run = usagecast.tune("premium_30d@v1", trials=20, seed=0)   # -> TuneResult
    usagecast.promote(run.parent_run_id)                   # -> PromotionResult
    model = usagecast.champion_uri("premium_30d")          # models:/premium_30d@champion
    scores = usagecast.score("premium_30d@v1", model=model)     # -> DataFrame, ranked
    usagecast.explain(usagecast.load("premium_30d@v1", scoring=True).head(3), model=model)
    usagecast.whatif(scores.user_id[0], model=model, seed=0)     # -> UserWhatIf
    usagecast.analytics.top_features()                     # -> DataFrame

Errors are contracts.errors.UsagecastError (re-exported here), with the CLI's one-line message.
examples/notebook_walkthrough.py runs every step on simulated data.
"""

from contracts.errors import UsagecastError
from usagecast import analytics
from usagecast.api import (
    build,
    build_scoring,
    champion_uri,
    dataset_new,
    explain,
    ingest,
    load,
    promote,
    score,
    simulate,
    spec_new,
    tune,
    whatif,
)

__all__ = [
    "UsagecastError",
    "analytics",
    "build",
    "build_scoring",
    "champion_uri",
    "dataset_new",
    "explain",
    "ingest",
    "load",
    "promote",
    "score",
    "simulate",
    "spec_new",
    "tune",
    "whatif",
]
