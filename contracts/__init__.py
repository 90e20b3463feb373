"""The bottom layer: typed values every stage passes, never raw str or dict; no I/O.

FeatureSetRef (one parser, one str form), the base error, the rule for workspace names.
"""

from contracts.errors import UsagecastError
from contracts.names import check_name, is_valid_name
from contracts.refs import BuildRef, FeatureSetRef, InvalidRefError

__all__ = [
    "BuildRef",
    "FeatureSetRef",
    "InvalidRefError",
    "UsagecastError",
    "check_name",
    "is_valid_name",
]
