"""`usagecast monitor`: the one module of experiments.monitor that reads and writes (MLflow,
the feature-set store, the event store, the reports folder).

The champion's training rows are the rows its run trained on: the build named by the run's
lineage tags (feature_set, feature_set_fingerprint), the `train` part of its split (run
params split_validation_from / split_test_from, experiments/split.py's rule); its `test` part
gives the test AUC's standard error. The current rows are the scoring rows at --cutoff, as
`usagecast score` builds them; the previous rows are the scoring rows one cadence earlier
(the spec's calendar step; a month for signup-relative cutoffs). New signups are read from
the event store's users table. Later labelled rows come from the spec's own query at its
cutoffs after the build's last one whose label window has closed
(features.featureset.scoring.labelled_rows_after).

The prediction log (serving/prediction_log.py) is `--prediction-log DIR`, else the folder
USAGECAST_PREDICTION_LOG names, else the workspace's `prediction_log` folder when it exists.
Only its rows of the champion (`model_run_id` = the version's run) are read. With such rows,
PSI vs training compares the training rows with them (served values, served probabilities)
instead of the scoring rows, and training/serving skew compares their served values with the
scoring rows built at each logged cutoff (rounded up to a midnight: a scoring build at day D
holds the calendar rows at D and the per-user rows whose cutoff is on or before D with their
label window open). A given folder that is missing or holds no row is an error; a default one
that is missing or empty is a line in the report.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from analytics.io import log_run
from contracts.errors import UsagecastError
from contracts.lineage import FEATURE_SET_TAG, FINGERPRINT_TAG, RunLineage
from contracts.names import check_name
from contracts.refs import BuildRef, FeatureSetRef
from contracts.workspace import prediction_log_dir, reports_dir
from experiments.business import BusinessOptions
from experiments.monitor import checks, sections
from experiments.monitor.config import Thresholds
from experiments.monitor.report import (
    MonitorReport,
    ReportSection,
    png_bytes,
    render_html,
    render_markdown,
    report_figures,
)
from experiments.monitor.skew import training_serving_skew
from experiments.split import assign_parts
from features.mlflow_links import describe_run_artifacts
from features.workspace import activate_mlflow_tracking, ensure_workspace
from registry import names
from registry.promote import load_registered
from serving.prediction_log import PREDICTION_LOG_ENV, PredictionLogError, read_prediction_log

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
            *(
                [f"prediction log: {self.report.prediction_log}"]
                if self.report.prediction_log
                else []
            ),
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


@dataclass(frozen=True)
class _Training:
    """The run's training rows, what the monitor needs of its build, and a description."""

    rows: pd.DataFrame
    last_build_cutoff: pd.Timestamp
    last_training_cutoff: pd.Timestamp
    test_labels: np.ndarray
    text: str


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
            (FEATURE_SET_TAG, tags),
            (FINGERPRINT_TAG, tags),
            *((param, params) for param in SPLIT_PARAMS),
        )
        if not present.get(key)
    ]
    if missing:
        raise UsagecastError(
            f"{name} v{version.version}: its run {run_id} lacks {', '.join(missing)}; the "
            "monitor compares with the rows the run trained on, which `usagecast tune` records"
        )
    lineage = RunLineage.from_tags(tags, f"{name} v{version.version}'s run {run_id}")
    return _Champion(
        name=name,
        version=str(version.version),
        run_id=run_id,
        feature_set=str(lineage.feature_set),
        fingerprint=str(lineage.fingerprint),
        split=(pd.Timestamp(params[SPLIT_PARAMS[0]]), pd.Timestamp(params[SPLIT_PARAMS[1]])),
        test_auc=float(run.data.metrics.get("test_roc_auc", float("nan"))),
    )


def _training_rows(champion: _Champion) -> _Training:
    """The run's training rows and its test part's labels."""
    from features.featureset import load_feature_set

    build = BuildRef(FeatureSetRef.parse(champion.feature_set), champion.fingerprint)
    frame, manifest = load_feature_set(build)
    horizon = (manifest.label.horizon_days or 0) if manifest.has_label else 0
    parts = assign_parts(frame["cutoff"], *champion.split, horizon)
    train = frame[parts == "train"]
    if train.empty:
        raise UsagecastError(f"build {build} has no row in its run's training part")
    cutoffs = pd.to_datetime(train["cutoff"])
    text = (
        f"{len(train)} rows of build {build}, the run's training part (label window ending by "
        f"{champion.split[0].date()}), cutoffs {cutoffs.min().date()} .. {cutoffs.max().date()}"
    )
    return _Training(
        rows=train,
        last_build_cutoff=pd.Timestamp(pd.to_datetime(frame["cutoff"]).max()),
        last_training_cutoff=pd.Timestamp(cutoffs.max()),
        test_labels=frame.loc[parts == "test", "label"].to_numpy(dtype="float64"),
        text=text,
    )


