"""The before/after benchmark comparison masks speeds and sizes only: counts, AUCs, verdicts,
rows and table contents still have to match."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from benchmarks import compare_outputs as compare

OUT = {"/tmp/run/work/x": "<WORK>", "/tmp/run": "<OUT>"}


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "usagecast ingest       rows      103,303      7.3 s        14,173 rows/s  peak RSS"
            "      208 MiB",
            "usagecast ingest       rows      103,303      <T>        <T>  peak RSS      <T>",
        ),
        (
            "    usagecast      2.12 s     0.14 M events/s  rows 1131  (median of 3: 1.9-2.4 s)",
            "    usagecast      <T>     <T>  rows 1131  (median of 3: <T>)",
        ),
        (
            "vs pandas  speed-up x0.80   memory ratio 0.76 (usagecast / pandas)   same rows: yes",
            "vs pandas  speed-up <R>   memory ratio <R> (usagecast / pandas)   same rows: yes",
        ),
        (
            "fit time ratio (HistGradientBoosting / LightGBM): 2.34x, AUC difference +0.00142",
            "fit time ratio (HistGradientBoosting / LightGBM): <R>, AUC difference +0.00142",
        ),
        (
            "quality report: /tmp/run/work/x/home/reports/20261205T013031-8f0a463f.md",
            "quality report: <WORK>/home/reports/<STAMP>-8f0a463f.md",
        ),
        ("model 200 trees x 31 leaves", "model 200 trees x 31 leaves"),
        (
            "LightGBM, hard labels    0.8037      0.775",
            "LightGBM, hard labels    0.8037      0.775",
        ),
    ],
)
def test_speeds_sizes_and_folders_are_masked_and_results_kept(line, expected):
    assert compare.mask_line("any", line, OUT) == " ".join(expected.split())


def test_a_benchmark_s_own_columns_of_speeds_are_masked():
    row = "   0     yes      5.0       72.1       1.5     0.2   0.77958      1"
    assert compare.mask_line("tuning", row, OUT) == "0 yes <T> 0.77958 1"
    assert compare.mask_line("whatif", "  total seconds   0.818", OUT) == "total seconds <T>"
    answered = compare.mask_line("serving", "  whatif of 20 rows answered {200: 3}", OUT)
    assert answered == "whatif of 20 rows answered {200: <N>}"
    assert compare.mask_line("whatif", "  candidates scored   11146", OUT).endswith("11146")


def write(out: Path, name: str, relative: str, frame: pd.DataFrame) -> None:
    path = out / "work" / name / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path)


def test_tables_match_in_any_row_order_and_under_other_run_ids(tmp_path):
    frame = pd.DataFrame({"user_id": ["1", "2"], "auc": [0.1 + 0.2, 0.5]})
    write(tmp_path / "a", "b", f"mlartifacts/{'a' * 32}/t.parquet", frame)
    write(tmp_path / "c", "b", f"mlartifacts/{'f' * 32}/t.parquet", frame.iloc[::-1])
    assert compare.table_digests(tmp_path / "a", "b") == compare.table_digests(tmp_path / "c", "b")


def test_a_changed_value_changes_the_digest(tmp_path):
    frame = pd.DataFrame({"user_id": ["1", "2"], "count": [3, 4]})
    write(tmp_path / "a", "b", "t.parquet", frame)
    write(tmp_path / "c", "b", "t.parquet", frame.assign(count=[3, 5]))
    assert compare.table_digests(tmp_path / "a", "b") != compare.table_digests(tmp_path / "c", "b")
