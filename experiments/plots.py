"""Figures a data scientist looks at in the MLflow UI; each function returns a new Figure.

Curves are drawn on plain `matplotlib.figure.Figure` objects (no pyplot, no GUI). SHAP and
Optuna draw through pyplot, so those functions select the non-interactive Agg backend first
(at call time, never at import) and detach the figure from pyplot before returning it.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import optuna
from matplotlib.figure import Figure
from sklearn.metrics import precision_recall_curve, roc_curve

from experiments.business import BusinessOptions, ProfitCurve, profit_at, profit_curve
from experiments.metrics import CALIBRATION_BINS


def roc_figure(labels: np.ndarray, scores: Mapping[str, np.ndarray]) -> Figure:
    """ROC curves of several models on the same rows, with the random diagonal."""
    figure = Figure(figsize=(5, 5))
    axes = figure.subplots()
    for name, probabilities in scores.items():
        fpr, tpr, _ = roc_curve(labels, probabilities)
        axes.plot(fpr, tpr, label=name)
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="random")
    axes.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (test)")
    axes.legend(loc="lower right")
    return figure


def precision_recall_figure(labels: np.ndarray, scores: Mapping[str, np.ndarray]) -> Figure:
    """Precision-recall curves with the base rate as the no-skill line."""
    figure = Figure(figsize=(5, 5))
    axes = figure.subplots()
    for name, probabilities in scores.items():
        precision, recall, _ = precision_recall_curve(labels, probabilities)
        axes.plot(recall, precision, label=name)
    axes.axhline(float(np.mean(labels)), linestyle="--", color="grey", label="base rate")
    axes.set(xlabel="recall", ylabel="precision", title="Precision-recall (test)")
    axes.legend(loc="upper right")
    return figure


def gains_lift_figure(labels: np.ndarray, probabilities: np.ndarray) -> Figure:
    """Cumulative gains (share of positives found) and lift against the share of users targeted."""
    order = np.argsort(-probabilities, kind="stable")
    found = np.cumsum(labels[order]) / max(float(np.sum(labels)), 1.0)
    targeted = np.arange(1, len(labels) + 1) / len(labels)
    figure = Figure(figsize=(10, 4.5))
    gains, lift = figure.subplots(1, 2)
    gains.plot(targeted, found, label="model")
    gains.plot([0, 1], [0, 1], linestyle="--", color="grey", label="random")
    gains.set(xlabel="share of users targeted", ylabel="share of positives", title="Gains")
    gains.legend(loc="lower right")
    lift.plot(targeted, found / targeted)
    lift.axhline(1.0, linestyle="--", color="grey")
    lift.set(xlabel="share of users targeted", ylabel="lift", title="Cumulative lift")
    return figure


def calibration_figure(labels: np.ndarray, curves: dict[str, np.ndarray]) -> Figure:
    """Observed positive rate against mean prediction per equal-width bin, one line per named
    set of probabilities (e.g. calibrated and uncalibrated), points labelled with their rows."""
    edges = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)
    figure = Figure(figsize=(5, 5))
    axes = figure.subplots()
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect")
    for name, probabilities in curves.items():
        bin_of = np.clip(np.digitize(probabilities, edges[1:-1]), 0, CALIBRATION_BINS - 1)
        used = [b for b in range(CALIBRATION_BINS) if np.any(bin_of == b)]
        predicted = [probabilities[bin_of == b].mean() for b in used]
        observed = [labels[bin_of == b].mean() for b in used]
        counts = [int(np.sum(bin_of == b)) for b in used]
        axes.plot(predicted, observed, marker="o", label=name)
        for x, y, n in zip(predicted, observed, counts, strict=True):
            axes.annotate(str(n), (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7)
    axes.set(xlabel="mean predicted probability", ylabel="observed rate", title="Calibration")
    axes.legend(loc="upper left")
    return figure


def profit_figure(
    curve: ProfitCurve, capacity: tuple[int, float] | None = None, expected: bool = False
) -> Figure:
    """Profit against the number of users contacted (highest probabilities first), marking the
    profit-optimal threshold and, when given, (capacity rows, profit at capacity)."""
    best = curve.best
    kind = "expected profit" if expected else "profit"
    figure = Figure(figsize=(6, 4.5))
    axes = figure.subplots()
    axes.plot(curve.contacted, curve.profit, label=kind)
    axes.axhline(0.0, linestyle="--", color="grey")
    axes.scatter(
        [curve.contacted[best]],
        [curve.profit[best]],
        color="tab:green",
        zorder=3,
        label=f"optimum: {int(curve.contacted[best])} users, threshold "
        f"{curve.thresholds[best]:.3f}",
    )
    if capacity is not None:
        rows, profit = capacity
        axes.axvline(rows, linestyle=":", color="tab:red")
        axes.scatter([rows], [profit], color="tab:red", zorder=3, label=f"capacity: {rows} users")
    axes.set(xlabel="users contacted (highest probability first)", ylabel=kind, title="Profit")
    axes.legend(loc="best")
    return figure


def business_figures(
    conversions: np.ndarray,
    probabilities: np.ndarray,
    options: BusinessOptions,
    expected: bool = False,
) -> dict[str, Figure]:
    """`profit_curve` when a contact cost and conversion value are given, else nothing;
    `expected`: the conversions are the probabilities themselves (unlabelled scores)."""
    if options.economics is None:
        return {}
    curve = profit_curve(conversions, probabilities, options.economics)
    capacity = None
    if options.capacity is not None:
        rows = options.capacity.rows(len(probabilities))
        capacity = (rows, profit_at(conversions, probabilities, rows, options.economics))
    return {"profit_curve": profit_figure(curve, capacity, expected)}


def _pyplot():
    """pyplot on the Agg backend (SHAP and Optuna draw through it)."""
    import matplotlib
    import matplotlib.pyplot as plt

    matplotlib.use("Agg", force=True)
    return plt


def _detach(plt, figure: Figure) -> Figure:
    """Remove a finished figure from pyplot's registry so it is not kept alive there."""
    plt.close(figure)
    return figure


