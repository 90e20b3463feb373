"""Golden SQL per dialect for the shipped specs, and for a test spec using the kinds they do
not (golden/specs/): a compiler change shows up in review.

Regenerate after an intended change with:
    USAGECAST_UPDATE_GOLDEN=1 .venv/bin/pytest tests/features/featureset/test_golden_sql.py
then review the diff of tests/features/featureset/golden/ and commit it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from features.featureset import compile_sql

GOLDEN = Path(__file__).parent / "golden"
SHIPPED = (
    "premium_30d@v1",
    "churn_30d@v1",
    "adoption_14d@v1",
    "adoption_14d@v2",
    "ltv_90d@v1",
    "ltv_90d@v2",
)
# Test specs (a project spec folder): kinds no shipped spec uses (behaviour, related,
# breadth, last, item counts).
TEST_SPECS = (
    "repeat_buyers@v1",
    "org_adoption@v1",
    "org_adoption_timed@v1",
    "feature_breadth@v1",
    "plan_history@v1",
    "product_mix@v1",
)


@pytest.mark.parametrize("dialect", ["duckdb", "spark"])
@pytest.mark.parametrize("ref", SHIPPED + TEST_SPECS)
def test_compiled_sql_matches_golden_file(ref, dialect):
    path = GOLDEN / f"{ref.replace('@', '_')}.{dialect}.sql"
    sql = compile_sql(ref, dialect, sets_dir=GOLDEN / "specs" if ref in TEST_SPECS else None)
    if os.environ.get("USAGECAST_UPDATE_GOLDEN") == "1":
        path.write_text(sql)
    assert path.exists(), f"{path} missing: run with USAGECAST_UPDATE_GOLDEN=1 to create it"
    assert sql == path.read_text(), f"{ref} {dialect} SQL changed: see the module docstring"
