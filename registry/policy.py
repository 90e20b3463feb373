"""The promotion gate: a pure decision with a reason that carries the numbers.

Order of the gates (the first that fails names the refusal):
1. leakage: a feature flagged by the feature set's leakage scan (AUC >= 0.95, kept in the
   build only by `features build --allow-leaky`) refuses the candidate unless promotion names
   it too (`allow_leaky`, `promote --allow-leaky NAME`); a scan that was not recorded refuses
   only when `require_leakage_scan` is set;
2. calibration: expected calibration error above the limit refuses; the limit is
   `max_calibration_error`, or the ECE a perfectly calibrated model exceeds by chance only 5%
   of the time on the same test rows (`calibration_noise`) when that is larger: on small
   test sets chance alone moves ECE by several points;
3. a metric that could not be computed (one class in the test set) refuses;
4. chance: a ROC-AUC whose 95% interval on the test rows (Hanley and McNeil's standard
   error, from the counts of positives and negatives) reaches down to 0.5 refuses: the rows
   cannot tell the model from a coin, whatever a champion scored;
5. no champion yet, or a champion that no longer loads: a model that passes 1-4 is promoted;
6. comparability: the champion must have been re-scored on the candidate's test rows
   (its feature columns exist there); otherwise only `allow_new_features` lets the recorded
   test metrics be compared, and the reason says so;
7. margin: candidate ROC-AUC - champion ROC-AUC must be >= `margin`.
Whatever the verdict after gate 1, the reason ends by naming the allowed leak suspects and
the warned features (AUC from 0.90 to 0.95), so the audit says what the model was trusted with.

A value model (a regression, `decide_value`) has the same leakage and comparability gates; in
place of calibration and ROC-AUC it must beat the training mean's RMSE and the champion's
normalised Gini by `margin`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def _gini(realised: np.ndarray, order_by: np.ndarray) -> float:
    """Unnormalised Gini of `realised` taken in descending `order_by` (ties: row order)."""
    n = len(realised)
    order = np.lexsort((np.arange(n), -np.asarray(order_by, dtype="float64")))
    taken = np.asarray(realised, dtype="float64")[order]
    cumulative = np.cumsum(taken) / taken.sum()
    return float(cumulative.sum() / n - (n + 1) / (2 * n))


def normalised_gini(realised: np.ndarray, predicted: np.ndarray) -> float:
    """How well `predicted` ranks `realised`: the area between the cumulative share of realised
    value taken in descending predicted order and the diagonal, over the same area in the
    realised order itself (1 = perfect order, 0 = random; ties in the prediction in row order,
    as the common Kaggle definition takes them); NaN when the realised
    values are all equal (nothing to rank) or sum to zero."""
    realised = np.asarray(realised, dtype="float64")
    if len(realised) == 0 or realised.sum() == 0:
        return float("nan")
    perfect = _gini(realised, realised)
    if perfect == 0:
        return float("nan")
    return _gini(realised, predicted) / perfect


# The normal quantile of a two-sided 95% interval.
Z_95 = 1.959964
CHANCE_AUC = 0.5


def auc_lower_bound(roc_auc: float, positives: int, negatives: int) -> float:
    """The lower end of a ROC-AUC's 95% interval, from Hanley and McNeil's (1982) standard
    error for `positives` and `negatives` test rows; -inf when either count is 0."""
    if positives <= 0 or negatives <= 0:
        return -math.inf
    q1 = roc_auc / (2 - roc_auc)
    q2 = 2 * roc_auc**2 / (1 + roc_auc)
    variance = (
        roc_auc * (1 - roc_auc)
        + (positives - 1) * (q1 - roc_auc**2)
        + (negatives - 1) * (q2 - roc_auc**2)
    ) / (positives * negatives)
    return roc_auc - Z_95 * math.sqrt(max(variance, 0.0))


@dataclass(frozen=True)
class PolicyConfig:
    """Limits of the gate; defaults are the CLI's defaults.

    The trainer serves Platt-calibrated probabilities (experiments/calibration.py), so the
    calibration limit can refuse a model whose probabilities cannot be read as rates. It is
    not tighter because ECE over 10 bins is noisy on small test sets: a perfectly calibrated
    model scores about 0.03 on 400 test rows and exceeds 0.05 about one time in fifteen.
    On fewer rows the candidate's own noise level (see `Candidate.calibration_noise`) raises
    the limit.
    """

    margin: float = 0.002
    max_calibration_error: float = 0.06
    require_leakage_scan: bool = False
    allow_new_features: bool = False
    allow_leaky: tuple[str, ...] = ()


@dataclass(frozen=True)
class Candidate:
    """The model asking for promotion, measured on its own held-out test rows."""

    version: str
    roc_auc: float
    calibration_error: float
    test_rows: int
    test_positives: int
    leakage_flagged: tuple[str, ...] | None  # None: the scan was not recorded
    leakage_warned: tuple[str, ...] = ()
    # 95th percentile of the ECE of a perfectly calibrated model on these test rows (0: unknown)
    calibration_noise: float = 0.0


@dataclass(frozen=True)
class Champion:
    """The current @champion. `rescored`: roc_auc is on the candidate's test rows;
    otherwise it is the champion's recorded metric on its own test rows."""

    version: str
    roc_auc: float
    rescored: bool
    missing_columns: tuple[str, ...] = ()
    load_error: str | None = None  # the champion itself no longer loads


