"""Figures for the analytics tables (matplotlib, no display needed: Figure objects only)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.container import BarContainer
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

# The width a row label's character takes at the tick labels' font size.
LABEL_INCH_PER_CHARACTER = 0.075
# Column labels up to this many characters fit side by side under a heatmap's cells.
SHORT_LABEL = 4
# The width a heatmap's colour bar and its tick labels take.
COLOUR_BAR_INCHES = 0.8


def bar_chart(
    labels: pd.Series, values: pd.Series, title: str, xlabel: str, ylabel: str = ""
) -> Figure:
    """Horizontal bars, largest on top (top features, before conversion); `ylabel` names
    what the labels are."""
    figure = Figure(figsize=(8, max(2.5, 0.35 * len(labels) + 1)))
    axes = figure.subplots()
    positions = np.arange(len(labels))
    axes.barh(positions, values.to_numpy(dtype="float64"))
    axes.set_yticks(positions, labels.astype(str).to_list())
    axes.invert_yaxis()
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    figure.tight_layout()
    return figure


def heatmap(
    matrix: pd.DataFrame,
    title: str,
    xlabel: str,
    ylabel: str,
    partial: pd.DataFrame | None = None,
    top: float = 1.0,
) -> Figure:
    """A cohort x period heatmap of shares, colours from 0 to `top`, with the values written
    in the cells; cells True in `partial` (same shape) are hatched and their value starred (a
    lower bound, not a drop). The figure widens for long row labels (a path)."""
    label_inches = LABEL_INCH_PER_CHARACTER * max((len(str(i)) for i in matrix.index), default=0)
    # The constrained layout makes room for the labels beside a colour bar; tight_layout
    # cut the colour bar's labels off.
    figure = Figure(
        figsize=(
            1 + COLOUR_BAR_INCHES + 0.6 * matrix.shape[1] + label_inches,
            1 + 0.4 * matrix.shape[0],
        ),
        layout="constrained",
    )
    axes = figure.subplots()
    values = matrix.to_numpy(dtype="float64")
    image = axes.imshow(values, aspect="auto", cmap="viridis", vmin=0, vmax=top)
    columns = [str(c) for c in matrix.columns]
    slanted = max(map(len, columns), default=0) > SHORT_LABEL  # names side by side overlap
    axes.set_xticks(
        np.arange(matrix.shape[1]),
        columns,
        rotation=30 if slanted else 0,
        ha="right" if slanted else "center",
    )
    axes.set_yticks(np.arange(matrix.shape[0]), [str(i) for i in matrix.index])
    marked = np.zeros(values.shape, bool) if partial is None else partial.to_numpy(bool)
    for (row, column), value in np.ndenumerate(values):
        if not np.isnan(value):
            star = "*" if marked[row, column] else ""
            axes.text(column, row, f"{value:.2f}{star}", ha="center", va="center", fontsize=7)
    for row, column in zip(*np.nonzero(marked), strict=True):
        axes.add_patch(
            Rectangle(
                (column - 0.5, row - 0.5), 1, 1, fill=False, hatch="//", edgecolor="white", lw=0
            )
        )
    if marked.any():
        xlabel = f"{xlabel}  (hatched *: partial period, still running at the end of the data)"
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    figure.colorbar(image, ax=axes)
    return figure


def lines(
    table: pd.DataFrame, x: str, y: str, by: str, title: str, partial: str | None = None
) -> Figure:
    """One line per value of `by` (rates over months, cumulative gains). Rows True in the
    column `partial` (periods still running) are hollow points reached by a dashed line: a
    lower bound, not a drop."""
    figure = Figure(figsize=(7, 4))
    axes = figure.subplots()
    for key, part in table.groupby(by, sort=True):
        cut = part[partial].to_numpy(bool) if partial else np.zeros(len(part), bool)
        whole = part[~cut]
        (line,) = axes.plot(whole[x], whole[y], marker="o", label=str(key))
        if cut.any():
            reach = pd.concat([whole.tail(1), part[cut]])
            axes.plot(reach[x], reach[y], linestyle="--", color=line.get_color())
            axes.plot(
                part[cut][x], part[cut][y], "o", markerfacecolor="none", color=line.get_color()
            )
    if pd.api.types.is_integer_dtype(table[x]):  # months, steps: no ticks between them
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    if pd.api.types.is_datetime64_any_dtype(table[x]):  # dates: slanted, not overlapping
        figure.autofmt_xdate()
    if partial and table[partial].any():
        x = f"{x}  (hollow, dashed: a partial period, not complete)"
    axes.set_xlabel(x)
    axes.set_ylabel(y)
    axes.set_title(title)
    axes.legend()
    figure.tight_layout()
    return figure


def paired_bars(table: pd.DataFrame, label: str, left: str, right: str, title: str) -> Figure:
    """Two bars per row side by side (predicted vs realised value per channel)."""
    figure = Figure(figsize=(8, max(2.5, 0.5 * len(table) + 1)))
    axes = figure.subplots()
    positions = np.arange(len(table))
    for offset, column in ((-0.2, left), (0.2, right)):
        axes.barh(positions + offset, table[column].fillna(0).to_numpy("float64"), 0.4)
    axes.set_yticks(positions, table[label].astype(str).to_list())
    axes.invert_yaxis()
    axes.legend([left, right])
    axes.set_title(title)
    figure.tight_layout()
    return figure


def growth_accounting(table: pd.DataFrame, labels: list[str], title: str) -> Figure:
    """Per period, the active users stacked as retained, resurrected and new above zero, the
    churned below it; a partial period's bars hatched (a lower and an upper bound)."""
    figure = Figure(figsize=(max(6, 0.35 * len(table) + 2), 4))
    axes = figure.subplots()
    positions = np.arange(len(table))
    hatch = ["//" if partial else "" for partial in table["partial"]]
    bottom = np.zeros(len(table))
    for column, colour in (
        ("retained_users", "tab:blue"),
        ("resurrected_users", "tab:orange"),
        ("new_users", "tab:green"),
    ):
        values = table[column].to_numpy("float64")
        _hatched(axes.bar(positions, values, bottom=bottom, color=colour, label=column), hatch)
        bottom += values
    churned = -table["churned_users"].to_numpy("float64")
    _hatched(axes.bar(positions, churned, color="tab:red", label="churned_users"), hatch)
    axes.axhline(0, color="black", linewidth=0.8)
    step = max(1, len(labels) // 12)
    axes.set_xticks(positions[::step], labels[::step], rotation=45, ha="right")
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylabel("users")
    axes.set_title(title)
    axes.legend(fontsize="small")
    figure.tight_layout()
    return figure


def _hatched(bars: BarContainer, hatches: list[str]) -> None:
    """Give each bar its hatch ("" for none)."""
    for bar, hatch in zip(bars, hatches, strict=True):
        bar.set_hatch(hatch)
