"""The monitor's further report sections, built from computed values (pure): training/serving
skew from the prediction log, business metrics at a capacity on the latest matured cutoff
(experiments.business, as `usagecast tune` computes them on its test rows), and the wording
of cutoff lists."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from experiments import plots
from experiments.business import BusinessOptions, business_metrics
from experiments.monitor.config import Thresholds
from experiments.monitor.report import ReportSection

SKEW_TITLE = "Training/serving skew"
BUSINESS_TITLE = "Business metrics"
WORST_SHOWN = 3  # features named in the skew section's opening line


def _number(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:.4f}"


def cutoff_list(cutoffs: tuple[pd.Timestamp, ...], most: int = 6) -> str:
    """Cutoffs as dates, or their count and span past `most` (signup-relative sets have one
    per signup day)."""
    if len(cutoffs) > most:
        return f"{len(cutoffs)} cutoffs, {cutoffs[0].date()} .. {cutoffs[-1].date()}"
    return ", ".join(str(c.date()) for c in cutoffs) or "none"


def skew_figure(skew: pd.DataFrame, threshold: float) -> Figure:
    """Share of logged rows differing per feature, with the alert line."""
    figure = Figure(figsize=(7, max(3, 0.4 * len(skew) + 1)))
    axes = figure.subplots()
    positions = np.arange(len(skew))
    axes.barh(positions, skew["share_differing"].fillna(0.0))
    axes.axvline(threshold, color="red", linestyle="--", label="alert")
    axes.set_yticks(positions, skew["feature"].tolist())
    axes.invert_yaxis()
    axes.set(xlabel="share of logged rows differing", xlim=(0, 1), title="Training/serving skew")
    axes.legend(loc="lower right")
    figure.tight_layout()
    return figure


def skew_section(skew: pd.DataFrame, rows_text: str, thresholds: Thresholds) -> ReportSection:
    """The skew table (skew.training_serving_skew), worst feature first; metrics
    `skew_share.<feature>`, `skew_rows_compared`, `skew_rows_unmatched`."""
    limit = thresholds.skew_share_alert
    ordered = skew.sort_values(
        ["share_differing", "feature"], ascending=[False, True], na_position="last"
    )
    differing = ordered[ordered["rows_differing"] > 0]
    worst = ", ".join(
        f"{row.feature} ({row.share_differing:.2%})"
        for row in differing.head(WORST_SHOWN).itertuples()
    )
    compared = int(skew["rows_compared"].max()) if len(skew) else 0
    unmatched = int(skew["rows_unmatched"].max()) if len(skew) else 0
    table = [
        "| feature | kind | rows compared | rows differing | share differing | max abs "
        "difference | status |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *(
            f"| {row.feature} | {row.kind} | {row.rows_compared} | {row.rows_differing} | "
            f"{_number(row.share_differing)} | {_number(row.max_abs_difference)} | "
            f"{'ALERT' if row.share_differing > limit else 'ok'} |"
            for row in ordered.itertuples()
        ),
    ]
    lines = (
        f"Rows: {rows_text}",
        "A value differs when numeric values are apart by more than a relative 1e-9 or only "
        "one side is missing, categorical ones when their text differs. Alert when a "
        f"feature's share of differing rows is above {limit:g}.",
        f"Worst: {worst}." if worst else "No served value differs from the feature set's.",
        "",
        *table,
    )
    metrics = {f"skew_share.{row.feature}": row.share_differing for row in skew.itertuples()}
    metrics |= {"skew_rows_compared": compared, "skew_rows_unmatched": unmatched}
    figures = {"skew": skew_figure(ordered, limit)} if len(skew) and compared else {}
    return ReportSection(SKEW_TITLE, lines, metrics, figures)


def skew_not_compared(reason: str) -> ReportSection:
    """The skew section when no logged row could be compared, saying why."""
    return ReportSection(SKEW_TITLE, (f"Not compared: {reason}.",))


def business_section(
    labels: np.ndarray, probabilities: np.ndarray, options: BusinessOptions, rows_text: str
) -> ReportSection:
    """experiments.business.business_metrics of labelled rows, logged as `business.<name>`, and
    the profit curve when a contact cost and conversion value are given."""
    values = business_metrics(labels, probabilities, options)
    lines = (
        f"Rows: {rows_text}",
        "Options: " + ", ".join(f"{k} {v}" for k, v in options.params().items()),
        "",
        "| metric | value |",
        "| --- | --- |",
        *(
            f"| {name} | {value if isinstance(value, int) else _number(value)} |"
            for name, value in values.items()
        ),
    )
    return ReportSection(
        BUSINESS_TITLE,
        lines,
        {f"business.{name}": value for name, value in values.items()},
        plots.business_figures(labels, probabilities, options),
        options.params(),
    )


def business_without_labels(options: BusinessOptions, reason: str) -> ReportSection:
    """The business section when no later cutoff has matured labels to measure on."""
    return ReportSection(BUSINESS_TITLE, (f"Not measured: {reason}.",), params=options.params())
