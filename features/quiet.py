"""Quiet defaults every `usagecast` command and Python API (usagecast/) call starts with:
MLflow's chatter off, its warnings on.

MLflow logs INFO lines a user has no use for ("Creating initial MLflow database tables...",
"Validating input example against model signature") and draws a progress bar per artifact
download (promotion downloads a model of some 70 files). Each default is only a default: a
variable the user has set wins (`MLFLOW_LOGGING_LEVEL=INFO usagecast ...` shows the lines).
Warnings are left alone; the ones a user cannot act on are avoided where they arise.
"""

from __future__ import annotations

import logging
import os

QUIET_ENV = {
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    # Read once, when mlflow is imported; the level is also set below for an mlflow that
    # is imported already (the demo, tests and notebooks run in-process).
    "MLFLOW_LOGGING_LEVEL": "WARNING",
}


def quiet_defaults() -> None:
    """Set QUIET_ENV where unset (child processes inherit it) and MLflow's logger level."""
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
    logging.getLogger("mlflow").setLevel(os.environ["MLFLOW_LOGGING_LEVEL"].upper())
