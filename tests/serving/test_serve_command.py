"""The serve line promote and the demo print works from a shell without the venv on PATH."""

from __future__ import annotations

import os

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from features.mlflow_links import serve_command
from registry import champion_uri
from registry.promote import PromotionResult
from serving import log_serving_model
from serving.local_server import free_port, serving_process

pytestmark = pytest.mark.serve

BARE_PATH = "/usr/bin:/bin"  # no virtualenv: `uvicorn` and `mlflow` are not found by name


def test_the_printed_serve_line_answers_ping_without_an_activated_venv(tiny_model, tmp_path):
    uri = os.environ["MLFLOW_TRACKING_URI"]
    with mlflow.start_run():
        info = log_serving_model(tiny_model.model, tiny_model.metadata, tiny_model.rows)
    client = MlflowClient(uri)
    client.create_registered_model("tiny")
    version = client.create_model_version("tiny", info.model_uri, run_id=info.run_id)
    client.set_registered_model_alias("tiny", "champion", version.version)
    port = free_port()
    line = serve_command(champion_uri("tiny"), uri, port)
    env = {"PATH": BARE_PATH, "HOME": os.environ.get("HOME", str(tmp_path))}
    with serving_process(["bash", "-c", line], port, tmp_path / "server.log", env) as base:
        assert base == f"http://127.0.0.1:{port}"  # serving_process waited for /ping's 200


def test_promote_prints_that_line_only_when_there_is_a_champion():
    refused = PromotionResult("tiny", "2", "run", False, "no gain", "1", None)
    assert (
        refused.summary().splitlines()[-1] == f"serve it: {serve_command('models:/tiny@champion')}"
    )
    first_refused = PromotionResult("tiny", "1", "run", False, "calibration", None, None)
    assert (
        first_refused.summary().splitlines()[-1] == "nothing to serve yet: tiny has no @champion"
    )
