"""The demo's step list, when a non-zero exit stops it, and the whole demo as `make demo` runs
it (real MLflow registry in tmp_path)."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from contracts.workspace import mlflow_tracking_uri
from usagecast_cli.demo import MODEL_NAME, DemoConfig, demo_steps, run_demo, step_failed


def test_simulate_runs_only_when_the_demo_data_is_absent(tmp_path: Path) -> None:
    first = demo_steps(DemoConfig(), tmp_path)
    assert first[0][0] == "simulate" and "--seed" in first[0]
    (tmp_path / "dataset.yaml").write_text("")
    again = demo_steps(DemoConfig(), tmp_path)
    assert [argv[0] for argv in again] == [argv[0] for argv in first[1:]]


@pytest.mark.slow
def test_refused_promotion_stops_the_demo_only_without_a_champion(tmp_path: Path) -> None:
    promote = ["promote", "--latest"]
    assert step_failed(promote, 1)
    client = MlflowClient(mlflow_tracking_uri())
    client.create_registered_model(MODEL_NAME)
    version = client.create_model_version(MODEL_NAME, source=tmp_path.as_uri())
    client.set_registered_model_alias(MODEL_NAME, "champion", version.version)
    assert not step_failed(promote, 1)
    assert step_failed(promote, 2)
    assert step_failed(["tune", "premium_30d@v1"], 1)
    assert not step_failed(["ingest", "x"], 0)


@pytest.mark.slow
def test_the_demo_promotes_a_champion_and_says_where_to_look(capsys) -> None:
    """`make demo` end to end on its default data: every step exits 0, the gate promotes the
    tuned model (test calibration within the gate's limit) and the demo says where to look."""
    assert run_demo() == 0
    printed = capsys.readouterr().out
    assert "PROMOTED to @champion" in printed
    assert "Where to look:" in printed and f"models:/{MODEL_NAME}@champion" in printed
    assert "median_hours_from_previous" in printed  # the funnel's table
    assert "→ BUY_PREMIUM" in printed and "path_positions" in printed  # the paths to it
    assert "resurrected_users" in printed  # the active users' table
    assert "median_days_to_convert" in printed  # the time to convert by channel
    champion = MlflowClient(mlflow_tracking_uri()).get_model_version_by_alias(
        MODEL_NAME, "champion"
    )
    assert str(champion.version) == "1"
