"""usagecast from Python, cell by cell: each `# %%` block can be pasted into a notebook cell.

Simulates a small product into a temporary workspace, then ingests it, builds premium_30d@v1,
tunes a few trials, promotes the model, scores today's users, explains one of them, asks
what would raise their probability, and runs two product-analytics models. Small on purpose
(a minute or two on a laptop); `WALKTHROUGH_USERS` and `WALKTHROUGH_TRIALS` make it bigger.

    python examples/notebook_walkthrough.py

The workspace is $USAGECAST_HOME when set (MLflow: $MLFLOW_TRACKING_URI, else a SQLite store
in the workspace), else a new temporary folder, printed first.
"""

# %% A workspace of its own, set before the first call reads it
import json
import os
import tempfile
from pathlib import Path

if not os.environ.get("USAGECAST_HOME"):
    os.environ["USAGECAST_HOME"] = tempfile.mkdtemp(prefix="usagecast-walkthrough-")
workspace = Path(os.environ["USAGECAST_HOME"])
print("workspace:", workspace)

import usagecast  # noqa: E402  (after USAGECAST_HOME, as a notebook would run it)

FEATURE_SET = "premium_30d@v1"
SEED = 3

# %% Simulate a small music-streaming product: events, users, tracks and a dataset.yaml
data = workspace / "walkthrough_data"
simulated = usagecast.simulate(
    data, seed=SEED, n_users=int(os.environ.get("WALKTHROUGH_USERS", "300")), months=6
)
print(simulated.describe())

# %% Ingest: validate the files into the event store, bad rows quarantined with a reason
ingested = usagecast.ingest(data / "dataset.yaml")
print(ingested.describe())

# %% Build the point-in-time feature set and look at its rows
built = usagecast.build(FEATURE_SET)
print("built", built.ref, "fingerprint", built.fingerprint, "rows", built.rows)
rows = usagecast.load(FEATURE_SET)
print(rows.groupby("cutoff")["label"].agg(["size", "mean"]))

# %% Tune LightGBM with Optuna (each trial an MLflow run) and promote the best model
tuned = usagecast.tune(
    FEATURE_SET, trials=int(os.environ.get("WALKTHROUGH_TRIALS", "3")), seed=SEED
)
print("run", tuned.parent_run_id, "test roc_auc", round(tuned.test_metrics["roc_auc"], 4))
promoted = usagecast.promote(tuned.parent_run_id)
print(promoted.summary())
model = usagecast.champion_uri("premium_30d")

# %% Score today's users (the day after the last event), most likely buyers first
scores = usagecast.score(FEATURE_SET, model=model)
print(scores.head())

# %% Why does the model rate the top user so high? Their largest feature contributions
user = str(scores["user_id"].iloc[0])
today = usagecast.load(FEATURE_SET, scoring=True)
explained = usagecast.explain(today[today["user_id"].astype(str) == user], model=model, k=3)
for contribution in explained["contributions"].iloc[0]:
    print(contribution)

# %% What would raise a middling user's probability by 0.05? (predictions, not measured effects)
middle = scores.iloc[len(scores) // 4]
suggestions = usagecast.whatif(
    str(middle["user_id"]), model=model, target=round(middle["probability"] + 0.05, 2), seed=SEED
)
print(suggestions.summary())

# %% Product analytics: which areas do users use most?
print(usagecast.analytics.top_features().head(10))

# %% How soon after signup do users buy premium, by channel? (Kaplan-Meier: a user who signed
# up late counts only as far as the data follows them)
timing = usagecast.analytics.time_to_convert("BUY_PREMIUM", days=30, breakdown="channel")
print(timing.summary)

# %% In short (one JSON line: tests/usagecast/test_api.py reads it back)
print(
    json.dumps(
        {
            "promoted": promoted.promoted,
            "model": f"{promoted.name} v{promoted.version}",
            "scored_users": len(scores),
            "scored_at": str(scores["cutoff"].max().date()),
            "explained_user": user,
            "contributions": len(explained["contributions"].iloc[0]),
            "whatif_user": suggestions.user_id,
            "whatif_suggestions": len(suggestions.suggestions),
            "channels_timed": len(timing.summary),
        }
    )
)
