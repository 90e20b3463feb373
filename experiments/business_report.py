"""The business summary `usagecast score --capacity/--contact-cost/--conversion-value` writes
beside its scores file: `<stem>.business.json`, and `<stem>.profit_curve.png` with a cost and
value. Scores carry no labels, so profits are expected ones (experiments.business)."""

from __future__ import annotations

import json
from pathlib import Path

from experiments import plots
from experiments.business import BusinessOptions, expected_business
from registry import read_scores

EXPECTED_NOTE = (
    "expected values: each user's calibrated probability counts as its expected conversions; "
    "expected profit of contacting the top k = conversion_value * sum(p) - contact_cost * k"
)


def business_paths(scores: Path) -> tuple[Path, Path]:
    """(JSON summary, profit-curve PNG) beside a scores file."""
    return scores.with_suffix(".business.json"), scores.with_suffix(".profit_curve.png")


def format_business(summary: dict[str, float]) -> str:
    """One printed line: users within capacity and the cut-off, best k and expected profits."""
    parts = []
    if "capacity_users" in summary:
        parts.append(
            f"{summary['capacity_users']} of {summary['users']} users within capacity "
            f"(probability >= {summary['probability_cutoff_at_capacity']:.4f}, expected "
            f"conversions {summary['expected_conversions_at_capacity']:.1f}"
            + (
                f", expected profit {summary['expected_profit_at_capacity']:.2f})"
                if "expected_profit_at_capacity" in summary
                else ")"
            )
        )
    if "best_k" in summary:
        parts.append(
            f"expected profit is highest contacting the top {summary['best_k']} users "
            f"(probability >= {summary['profit_optimal_threshold']:.4f}): "
            f"{summary['expected_profit_at_optimum']:.2f}"
        )
    return "; ".join(parts)


def write_score_business(scores: Path, options: BusinessOptions) -> str:
    """Compute the summary on the scores file's probabilities, write it (and the plot) beside
    it, and return the lines to print."""
    probabilities = read_scores(scores)["probability"].to_numpy()
    summary = expected_business(probabilities, options)
    summary_path, plot_path = business_paths(scores)
    payload = {"scores": scores.name, **options.params(), "note": EXPECTED_NOTE, **summary}
    summary_path.write_text(json.dumps(payload, indent=2) + "\n")
    written = [summary_path]
    figures = plots.business_figures(probabilities, probabilities, options, expected=True)
    if "profit_curve" in figures:
        figures["profit_curve"].savefig(plot_path)
        written.append(plot_path)
    return f"business: {format_business(summary)}\nwrote {', '.join(map(str, written))}"
