"""Versioned, point-in-time feature sets: YAML spec -> SQL (DuckDB | Spark) -> Parquet + manifest.

Public API: build_feature_set, load_feature_set, list_feature_sets, compile_sql,
log_feature_set_to_mlflow, load_spec, new_spec (a Starter, filled from StoreFacts), release_spec,
BuildResult, FeatureSetSpec; scoring rows (unlabelled, one cutoff): build_scoring_rows,
load_scoring_rows, format_scoring_build.
Specs are found through catalog.py: the project's spec folder first, then the shipped examples.
"""

from features.featureset.build import (
    BuildResult,
    LeakageError,
    build_feature_set,
    compile_sql,
    format_build,
    format_listing,
    list_feature_sets,
    load_feature_set,
)
from features.featureset.catalog import Starter, StoreFacts, load_spec, new_spec, release_spec
from features.featureset.lineage import log_feature_set_to_mlflow
from features.featureset.scoring import (
    ScoringCutoffError,
    build_scoring_rows,
    format_scoring_build,
    load_scoring_rows,
)
from features.featureset.spec import FeatureSetSpec, SpecError, expand_features

__all__ = [
    "BuildResult",
    "FeatureSetSpec",
    "LeakageError",
    "ScoringCutoffError",
    "SpecError",
    "Starter",
    "StoreFacts",
    "build_feature_set",
    "build_scoring_rows",
    "compile_sql",
    "expand_features",
    "format_build",
    "format_listing",
    "format_scoring_build",
    "list_feature_sets",
    "load_feature_set",
    "load_scoring_rows",
    "load_spec",
    "log_feature_set_to_mlflow",
    "new_spec",
    "release_spec",
]
