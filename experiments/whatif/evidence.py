"""Randomized evidence beside a policy what-if: what an experiment on the same lever measured.

The model's what-if reads an association off observational rows; a randomized experiment on
the lever measures the effect itself. When one exists for the policy's lever, the policy
prints two estimates from it:
- the experiment's difference in conversion (treatment - control, `usagecast ab analyze` on
  the feature set's label event and horizon, Wald CI), scaled to the policy's rows;
- a two-model uplift: one classifier per arm trained on the experiment's users' features at
  its start date (the feature set's rows at that cutoff, label = its label), and the
  difference of their predicted probabilities averaged over the policy's segment and over all
  rows at the policy's cutoff.

Which experiment tested the lever: `--experiment NAME` (any saved or logged experiment), else
for simulated data the simulator's experiment when the change is the ad lever's
(truth.ad_lever_factor). Otherwise the report says that none exists, and why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from lightgbm import LGBMClassifier

from analytics.runs import ab_result, experiment_groups, opened_engine
from contracts.errors import UsagecastError
from contracts.manifest import FeatureSetManifest
from contracts.workspace import event_store_path
from experiments.oracle import simulation_config
from experiments.whatif import sources, truth
from registry.names import LABEL_COLUMN
from serving import ModelMetadata, encode_matrix
from serving.whatif import LeverChange


@dataclass(frozen=True)
class ExperimentEvidence:
    """An experiment's estimates for a policy's rows, or why there are none."""

    note: str
    name: str | None = None
    comparison: dict | None = None  # ab.TEST_COLUMNS of treatment vs control
    uplift: pd.DataFrame | None = None  # scope, rows, uplift_per_row, extra
    uplift_note: str = ""

    def lines(self, n_rows: int) -> list[str]:
        """What the policy prints about the experiment."""
        if self.comparison is None:
            return [f"experiment: {self.note}"]
        c = self.comparison
        lines = [
            f"experiment {self.name}: {self.note}",
            f"experiment estimate (treatment - control conversion): {c['difference']:+.4f} "
            f"(CI {c['ci_low']:+.4f} .. {c['ci_high']:+.4f}; {c['control_users']} control, "
            f"{c['treatment_users']} treatment users) -> over these {n_rows} rows: "
            f"{c['difference'] * n_rows:+.2f} extra conversions "
            f"({c['ci_low'] * n_rows:+.2f} .. {c['ci_high'] * n_rows:+.2f})",
        ]
        if self.uplift is None:
            return [*lines, f"uplift (two-model): {self.uplift_note}"]
        lines.append(f"uplift (two-model, {self.uplift_note}):")
        lines += [
            f"  {row.scope}: {row.uplift_per_row:+.4f} per row, {row.extra:+.2f} over "
            f"{row.rows} rows"
            for row in self.uplift.itertuples()
        ]
        return lines

    def metrics(self) -> dict[str, float]:
        """The estimates as MLflow metrics (none without an experiment)."""
        if self.comparison is None:
            return {}
        found = {
            f"experiment_{key}": float(self.comparison[key])
            for key in ("difference", "ci_low", "ci_high", "p_value")
        }
        if self.uplift is not None:
            for row in self.uplift.itertuples():
                found[f"uplift_{row.scope}_per_row"] = float(row.uplift_per_row)
                found[f"uplift_{row.scope}_extra"] = float(row.extra)
        return found


def experiment_for_lever(
    manifest: FeatureSetManifest, lever: LeverChange, feature_set: str, requested: str | None
) -> tuple[str | None, str]:
    """(the experiment that tested the lever, what it tested) or (None, why there is none):
    on simulated data the simulator's own ad experiment, when the lever is its ads."""
    if requested is not None:
        return requested, "named with --experiment"
    config, _ = simulation_config(manifest, event_store_path())
    if config is None:
        return None, (
            "none named: --experiment NAME sets the A/B test of this lever beside the model "
            "(a logged or saved one, see usagecast ab)"
        )
    factor, mapping = truth.ad_lever_factor(
        lever, sources.feature_definition(feature_set, lever.feature)
    )
    if factor is None:
        return None, f"none exists for this lever ({mapping}); name one with --experiment"
    if config.experiment is None:
        return None, (
            "none exists for this lever in this data (no simulated ad experiment); "
            "name a logged or saved one with --experiment"
        )
    tested = config.experiment
    note = (
        f"ads per hour x {tested.ads:g} for {tested.share:.0%} of users "
        f"from {tested.from_date} (simulated)"
    )
    if not math.isclose(tested.ads, factor):
        note += f"; it tested x {tested.ads:g}, the policy asks x {factor:g}"
    return tested.name, note


