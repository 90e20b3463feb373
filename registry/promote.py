"""MLflow registry IO: register a run's model, gate it, move aliases, roll back, list.

Batch scoring, which downloads and loads registered models the same way
(`load_registered`), is registry/scoring.py. Every promotion (and rollback) runs under
an exclusive lock per registered model, so concurrent `usagecast promote` processes are applied
one after another against the champion of the moment, and each leaves exactly one audit
record: tags on its model version plus one line in the workspace's `registry/audit.jsonl`.
When the tracking store is a PostgreSQL database (or USAGECAST_LOCK_URL names one, for a
tracking server) the lock is that database's advisory lock on the model name, which
serialises every host that reaches it; otherwise it is a file lock
in the workspace (`registry/<name>.lock`, recording its holder), which serialises the
processes that share the workspace (one machine). Both are dropped when their holder dies.

Before any alias moves, the candidate is downloaded from the registry, loaded through
`mlflow.pyfunc.load_model` and scored on its run's test set; a model that does not load is
refused. The champion is re-scored on the same rows when its feature columns exist there.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from sklearn.metrics import roc_auc_score

from contracts.errors import UsagecastError
from contracts.lineage import (
    BASELINE_RMSE_METRIC,
    BETTER_BASELINE_TAG,
    FEATURE_SET_TAG,
    MODEL_ARTIFACT,
    TEST_SET_ARTIFACT,
    RunLineage,
)
from contracts.names import check_name
from contracts.refs import FeatureSetRef
from features.locks import OwnedLock, advisory_lock, is_postgres_url
from features.mlflow_links import hide_password, serve_command
from features.workspace import activate_mlflow_tracking, ensure_workspace
from registry import names
from registry.policy import (
    Candidate,
    Champion,
    Decision,
    PolicyConfig,
    ValueCandidate,
    ValueChampion,
    decide,
    decide_value,
    normalised_gini,
)

METADATA_ARTIFACT = "artifacts/metadata.json"
NOT_FOUND = "RESOURCE_DOES_NOT_EXIST"  # MlflowException.error_code of a missing run or model
PROMOTION_LOCK_PREFIX = "usagecast.promotion:"  # + model name: the advisory lock's name
LOCK_URL_ENV = "USAGECAST_LOCK_URL"


class ModelLoadError(Exception):
    """The registered model could not be downloaded, loaded or scored."""


@dataclass(frozen=True)
class PromotionResult:
    """What one promote call did; `summary()` is what the CLI prints."""

    name: str
    version: str
    run_id: str
    promoted: bool
    reason: str
    champion: str | None
    previous: str | None
    # The tuning run's word that its promotable baseline beat it on validation, if it did.
    note: str | None = None

    def summary(self) -> str:
        verdict = "PROMOTED to @champion" if self.promoted else "REFUSED"
        lines = [
            f"{self.name} v{self.version} (run {self.run_id}): {verdict}: {self.reason}",
            f"@champion = {self.champion or '-'}, @previous = {self.previous or '-'}",
        ]
        if self.champion is None:
            lines.append(f"nothing to serve yet: {self.name} has no @champion")
        else:
            lines.append(f"serve it: {serve_command(names.champion_uri(self.name))}")
        if self.note:
            lines.append(f"note: {self.note}")
        return "\n".join(lines)


@dataclass(frozen=True)
class VersionSummary:
    """One row of `usagecast models NAME`."""

    version: str
    aliases: tuple[str, ...]
    feature_set: str
    roc_auc: str
    calibration_error: str
    normalised_gini: str  # value models' test metric, in place of roc_auc and ece
    decision: str
    reason: str


def _client() -> MlflowClient:
    """A client on the workspace's store; the fluent API (register, download) follows it."""
    activate_mlflow_tracking()
    return MlflowClient()


def _registry_dir() -> Path:
    path = ensure_workspace() / "registry"
    path.mkdir(exist_ok=True)
    return path


def lock_database(tracking_uri: str) -> str | None:
    """The PostgreSQL database whose advisory locks serialise promotions: USAGECAST_LOCK_URL
    (for a tracking server, whose own database clients do not see), else the tracking store
    when it is PostgreSQL; None: the workspace's file lock."""
    url = os.environ.get(LOCK_URL_ENV)
    if not url:
        return tracking_uri if is_postgres_url(tracking_uri) else None
    if not is_postgres_url(url):
        raise UsagecastError(
            f"{LOCK_URL_ENV}={hide_password(url)}: not a PostgreSQL URL; set it to "
            "postgresql://USER@HOST/DB (a database every promoting host reaches) or unset it"
        )
    return url


