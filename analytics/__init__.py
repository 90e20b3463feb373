"""Descriptive product-analytics models over the event store (SQL, DuckDB or Spark).

Each model is a function of an engine (features.engines) and Filters returning pandas
DataFrames; `analytics.runs` wraps them for the CLI and the demo, `analytics.io` logs them.
"""

from analytics.ab import (
    ABResult,
    Experiment,
    Metric,
    analyze,
    assign,
    make_experiment,
    parse_metric,
    parse_split,
    user_outcomes,
)
from analytics.activity import active_users
from analytics.channels import channel_ranking, channels, ltv, ltv_backtest, ltv_formula_rows
from analytics.conversion_time import TimeToConvert, time_to_convert
from analytics.filters import NO_FILTERS, Filters, parse_segment
from analytics.funnel import funnel
from analytics.paths import PathsResult, paths
from analytics.retention import retention
from analytics.segments import cluster_profiles, segments
from analytics.usage import before_conversion, feature_trend, top_features
from analytics.value_curve import value_curve

__all__ = [
    "NO_FILTERS",
    "ABResult",
    "Experiment",
    "Filters",
    "Metric",
    "PathsResult",
    "TimeToConvert",
    "active_users",
    "analyze",
    "assign",
    "before_conversion",
    "channel_ranking",
    "channels",
    "cluster_profiles",
    "feature_trend",
    "funnel",
    "ltv",
    "ltv_backtest",
    "ltv_formula_rows",
    "make_experiment",
    "parse_metric",
    "parse_segment",
    "parse_split",
    "paths",
    "retention",
    "segments",
    "time_to_convert",
    "top_features",
    "user_outcomes",
    "value_curve",
]
