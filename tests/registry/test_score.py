"""`usagecast score`: every eligible user at a cutoff, ranked, with provenance in Parquet."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow.parquet as pq

from features.featureset.catalog import parse_ref
from features.featureset.store import build_dir, mark_latest, write_build
from registry import promote_run
from usagecast_cli.main import main


def _write_feature_set(rows: pd.DataFrame) -> None:
    """A built feature set in the workspace, through the feature store's own writer."""
    ref = parse_ref("premium_30d@v1")
    half = len(rows) // 2
    frame = rows.assign(
        user_id=[f"u{i}" for i in range(len(rows))],
        cutoff=[pd.Timestamp("2026-01-01")] * half
        + [pd.Timestamp("2026-02-01")] * (len(rows) - half),
    )
    write_build(frame, {"fingerprint": "fp-built"}, build_dir(ref, "fp-built"))
    mark_latest(ref, "fp-built")


def test_score_ranks_the_latest_cutoff_and_records_provenance(log_run, held_out, tmp_path, capsys):
    _write_feature_set(held_out())
    promote_run(log_run())
    out = tmp_path / "scores.parquet"
    code = main(
        ["score", "premium_30d@v1", "--model", "models:/premium_30d@champion", "--out", str(out)]
    )
    assert code == 0
    assert "version 1" in capsys.readouterr().out
    scores = pd.read_parquet(out)
    assert len(scores) == 150
    assert set(scores["cutoff"]) == {pd.Timestamp("2026-02-01")}
    assert list(scores["rank"]) == list(range(1, 151))
    assert scores["probability"].is_monotonic_decreasing
    provenance = json.loads(pq.read_schema(out).metadata[b"usagecast"])
    assert provenance["model_version"] == "1"
    assert provenance["feature_set_fingerprint"] == "fp-built"
    assert provenance["model_feature_set_fingerprint"] == "fp-test"


def test_score_at_an_earlier_cutoff_and_a_missing_one(log_run, held_out, tmp_path, capsys):
    _write_feature_set(held_out())
    promote_run(log_run())
    out = tmp_path / "scores.parquet"
    args = [
        "score",
        "premium_30d@v1",
        "--model",
        "models:/premium_30d@champion",
        "--out",
        str(out),
    ]
    assert main([*args, "--cutoff", "2026-01-01"]) == 0
    assert set(pd.read_parquet(out)["cutoff"]) == {pd.Timestamp("2026-01-01")}
    assert main([*args, "--cutoff", "2025-06-01"]) == 2
    assert "cutoffs: ['2026-01-01', '2026-02-01']" in capsys.readouterr().err
    assert main([*args, "--cutoff", "last tuesday"]) == 2
    assert "not a date" in capsys.readouterr().err