def _previous_cutoff(spec, cutoff: pd.Timestamp) -> pd.Timestamp:
    """One cadence before `cutoff`: the spec's calendar step, a month for signup-relative
    cutoffs."""
    calendar = spec.cutoffs.calendar
    if calendar is not None and calendar.every_days is not None:
        return cutoff - pd.Timedelta(days=calendar.every_days)
    return cutoff - pd.DateOffset(months=1)


def _tenure_features(spec) -> tuple[str, ...]:
    """The spec's tenure features: they move with the calendar and the inflow of signups, so
    their PSI since the previous check is reported, never alerted."""
    from features.featureset.spec import expand_features

    return tuple(f.name for f in expand_features(spec) if f.kind == "tenure")


def _static_attributes(spec) -> tuple[str, ...]:
    """The spec's attribute features that are static user attributes in the event store."""
    from contracts.workspace import event_store_path
    from events.store import USER_ATTRIBUTES, open_store
    from features.featureset.spec import expand_features

    with open_store(event_store_path()) as con:
        static = {
            row[0]
            for row in con.execute(
                f"SELECT name FROM {USER_ATTRIBUTES} WHERE kind = 'static'"
            ).fetchall()
        }
    return tuple(
        f.name for f in expand_features(spec) if f.kind == "attribute" and f.attribute in static
    )


def _signups(attributes: tuple[str, ...]) -> pd.DataFrame:
    """signup_time and the given static attributes of every user in the event store."""
    from contracts.workspace import event_store_path
    from events.store import USERS, open_store

    columns = ", ".join(f'"{name}"' for name in ("signup_time", *attributes))
    with open_store(event_store_path()) as con:
        return con.execute(f"SELECT {columns} FROM {USERS}").df()


def _acquisition(
    spec, training: _Training, cutoff: pd.Timestamp, window_days: int
) -> tuple[tuple[checks.FeatureDrift, ...], str]:
    """PSI of each static attribute between the signups of the training period (before its
    last cutoff) and those of the `window_days` before `cutoff`."""
    attributes = _static_attributes(spec)
    if not attributes:
        return (), "the feature set has no static user attribute"
    users = _signups(attributes)
    start = cutoff - pd.Timedelta(days=window_days)
    reference = users[users["signup_time"] < training.last_training_cutoff]
    current = users[(users["signup_time"] >= start) & (users["signup_time"] < cutoff)]
    text = (
        f"{len(current)} users who signed up {start.date()} .. {cutoff.date()} (excluded) vs "
        f"{len(reference)} who signed up before the last training cutoff "
        f"{training.last_training_cutoff.date()}"
    )
    if reference.empty or current.empty:
        return (), text + "; nothing to compare"
    return checks.feature_drift(reference, current, attributes), text


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


@dataclass(frozen=True)
class _Later:
    """Performance per later labelled cutoff, which cutoffs were (not) used, and the labels and
    probabilities of the latest matured one (None when none has matured)."""

    performance: tuple[checks.CutoffPerformance, ...]
    text: str
    latest: tuple[str, np.ndarray, np.ndarray] | None


def _later_performance(ref: str, after: pd.Timestamp, model, feature_names: list) -> _Later:
    """Performance per later labelled cutoff, and which cutoffs were (not) used."""
    from features.featureset import load_spec
    from features.featureset.scoring import labelled_rows_after

    later = labelled_rows_after(ref, after)
    pending = sections.cutoff_list(later.censored_cutoffs)
    end = pd.Timestamp(later.end_of_data)
    if later.frame.empty:
        return _Later(
            (),
            f"no cutoff after the training build's last ({after.date()}) has matured labels "
            f"yet (data end {end}; later cutoffs still open: {pending})",
            None,
        )
    per_user = load_spec(ref).cutoffs.calendar is None
    probabilities = _predict(model, feature_names, later.frame, "the labelled later rows")
    labels = later.frame["label"].to_numpy()
    groups = checks.performance_groups(later.frame["cutoff"], per_user)
    performance = checks.performance_by_group(groups, labels, probabilities, seed=0)
    used = ", ".join(p.cutoff for p in performance)
    grouping = " (per-user cutoffs grouped by month)" if per_user else ""
    last = (groups == performance[-1].cutoff).to_numpy()
    return _Later(
        performance,
        f"{len(later.frame)} labelled rows of {ref} at cutoffs after the training build's last "
        f"({after.date()}): {used}{grouping}; data end {end}; still open: {pending}",
        (performance[-1].cutoff, labels[last], probabilities[last]),
    )


