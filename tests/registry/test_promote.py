"""Promotion against a real MLflow registry (SQLite in tmp_path): gate, tags, aliases,
audit records, a broken artifact, incompatible features, rollback and the listing."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pytest

from contracts.errors import UsagecastError
from contracts.lineage import BETTER_BASELINE_TAG
from contracts.workspace import workspace_dir
from registry import PolicyConfig, latest_run_id, list_models, names, promote_run, rollback
from usagecast_cli.main import main

NAME = "premium_30d"


def _audit() -> list[dict]:
    path = workspace_dir() / "registry" / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def _version_tags(version: str) -> dict[str, str]:
    return mlflow.MlflowClient().get_model_version(NAME, version).tags


@pytest.mark.slow
def test_first_then_better_then_worse(log_run):
    first = promote_run(log_run(label_noise=0.3, seed=1))
    assert first.promoted and first.champion == "1" and "first model" in first.reason
    better = promote_run(log_run(label_noise=0.0, seed=2), PolicyConfig(margin=0.01))
    assert better.promoted, better.reason
    assert (better.champion, better.previous) == ("2", "1")
    assert "same test rows" in better.reason
    worse = promote_run(log_run(label_noise=0.4, seed=3), PolicyConfig(margin=0.01))
    assert not worse.promoted
    assert "< margin 0.0100" in worse.reason
    assert (worse.champion, worse.previous) == ("2", "1")
    tags = _version_tags(worse.version)
    assert tags[names.TAG_DECISION] == names.REFUSED
    assert tags[names.TAG_REASON] == worse.reason
    assert tags[names.TAG_COMPARED_WITH] == "2"
    assert tags["feature_set"] == "premium_30d@v1"
    assert [record["version"] for record in _audit()] == ["1", "2", "3"]


@pytest.mark.slow
def test_a_tuning_runs_better_baseline_note_is_repeated_after_the_decision(log_run):
    run_id = log_run(seed=1)
    note = "the l1_logistic baseline scored better ...; to promote it instead: usagecast promote x"
    mlflow.MlflowClient().set_tag(run_id, BETTER_BASELINE_TAG, note)
    result = promote_run(run_id)
    assert result.promoted and result.summary().splitlines()[-1] == f"note: {note}"
    plain = promote_run(log_run(seed=2))
    assert plain.note is None and "note:" not in plain.summary()


@pytest.mark.slow
def test_truncated_model_artifact_is_refused(log_run):
    promote_run(log_run(seed=1))
    run_id = log_run(seed=2)
    model_id = mlflow.search_logged_models(
        filter_string=f"source_run_id = '{run_id}'", output_format="list"
    )[0].model_id
    location = Path(mlflow.get_logged_model(model_id).artifact_location.removeprefix("file://"))
    model_file = next(location.rglob("model.txt"))
    model_file.write_text(model_file.read_text()[:200])
    result = promote_run(run_id, PolicyConfig(margin=-1.0))
    assert not result.promoted
    assert "does not load" in result.reason
    assert result.champion == "1"
    assert _version_tags(result.version)[names.TAG_DECISION] == names.REFUSED


@pytest.mark.slow
def test_leakage_flag_on_the_run_refuses(log_run):
    result = promote_run(log_run(leakage_flagged="days_since_purchase"))
    assert not result.promoted
    assert "days_since_purchase" in result.reason
    assert result.champion is None


@pytest.mark.slow
def test_allowed_leak_suspects_need_the_promote_override_and_are_audited(log_run):
    run_id = log_run(leakage_flagged="days_since_purchase", leakage_warned="visits_7d")
    result = promote_run(run_id, PolicyConfig(allow_leaky=("days_since_purchase",)))
    assert result.promoted
    assert "leak suspects allowed: ['days_since_purchase']" in result.reason
    assert "leak warnings (AUC 0.90-0.95): ['visits_7d']" in result.reason
    assert _version_tags(result.version)[names.TAG_REASON] == result.reason


@pytest.mark.slow
def test_incompatible_features_need_allow_new_features(log_run):
    promote_run(log_run(with_likes=True, feature_set="premium_30d@v2"))
    narrow = log_run(seed=5)
    refused = promote_run(narrow)
    assert not refused.promoted
    assert "incompatible" in refused.reason and "likes_30d" in refused.reason
    allowed = promote_run(narrow, PolicyConfig(allow_new_features=True, margin=-1.0))
    assert allowed.promoted, allowed.reason
    assert "allowed by --allow-new-features" in allowed.reason
    assert _version_tags(allowed.version)[names.TAG_ALLOW_NEW_FEATURES] == "true"


@pytest.mark.slow
def test_rollback_moves_champion_to_previous(log_run):
    promote_run(log_run(label_noise=0.3, seed=1))
    promote_run(log_run(seed=2), PolicyConfig(margin=0.0))
    result = rollback(NAME)
    assert (result.champion, result.previous) == ("1", None)
    client = mlflow.MlflowClient()
    assert str(client.get_model_version_by_alias(NAME, names.CHAMPION).version) == "1"
    assert names.TAG_ROLLED_BACK in _version_tags("2")
    with pytest.raises(UsagecastError, match="no @previous"):
        rollback(NAME)
    assert [r["action"] for r in _audit()] == ["promote", "promote", "rollback"]


@pytest.mark.slow
def test_listing_and_latest_run_through_the_cli(log_run, capsys):
    run_id = log_run()
    assert latest_run_id("premium_30d@v1") == run_id
    assert main(["promote", "--latest", "--feature-set", "premium_30d@v1"]) == 0
    assert "PROMOTED to @champion" in capsys.readouterr().out
    (row,) = list_models(NAME)
    assert row.aliases == ("champion",)
    assert row.decision == "promoted" and row.feature_set == "premium_30d@v1"
    assert float(row.roc_auc) > 0.5
    assert main(["models", NAME]) == 0
    header, line = capsys.readouterr().out.splitlines()
    assert header.split()[:4] == ["version", "aliases", "feature_set", "roc_auc"]
    assert line.split()[:3] == ["1", "champion", "premium_30d@v1"]
    assert main(["rollback", NAME]) == 2
    assert "no @previous" in capsys.readouterr().err
    assert main(["promote", "--latest"]) == 2
    assert (
        "promote --latest needs --feature-set NAME@vN (tuned in this store: premium_30d@v1)"
        in capsys.readouterr().err
    )


def test_promote_latest_without_a_feature_set_in_an_empty_store_says_tune_first(capsys):
    assert main(["promote", "--latest"]) == 2
    assert "(no tuning run has logged a model in this store yet: usagecast tune first)" in (
        capsys.readouterr().err
    )


def test_run_without_test_set_is_a_user_error():
    with mlflow.start_run() as run:
        mlflow.set_tag("feature_set", "premium_30d@v1")
        mlflow.log_metric("test_ece", 0.01)
    with pytest.raises(UsagecastError, match="no model named 'model'"):
        promote_run(run.info.run_id)


def _files_under(folder: Path) -> set[Path]:
    return {path for path in folder.rglob("*") if path.is_file()}


@pytest.mark.parametrize("command", ["rollback", "models"])
@pytest.mark.parametrize("name", ["../../x", "/tmp/x", "a/b", ""])
def test_a_model_name_that_is_not_one_file_name_is_refused(tmp_path, capsys, command, name):
    before = _files_under(tmp_path)
    assert main([command, name]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith(f"error: model name {name!r}")
    assert _files_under(tmp_path) == before  # no lock file, inside or outside the workspace
    assert not Path("/tmp/x.lock").exists()


def test_promote_of_an_unknown_run_id_is_bad_input_in_one_line(capsys):
    mlflow.MlflowClient().search_experiments()  # the store exists: MLflow logs its creation
    capsys.readouterr()
    assert main(["promote", "deadbeef"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "Traceback" not in error
    assert error.startswith("error: run 'deadbeef' not found in sqlite:///")