def shap_figures(
    contributions: np.ndarray, data: np.ndarray, feature_names: list[str]
) -> dict[str, Figure]:
    """SHAP beeswarm and mean |SHAP| bar chart from exact TreeSHAP contributions.

    `contributions` is LightGBM's pred_contrib output (last column = base value).
    """
    import shap

    plt = _pyplot()
    explanation = shap.Explanation(
        values=contributions[:, :-1],
        base_values=contributions[:, -1],
        data=data,
        feature_names=feature_names,
    )
    beeswarm = plt.figure(figsize=(8, 6))
    shap.plots.beeswarm(explanation, max_display=20, show=False, ax=beeswarm.gca(), plot_size=None)
    bar = plt.figure(figsize=(8, 6))
    shap.plots.bar(explanation, max_display=20, show=False, ax=bar.gca())
    for figure in (beeswarm, bar):
        figure.tight_layout()
    return {"shap_beeswarm": _detach(plt, beeswarm), "shap_importance": _detach(plt, bar)}


def optuna_figures(study: optuna.Study, seed: int) -> dict[str, Figure]:
    """Optimisation history and, when completed trials differ in score, param importances."""
    from optuna.importance import FanovaImportanceEvaluator
    from optuna.visualization import matplotlib as optuna_plots

    plt = _pyplot()
    with warnings.catch_warnings():
        # Optuna marks its matplotlib backend experimental; the plots are fine for a run record.
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        history = optuna_plots.plot_optimization_history(study).figure
        figures = {"optuna_history": _detach(plt, history)}
        completed = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        if len({trial.value for trial in completed}) >= 2:  # fANOVA needs varying scores
            axes = optuna_plots.plot_param_importances(
                study, evaluator=FanovaImportanceEvaluator(seed=seed)
            )
            figures["optuna_param_importances"] = _detach(plt, axes.figure)
    return figures