def default_prediction_log(name: str) -> Path:
    """Where model `name`'s prediction log is looked for without `--prediction-log`: the
    folder USAGECAST_PREDICTION_LOG names (the server's own setting), else the workspace's
    folder that `usagecast serve NAME` writes by default."""
    import os

    named = os.environ.get(PREDICTION_LOG_ENV, "").strip()
    return Path(named) if named else prediction_log_dir(name)


@dataclass(frozen=True)
class _Served:
    """The champion's rows of the prediction log (None without any) and what was read."""

    rows: pd.DataFrame | None
    text: str


def _served_rows(given: Path | None, champion: _Champion) -> _Served:
    """The prediction log's rows of the champion's run; a given folder must hold rows."""
    folder = given if given is not None else default_prediction_log(champion.name)
    where = f"--prediction-log {folder}" if given is not None else f"{folder}"
    if given is None and not folder.is_dir():
        return _Served(None, f"none at {folder}; PSI vs training uses the scoring rows")
    log = read_prediction_log(folder)  # a missing given folder is refused here
    if log.empty:
        if given is not None:
            raise PredictionLogError(
                f"{where}: no logged row (no part-*.parquet file); serve the model with "
                f"{PREDICTION_LOG_ENV}={folder}, or leave out --prediction-log"
            )
        return _Served(None, f"{folder} holds no row; PSI vs training uses the scoring rows")
    rows = log[log["model_run_id"].astype("str") == champion.run_id].reset_index(drop=True)
    others = len(log) - len(rows)
    if rows.empty:
        return _Served(
            None,
            f"{folder}: {len(log)} rows, none served by {champion.name} v{champion.version} "
            f"(run {champion.run_id}); PSI vs training uses the scoring rows",
        )
    return _Served(
        rows,
        f"{folder}: {len(rows)} rows served by {champion.name} v{champion.version}"
        + (f" ({others} rows of other models not read)" if others else "")
        + "; PSI vs training uses them instead of the scoring rows",
    )


def _skew(ref: str, served: pd.DataFrame, features: tuple[str, ...], thresholds: Thresholds):
    """The skew section and its findings: served values vs the scoring rows at each logged
    cutoff (rounded up to a midnight); cutoffs after the data find no row."""
    from features.featureset import load_scoring_rows
    from features.featureset.scoring import ScoringCutoffError

    cutoffs = pd.to_datetime(served["cutoff"], format="ISO8601").dropna()
    days = sorted({pd.Timestamp(c).ceil("D").date() for c in cutoffs})
    frames, after_data = [], []
    for day in days:
        try:
            frame, _ = load_scoring_rows(ref, day)
        except ScoringCutoffError:
            after_data.append(day.isoformat())
            continue
        frames.append(frame)
    if not frames:
        reason = (
            "no logged row carries a cutoff (send user_id and cutoff with each row)"
            if not days
            else f"every logged cutoff is after the data ({', '.join(after_data)})"
        )
        return sections.skew_not_compared(reason), ()
    offline = pd.concat(frames, ignore_index=True).drop_duplicates(["user_id", "cutoff"])
    table = training_serving_skew(served, offline, features)
    compared = int(table["rows_compared"].max()) if len(table) else 0
    built = ", ".join(d.isoformat() for d in days if d.isoformat() not in after_data)
    why = "no identity sent, or a user not eligible at that cutoff"
    if after_data:
        why += f", or a cutoff after the data ({', '.join(after_data)})"
    text = (
        f"{compared} of {len(served)} logged rows matched a row of {ref} on (user_id, cutoff) "
        f"(scoring rows at {built}); {len(served) - compared} found none ({why})"
    )
    return sections.skew_section(table, text, thresholds), checks.skew_findings(table, thresholds)


def _business(options: BusinessOptions, later: _Later) -> ReportSection:
    """Business metrics on the latest matured cutoff's labelled rows."""
    if later.latest is None:
        return sections.business_without_labels(
            options, "no cutoff after the training build's last has matured labels yet"
        )
    cutoff, labels, probabilities = later.latest
    text = (
        f"the {len(labels)} labelled rows of the latest matured cutoff {cutoff} "
        f"({int(labels.sum())} positives)"
    )
    return sections.business_section(labels, probabilities, options, text)


