"""The bottom layer: typed values every stage passes, never raw str or dict; no I/O.

FeatureSetRef / BuildRef (one parser, one str form), FeatureSetManifest (frozen, versioned
JSON), RunLineage (tag keys, artifact names), the base error, the rule for workspace names
and the workspace's paths (contracts.workspace).
"""

from contracts.errors import UsagecastError
from contracts.lineage import LineageError, RunLineage
from contracts.manifest import FeatureSetManifest, ManifestError
from contracts.names import check_name, is_valid_name
from contracts.refs import BuildRef, FeatureSetRef, InvalidRefError

__all__ = [
    "BuildRef",
    "FeatureSetManifest",
    "FeatureSetRef",
    "InvalidRefError",
    "LineageError",
    "ManifestError",
    "RunLineage",
    "UsagecastError",
    "check_name",
    "is_valid_name",
]
