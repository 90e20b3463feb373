"""Bottom layer: ingestion, data quality, the simulator, feature-set specs, engines and store.

Imports no other usagecast package.
"""


def __getattr__(name: str):
    """`features.load_feature_set` without importing the feature-set stack at import time."""
    if name == "load_feature_set":
        from features.featureset import load_feature_set

        return load_feature_set
    raise AttributeError(f"module 'features' has no attribute {name!r}")
