"""Several `usagecast promote` processes at once: the lock serialises them, @champion ends on
the best gated version, and each process leaves exactly one audit record."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest

from features.workspace import workspace_dir
from registry import names

PROCESSES = 4  # 8 passed too (about 4 minutes on a loaded 2-core machine)


@pytest.mark.slow
def test_concurrent_promotions_end_on_the_best_version(log_run, tmp_path):
    # Stores are created once, serially, before the parallel workers start.
    run_ids = [log_run(label_noise=0.05 * i, seed=i) for i in range(PROCESSES)]
    usagecast = Path(sys.executable).parent / "usagecast"
    workers = [
        subprocess.Popen(
            [str(usagecast), "promote", run_id, "--margin", "0"],
            cwd=tmp_path,
            env={**os.environ},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for run_id in run_ids
    ]
    outcomes = [(worker.wait(timeout=600), *worker.communicate()) for worker in workers]
    assert all(code in (0, 1) for code, _, _ in outcomes), outcomes
    assert sum(code == 0 for code, _, _ in outcomes) >= 1

    client = mlflow.MlflowClient()
    versions = client.search_model_versions("name = 'premium_30d'")
    assert len(versions) == PROCESSES
    assert all(v.tags[names.TAG_DECISION] in (names.PROMOTED, names.REFUSED) for v in versions)
    best = max(float(v.tags[names.TAG_METRIC]) for v in versions)
    champion = client.get_model_version_by_alias("premium_30d", names.CHAMPION)
    assert float(champion.tags[names.TAG_METRIC]) == best

    records = [
        json.loads(line)
        for line in (workspace_dir() / "registry" / "audit.jsonl").read_text().splitlines()
    ]
    assert sorted(r["run_id"] for r in records) == sorted(run_ids)
    assert sorted(int(r["version"]) for r in records) == list(range(1, PROCESSES + 1))
