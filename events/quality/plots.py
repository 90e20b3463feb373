"""The plots of a quality report: the plotted tables, taken from the report dict, and the
charts drawn from them as inline SVG.

The charts are SVG text written here (no plotting library: a small ingest draws its three
charts in about a millisecond, and the page stays one self-contained file whose labels are
text). Every label comes from users' files and is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from html import escape

OTHER_TYPES = "other types"
# Matplotlib's default colour cycle ("tab10"), one colour per band.
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip
FONT_PIXELS = 11
CHAR_PIXELS = 6.2  # a sans-serif character's width at FONT_PIXELS, for margins
TITLE_HEIGHT = 26
BAR_HEIGHT = 18
BAR_GAP = 5
MAX_LABEL_PIXELS = 320
X_TICKS = 6
Y_TICKS = 5


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
    return OTHER_TYPES if text is None else text


def _text(x: float, y: float, text: str, anchor: str = "start", **attributes: str) -> str:
    extra = "".join(f' {name.replace("_", "-")}="{value}"' for name, value in attributes.items())
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{extra}>{escape(text)}</text>'


def _svg(width: float, height: float, title: str, body: Sequence[str]) -> str:
    """One chart: its title on top, `body` drawn in pixels below it."""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="{escape(title)}" '
        f'font-family="sans-serif" font-size="{FONT_PIXELS}">'
        f"<title>{escape(title)}</title>"
        + _text(width / 2, 17, title, "middle", font_size="13", font_weight="bold")
        + "".join(body)
        + "</svg>"
    )


def _empty(width: float, title: str, message: str) -> str:
    return _svg(width, 70, title, [_text(width / 2, 50, message, "middle")])


def nice_ticks(top: float, most: int) -> list[float]:
    """0 and round steps (1, 2 or 5 times a power of ten) up to the first at or above
    `top`, at most `most` + 1 of them."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / most
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    return [i * step for i in range(math.ceil(top / step - 1e-9) + 1)]


def _tick_text(value: float, percent: bool) -> str:
    if percent:
        return f"{value:.0%}"
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2g}"


def events_chart(daily: DailyEvents) -> str:
    """Stacked areas of events per day, one band per event type, the legend on the right."""
    title = "Events per day by event type"
    width, height = 860.0, 330.0
    if not daily.days:
        return _empty(width, title, "no events")
    labels = [_label(kind) for kind in daily.counts]
    legend_width = min(MAX_LABEL_PIXELS, max(len(label) for label in labels) * CHAR_PIXELS) + 30
    left, right, top, bottom = 60.0, width - legend_width - 10, TITLE_HEIGHT + 8, height - 45
    totals = [sum(series[i] for series in daily.counts.values()) for i in range(len(daily.days))]
    ticks = nice_ticks(max(totals), Y_TICKS)
    last = len(daily.days) - 1

    def x(i: int) -> float:
        return left + (right - left) * (i / last if last else 0.5)

    def y(value: float) -> float:
        return bottom - (bottom - top) * value / ticks[-1]

    body = []
    for tick in ticks:
        body.append(
            f'<line x1="{left}" x2="{right}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#ddd"/>'
        )
        body.append(_text(left - 6, y(tick) + 4, _tick_text(tick, False), "end"))
    below = [0] * len(daily.days)
    for band, series in enumerate(daily.counts.values()):
        above = [b + v for b, v in zip(below, series, strict=True)]
        edge = [(x(i), y(v)) for i, v in enumerate(above)]
        base = [(x(i), y(v)) for i, v in reversed(list(enumerate(below)))]
        if not last:  # one day: a column across the plot
            edge = [(left, edge[0][1]), (right, edge[0][1])]
            base = [(right, base[0][1]), (left, base[0][1])]
        points = " ".join(f"{px:.1f},{py:.1f}" for px, py in [*edge, *base])
        body.append(f'<polygon points="{points}" fill="{PALETTE[band % len(PALETTE)]}"/>')
        below = above
    for i in sorted({round(k * last / (X_TICKS - 1)) for k in range(X_TICKS)}):
        body.append(_text(x(i), bottom + 16, daily.days[i].isoformat(), "middle"))
    body.append(
        _text(
            14,
            (top + bottom) / 2,
            "events",
            "middle",
            transform=f"rotate(-90 14 {(top + bottom) / 2:.1f})",
        )
    )
    for band, label in enumerate(labels):
        row = top + 4 + band * (BAR_HEIGHT + 2)
        body.append(
            f'<rect x="{right + 14}" y="{row}" width="10" height="10" '
            f'fill="{PALETTE[band % len(PALETTE)]}"/>'
        )
        body.append(_text(right + 30, row + 9, label))
    return _svg(width, height, title, body)


def _bars(labels: list[str], values: list[float], title: str, xlabel: str, percent: bool) -> str:
    """Horizontal bars in the given order from the top, each with its value at its end;
    shares (`percent`) on a 0-100% axis."""
    width = 760.0
    left = min(MAX_LABEL_PIXELS, max(len(label) for label in labels) * CHAR_PIXELS) + 16
    right = width - 60
    top = TITLE_HEIGHT + 6
    bottom = top + len(labels) * (BAR_HEIGHT + BAR_GAP)
    ticks = [0.0, 0.25, 0.5, 0.75, 1.0] if percent else nice_ticks(max(values), Y_TICKS)

    def x(value: float) -> float:
        return left + (right - left) * value / ticks[-1]

    body = []
    for tick in ticks:
        body.append(
            f'<line x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="{top}" y2="{bottom}" stroke="#ddd"/>'
        )
        body.append(_text(x(tick), bottom + 14, _tick_text(tick, percent), "middle"))
    for row, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = top + row * (BAR_HEIGHT + BAR_GAP)
        body.append(_text(left - 6, y + BAR_HEIGHT / 2 + 4, label, "end"))
        body.append(
            f'<rect x="{left}" y="{y}" width="{x(value) - left:.1f}" height="{BAR_HEIGHT}" '
            f'fill="{PALETTE[0]}"/>'
        )
        shown = f"{value:.1%}" if percent else f"{value:,.0f}"
        body.append(_text(x(value) + 4, y + BAR_HEIGHT / 2 + 4, shown))
    body.append(_text((left + right) / 2, bottom + 32, xlabel, "middle"))
    return _svg(width, bottom + 42, title, body)


def quarantine_chart(rows: Sequence[tuple[str, str, int]]) -> str:
    """Quarantined rows per table and reason."""
    title = "Quarantined rows by table and reason"
    if not rows:
        return _empty(760, title, "no rows quarantined")
    return _bars(
        [f"{table}: {reason}" for table, reason, _ in rows],
        [float(n) for *_, n in rows],
        title,
        "rows",
        percent=False,
    )


def null_share_chart(rows: Sequence[tuple[str, str, float]]) -> str:
    """Share of null values per column of each table."""
    title = "Null share per column"
    if not rows:
        return _empty(760, title, "no columns")
    return _bars(
        [f"{table}.{column}" for table, column, _ in rows],
        [share for *_, share in rows],
        title,
        "share of rows that are null",
        percent=True,
    )
