"""How a user reaches what usagecast put in MLflow: command lines and where a run's files are.

Printed command lines must work from any shell, also one where the virtualenv is not
activated: they name the `mlflow` executable installed next to this Python by its absolute
path and put that folder first on PATH (`mlflow models serve --env-manager local` starts
uvicorn by name), and they carry the tracking URI in effect, since the model or runs they
refer to live in that store.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse, urlsplit

from contracts.workspace import mlflow_tracking_uri

SERVE_HOST = "127.0.0.1"
SERVE_PORT = 5001
UI_PORT = 5000


def python_bin_dir() -> Path:
    """The folder of this Python's console scripts (the venv's bin/, symlinks not resolved)."""
    return Path(sys.executable).absolute().parent


def mlflow_command(args: list[str], env: dict[str, str] | None = None) -> str:
    """A shell line running `mlflow ARGS` from this installation, with `env` set for it."""
    bin_dir = python_bin_dir()
    assignments = [f"PATH={shlex.quote(str(bin_dir))}:$PATH"]
    assignments += [f"{key}={shlex.quote(value)}" for key, value in (env or {}).items()]
    return " ".join([*assignments, shlex.join([str(bin_dir / "mlflow"), *args])])


def hide_password(uri: str) -> str:
    """`uri` with the password of its user part shown as `***`: printed lines and logged
    configs never carry one (keep it in PGPASSWORD or ~/.pgpass and the lines work as shown)."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    user_info, _, host = parts.netloc.rpartition("@")
    user = user_info.partition(":")[0]
    return parts._replace(netloc=f"{user}:***@{host}").geturl()


def serve_command(model_uri: str, tracking_uri: str | None = None, port: int = SERVE_PORT) -> str:
    """The line that serves `model_uri` locally, pickle loading off (our model needs none)."""
    env = {
        "MLFLOW_TRACKING_URI": hide_password(tracking_uri or mlflow_tracking_uri()),
        "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "false",
    }
    args = ["models", "serve", "-m", model_uri, "--env-manager", "local"]
    return mlflow_command([*args, "--host", SERVE_HOST, "--port", str(port)], env)


def ui_command(tracking_uri: str | None = None, port: int = UI_PORT) -> str:
    """The line that opens the MLflow UI on a store (for a server, its own URL is the UI)."""
    uri = hide_password(tracking_uri or mlflow_tracking_uri())
    return mlflow_command(["ui", "--backend-store-uri", uri, "--port", str(port)])


def is_tracking_server(tracking_uri: str) -> bool:
    """Whether runs live behind an MLflow server whose UI has a URL (http or https)."""
    return urlparse(tracking_uri).scheme in ("http", "https")


def run_url(tracking_uri: str, experiment_id: str, run_id: str) -> str:
    """The MLflow UI page of a run on a tracking server."""
    return f"{tracking_uri.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"


def local_path(artifact_uri: str) -> Path | None:
    """The folder of a `file:` or plain-path artifact URI; None for remote stores."""
    parsed = urlparse(artifact_uri)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme == "" and artifact_uri.startswith("/"):
        return Path(artifact_uri)
    return None


def artifacts_location(
    what: str, artifact_uri: str, tracking_uri: str, experiment_id: str, run_id: str
) -> str:
    """Lines saying where a run's `what` (plots, tables) are: the local folder when the
    artifacts are files here (else their URI), and the run's UI URL on a tracking server."""
    path = local_path(artifact_uri)
    lines = [f"{what}: {path if path is not None else artifact_uri}"]
    if is_tracking_server(tracking_uri):
        lines.append(f"MLflow run: {run_url(tracking_uri, experiment_id, run_id)}")
    return "\n".join(lines)


def describe_run_artifacts(what: str, run_id: str, folder: str = "") -> str:
    """`artifacts_location` of a run in the store in effect; `folder` inside its artifacts."""
    from mlflow.tracking import MlflowClient

    tracking_uri = mlflow_tracking_uri()
    info = MlflowClient(tracking_uri).get_run(run_id).info
    root = info.artifact_uri.rstrip("/")
    artifact_uri = f"{root}/{folder}" if folder else root
    return artifacts_location(what, artifact_uri, tracking_uri, info.experiment_id, run_id)
