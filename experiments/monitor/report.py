"""The monitor's report: one frozen object, rendered as Markdown and as self-contained HTML,
and its figures. Pure: no files are read or written here (run.py does that)."""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from matplotlib.figure import Figure

from experiments.monitor.checks import (
    ACQUISITION,
    AUC_DROP,
    ECE,
    SINCE_PREVIOUS,
    VS_TRAINING,
    CutoffPerformance,
    Drift,
    Finding,
)
from experiments.monitor.config import Thresholds


@dataclass(frozen=True)
class ReportSection:
    """A further section (training/serving skew, business metrics): its Markdown lines, the
    metrics and params logged with the run and its figures."""

    title: str
    lines: tuple[str, ...]
    metrics: Mapping[str, float] = field(default_factory=dict)
    figures: Mapping[str, Figure] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MonitorReport:
    """Everything one `usagecast monitor` found, with where the rows came from."""

    model_name: str
    model_version: str
    training_run_id: str
    feature_set: str  # the current rows' NAME@vN
    training_rows: str  # how the reference rows were chosen, for the reader
    current_rows: str
    previous_rows: str  # the scoring rows one cadence earlier
    acquisition_rows: str  # which signups the acquisition mix compares
    performance_rows: str  # which later cutoffs were labelled, or why none
    thresholds: Thresholds
    drift: Drift
    prediction_means: tuple[float, float]  # (training rows, current rows)
    test_auc: float
    test_auc_se: float
    performance: tuple[CutoffPerformance, ...]
    findings: tuple[Finding, ...]
    # Where the served rows came from: the prediction log read, or why none was.
    prediction_log: str = ""
    # PSI vs training compares the training rows with the logged rows rather than the
    # scoring rows at the cutoff (a prediction log with rows of this model was found).
    psi_from_log: bool = False
    # Filled when a prediction log of the serving front door exists (training/serving skew).
    skew: ReportSection | None = None
    # Precision, recall, lift and profit at a capacity (business metrics).
    business: ReportSection | None = None

    @property
    def alerted(self) -> bool:
        return any(finding.level == "alert" for finding in self.findings)

    def sections(self) -> tuple[ReportSection, ...]:
        return tuple(s for s in (self.skew, self.business) if s is not None)

    def metrics(self) -> dict[str, float]:
        """Finite numbers logged on the MLflow run."""
        values = {f"psi.{d.feature}": d.psi for d in self.drift.vs_training}
        values.update({f"psi_previous.{d.feature}": d.psi for d in self.drift.since_previous})
        values.update({f"psi_acquisition.{d.feature}": d.psi for d in self.drift.acquisition})
        for row in self.performance:
            values[f"roc_auc.{row.cutoff}"] = row.roc_auc
            values[f"ece.{row.cutoff}"] = row.ece
            values[f"lift_at_10pct.{row.cutoff}"] = row.lift_at_10pct
        values["alerts"] = sum(f.level == "alert" for f in self.findings)
        values["warnings"] = sum(f.level == "warn" for f in self.findings)
        for section in self.sections():
            values.update(section.metrics)
        return {k: float(v) for k, v in values.items() if math.isfinite(v)}


def _number(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:.4f}"


