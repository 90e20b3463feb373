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

from experiments.monitor.checks import PREDICTION, CutoffPerformance, FeatureDrift, Finding
from experiments.monitor.config import Thresholds


@dataclass(frozen=True)
class ReportSection:
    """A further section (training/serving skew, business metrics): its Markdown lines, the
    metrics logged with the run and its figures."""

    title: str
    lines: tuple[str, ...]
    metrics: Mapping[str, float] = field(default_factory=dict)
    figures: Mapping[str, Figure] = field(default_factory=dict)


@dataclass(frozen=True)
class MonitorReport:
    """Everything one `usagecast monitor` found, with where the rows came from."""

    model_name: str
    model_version: str
    training_run_id: str
    feature_set: str  # the current rows' NAME@vN
    training_rows: str  # how the reference rows were chosen, for the reader
    current_rows: str
    performance_rows: str  # which later cutoffs were labelled, or why none
    thresholds: Thresholds
    drift: tuple[FeatureDrift, ...]
    prediction_psi: float
    prediction_means: tuple[float, float]  # (training rows, current rows)
    test_auc: float
    performance: tuple[CutoffPerformance, ...]
    findings: tuple[Finding, ...]
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
        values = {f"psi.{d.feature}": d.psi for d in self.drift}
        values[f"psi.{PREDICTION}"] = self.prediction_psi
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


def _status(report: MonitorReport, subject: str) -> str:
    levels = {f.level for f in report.findings if f.subject == subject}
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
    drift_rows = [
        (d.feature, d.kind, _number(d.psi), _status(report, d.feature)) for d in report.drift
    ]
    drift_rows.append(
        (PREDICTION, "numeric", _number(report.prediction_psi), _status(report, PREDICTION))
    )
    performance = [
        f"Rows: {report.performance_rows}",
        f"Run's test ROC-AUC: {_number(report.test_auc)}; alert when a cutoff's AUC is more "
        f"than {t.auc_drop_alert:g} below it, or its ECE above {t.ece_alert:g}.",
        "",
    ]
    if report.performance:
        performance += _table(
            ("cutoff", "rows", "positives", "ROC-AUC", "ECE", "lift at 10%", "status"),
            [
                (
                    p.cutoff,
                    str(p.rows),
                    str(p.positives),
                    _number(p.roc_auc),
                    _number(p.ece),
                    _number(p.lift_at_10pct),
                    _status(report, f"cutoff {p.cutoff}"),
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
                "",
                verdict,
            ],
        ),
        (
            "Population stability (PSI)",
            [
                "Training rows vs current rows. Numeric features: bins at the training "
                "rows' deciles; categorical: one bin per training category plus one for "
                "unseen ones; missing values in a bin of their own (shares floored at 1e-4).",
                f"Feature warn above {t.feature_psi_warn:g}, alert above "
                f"{t.feature_psi_alert:g}; prediction alert above {t.prediction_psi_alert:g}. "
                f"Mean prediction: training {report.prediction_means[0]:.4f}, current "
                f"{report.prediction_means[1]:.4f}.",
                "",
                *_table(("feature", "kind", "PSI", "status"), drift_rows),
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
    """PSI per feature and of the prediction, with the warn and alert lines."""
    names = [d.feature for d in report.drift] + [PREDICTION]
    values = [d.psi for d in report.drift] + [report.prediction_psi]
    figure = Figure(figsize=(7, max(3, 0.35 * len(names) + 1)))
    axes = figure.subplots()
    axes.barh(names, values, color=["tab:blue"] * len(report.drift) + ["tab:orange"])
    t = report.thresholds
    axes.axvline(t.feature_psi_warn, color="goldenrod", linestyle="--", label="feature warn")
    axes.axvline(t.feature_psi_alert, color="red", linestyle="--", label="feature alert")
    axes.axvline(
        t.prediction_psi_alert, color="darkorange", linestyle=":", label="prediction alert"
    )
    axes.invert_yaxis()
    axes.set(xlabel="PSI (training rows vs current rows)", title="Population stability")
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
