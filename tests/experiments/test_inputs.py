"""The manifest's typed view: leakage lists and the training levels a model keeps."""

from __future__ import annotations

import pandas as pd

from contracts.manifest import FeatureSetManifest
from experiments.inputs import read_inputs
from features.categories import OTHER_LEVEL

MANIFEST = FeatureSetManifest.from_dict(
    {
        "ref": "t@v1",
        "fingerprint": "fp",
        "label": {"kind": "event_within", "horizon_days": 30},
        "features": [
            {"name": "org", "dtype": "categorical", "levels": ["a", "b", "c", "d"]},
            {"name": "visits", "dtype": "numeric"},
        ],
        "leakage": {"flagged": ["x"], "warned": ["visits"]},
    }
)


def test_training_levels_group_what_the_training_rows_hold_rarely():
    inputs = read_inputs(MANIFEST)
    assert (inputs.leakage_flagged, inputs.leakage_warned) == (("x",), ("visits",))
    train = pd.DataFrame({"org": ["a"] * 30 + ["b"] * 25 + ["c"] * 2, "visits": range(57)})
    trained = inputs.with_training_levels(train)
    assert trained.categorical_levels == {"org": ("a", "b", OTHER_LEVEL)}
    assert trained.model_metadata(0.5).categorical_levels["org"][-1] == OTHER_LEVEL
    assert inputs.categorical_levels["org"] == ("a", "b", "c", "d")  # a new object, not changed