@dataclass(frozen=True)
class Decision:
    """Promote or not, and why (numbers included): stored as model-version tags."""

    promote: bool
    reason: str


@dataclass(frozen=True)
class ValueCandidate:
    """A value model (regression) asking for promotion, measured on its own test rows;
    `baseline_rmse` is the training-mean baseline's RMSE on the same rows (from its run)."""

    version: str
    normalised_gini: float
    rmse: float
    baseline_rmse: float
    test_rows: int
    leakage_flagged: tuple[str, ...] | None
    leakage_warned: tuple[str, ...] = ()


@dataclass(frozen=True)
class ValueChampion:
    """The current @champion of a value model; `rescored` as for `Champion`."""

    version: str
    normalised_gini: float
    rescored: bool
    missing_columns: tuple[str, ...] = ()
    load_error: str | None = None


def decide(candidate: Candidate, champion: Champion | None, config: PolicyConfig) -> Decision:
    """Apply the gates in the module docstring's order."""
    refusal = _leakage_refusal(candidate, config)
    if refusal is not None:
        return refusal
    decision = _gates_after_leakage(candidate, champion, config)
    return Decision(decision.promote, decision.reason + _leakage_note(candidate))


def decide_value(
    candidate: ValueCandidate, champion: ValueChampion | None, config: PolicyConfig
) -> Decision:
    """The gate of a value model (a regression): leakage as for a classifier; then
    2. a normalised Gini that could not be computed (no realised value, or all equal) refuses;
    3. RMSE not below the training-mean baseline's on the same rows refuses (the model must
       beat predicting the mean);
    4-5. no champion / a champion that no longer loads / comparability as for a classifier;
    6. margin: candidate normalised Gini - champion normalised Gini must be >= `margin`
       (the ranking is what a channel or a target list relies on; RMSE is dominated by the few
       largest values). No calibration gate: a value is not a probability."""
    refusal = _leakage_refusal(candidate, config)
    if refusal is not None:
        return refusal
    decision = _value_gates_after_leakage(candidate, champion, config)
    return Decision(decision.promote, decision.reason + _leakage_note(candidate))


def _leakage_refusal(
    candidate: Candidate | ValueCandidate, config: PolicyConfig
) -> Decision | None:
    """Gate 1: the refusal when a flagged feature is not allowed or no scan was recorded
    under `require_leakage_scan`; None when the candidate passes."""
    flagged = candidate.leakage_flagged or ()
    unexplained = [name for name in flagged if name not in config.allow_leaky]
    if unexplained:
        flags = " ".join(f"--allow-leaky {name}" for name in unexplained)
        return Decision(
            False,
            f"leakage scan flagged {unexplained} (label-proxy AUC >= 0.95); if you are sure "
            f"they are not leaks, promote with {flags}" + _leakage_note(candidate),
        )
    if candidate.leakage_flagged is None and config.require_leakage_scan:
        return Decision(False, "no leakage scan recorded on the run (require_leakage_scan)")
    return None


def _value_gates_after_leakage(
    candidate: ValueCandidate, champion: ValueChampion | None, config: PolicyConfig
) -> Decision:
    """Gates 2-6 of `decide_value`."""
    if math.isnan(candidate.normalised_gini):
        return Decision(
            False, "normalised Gini undefined: the test rows hold no (or one) realised value"
        )
    if not candidate.rmse < candidate.baseline_rmse:
        return Decision(
            False,
            f"RMSE {candidate.rmse:.4f} does not beat the training mean's "
            f"{candidate.baseline_rmse:.4f} on {candidate.test_rows} test rows",
        )
    summary = (
        f"normalised Gini {candidate.normalised_gini:.4f}, RMSE {candidate.rmse:.4f} (training "
        f"mean {candidate.baseline_rmse:.4f}) on {candidate.test_rows} test rows"
    )
    champion_gini = None if champion is None else champion.normalised_gini
    return _against_champion(
        "normalised Gini",
        candidate.normalised_gini,
        champion,
        champion_gini,
        summary,
        summary,
        config,
    )


