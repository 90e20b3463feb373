"""Where a command that `mlflow run` started logs (the runs themselves: tests/experiments/
test_tracking.py for tuning, tests/analytics/test_cli.py for the analytics runs)."""

from __future__ import annotations

import pytest

from features.launch import DEFAULT_EXPERIMENT_ID, LAUNCHED_BY_TAG, Launch, LaunchPlan, plan_launch

LINEAGE = {
    "mlflow.source.name": "file:///project",
    "mlflow.source.git.commit": "abc123",
    "mlflow.project.entryPoint": "funnel",
    "mlflow.user": "ana",
}
UNRELATED = {"mlflow.runName": "launched", "mlflow.note.content": "mine", "team": "growth"}
IN_DEFAULT = Launch("r1", DEFAULT_EXPERIMENT_ID, {**LINEAGE, **UNRELATED})
IN_CHOSEN = Launch("r2", "7", {**LINEAGE, **UNRELATED})


@pytest.mark.parametrize(
    ("launch", "plan"),
    [
        (None, LaunchPlan()),
        (IN_CHOSEN, LaunchPlan(reuse=IN_CHOSEN)),
        (IN_DEFAULT, LaunchPlan(link="r1", own_tags={**LINEAGE, LAUNCHED_BY_TAG: "r1"})),
        (
            Launch("r3", DEFAULT_EXPERIMENT_ID),
            LaunchPlan(link="r3", own_tags={LAUNCHED_BY_TAG: "r3"}),
        ),
    ],
    ids=["cli", "mlflow-run-chosen-experiment", "mlflow-run-default", "default-no-tags"],
)
def test_where_a_launched_process_logs(launch, plan):
    assert plan_launch(launch) == plan
