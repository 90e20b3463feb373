"""The simulator's TRUE effect of a lever change, to hold next to the model's prediction.

The model's what-if edits a feature of the past ("this user heard half the ads in the last
30 days") and reads off its prediction: an association learnt from observational rows. The
simulator can instead apply the intervention the feature stands for: ads per hour scaled by
the same factor from the cutoff on, for the label horizon, and compute each user's true
purchase probability under both lever settings (`true_purchase_probability`, Monte Carlo with
the same random streams for both, so their difference is precise). true extra conversions =
sum over the segment's rows of p_true(changed) - p_true(as recorded). Both lever settings
hold for everyone from the cutoff: a randomized experiment running in the data ends there
(the policy is compared with "no change for anyone", as the experiment's control arm is).

Only a proportional change (`*=`, `/=`, or `= 0`) of a count of ADVERTISEMENT events maps
onto the simulator's ad lever; anything else is reported as not comparable, with the reason.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm import tqdm

from contracts.manifest import FeatureSetManifest
from experiments.oracle import PURCHASE_EVENT
from features.featureset.spec import FeatureDef
from serving.whatif import LeverChange
from simulator import Levers, SimulationConfig, true_purchase_probability

AD_EVENT = "ADVERTISEMENT"
TRUTH_REPLICAS = 128


@dataclass(frozen=True)
class TrueEffect:
    """The simulator's per-row truth under the recorded and the changed ad lever."""

    ads_per_hour_before: float
    ads_per_hour_after: float
    before: np.ndarray
    after: np.ndarray
    replicas: int

    @property
    def extra(self) -> float:
        """True expected extra conversions over the rows."""
        return float((self.after - self.before).sum())


def ad_lever_factor(change: LeverChange, feature: FeatureDef | None) -> tuple[float | None, str]:
    """The factor on ads per hour that the change stands for, or None and why it has none."""
    if feature is None or feature.kind != "count" or feature.event_type != AD_EVENT:
        return None, (
            f"{change.feature} is not a count of {AD_EVENT} events, the only per-user lever "
            "the simulator has (ads per hour)"
        )
    if change.operator == "*=":
        factor = change.value
    elif change.operator == "/=":
        factor = 1.0 / change.value
    elif change.operator == "=" and change.value == 0:
        factor = 0.0
    else:
        return None, (
            f"{change.expression!r} is not a proportional change of the ads heard; "
            "use *= or /= (or = 0) to compare with the simulator"
        )
    if factor < 0:
        return None, f"{change.expression!r} asks for a negative number of ads"
    return factor, f"ads per hour x {factor:g} from the cutoff on, for the label horizon"


def label_note(manifest: FeatureSetManifest) -> str | None:
    """Why the simulator's truth does not cover this feature set's label (None when it does)."""
    label = manifest.label
    if label.kind == "event_within" and label.event_type == PURCHASE_EVENT:
        return None
    return (
        f"the simulator's truth covers {PURCHASE_EVENT} labels, this label is "
        f"{label.kind}/{label.event_type}"
    )


def one_cutoff_note(cutoffs: pd.Series) -> str | None:
    """Why the truth, simulated from one cutoff for every row, does not cover rows at several
    (a signup-relative set's rows stand at their users' own cutoffs); None for one cutoff."""
    if cutoffs.nunique() <= 1:
        return None
    return (
        f"the rows stand at {cutoffs.nunique()} cutoffs (each user's own, signup-relative); "
        "the simulator's truth is computed at one"
    )


def simulator_user_ids(user_ids: pd.Series) -> np.ndarray | None:
    """The rows' user ids as simulator ids (1..n_users), or None when they are not numbers."""
    numbers = pd.to_numeric(user_ids, errors="coerce")
    if numbers.isna().any():
        return None
    return numbers.to_numpy(dtype=np.int64)


def true_effect(
    config: SimulationConfig,
    user_ids: np.ndarray,
    cutoff: pd.Timestamp,
    factor: float,
    horizon_days: int,
    replicas: int = TRUTH_REPLICAS,
) -> TrueEffect:
    """True purchase probability per row with ads per hour as recorded and x factor."""
    changed = dataclasses.replace(config.levers, ads_per_hour=config.levers.ads_per_hour * factor)
    date = np.datetime64(pd.Timestamp(cutoff).to_pydatetime(), "s")

    def truth(levers: Levers) -> np.ndarray:
        return true_purchase_probability(
            config, user_ids, date, horizon_days=horizon_days, replicas=replicas, levers=levers
        )

    before, after = (
        truth(levers)
        for levers in tqdm([config.levers, changed], desc="simulator truth", unit="lever setting")
    )
    return TrueEffect(config.levers.ads_per_hour, changed.ads_per_hour, before, after, replicas)
