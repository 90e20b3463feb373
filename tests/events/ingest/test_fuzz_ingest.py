"""Property: any messy export ingests with exact accounting or is refused with a UsagecastError,
and the config `dataset new` drafts from its files reads whatever a hand-written one reads;
from a text export of any shape it drafts a config that reads every row.

A bounded sample; scripts/fuzz_ingest.py runs the full count.
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from messy_exports import FORMATS, check_ingest, check_starter, write_messy_dataset
from text_exports import write_text_export

from events.ingest import ingest_dataset
from events.ingest.starter import write_starter


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rng=st.randoms(use_true_random=False), events_format=st.sampled_from(FORMATS))
def test_messy_exports_ingest_with_exact_accounting_or_a_clean_refusal(
    rng: random.Random, events_format: str
):
    with tempfile.TemporaryDirectory() as folder:
        dataset = write_messy_dataset(rng, Path(folder) / "data", events_format)
        check_ingest(dataset, Path(folder) / "store" / "events.duckdb")


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rng=st.randoms(use_true_random=False), events_format=st.sampled_from(FORMATS))
def test_the_starters_config_reads_every_export_a_hand_written_one_reads(
    rng: random.Random, events_format: str
):
    """A file layout the starter misjudges (a footer guessed from a row whose quoted field
    holds line breaks) would refuse the file or drop its last rows unseen."""
    with tempfile.TemporaryDirectory() as folder:
        dataset = write_messy_dataset(rng, Path(folder) / "data", events_format)
        if check_ingest(dataset, Path(folder) / "a.duckdb") is None:  # else broken files
            check_starter(dataset, Path(folder) / "b.duckdb")


@pytest.mark.slow
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rng=st.randoms(use_true_random=False))
def test_the_starters_config_reads_every_row_of_a_text_export_of_any_shape(rng: random.Random):
    """A title, a footer, quoted line breaks, a delimiter or encoding the starter misjudged
    would refuse the file, drop rows, or quarantine what it misread."""
    with tempfile.TemporaryDirectory() as folder:
        written = write_text_export(rng, Path(folder) / "export")
        drafted, _ = write_starter([Path(folder) / "export"], None, None)
        store = Path(folder) / "events.duckdb"
        summary = ingest_dataset(drafted, store, progress=False, allow_partial=True)
        counts = summary.tables["events"]
        assert counts.read == written
        assert set(counts.quarantined) <= {"missing_required_field", "duplicate_event"}
