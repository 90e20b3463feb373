"""Shared tiny simulations: several chunks, two months, faults on."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator import SimulationConfig, SimulationSummary, simulate_to_dir


@pytest.fixture(scope="session")
def tiny_config() -> SimulationConfig:
    """60 users in chunks of 25 (three chunks), two months, 3% faults."""
    return SimulationConfig(n_users=60, seed=7, months=2, fault_rate=0.03, chunk_size=25)


@pytest.fixture(scope="session")
def tiny_export(
    tmp_path_factory: pytest.TempPathFactory, tiny_config: SimulationConfig
) -> tuple[Path, SimulationSummary]:
    """One faulty tiny export shared by the read-only tests of this package."""
    out = tmp_path_factory.mktemp("tiny_export")
    return out, simulate_to_dir(out, tiny_config, progress=False)
