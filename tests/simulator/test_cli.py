"""`usagecast simulate` through the real CLI entry point."""

from __future__ import annotations

import json

from usagecast_cli.main import main


def test_simulate_command_writes_an_export(tmp_path, capsys):
    out = tmp_path / "demo"
    size = ["--users", "30", "--seed", "3", "--months", "1"]
    code = main(["simulate", *size, "--fault-rate", "0.01", "--no-progress", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "simulated 30 users" in printed and "usagecast ingest" in printed
    assert (out / "dataset.yaml").is_file() and (out / "events" / "part-00000.csv").is_file()
    faults = json.loads((out / "faults.json").read_text(encoding="utf-8"))
    assert faults["seed"] == 3 and faults["fault_rate"] == 0.01


def test_simulate_refuses_a_non_empty_folder_in_one_line(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("mine", encoding="utf-8")
    code = main(["simulate", "--users", "5", "--out", str(tmp_path), "--no-progress"])
    assert code == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "not an empty folder" in error and str(tmp_path) in error
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_simulate_rejects_a_bad_fault_rate(tmp_path, capsys):
    code = main(["simulate", "--out", str(tmp_path / "x"), "--fault-rate", "2"])
    assert code == 2
    assert "fault_rate" in capsys.readouterr().err