def _status(report: MonitorReport, subject: str, measures: tuple[str, ...]) -> str:
    levels = {f.level for f in report.findings if f.subject == subject and f.measure in measures}
    return "ALERT" if "alert" in levels else "warn" if "warn" in levels else "ok"


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join("---" for _ in header) + " |",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def _blocks(report: MonitorReport) -> list[tuple[str, list[str]]]:
    """(title, Markdown lines) of each section, shared by both renderings."""
    t = report.thresholds
    verdict = (
        "\n".join(f"- {f.message()}" for f in report.findings)
        if report.findings
        else "- no threshold crossed"
    )
    previous = {d.feature: d.psi for d in report.drift.since_previous}
    vs_training = (
        "the prediction log's rows of this model (served feature values and probabilities)"
        if report.psi_from_log
        else "the current rows"
    )
    drift_rows = [
        (
            d.feature,
            d.kind,
            _number(d.psi),
            _number(previous.get(d.feature, float("nan"))),
            _status(report, d.feature, (VS_TRAINING, SINCE_PREVIOUS)),
        )
        for d in report.drift.vs_training
    ]
    acquisition = [f"Signups: {report.acquisition_rows}", ""]
    if report.drift.acquisition:
        acquisition += _table(
            ("attribute", "kind", "PSI", "noise", "status"),
            [
                (
                    d.feature,
                    d.kind,
                    _number(d.psi),
                    _number(d.noise),
                    _status(report, d.feature, (ACQUISITION,)),
                )
                for d in report.drift.acquisition
            ],
        )
    performance = [
        f"Rows: {report.performance_rows}",
        f"Run's test ROC-AUC: {_number(report.test_auc)} (standard error "
        f"{_number(report.test_auc_se)}); alert when a cutoff's AUC is below it by more than "
        f"{t.auc_drop_alert:g} and by more than {t.auc_drop_z:g} standard errors of the "
        f"difference (Hanley-McNeil), or its ECE is above both {t.ece_alert:g} and the ECE a "
        "calibrated model reaches by chance on its rows (95th percentile, 'ECE noise').",
        "",
    ]
    if report.performance:
        performance += _table(
            (
                "cutoff",
                "rows",
                "positives",
                "ROC-AUC",
                "AUC SE",
                "ECE",
                "ECE noise",
                "lift at 10%",
                "status",
            ),
            [
                (
                    p.cutoff,
                    str(p.rows),
                    str(p.positives),
                    _number(p.roc_auc),
                    _number(p.auc_se),
                    _number(p.ece),
                    _number(p.ece_noise),
                    _number(p.lift_at_10pct),
                    _status(report, f"cutoff {p.cutoff}", (AUC_DROP, ECE)),
                )
                for p in report.performance
            ],
        )
    blocks = [
        (
            "Summary",
            [
                f"Model {report.model_name} v{report.model_version} (training run "
                f"{report.training_run_id}), feature set {report.feature_set}.",
                f"Training rows: {report.training_rows}",
                f"Current rows: {report.current_rows}",
                f"Previous rows: {report.previous_rows}",
                *([f"Prediction log: {report.prediction_log}"] if report.prediction_log else []),
                "",
                verdict,
            ],
        ),
        (
            "Population stability (PSI)",
            [
                "Numeric columns: bins at the reference's deciles; categorical: one bin per "
                "reference category plus one for unseen ones; missing values in a bin of "
                "their own (shares floored at 1e-4).",
                f"vs training: the training rows vs {vs_training}. An ageing, churning "
                "population moves age-like and engagement features over months without any "
                f"break, so this only warns (above {t.feature_psi_warn:g}).",
                "since previous: the scoring rows one cadence earlier vs the current rows; a "
                "sudden break such as a tracking bug shows here. Alert above "
                f"{t.feature_psi_alert:g} (prediction {t.prediction_psi_alert:g}), except for "
                f"{', '.join(report.drift.not_alerted) or 'no feature'} (reported only: tenure "
                "moves with the calendar and the inflow of signups).",
                f"Every PSI finding also needs PSI above {t.psi_noise_multiple:g} times the "
                "PSI two samples of those sizes show without drift.",
                f"Mean prediction: training {report.prediction_means[0]:.4f}, current "
                f"{report.prediction_means[1]:.4f}.",
                "",
                *_table(
                    ("feature", "kind", "PSI vs training", "PSI since previous", "status"),
                    drift_rows,
                ),
            ],
        ),
        (
            "Acquisition mix",
            [
                "Static attributes of new signups vs those of the training period's signups: "
                f"a shift in who signs up (e.g. the channel mix). Alert above "
                f"{t.acquisition_psi_alert:g}.",
                *acquisition,
            ],
        ),
        ("Performance over time", performance),
    ]
    return blocks + [(s.title, list(s.lines)) for s in report.sections()]


def render_markdown(report: MonitorReport, plots: Mapping[str, str]) -> str:
    """The report as Markdown; `plots` maps a figure name to the image's relative path."""
    lines = [f"# Monitor: {report.model_name} v{report.model_version}", ""]
    for title, body in _blocks(report):
        lines += [f"## {title}", "", *body, ""]
    lines += [f"![{name}]({path})" for name, path in plots.items()]
    return "\n".join(lines).rstrip() + "\n"