@contextmanager
def promotion_lock(name: str, tracking_uri: str) -> Iterator[None]:
    """`with promotion_lock(name, uri):` exclusive hold on one registered model's aliases: a
    PostgreSQL advisory lock when there is a lock database (`lock_database`), else a
    workspace file lock."""
    check_name(name, "model name")
    database = lock_database(tracking_uri)
    if database is not None:
        with advisory_lock(database, f"{PROMOTION_LOCK_PREFIX}{name}"):
            yield
    else:
        with OwnedLock(_registry_dir() / f"{name}.lock").hold():
            yield


@contextmanager
def _not_found_as_input_error(message: str) -> Iterator[None]:
    """MLflow's "does not exist" for a user-given run id or model name is bad input (exit 2).

    Only that error code is translated: any other MLflow failure keeps its own traceback.
    """
    try:
        yield
    except MlflowException as error:
        if error.error_code != NOT_FOUND:
            raise
        raise UsagecastError(message) from None


def _append_audit(record: dict) -> None:
    with (_registry_dir() / "audit.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, sort_keys=True) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def _model_runs(ref: FeatureSetRef | None = None) -> list:
    """Finished top-level runs tagged with a feature set (`ref`, or any) that logged a
    model, newest first."""
    _client()
    tagged = f" AND tags.{FEATURE_SET_TAG} = '{ref}'" if ref is not None else ""
    runs = mlflow.search_runs(
        search_all_experiments=True,
        filter_string=f"attributes.status = 'FINISHED'{tagged}",
        order_by=["attributes.start_time DESC"],
        output_format="list",
    )
    return [
        run
        for run in runs
        if FEATURE_SET_TAG in run.data.tags
        and "mlflow.parentRunId" not in run.data.tags
        and run.outputs.model_outputs
    ]


def tuned_feature_sets() -> list[str]:
    """The feature sets (NAME@vN) with a finished tuning run that logged a model, by name:
    what `promote --latest` can be given."""
    return sorted({run.data.tags[FEATURE_SET_TAG] for run in _model_runs()})


def latest_run_id(feature_set_ref: str) -> str:
    """The newest finished top-level run tagged with this feature set that logged a model."""
    for run in _model_runs(FeatureSetRef.of(feature_set_ref)):
        return run.info.run_id
    raise UsagecastError(
        f"no finished tuning run with a model for feature set {feature_set_ref!r}; "
        f"run `usagecast tune {feature_set_ref}` first"
    )


def _run_model_uri(client: MlflowClient, run_id: str) -> str:
    run = client.get_run(run_id)
    models = mlflow.search_logged_models(
        experiment_ids=[run.info.experiment_id],
        filter_string=f"source_run_id = '{run_id}' AND name = '{MODEL_ARTIFACT}'",
        output_format="list",
    )
    if not models:
        raise UsagecastError(
            f"run {run_id} logged no model named '{MODEL_ARTIFACT}' "
            "(log it with serving.log_serving_model)"
        )
    return f"models:/{models[0].model_id}"


def _test_set(client: MlflowClient, run_id: str, folder: Path) -> pd.DataFrame:
    try:
        path = client.download_artifacts(run_id, TEST_SET_ARTIFACT, str(folder))
    except (MlflowException, OSError) as error:
        raise UsagecastError(
            f"run {run_id} has no '{TEST_SET_ARTIFACT}' artifact: promotion compares "
            f"models on the run's held-out test rows ({error})"
        ) from error
    frame = pd.read_parquet(path)
    if names.LABEL_COLUMN not in frame.columns:
        raise UsagecastError(
            f"run {run_id}: {TEST_SET_ARTIFACT} has no '{names.LABEL_COLUMN}' column"
        )
    return frame


class _MissingColumns(Exception):
    """The model reads feature columns that the candidate's test set does not have."""

    def __init__(self, columns: tuple[str, ...]) -> None:
        super().__init__(columns)
        self.columns = columns


def checked_model_uri(model_uri: str) -> str:
    """The URI as given, unless it is a bare name that is no model folder (`premium_30d`):
    refused with the URI it likely means."""
    if ":/" not in model_uri and not Path(model_uri).exists():
        raise UsagecastError(
            f"model {model_uri!r} is not a model URI nor a model folder; a registered "
            f"model's champion is {names.champion_uri(model_uri)}, a version "
            f"models:/{model_uri}/1"
        )
    return model_uri


def load_registered(model_uri: str, folder: Path) -> tuple[mlflow.pyfunc.PyFuncModel, list]:
    """Download a served model and load it; its feature names come from metadata.json.

    A bare name that is no model folder (`premium_30d`) is refused with the URI it likely
    means, and a model MLflow cannot find is a one-line error, not MLflow's traceback.
    """
    checked_model_uri(model_uri)
    try:
        downloaded = mlflow.artifacts.download_artifacts(model_uri, dst_path=str(folder))
    except MlflowException as error:
        first = str(error).strip().splitlines()[-1] if str(error).strip() else repr(error)
        raise UsagecastError(f"model {model_uri!r}: cannot load it ({first})") from None
    local = Path(downloaded)
    feature_names = json.loads((local / METADATA_ARTIFACT).read_text())["feature_names"]
    return mlflow.pyfunc.load_model(str(local)), feature_names


def _score_registered(
    model_uri: str, test_set: pd.DataFrame, folder: Path, column: str = "probability"
) -> np.ndarray:
    """Download, load and score a registered model on the test rows (its `column`:
    probability, or value for a value model).

    Raises ModelLoadError when any step fails (truncated file, missing metadata, bad code),
    and _MissingColumns when the model needs feature columns the test set lacks.
    """
    try:
        model, feature_names = load_registered(model_uri, folder)
        missing = tuple(c for c in feature_names if c not in test_set.columns)
        if missing:
            raise _MissingColumns(missing)
        result = model.predict(test_set[feature_names])
        probabilities = np.asarray(result[column], dtype="float64")
    except _MissingColumns:
        raise
    except Exception as error:  # anything at all means "does not load": never promote it
        raise ModelLoadError(f"{type(error).__name__}: {error}") from error
    if probabilities.shape != (len(test_set),) or not np.isfinite(probabilities).all():
        raise ModelLoadError(f"smoke prediction returned missing or non-finite {column}s")
    return probabilities


def _roc_auc(labels: pd.Series, probabilities: np.ndarray) -> float:
    return float("nan") if labels.nunique() < 2 else float(roc_auc_score(labels, probabilities))


def _alias_version(client: MlflowClient, name: str, alias: str) -> str | None:
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def _value_champion_evidence(
    client: MlflowClient, name: str, version: str, test_set: pd.DataFrame, folder: Path
) -> ValueChampion:
    """The value champion's normalised Gini on the candidate's test rows (or its recorded
    one when its columns are missing there)."""
    try:
        values = _score_registered(f"models:/{name}/{version}", test_set, folder, "value")
    except _MissingColumns as missing:
        recorded = client.get_model_version(name, version).tags.get(names.TAG_GINI, "nan")
        return ValueChampion(
            version, float(recorded), rescored=False, missing_columns=missing.columns
        )
    except ModelLoadError as error:
        return ValueChampion(version, float("nan"), rescored=False, load_error=str(error))
    return ValueChampion(
        version, normalised_gini(test_set[names.LABEL_COLUMN].to_numpy(), values), rescored=True
    )


def _champion_evidence(
    client: MlflowClient, name: str, version: str, test_set: pd.DataFrame, folder: Path
) -> Champion:
    try:
        scores = _score_registered(f"models:/{name}/{version}", test_set, folder)
    except _MissingColumns as missing:
        recorded = client.get_model_version(name, version).tags.get(names.TAG_METRIC, "nan")
        return Champion(version, float(recorded), rescored=False, missing_columns=missing.columns)
    except ModelLoadError as error:
        return Champion(version, float("nan"), rescored=False, load_error=str(error))
    return Champion(version, _roc_auc(test_set[names.LABEL_COLUMN], scores), rescored=True)


def _calibration_error(client: MlflowClient, run_id: str) -> tuple[float, float]:
    """(test ECE, its chance level on the same rows; 0 for runs logged before it was)."""
    metrics = client.get_run(run_id).data.metrics
    if "test_ece" not in metrics:
        raise UsagecastError(f"run {run_id} has no metric 'test_ece' (calibration error)")
    return float(metrics["test_ece"]), float(metrics.get("test_ece_noise95", 0.0))


def promote_run(run_id: str, config: PolicyConfig | None = None) -> PromotionResult:
    """Register the run's model under its feature set's name and apply the promotion gate."""
    config = config or PolicyConfig()
    client = _client()
    with _not_found_as_input_error(
        f"run {run_id!r} not found in {mlflow.get_tracking_uri()}; `usagecast promote --latest "
        "--feature-set NAME@vN` picks the newest tuning run"
    ):
        tags = client.get_run(run_id).data.tags
    lineage = RunLineage.from_tags(tags, f"run {run_id}")
    name = names.model_name(lineage.feature_set)
    source = _run_model_uri(client, run_id)
    calibration = (
        _baseline_rmse(client, run_id)
        if lineage.value_model
        else _calibration_error(client, run_id)
    )
    with tempfile.TemporaryDirectory(prefix="usagecast-promote-") as tmp:
        folder = Path(tmp)
        test_set = _test_set(client, run_id, folder / "test")
        with promotion_lock(name, mlflow.get_tracking_uri()):
            result = _promote_locked(
                client, name, run_id, source, test_set, calibration, lineage, config, folder
            )
    return replace(result, note=tags.get(BETTER_BASELINE_TAG))


def _probability_decision(
    client: MlflowClient,
    name: str,
    version: str,
    champion_before: str | None,
    test_set: pd.DataFrame,
    scores: np.ndarray,
    calibration: tuple[float, float],
    lineage: RunLineage,
    config: PolicyConfig,
    folder: Path,
) -> tuple[float, Decision]:
    """A classifier's gate: (its ROC-AUC on the test rows, the decision)."""
    roc_auc = _roc_auc(test_set[names.LABEL_COLUMN], scores)
    candidate = Candidate(
        version=version,
        roc_auc=roc_auc,
        calibration_error=calibration[0],
        calibration_noise=calibration[1],
        test_rows=len(test_set),
        test_positives=int(test_set[names.LABEL_COLUMN].sum()),
        leakage_flagged=lineage.leakage_flagged,
        leakage_warned=lineage.leakage_warned or (),
    )
    champion = (
        None
        if champion_before is None
        else _champion_evidence(client, name, champion_before, test_set, folder / "champion")
    )
    return roc_auc, decide(candidate, champion, config)


def _value_decision(
    client: MlflowClient,
    name: str,
    version: str,
    champion_before: str | None,
    test_set: pd.DataFrame,
    values: np.ndarray,
    baseline: tuple[float, float],
    lineage: RunLineage,
    config: PolicyConfig,
    folder: Path,
) -> tuple[float, Decision]:
    """A value model's gate: (its normalised Gini on the test rows, the decision); `baseline`
    holds the training mean's test RMSE from the run."""
    realised = test_set[names.LABEL_COLUMN].to_numpy(dtype="float64")
    gini = normalised_gini(realised, values)
    candidate = ValueCandidate(
        version=version,
        normalised_gini=gini,
        rmse=float(np.sqrt(np.mean((values - realised) ** 2))),
        baseline_rmse=baseline[0],
        test_rows=len(test_set),
        leakage_flagged=lineage.leakage_flagged,
        leakage_warned=lineage.leakage_warned or (),
    )
    champion = (
        None
        if champion_before is None
        else _value_champion_evidence(client, name, champion_before, test_set, folder / "champion")
    )
    return gini, decide_value(candidate, champion, config)


def _baseline_rmse(client: MlflowClient, run_id: str) -> tuple[float, float]:
    """(the training mean's test RMSE, 0) of a value model's run."""
    metrics = client.get_run(run_id).data.metrics
    if BASELINE_RMSE_METRIC not in metrics:
        raise UsagecastError(
            f"run {run_id} has no metric '{BASELINE_RMSE_METRIC}' (the value gate compares "
            "with the training mean)"
        )
    return float(metrics[BASELINE_RMSE_METRIC]), 0.0


def _promote_locked(
    client: MlflowClient,
    name: str,
    run_id: str,
    source: str,
    test_set: pd.DataFrame,
    calibration: tuple[float, float],
    lineage: RunLineage,
    config: PolicyConfig,
    folder: Path,
) -> PromotionResult:
    version = str(mlflow.register_model(source, name).version)
    champion_before = _alias_version(client, name, names.CHAMPION)
    previous_before = _alias_version(client, name, names.PREVIOUS)
    value = lineage.value_model
    try:
        scores = _score_registered(
            f"models:/{name}/{version}",
            test_set,
            folder / "candidate",
            "value" if value else "probability",
        )
    except (ModelLoadError, _MissingColumns) as error:
        roc_auc = float("nan")
        decision = Decision(False, f"model does not load or score: {error}")
    else:
        gate = _value_decision if value else _probability_decision
        roc_auc, decision = gate(
            client,
            name,
            version,
            champion_before,
            test_set,
            scores,
            calibration,
            lineage,
            config,
            folder,
        )
    metric_tag, calibration_tag = (
        (names.TAG_GINI, names.TAG_BASELINE_RMSE)
        if value
        else (names.TAG_METRIC, names.TAG_CALIBRATION)
    )
    version_tags = {
        names.TAG_DECISION: names.PROMOTED if decision.promote else names.REFUSED,
        names.TAG_REASON: decision.reason,
        metric_tag: f"{roc_auc:.6f}",
        calibration_tag: f"{calibration[0]:.6f}",
        names.TAG_COMPARED_WITH: champion_before or "none",
        names.TAG_ALLOW_NEW_FEATURES: str(config.allow_new_features).lower(),
        names.TAG_RUN_ID: run_id,
        **lineage.identity_tags(),
    }
    for key, tag in version_tags.items():
        client.set_model_version_tag(name, version, key, tag)
    champion_after, previous_after = champion_before, previous_before
    if decision.promote:
        if champion_before is not None:
            client.set_registered_model_alias(name, names.PREVIOUS, champion_before)
            previous_after = champion_before
        client.set_registered_model_alias(name, names.CHAMPION, version)
        champion_after = version
    result = PromotionResult(
        name=name,
        version=version,
        run_id=run_id,
        promoted=decision.promote,
        reason=decision.reason,
        champion=champion_after,
        previous=previous_after,
    )
    _append_audit(
        {
            "time": dt.datetime.now(dt.UTC).isoformat(),
            "action": "promote",
            "champion_before": champion_before,
            "margin": config.margin,
            "allow_leaky": list(config.allow_leaky),
            ("normalised_gini" if value else "roc_auc"): None if math.isnan(roc_auc) else roc_auc,
            **asdict(result),
        }
    )
    return result


def rollback(name: str) -> PromotionResult:
    """Move @champion back to @previous; @previous is cleared (one step of history)."""
    check_name(name, "model name")
    client = _client()
    with promotion_lock(name, mlflow.get_tracking_uri()):
        champion = _alias_version(client, name, names.CHAMPION)
        previous = _alias_version(client, name, names.PREVIOUS)
        if previous is None:
            raise UsagecastError(f"model {name!r} has no @previous version to roll back to")
        client.set_registered_model_alias(name, names.CHAMPION, previous)
        client.delete_registered_model_alias(name, names.PREVIOUS)
        reason = f"rolled back from v{champion} to v{previous}"
        if champion is not None:
            client.set_model_version_tag(name, champion, names.TAG_ROLLED_BACK, reason)
        result = PromotionResult(
            name=name,
            version=previous,
            run_id=client.get_model_version(name, previous).run_id or "",
            promoted=True,
            reason=reason,
            champion=previous,
            previous=None,
        )
        _append_audit(
            {"time": dt.datetime.now(dt.UTC).isoformat(), "action": "rollback", **asdict(result)}
        )
        return result


def list_models(name: str) -> list[VersionSummary]:
    """Every version of a registered model, newest first, with its metrics and decision."""
    check_name(name, "model name")
    client = _client()
    with _not_found_as_input_error(f"no registered model named {name!r}"):
        aliases = client.get_registered_model(name).aliases
    by_version: dict[str, list[str]] = {}
    for alias, version in aliases.items():
        by_version.setdefault(str(version), []).append(alias)
    versions = client.search_model_versions(f"name = '{name}'")
    rows = [
        VersionSummary(
            version=str(v.version),
            aliases=tuple(sorted(by_version.get(str(v.version), []))),
            feature_set=v.tags.get(FEATURE_SET_TAG, ""),
            roc_auc=v.tags.get(names.TAG_METRIC, ""),
            calibration_error=v.tags.get(names.TAG_CALIBRATION, ""),
            normalised_gini=v.tags.get(names.TAG_GINI, ""),
            decision=v.tags.get(names.TAG_DECISION, ""),
            reason=v.tags.get(names.TAG_REASON, ""),
        )
        for v in versions
    ]
    return sorted(rows, key=lambda row: int(row.version), reverse=True)
