"""The plots of a quality report: the plotted tables, taken from the report dict, and figures.

Figures are matplotlib `Figure` objects drawn by the Agg canvas (no display, no pyplot state)
into PNG data URIs, so the HTML page is one self-contained file. Labels come from users' files:
`$` is escaped (no mathtext) and legends get their labels explicitly (a leading `_` is kept).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

OTHER_TYPES = "other types"
# Margins set by rule instead of tight_layout (which draws to measure every text first):
# the bars' left margin grows with the longest label.
LABEL_POINTS_PER_CHAR = 4.6
LABEL_FONT_POINTS = 8


@dataclass(frozen=True)
class DailyEvents:
    """Events per day by event type: every day from the first to the last, zero-filled.

    `counts` maps an event type (None: the types outside the plotted ones) to one count per day.
    """

    days: tuple[date, ...]
    counts: Mapping[str | None, tuple[int, ...]]


def daily_events(rows: Sequence[Mapping]) -> DailyEvents:
    """The report's `events_per_day` rows as a day x type table with no missing day."""
    if not rows:
        return DailyEvents((), {})
    seen = {date.fromisoformat(row["day"]) for row in rows}
    first, last = min(seen), max(seen)
    days = tuple(first + timedelta(days=i) for i in range((last - first).days + 1))
    position = {day: i for i, day in enumerate(days)}
    counts: dict[str | None, list[int]] = {}
    for row in rows:
        series = counts.setdefault(row["event_type"], [0] * len(days))
        series[position[date.fromisoformat(row["day"])]] += row["events"]
    return DailyEvents(days, {kind: tuple(series) for kind, series in counts.items()})


def quarantine_reasons(report: Mapping) -> list[tuple[str, str, int]]:
    """(table, reason, rows) for every reason that quarantined rows, as the ingest counted them."""
    return [
        (table, reason, int(n))
        for table, c in report["counts"].items()
        for reason, n in sorted(c["quarantined"].items())
    ]


def null_shares(report: Mapping) -> list[tuple[str, str, float]]:
    """(table, column, share of rows that are null) for every profiled column."""
    return [
        (table, column, float(p["null_rate"]))
        for table, profile in report["columns"].items()
        for column, p in profile["columns"].items()
    ]


def _label(text: str | None) -> str:
    return OTHER_TYPES if text is None else text.replace("$", r"\$")


def _empty(figure: Figure, axes, message: str) -> Figure:
    axes.text(0.5, 0.5, message, ha="center", va="center", transform=axes.transAxes)
    axes.set_axis_off()
    return figure


def events_figure(daily: DailyEvents) -> Figure:
    """Stacked area of events per day, one band per event type."""
    figure = Figure(figsize=(9, 4))
    axes = figure.subplots()
    axes.set_title("Events per day by event type")
    if not daily.days:
        return _empty(figure, axes, "no events")
    bands = axes.stackplot(
        np.array(daily.days, dtype="datetime64[D]"),
        *[np.asarray(series, dtype="float64") for series in daily.counts.values()],
    )
    axes.legend(bands, [_label(kind) for kind in daily.counts], fontsize=8, loc="upper left")
    axes.set_ylabel("events")
    figure.autofmt_xdate()
    figure.subplots_adjust(left=0.09, right=0.98, top=0.9, bottom=0.2)
    return figure


def _bars(labels: list[str], values: list[float], title: str, xlabel: str) -> Figure:
    """Horizontal bars, in the given order from the top."""
    figure = Figure(figsize=(8, max(2.5, 0.3 * len(labels) + 1)))
    axes = figure.subplots()
    axes.set_title(title)
    positions = np.arange(len(labels))
    axes.barh(positions, values)
    axes.set_yticks(positions, [_label(label) for label in labels], fontsize=8)
    axes.invert_yaxis()
    axes.set_xlabel(xlabel)
    width_points = figure.get_figwidth() * 72
    longest = max((len(_label(label)) for label in labels), default=0)
    left = min(0.6, (longest * LABEL_POINTS_PER_CHAR + 2 * LABEL_FONT_POINTS) / width_points)
    height_points = figure.get_figheight() * 72
    figure.subplots_adjust(
        left=max(left, 0.08),
        right=0.97,
        top=1 - 24 / height_points,
        bottom=34 / height_points,
    )
    return figure


def quarantine_figure(rows: Sequence[tuple[str, str, int]]) -> Figure:
    """Quarantined rows per table and reason."""
    if not rows:
        figure = Figure(figsize=(8, 1.5))
        return _empty(figure, figure.subplots(), "no rows quarantined")
    return _bars(
        [f"{table}: {reason}" for table, reason, _ in rows],
        [float(n) for *_, n in rows],
        "Quarantined rows by table and reason",
        "rows",
    )


def null_share_figure(rows: Sequence[tuple[str, str, float]]) -> Figure:
    """Share of null values per column of each table."""
    figure = _bars(
        [f"{table}.{column}" for table, column, _ in rows],
        [share for *_, share in rows],
        "Null share per column",
        "share of rows that are null",
    )
    figure.axes[0].set_xlim(0, 1)
    return figure


def png_data_uri(figure: Figure) -> str:
    """The figure as a `data:image/png;base64,...` URI (drawn with the Agg canvas)."""
    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
