"""Every injected fault is quarantined by ingest with the reason faults.json names."""

from __future__ import annotations

import dataclasses
import json

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.ingest import ingest_dataset
from events.store import EVENTS, QUARANTINE
from simulator import SimulationConfig, simulate_to_dir


def test_ingest_quarantines_exactly_the_injected_faults(tiny_export, tmp_path):
    folder, summary = tiny_export
    expected = json.loads((folder / "faults.json").read_text(encoding="utf-8"))
    assert sum(expected["expected_quarantine"]["events"].values()) > 0

    store = tmp_path / "events.duckdb"
    result = ingest_dataset(folder / "dataset.yaml", store, progress=False)

    for table in ("events", "users"):
        counts = result.tables[table]
        assert counts.read == expected["rows_written"][table]
        assert dict(counts.quarantined) == expected["expected_quarantine"][table], table
        assert counts.accepted + counts.quarantined_total == counts.read
    with duckdb.connect(str(store), read_only=True) as con:
        by_reason = dict(
            con.execute(
                f"SELECT reason, count(*) FROM {QUARANTINE} GROUP BY reason ORDER BY reason"
            ).fetchall()
        )
        accepted_from_event_files = con.execute(
            f"SELECT count(*) FROM {EVENTS} WHERE source_file LIKE '%part-%'"
        ).fetchone()[0]
    assert by_reason == expected["expected_quarantine_by_reason"]
    assert expected["reformatted_timestamps"] > 0
    assert accepted_from_event_files == summary.rows["events"] - sum(
        expected["expected_quarantine"]["events"].values()
    )


@pytest.mark.slow
@settings(
    max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2**31), rate=st.sampled_from([0.005, 0.05, 0.3]))
def test_faults_are_caught_for_any_seed_and_rate(tmp_path_factory, seed, rate):
    folder = tmp_path_factory.mktemp("faulty")
    config = SimulationConfig(n_users=12, seed=seed, months=1, fault_rate=rate, chunk_size=5)
    simulate_to_dir(folder, config, progress=False)
    expected = json.loads((folder / "faults.json").read_text(encoding="utf-8"))
    result = ingest_dataset(folder / "dataset.yaml", folder / "store.duckdb", progress=False)
    for table in ("events", "users"):
        assert result.tables[table].read == expected["rows_written"][table]
        assert dict(result.tables[table].quarantined) == expected["expected_quarantine"][table]


def test_clean_export_has_only_dropped_help_events(tmp_path, tiny_config):
    clean = dataclasses.replace(tiny_config, fault_rate=0.0, n_users=20)
    simulate_to_dir(tmp_path / "clean", clean, progress=False)
    result = ingest_dataset(tmp_path / "clean" / "dataset.yaml", tmp_path / "s.duckdb", False)
    assert set(result.tables["events"].quarantined) <= {"dropped_event_type"}
    assert result.tables["users"].quarantined_total == 0
