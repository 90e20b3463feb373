"""What a person reads: the what-if tables printed by the CLI and the policy run's figure."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from serving.whatif import PolicyResult


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Left-aligned columns, two spaces apart."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    return [
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]


def _number(value: float) -> str:
    return f"{value:g}"


def suggestion_rows(suggestions: Sequence[dict]) -> list[list[str]]:
    """One table row per changed feature; a suggestion's totals sit on its first row.

    `suggestions` are the served JSON objects (`changes`, `derived`, `probability`, `gain`,
    `cost`, `n_changes`, `reached`); derived ratios are listed after the changes, marked.
    """
    rows = []
    for number, suggestion in enumerate(suggestions, start=1):
        changes = [(c, "") for c in suggestion["changes"]]
        changes += [(c, " (derived)") for c in suggestion["derived"]]
        totals = [
            f"{suggestion['probability']:.4f}" + ("" if suggestion["reached"] else " (short)"),
            f"{suggestion['gain']:+.4f}",
            f"{suggestion['cost']:.4g}",
            str(suggestion["n_changes"]),
        ]
        if not changes:
            rows.append([str(number), "(no change needed)", "", "", *totals])
        for index, (change, mark) in enumerate(changes):
            cells = [change["feature"] + mark, _number(change["from"]), _number(change["to"])]
            rows.append(
                [str(number) if index == 0 else "", *cells, *(totals if index == 0 else [""] * 4)]
            )
    return rows


SUGGESTION_HEADER = ("#", "feature", "from", "to", "new probability", "gain", "cost", "n changes")


# What a label's positive outcome is called, and its count: a policy prints "predicted
# churn: 0.11 -> 0.10, predicted extra churners: -0.39" for a churn model.
OUTCOME_WORDS = {
    "churn": ("churn", "churners"),
    "active_days_in_window": ("adoption", "adopters"),
}
CONVERSION_WORDS = ("conversion", "conversions")


def outcome_words(label_kind: str | None) -> tuple[str, str]:
    """(the outcome, its count's noun) of a label kind: conversion(s) unless churn or adoption."""
    return OUTCOME_WORDS.get(label_kind or "", CONVERSION_WORDS)


def policy_figure(
    result: PolicyResult, true_extra: float | None, counted: str = CONVERSION_WORDS[1]
) -> Figure:
    """Left: per-row predicted probability before vs after the change. Right: predicted extra
    `counted` (conversions, churners) with the bootstrap interval, and the simulator's true
    extra when known."""
    figure = Figure(figsize=(10, 4.5))
    scatter, bars = figure.subplots(1, 2)
    scatter.scatter(result.before, result.after, s=8, alpha=0.5)
    top = float(max(np.max(result.before, initial=0.0), np.max(result.after, initial=0.0)))
    scatter.plot([0, top], [0, top], linestyle="--", color="grey", label="no change")
    scatter.set(
        xlabel="predicted probability before",
        ylabel="predicted probability after",
        title=f"{result.change.expression} ({result.n_changed}/{result.n_rows} rows moved)",
    )
    scatter.legend(loc="upper left")
    labels = ["predicted (model)"]
    values = [result.expected_extra]
    errors = [
        [result.expected_extra - result.interval_low],
        [result.interval_high - result.expected_extra],
    ]
    bars.bar(labels, values, yerr=errors, capsize=6, color="tab:blue")
    if true_extra is not None:
        bars.bar(["true (simulator)"], [true_extra], color="tab:green")
    bars.axhline(0.0, color="grey", linewidth=0.8)
    bars.set(
        ylabel=f"extra {counted} in the segment",
        title=f"{result.level:.0%} bootstrap interval on the prediction",
    )
    figure.tight_layout()
    return figure