def _html_lines(body: list[str]) -> str:
    """Markdown tables and bullets of `_blocks` as HTML (the only constructs they use)."""
    out, table = [], []
    for line in [*body, ""]:
        if line.startswith("|"):
            table.append([html.escape(c.strip()) for c in line.strip("|").split("|")])
            continue
        if table:
            head, rows = table[0], table[2:]
            cells = "".join(f"<th>{c}</th>" for c in head)
            body_rows = "".join(
                "<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows
            )
            out.append(f"<table><tr>{cells}</tr>{body_rows}</table>")
            table = []
        if line.startswith("- "):
            out.append(f"<li>{html.escape(line[2:])}</li>")
        elif line:
            out.append(f"<p>{html.escape(line)}</p>")
    return "\n".join(out)


def render_html(report: MonitorReport, pngs: Mapping[str, bytes]) -> str:
    """The report as one HTML file, its figures embedded as PNG data."""
    title = html.escape(f"Monitor: {report.model_name} v{report.model_version}")
    parts = [
        "<!DOCTYPE html>",
        f"<html><head><meta charset='utf-8'><title>{title}</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}</style>",
        f"</head><body><h1>{title}</h1>",
    ]
    for heading, body in _blocks(report):
        parts += [f"<h2>{html.escape(heading)}</h2>", _html_lines(body)]
    for name, data in pngs.items():
        encoded = base64.b64encode(data).decode("ascii")
        parts.append(f"<img alt='{html.escape(name)}' src='data:image/png;base64,{encoded}'>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def psi_figure(report: MonitorReport) -> Figure:
    """PSI per feature and of the prediction, vs training and since the previous check, with
    the warn and alert lines."""
    names = [d.feature for d in report.drift.vs_training]
    previous = {d.feature: d.psi for d in report.drift.since_previous}
    positions = np.arange(len(names))
    figure = Figure(figsize=(7, max(3, 0.45 * len(names) + 1)))
    axes = figure.subplots()
    axes.barh(positions - 0.2, [d.psi for d in report.drift.vs_training], 0.4, label="vs training")
    axes.barh(
        positions + 0.2,
        [previous.get(name, np.nan) for name in names],
        0.4,
        label="since previous",
    )
    t = report.thresholds
    axes.axvline(t.feature_psi_warn, color="goldenrod", linestyle="--", label="warn")
    axes.axvline(t.feature_psi_alert, color="red", linestyle="--", label="alert")
    axes.set_yticks(positions, names)
    axes.invert_yaxis()
    axes.set_xscale("symlog", linthresh=1.0)  # linear up to 1, where the thresholds lie
    axes.set(xlabel="PSI (linear below 1, log above)", title="Population stability")
    axes.legend(loc="lower right")
    figure.tight_layout()
    return figure


def prediction_figure(training: np.ndarray, current: np.ndarray) -> Figure:
    """Distribution of the predicted probability on the training rows and the current rows."""
    figure = Figure(figsize=(6, 4))
    axes = figure.subplots()
    bins = np.linspace(0.0, 1.0, 41)
    axes.hist(training, bins=bins, density=True, alpha=0.5, label=f"training ({len(training)})")
    axes.hist(current, bins=bins, density=True, alpha=0.5, label=f"current ({len(current)})")
    axes.set(
        xlabel="predicted probability", ylabel="density", title="Predictions: training vs now"
    )
    axes.legend()
    return figure


def performance_figure(report: MonitorReport) -> Figure:
    """ROC-AUC and ECE per later cutoff, with the run's test AUC and the ECE alert line."""
    figure = Figure(figsize=(6, 4))
    axes = figure.subplots()
    cutoffs = [p.cutoff for p in report.performance]
    axes.plot(cutoffs, [p.roc_auc for p in report.performance], marker="o", label="ROC-AUC")
    axes.plot(cutoffs, [p.ece for p in report.performance], marker="s", label="ECE")
    if math.isfinite(report.test_auc):
        axes.axhline(report.test_auc, color="grey", linestyle="--", label="test ROC-AUC")
    axes.axhline(report.thresholds.ece_alert, color="red", linestyle=":", label="ECE alert")
    axes.set(xlabel="cutoff", ylim=(0, 1), title="Performance over time")
    axes.legend()
    return figure


def report_figures(
    report: MonitorReport, training: np.ndarray, current: np.ndarray
) -> dict[str, Figure]:
    """The report's own figures (performance only when a later cutoff was labelled), then
    those of its further sections."""
    figures = {"psi": psi_figure(report), "predictions": prediction_figure(training, current)}
    if report.performance:
        figures["performance"] = performance_figure(report)
    for section in report.sections():
        figures.update(section.figures)
    return figures


def png_bytes(figure: Figure) -> bytes:
    """A figure as PNG data."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()
