"""Plots of a value (regression) run: calibration by decile and predicted vs realised."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure

from experiments.value_metrics import decile_calibration


def decile_calibration_figure(
    realised: np.ndarray, predictions: Mapping[str, np.ndarray]
) -> Figure:
    """Realised mean against predicted mean per decile of predictions, one line per model
    (over the rows it predicts: NaN is no prediction), on the diagonal when calibrated."""
    figure = Figure(figsize=(5, 5))
    axes = figure.subplots()
    top = 0.0
    for name, predicted in predictions.items():
        known = ~np.isnan(predicted)
        if not known.any():
            continue
        table = decile_calibration(realised[known], predicted[known])
        axes.plot(table["predicted_mean"], table["realised_mean"], marker="o", label=name)
        top = max(top, float(table["predicted_mean"].max()), float(table["realised_mean"].max()))
    top = top or 1.0
    axes.plot([0, top], [0, top], linestyle="--", color="grey", label="perfect")
    axes.set(
        xlabel="mean predicted value per decile",
        ylabel="mean realised value",
        title="Calibration by decile",
    )
    axes.legend(loc="upper left")
    return figure


def predicted_vs_realised_figure(realised: np.ndarray, predicted: np.ndarray) -> Figure:
    """One point per test row, on symmetric-log axes (most values are zero, a few large)."""
    figure = Figure(figsize=(5, 5))
    axes = figure.subplots()
    axes.scatter(predicted, realised, s=6, alpha=0.4)
    top = float(max(np.max(predicted), np.max(realised))) if len(realised) else 1.0
    axes.plot([0, top], [0, top], linestyle="--", color="grey")
    axes.set_xscale("symlog")
    axes.set_yscale("symlog")
    axes.set(xlabel="predicted value", ylabel="realised value", title="Predicted vs realised")
    return figure
