"""Printed command lines and where a run's files are: every kind of store the CLI meets."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import pytest

from features.mlflow_links import (
    artifacts_location,
    hide_password,
    local_path,
    serve_command,
    ui_command,
)

RUN = "0123abcd"


@pytest.mark.parametrize(
    ("tracking_uri", "artifact_uri", "expected"),
    [
        (
            "sqlite:////w/.usagecast/mlflow.db",
            f"file:///w/.usagecast/mlartifacts/{RUN}/artifacts/plots",
            f"plots: /w/.usagecast/mlartifacts/{RUN}/artifacts/plots",
        ),
        (
            "sqlite:////w/mlflow.db",
            f"/w/mlruns/3/{RUN}/artifacts/plots",
            f"plots: /w/mlruns/3/{RUN}/artifacts/plots",
        ),
        (
            "sqlite:////w/mlflow.db",
            "file:///w/with%20space/plots",
            "plots: /w/with space/plots",
        ),
        (
            "http://mlflow.internal:5000/",
            f"mlflow-artifacts:/3/{RUN}/artifacts/plots",
            f"plots: mlflow-artifacts:/3/{RUN}/artifacts/plots\n"
            f"MLflow run: http://mlflow.internal:5000/#/experiments/3/runs/{RUN}",
        ),
        (
            "https://mlflow.example.com",
            f"s3://bucket/3/{RUN}/artifacts/plots",
            f"plots: s3://bucket/3/{RUN}/artifacts/plots\n"
            f"MLflow run: https://mlflow.example.com/#/experiments/3/runs/{RUN}",
        ),
        (
            "postgresql://u@db/mlflow",
            f"s3://bucket/3/{RUN}/artifacts/plots",
            f"plots: s3://bucket/3/{RUN}/artifacts/plots",
        ),
    ],
)
def test_artifacts_location_is_a_folder_here_and_a_url_on_a_server(
    tracking_uri: str, artifact_uri: str, expected: str
) -> None:
    assert artifacts_location("plots", artifact_uri, tracking_uri, "3", RUN) == expected


def test_only_local_artifact_uris_have_a_path() -> None:
    assert local_path("file:///a/b") == Path("/a/b")
    assert local_path("mlflow-artifacts:/1/x") is None
    assert local_path("runs:/x/model") is None


def test_command_lines_name_this_installation_and_the_store() -> None:
    bin_dir = Path(sys.executable).absolute().parent
    words = shlex.split(serve_command("models:/m@champion", "sqlite:////w/my store.db", 5002))
    assert words[:4] == [
        f"PATH={bin_dir}:$PATH",
        "MLFLOW_TRACKING_URI=sqlite:////w/my store.db",
        "MLFLOW_ALLOW_PICKLE_DESERIALIZATION=false",
        str(bin_dir / "mlflow"),
    ]
    assert words[4:] == [
        *("models", "serve", "-m", "models:/m@champion", "--env-manager", "local"),
        *("--host", "127.0.0.1", "--port", "5002"),
    ]
    ui = shlex.split(ui_command("sqlite:////w/mlflow.db"))
    assert ui[1:] == [
        *(str(bin_dir / "mlflow"), "ui", "--backend-store-uri", "sqlite:////w/mlflow.db"),
        *("--port", "5000"),
    ]


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        ("postgresql://team:s3cret@db:5432/mlflow", "postgresql://team:***@db:5432/mlflow"),
        ("postgresql+psycopg://team:p%40ss@db/mlflow", "postgresql+psycopg://team:***@db/mlflow"),
        ("postgresql://team@db/mlflow", "postgresql://team@db/mlflow"),
        ("sqlite:////w/mlflow.db", "sqlite:////w/mlflow.db"),
    ],
)
def test_printed_store_uris_never_carry_a_password(uri: str, shown: str) -> None:
    assert hide_password(uri) == shown
    for line in (serve_command("models:/m@champion", uri), ui_command(uri)):
        assert shown in line and ("s3cret" not in line and "p%40ss" not in line)
