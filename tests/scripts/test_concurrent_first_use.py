"""scripts/reliability/concurrent_first_use.py: 8 `usagecast tune` processes started together on
a fresh workspace all succeed and leave a usable store (CI runs one round; the script runs 20
by hand)."""

from __future__ import annotations

import pytest

from scripts.reliability import concurrent_first_use


@pytest.mark.slow
def test_eight_concurrent_first_tunes_all_succeed(tmp_path):
    args = concurrent_first_use.parse_args(["--rounds", "1", "--users", "200", "--months", "5"])
    [result] = concurrent_first_use.run(args, tmp_path)
    assert result.exit_codes == [0] * 8, result.errors
    assert result.store_problems == []


def test_a_round_counts_failed_processes_and_store_problems():
    result = concurrent_first_use.Round(exit_codes=[0, 1, 0], store_problems=["store unusable"])
    assert result.failures == 2