def two_model_uplift(
    train: np.ndarray,
    treated: np.ndarray,
    label: np.ndarray,
    seed: int,
    categorical: tuple[int, ...] = (),
) -> list[LGBMClassifier]:
    """[control model, treatment model]: one classifier per arm (the two-model learner),
    each fitted on its arm's users only; uplift(x) = p_treatment(x) - p_control(x)."""
    models = []
    for arm in (False, True):
        in_arm = treated == arm
        if len(np.unique(label[in_arm])) < 2:
            name = "treatment" if arm else "control"
            raise UsagecastError(
                f"the {name} arm's {int(in_arm.sum())} rows do not hold both outcomes; "
                "nothing to fit"
            )
        model = LGBMClassifier(
            n_estimators=200,
            learning_rate=0.05,
            num_leaves=15,
            min_child_samples=20,
            random_state=seed,
            verbose=-1,
        )
        models.append(
            model.fit(
                train[in_arm], label[in_arm], categorical_feature=list(categorical) or "auto"
            )
        )
    return models


def experiment_evidence(
    name: str | None,
    note: str,
    manifest: FeatureSetManifest,
    feature_set: str,
    metadata: ModelMetadata,
    scopes: dict[str, pd.DataFrame],
    seed: int,
) -> ExperimentEvidence:
    """The experiment's difference and the two-model uplift averaged over each scope's rows
    (scope -> feature rows at the policy's cutoff: `segment` and `all`)."""
    if name is None:
        return ExperimentEvidence(note)
    label = manifest.label
    if label.kind != "event_within":
        return ExperimentEvidence(f"{name}: the feature set's label is not event_within")
    metric = f"event_within {label.event_type} {int(label.horizon_days)}d"
    with opened_engine() as engine:
        analysis = ab_result(engine, name, metric)
        groups = analysis.experiment.groups
        if len(groups) != 2:
            raise UsagecastError(f"experiment {name!r}: {len(groups)} arms; a policy takes two")
        found = ExperimentEvidence(note, name, analysis.result.comparison.iloc[0].to_dict())
        start = analysis.experiment.start.date().isoformat()
        try:
            rows, _ = sources.feature_rows(feature_set, start)
        except UsagecastError as error:
            return _without_uplift(found, f"no feature rows at the experiment's start: {error}")
        rows = rows.assign(user_id=rows["user_id"].astype(str))
        arms = experiment_groups(engine, name, rows["user_id"])
    rows = rows.merge(arms, on="user_id")
    treated = rows["group"].eq(groups[1]).to_numpy()
    try:
        control, treatment = two_model_uplift(
            encode_matrix(rows, metadata),
            treated,
            rows[LABEL_COLUMN].to_numpy(int),
            seed,
            tuple(metadata.feature_names.index(c) for c in metadata.categorical_features),
        )
    except UsagecastError as error:
        return _without_uplift(found, str(error))
    table = []
    for scope, scope_rows in scopes.items():
        x = encode_matrix(scope_rows, metadata)
        uplift = treatment.predict_proba(x)[:, 1] - control.predict_proba(x)[:, 1]
        table.append(
            {
                "scope": scope,
                "rows": len(scope_rows),
                "uplift_per_row": float(uplift.mean()),
                "extra": float(uplift.sum()),
            }
        )
    how = (
        f"trained on {int((~treated).sum())} control and {int(treated.sum())} treatment rows "
        f"at {start}, seed {seed}"
    )
    return ExperimentEvidence(note, name, found.comparison, pd.DataFrame(table), how)


def _without_uplift(found: ExperimentEvidence, why: str) -> ExperimentEvidence:
    return ExperimentEvidence(found.note, found.name, found.comparison, None, why)
