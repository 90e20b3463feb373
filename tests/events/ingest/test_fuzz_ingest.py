"""Property: any messy export ingests with exact accounting or is refused with a UsagecastError.

A bounded sample; scripts/fuzz_ingest.py runs the full count.
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from messy_exports import FORMATS, check_ingest, write_messy_dataset


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rng=st.randoms(use_true_random=False), events_format=st.sampled_from(FORMATS))
def test_messy_exports_ingest_with_exact_accounting_or_a_clean_refusal(
    rng: random.Random, events_format: str
):
    with tempfile.TemporaryDirectory() as folder:
        dataset = write_messy_dataset(rng, Path(folder) / "data", events_format)
        check_ingest(dataset, Path(folder) / "store" / "events.duckdb")