def monitor(
    name: str,
    feature_set: str | None = None,
    cutoff: str | None = None,
    thresholds: Thresholds | None = None,
    *,
    prediction_log: Path | None = None,
    business: BusinessOptions | None = None,
) -> MonitorResult:
    """Compare the champion of `name` on today's rows with its training rows; report it.

    `prediction_log`: the serving log's folder (default: default_prediction_log(name), when it
    exists); with rows of the champion, PSI vs training uses them and training/serving skew is
    reported. `business`: metrics at a capacity / profit on the latest matured cutoff.
    """
    from features.featureset import load_scoring_rows, load_spec

    thresholds = thresholds or Thresholds()
    check_name(name, "model name")
    ensure_workspace()
    client = MlflowClient(activate_mlflow_tracking())
    champion = _champion(client, name)
    ref = _feature_set_ref(champion, feature_set)
    spec = load_spec(ref)
    served = _served_rows(prediction_log, champion)
    training = _training_rows(champion)
    current, manifest = load_scoring_rows(ref, cutoff)
    if current.empty:
        raise UsagecastError(f"{ref} has no eligible user at cutoff {manifest.scoring_cutoff}")
    day = pd.Timestamp(manifest.scoring_cutoff).normalize()
    previous_day = _previous_cutoff(spec, day)
    previous, _ = load_scoring_rows(ref, previous_day.date())
    with tempfile.TemporaryDirectory(prefix="usagecast-monitor-") as tmp:
        model, feature_names = load_registered(f"models:/{name}/{champion.version}", Path(tmp))
        training_p = _predict(model, feature_names, training.rows, "the training rows")
        current_p = _predict(model, feature_names, current, f"the scoring rows of {ref}")
        previous_p = (
            _predict(model, feature_names, previous, "the previous scoring rows")
            if not previous.empty
            else np.array([], dtype="float64")
        )
        later = _later_performance(ref, training.last_build_cutoff, model, feature_names)
    features = tuple(feature_names)
    population, population_p = current, current_p
    skew, skew_found = None, ()
    if served.rows is not None:
        population = served.rows
        population_p = served.rows["probability"].to_numpy(dtype="float64")
        skew, skew_found = _skew(ref, served.rows, features, thresholds)
    acquisition, acquisition_text = _acquisition(
        spec, training, day, thresholds.acquisition_window_days
    )
    drift = checks.Drift(
        vs_training=(
            *checks.feature_drift(training.rows, population, features),
            checks.prediction_stability(training_p, population_p),
        ),
        since_previous=(
            *checks.feature_drift(previous, current, features),
            checks.prediction_stability(previous_p, current_p),
        )
        if not previous.empty
        else (),
        acquisition=acquisition,
        not_alerted=_tenure_features(spec),
    )
    labels = training.test_labels
    positives = int(labels.sum())
    test_auc_se = checks.auc_standard_error(champion.test_auc, positives, len(labels) - positives)
    report = MonitorReport(
        model_name=name,
        model_version=champion.version,
        training_run_id=champion.run_id,
        feature_set=ref,
        training_rows=training.text,
        current_rows=f"{len(current)} scoring rows of {ref} at cutoff {day.date()} "
        f"(build {manifest.fingerprint})",
        previous_rows=f"{len(previous)} scoring rows at the previous cutoff {previous_day.date()}",
        acquisition_rows=acquisition_text,
        performance_rows=later.text,
        thresholds=thresholds,
        drift=drift,
        prediction_means=(float(training_p.mean()), float(population_p.mean())),
        test_auc=champion.test_auc,
        test_auc_se=test_auc_se,
        performance=later.performance,
        findings=(
            *checks.findings(drift, later.performance, champion.test_auc, test_auc_se, thresholds),
            *skew_found,
        ),
        prediction_log=served.text,
        psi_from_log=served.rows is not None,
        skew=skew,
        business=_business(business, later) if business and business.requested else None,
    )
    return _record(client, report, report_figures(report, training_p, population_p))


def _record(client: MlflowClient, report: MonitorReport, figures: dict) -> MonitorResult:
    """Log the MLflow run, write the reports under the workspace and tag the model version."""
    tables = {
        **{
            f"psi_{comparison}": pd.DataFrame(
                [vars(d) for d in rows], columns=["feature", "kind", "psi", "noise"]
            )
            for comparison, rows in (
                ("vs_training", report.drift.vs_training),
                ("since_previous", report.drift.since_previous),
                ("acquisition", report.drift.acquisition),
            )
        },
        "performance": pd.DataFrame(
            [vars(p) for p in report.performance],
            columns=[
                "cutoff",
                "rows",
                "positives",
                "roc_auc",
                "auc_se",
                "ece",
                "ece_noise",
                "lift_at_10pct",
            ],
        ),
    }
    params = {
        "model_name": report.model_name,
        "model_version": report.model_version,
        "training_run_id": report.training_run_id,
        "feature_set": report.feature_set,
        **{f"threshold_{k}": v for k, v in vars(report.thresholds).items()},
        **{k: v for section in report.sections() for k, v in section.params.items()},
    }
    run_id = log_run(
        report.model_name,
        tables,
        figures,
        params,
        report.metrics(),
        experiment=MLFLOW_EXPERIMENT,
    ).run_id
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
