"""Feature sets: specs, the compiler, engines, builds and their store, over the event store
(`events`). Imports only `events` and `contracts`."""


def __getattr__(name: str):
    """`features.load_feature_set` without importing the feature-set stack at import time."""
    if name == "load_feature_set":
        from features.featureset import load_feature_set

        return load_feature_set
    raise AttributeError(f"module 'features' has no attribute {name!r}")
