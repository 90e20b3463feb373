"""`make demo`: the whole pipeline on simulated data, through the same commands a user types.

Each step is a `usagecast ...` command line run in-process, so the demo proves the CLI and
prints what a user would see. Steps: simulate (once), ingest, build the premium feature set,
tune, promote, product analytics; then where to look (MLflow UI, serve command, a request).
"""

from __future__ import annotations

import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from contracts.workspace import mlflow_tracking_uri
from features.mlflow_links import SERVE_HOST, SERVE_PORT, serve_command, ui_command
from features.workspace import ensure_workspace
from usagecast_cli.main import main as usagecast

FEATURE_SET = "premium_30d@v1"
MODEL_NAME = "premium_30d"


@dataclass(frozen=True)
class DemoConfig:
    """Demo size and seed: small enough for a few minutes on 2 cores, large enough that the
    test month's calibration error is measured on about 1,200 rows (see
    docs/decisions/calibration.md)."""

    users: int = 4000
    months: int = 10
    seed: int = 7
    fault_rate: float = 0.01
    trials: int = 12


def demo_steps(config: DemoConfig, data_dir: Path) -> list[list[str]]:
    """The command lines the demo runs, in order (the simulate step only when data is absent)."""
    simulate = [
        "simulate",
        *("--users", str(config.users), "--months", str(config.months)),
        *("--seed", str(config.seed), "--fault-rate", str(config.fault_rate)),
        *("--out", str(data_dir)),
    ]
    steps = [] if (data_dir / "dataset.yaml").exists() else [simulate]
    return [
        *steps,
        ["ingest", str(data_dir / "dataset.yaml")],
        ["features", "build", FEATURE_SET],
        ["tune", FEATURE_SET, "--trials", str(config.trials), "--seed", str(config.seed)],
        ["promote", "--latest", "--feature-set", FEATURE_SET],
        ["analytics", "top-features", "--limit", "10"],
        ["analytics", "before-conversion", "--event", "BUY_PREMIUM", "--limit", "10"],
        ["analytics", "funnel", "--steps", "LOGIN,PLAY,LIKE,BUY_PREMIUM", "--window-days", "30"],
        ["analytics", "paths", "--to", "BUY_PREMIUM", "--limit", "10"],
        ["analytics", "active-users", "--period", "month"],
        ["analytics", "time-to-convert", "--days", "30", "--breakdown", "channel"],
    ]


def sample_request(model_uri: str) -> str:
    """A ready-to-send /invocations body: the model's input example asking for explanations."""
    import json

    import mlflow
    from mlflow.models import Model

    local = mlflow.artifacts.download_artifacts(model_uri)
    example = Model.load(local).load_input_example(local)
    body = {"dataframe_split": json.loads(example.head(1).to_json(orient="split", index=False))}
    body["params"] = {"mode": "explain", "k": 5}
    return json.dumps(body)


def where_to_look(model_uri: str) -> str:
    """What to open after the demo: the MLflow UI, the serve command and a sample request."""
    return "\n".join(
        [
            "",
            "Where to look:",
            f"  MLflow UI:  {ui_command()}   (or: make ui)",
            f"  Serve:      {serve_command(model_uri)}   (or: make serve)",
            f"  Request:    curl -s http://{SERVE_HOST}:{SERVE_PORT}/invocations "
            f"-H 'Content-Type: application/json' -d '{sample_request(model_uri)}'",
        ]
    )


PROMOTION_REFUSED = 1


def champion_exists(name: str) -> bool:
    """Whether the registered model has a `@champion` version to serve."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    try:
        MlflowClient(mlflow_tracking_uri()).get_model_version_by_alias(name, "champion")
    except MlflowException:
        return False
    return True


def step_failed(argv: list[str], code: int) -> bool:
    """A non-zero exit stops the demo, except a refused promotion while a champion exists.

    Running the demo again tunes an equal model on the same data and seed; the gate rightly
    refuses it (no gain over the champion), and the champion from before is still served.
    """
    if code == 0:
        return False
    refused = argv[0] == "promote" and code == PROMOTION_REFUSED
    if refused and champion_exists(MODEL_NAME):
        print("  promotion refused (reason above); the current @champion stays and is served")
        return False
    return True


def run_demo(config: DemoConfig = DemoConfig()) -> int:
    """Run every step; stop at the first failing one with its exit code."""
    workspace = ensure_workspace()
    data_dir = workspace / "demo_data"
    for argv in demo_steps(config, data_dir):
        print(f"\n$ usagecast {shlex.join(argv)}", flush=True)
        started = time.perf_counter()
        code = usagecast(argv)
        print(f"  [{time.perf_counter() - started:.1f} s]", flush=True)
        if step_failed(argv, code):
            print(f"demo stopped: `usagecast {shlex.join(argv)}` exited {code}", file=sys.stderr)
            return code
    print(where_to_look(f"models:/{MODEL_NAME}@champion"))
    return 0


if __name__ == "__main__":
    sys.exit(run_demo())
