"""`usagecast monitor`: the one module of experiments.monitor that reads and writes (MLflow,
the feature-set store, the event store, the reports folder).

The champion's training rows are the rows its run trained on: the build named by the run's
lineage tags (feature_set, feature_set_fingerprint), the `train` part of its split (run
params split_validation_from / split_test_from, experiments/split.py's rule). The current
rows are the scoring rows at --cutoff, as `usagecast score` builds them. Later labelled rows
come from the spec's own query at its cutoffs after the build's last one whose label window
has closed (features.featureset.scoring.labelled_rows_after).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from analytics.io import log_run
from experiments.monitor import checks
from experiments.monitor.config import Thresholds
from experiments.monitor.report import (
    MonitorReport,
    ReportSection,
    png_bytes,
    render_html,
    render_markdown,
    report_figures,
)
from experiments.split import assign_parts
from features.errors import UsagecastError
from features.mlflow_links import describe_run_artifacts
from features.workspace import activate_mlflow_tracking, ensure_workspace, reports_dir
from registry import names
from registry.promote import load_registered

MLFLOW_EXPERIMENT = "monitor"
SPLIT_PARAMS = ("split_validation_from", "split_test_from")
# Tags of a monitor run, linking it to the model version it watched.
TAG_MODEL_NAME = "usagecast.model_name"
TAG_MODEL_VERSION = "usagecast.model_version"
TAG_TRAINING_RUN = "usagecast.training_run_id"
TAG_STATUS = "usagecast.monitor_status"  # alert | ok


@dataclass(frozen=True)
class MonitorResult:
    """What `usagecast monitor` prints: the findings and where the report and run are."""

    report: MonitorReport
    markdown: Path
    html: Path
    run_id: str

    def summary(self) -> str:
        verdict = "ALERT" if self.report.alerted else "ok"
        lines = [
            f"monitor {self.report.model_name} v{self.report.model_version}: {verdict}",
            *(f"  {f.message()}" for f in self.report.findings),
            f"report: {self.markdown}",
            f"report (HTML): {self.html}",
            f"MLflow run {self.run_id} (experiment {MLFLOW_EXPERIMENT})",
            describe_run_artifacts("plots", self.run_id),
        ]
        return "\n".join(lines)


@dataclass(frozen=True)
class _Champion:
    name: str
    version: str
    run_id: str
    feature_set: str
    fingerprint: str
    split: tuple[pd.Timestamp, pd.Timestamp]
    test_auc: float


def _champion(client: MlflowClient, name: str) -> _Champion:
    """The @champion version of `name` and the lineage of the run that trained it."""
    try:
        version = client.get_model_version_by_alias(name, names.CHAMPION)
    except MlflowException:
        raise UsagecastError(
            f"model {name!r} has no @{names.CHAMPION}; promote a run first "
            "(`usagecast promote --latest --feature-set NAME@vN`)"
        ) from None
    run_id = version.tags.get(names.TAG_RUN_ID) or version.run_id or ""
    run = client.get_run(run_id)
    tags, params = run.data.tags, run.data.params
    missing = [
        key
        for key, present in (
            (names.RUN_FEATURE_SET, tags),
            (names.RUN_FINGERPRINT, tags),
            *((param, params) for param in SPLIT_PARAMS),
        )
        if not present.get(key)
    ]
    if missing:
        raise UsagecastError(
            f"{name} v{version.version}: its run {run_id} lacks {', '.join(missing)}; the "
            "monitor compares with the rows the run trained on, which `usagecast tune` records"
        )
    return _Champion(
        name=name,
        version=str(version.version),
        run_id=run_id,
        feature_set=tags[names.RUN_FEATURE_SET],
        fingerprint=tags[names.RUN_FINGERPRINT],
        split=(pd.Timestamp(params[SPLIT_PARAMS[0]]), pd.Timestamp(params[SPLIT_PARAMS[1]])),
        test_auc=float(run.data.metrics.get("test_roc_auc", float("nan"))),
    )


def _training_rows(champion: _Champion) -> tuple[pd.DataFrame, pd.Timestamp, str]:
    """(the run's training rows, its build's last cutoff, a description)."""
    from features.featureset import load_feature_set

    build = f"{champion.feature_set}/{champion.fingerprint}"
    frame, manifest = load_feature_set(build)
    horizon = int((manifest.get("label") or {}).get("horizon_days") or 0)
    parts = assign_parts(frame["cutoff"], *champion.split, horizon)
    train = frame[parts == "train"]
    if train.empty:
        raise UsagecastError(f"build {build} has no row in its run's training part")
    cutoffs = pd.to_datetime(train["cutoff"])
    text = (
        f"{len(train)} rows of build {build}, the run's training part (label window ending by "
        f"{champion.split[0].date()}), cutoffs {cutoffs.min().date()} .. {cutoffs.max().date()}"
    )
    return train, pd.Timestamp(pd.to_datetime(frame["cutoff"]).max()), text


def _feature_set_ref(champion: _Champion, feature_set: str | None) -> str:
    if feature_set is None:
        return champion.feature_set
    if names.model_name(feature_set) != champion.name:
        raise UsagecastError(
            f"--feature-set {feature_set}: model {champion.name} reads feature sets named "
            f"{champion.name} (e.g. {champion.feature_set})"
        )
    return feature_set


def _predict(model, feature_names: list, rows: pd.DataFrame, where: str) -> np.ndarray:
    missing = [c for c in feature_names if c not in rows.columns]
    if missing:
        raise UsagecastError(f"{where} lack the model's feature columns {', '.join(missing)}")
    result = model.predict(rows[feature_names])
    return np.asarray(result["probability"], dtype="float64")


def _later_performance(
    ref: str, after: pd.Timestamp, model, feature_names: list
) -> tuple[tuple[checks.CutoffPerformance, ...], str]:
    """Performance per later labelled cutoff, and which cutoffs were (not) used."""
    from features.featureset import load_spec
    from features.featureset.scoring import labelled_rows_after

    later = labelled_rows_after(ref, after)
    pending = ", ".join(str(c.date()) for c in later.censored_cutoffs) or "none"
    end = pd.Timestamp(later.end_of_data)
    if later.frame.empty:
        return (), (
            f"no cutoff after the training build's last ({after.date()}) has matured labels "
            f"yet (data end {end}; later cutoffs still open: {pending})"
        )
    per_user = load_spec(ref).cutoffs.calendar is None
    probabilities = _predict(model, feature_names, later.frame, "the labelled later rows")
    groups = checks.performance_groups(later.frame["cutoff"], per_user)
    performance = checks.performance_by_group(
        groups, later.frame["label"].to_numpy(), probabilities
    )
    used = ", ".join(p.cutoff for p in performance)
    grouping = " (per-user cutoffs grouped by month)" if per_user else ""
    return performance, (
        f"{len(later.frame)} labelled rows of {ref} at cutoffs after the training build's last "
        f"({after.date()}): {used}{grouping}; data end {end}; still open: {pending}"
    )


def monitor(
    name: str,
    feature_set: str | None = None,
    cutoff: str | None = None,
    thresholds: Thresholds | None = None,
    *,
    skew: ReportSection | None = None,
    business: ReportSection | None = None,
) -> MonitorResult:
    """Compare the champion of `name` on today's rows with its training rows; report it.

    `skew` and `business` are further report sections (training/serving skew from the
    prediction log; business metrics at a capacity) rendered, logged and plotted with the rest.
    """
    from features.featureset import load_scoring_rows

    thresholds = thresholds or Thresholds()
    names.model_name(name)
    ensure_workspace()
    client = MlflowClient(activate_mlflow_tracking())
    champion = _champion(client, name)
    ref = _feature_set_ref(champion, feature_set)
    training, last_cutoff, training_text = _training_rows(champion)
    current, manifest = load_scoring_rows(ref, cutoff)
    if current.empty:
        raise UsagecastError(f"{ref} has no eligible user at cutoff {manifest['cutoff']}")
    with tempfile.TemporaryDirectory(prefix="usagecast-monitor-") as tmp:
        model, feature_names = load_registered(f"models:/{name}/{champion.version}", Path(tmp))
        training_p = _predict(model, feature_names, training, "the training rows")
        current_p = _predict(model, feature_names, current, f"the scoring rows of {ref}")
        performance, performance_text = _later_performance(ref, last_cutoff, model, feature_names)
    drift = checks.feature_drift(training, current, tuple(feature_names))
    prediction_psi = checks.prediction_stability(training_p, current_p)
    report = MonitorReport(
        model_name=name,
        model_version=champion.version,
        training_run_id=champion.run_id,
        feature_set=ref,
        training_rows=training_text,
        current_rows=f"{len(current)} scoring rows of {ref} at cutoff "
        f"{pd.Timestamp(manifest['cutoff']).date()} (build {manifest['fingerprint']})",
        performance_rows=performance_text,
        thresholds=thresholds,
        drift=drift,
        prediction_psi=prediction_psi,
        prediction_means=(float(training_p.mean()), float(current_p.mean())),
        test_auc=champion.test_auc,
        performance=performance,
        findings=(),
        skew=skew,
        business=business,
    )
    report = replace(
        report,
        findings=checks.findings(
            drift, prediction_psi, performance, champion.test_auc, thresholds
        ),
    )
    return _record(client, report, report_figures(report, training_p, current_p))


def _record(client: MlflowClient, report: MonitorReport, figures: dict) -> MonitorResult:
    """Log the MLflow run, write the reports under the workspace and tag the model version."""
    tables = {
        "feature_psi": pd.DataFrame(
            [(d.feature, d.kind, d.psi) for d in report.drift], columns=["feature", "kind", "psi"]
        ),
        "performance": pd.DataFrame(
            [vars(p) for p in report.performance],
            columns=["cutoff", "rows", "positives", "roc_auc", "ece", "lift_at_10pct"],
        ),
    }
    params = {
        "model_name": report.model_name,
        "model_version": report.model_version,
        "training_run_id": report.training_run_id,
        "feature_set": report.feature_set,
        **{f"threshold_{k}": v for k, v in vars(report.thresholds).items()},
    }
    run_id = log_run(
        report.model_name,
        tables,
        figures,
        params,
        report.metrics(),
        experiment=MLFLOW_EXPERIMENT,
    )
    for key, value in {
        TAG_MODEL_NAME: report.model_name,
        TAG_MODEL_VERSION: report.model_version,
        TAG_TRAINING_RUN: report.training_run_id,
        TAG_STATUS: "alert" if report.alerted else "ok",
    }.items():
        client.set_tag(run_id, key, value)
    folder = reports_dir() / "monitor" / report.model_name / run_id
    folder.mkdir(parents=True, exist_ok=True)
    pngs = {key: png_bytes(figure) for key, figure in figures.items()}
    for key, data in pngs.items():
        (folder / f"{key}.png").write_bytes(data)
    markdown = folder / "report.md"
    markdown.write_text(render_markdown(report, {k: f"{k}.png" for k in pngs}), encoding="utf-8")
    page = folder / "report.html"
    page.write_text(render_html(report, pngs), encoding="utf-8")
    client.log_artifact(run_id, str(markdown), "report")
    client.log_artifact(run_id, str(page), "report")
    client.set_model_version_tag(
        report.model_name, report.model_version, names.TAG_MONITOR_RUN, run_id
    )
    return MonitorResult(report, markdown, page, run_id)