def _leakage_note(candidate: Candidate | ValueCandidate) -> str:
    """The leak suspects a decision was taken with, for its reason (empty when none)."""
    notes = []
    if candidate.leakage_flagged:
        notes.append(f"leak suspects allowed: {list(candidate.leakage_flagged)}")
    if candidate.leakage_warned:
        notes.append(f"leak warnings (AUC 0.90-0.95): {list(candidate.leakage_warned)}")
    return "".join(f"; {note}" for note in notes)


def _noise_note(candidate: Candidate, config: PolicyConfig) -> str:
    """Says when chance on this test set, not the configured limit, set the calibration limit."""
    if candidate.calibration_noise <= config.max_calibration_error:
        return ""
    return (
        f" (limit raised from {config.max_calibration_error:.4f}: a calibrated model exceeds "
        f"{candidate.calibration_noise:.4f} by chance 5% of the time on "
        f"{candidate.test_rows} test rows)"
    )


def _gates_after_leakage(
    candidate: Candidate, champion: Champion | None, config: PolicyConfig
) -> Decision:
    """Gates 2-7, for a candidate the leakage gate let through."""
    limit = max(config.max_calibration_error, candidate.calibration_noise)
    if candidate.calibration_error > limit:
        return Decision(
            False,
            f"calibration error {candidate.calibration_error:.4f} > limit "
            f"{limit:.4f}{_noise_note(candidate, config)}",
        )
    if math.isnan(candidate.roc_auc):
        return Decision(False, "ROC-AUC undefined: the test set holds one class only")
    positives = candidate.test_positives
    lower = auc_lower_bound(candidate.roc_auc, positives, candidate.test_rows - positives)
    if lower <= CHANCE_AUC:
        return Decision(
            False,
            f"ROC-AUC {candidate.roc_auc:.4f} on {candidate.test_rows} test rows ({positives} "
            f"positives) is within chance: its 95% interval reaches down to {lower:.4f} "
            f"<= {CHANCE_AUC} (Hanley-McNeil); no better than a coin on these rows",
        )
    summary = (
        f"ROC-AUC {candidate.roc_auc:.4f}, calibration error "
        f"{candidate.calibration_error:.4f} on {candidate.test_rows} test rows"
        f"{_noise_note(candidate, config)}"
    )
    calibration = (
        f"calibration error {candidate.calibration_error:.4f} over {candidate.test_rows} test rows"
    )
    champion_auc = None if champion is None else champion.roc_auc
    return _against_champion(
        "ROC-AUC", candidate.roc_auc, champion, champion_auc, summary, calibration, config
    )


def _against_champion(
    metric: str,
    value: float,
    champion: Champion | ValueChampion | None,
    champion_value: float | None,
    summary: str,
    promoted_note: str,
    config: PolicyConfig,
) -> Decision:
    """The gates from the champion on, the same for both kinds of model: no champion, a
    champion that no longer loads, comparable columns, then the gain in `metric` (the
    candidate's `value` less the champion's `champion_value`) against the margin."""
    if champion is None or champion_value is None:
        return Decision(True, f"first model: {summary}")
    if champion.load_error is not None:
        return Decision(
            True,
            f"champion v{champion.version} no longer loads ({champion.load_error}); "
            f"candidate passes the gates: {summary}",
        )
    if not champion.rescored and not config.allow_new_features:
        return Decision(
            False,
            f"feature columns incompatible with champion v{champion.version} (candidate test "
            f"set lacks {list(champion.missing_columns)}); pass --allow-new-features to "
            "compare recorded test metrics instead",
        )
    basis = (
        "on the same test rows"
        if champion.rescored
        else "on different test sets (allowed by --allow-new-features)"
    )
    gain = value - champion_value
    comparison = (
        f"{metric} {value:.4f} vs champion v{champion.version} {champion_value:.4f} "
        f"{basis}: {gain:+.4f}"
    )
    if gain < config.margin:
        return Decision(False, f"{comparison} < margin {config.margin:.4f}")
    return Decision(True, f"{comparison} >= margin {config.margin:.4f}; {promoted_note}")
