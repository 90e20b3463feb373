"""What a tuning run needs to know about a feature set, read from its manifest (pure).

The manifest is the feature-set store's contract (docs/architecture.md, "Feature sets");
this module turns it into typed values and refuses what tuning cannot use, with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from contracts.errors import UsagecastError
from contracts.manifest import FeatureSetManifest, plain_json
from features.categories import grouped_levels
from serving import UNCALIBRATED, Calibration, ModelMetadata, Output

KEY_COLUMNS: tuple[str, ...] = ("user_id", "cutoff", "label")
VALUE_LABEL = "value_within"


@dataclass(frozen=True)
class FeatureSetInputs:
    """Feature names/dtypes/levels, label, lineage and what-if metadata of one feature set."""

    ref: str
    name: str
    fingerprint: str
    feature_names: tuple[str, ...]
    categorical_levels: dict[str, tuple[str, ...]]
    label_kind: str
    horizon_days: int | None  # None: an `ever` label, which split.require_horizon refuses
    leakage_flagged: tuple[str, ...]
    leakage_warned: tuple[str, ...]
    actionable: tuple[dict[str, Any], ...]
    couplings: tuple[dict[str, Any], ...]

    @property
    def numeric_features(self) -> tuple[str, ...]:
        """Features that are not categorical, in manifest order."""
        return tuple(n for n in self.feature_names if n not in self.categorical_levels)

    @property
    def is_value(self) -> bool:
        """A value_within label: a regression target (experiments/value_run.py)."""
        return self.label_kind == VALUE_LABEL

    @property
    def leakage_scan(self) -> str:
        """`ok` or `flagged`: the status the registry's promotion gate reads."""
        return "flagged" if self.leakage_flagged else "ok"

    def with_training_levels(self, train: pd.DataFrame) -> FeatureSetInputs:
        """Categorical levels as the training rows give them, rare ones grouped
        (features/categories.py): the levels the model, its baselines and serving share."""
        return replace(
            self,
            categorical_levels={
                name: grouped_levels(train[name]) for name in self.categorical_levels
            },
        )

    def model_metadata(
        self,
        threshold: float,
        calibration: Calibration = UNCALIBRATED,
        family: str = "lightgbm",
        output: Output = "probability",
    ) -> ModelMetadata:
        """The served model's metadata for a model of `family` trained on these features."""
        return ModelMetadata(
            feature_names=self.feature_names,
            categorical_levels=self.categorical_levels,
            threshold=threshold,
            feature_set=self.ref,
            feature_set_fingerprint=self.fingerprint,
            label_kind=self.label_kind,
            actionable=self.actionable,
            couplings=self.couplings,
            calibration=calibration,
            family=family,
            output=output,
        )


def read_inputs(manifest: FeatureSetManifest) -> FeatureSetInputs:
    """What tuning reads from a manifest (a value_within label is tuned as a regression)."""
    features = manifest.features
    label = manifest.label
    ref = manifest.feature_set
    if manifest.fingerprint is None:
        raise UsagecastError(f"{ref}: its manifest has no 'fingerprint'")
    return FeatureSetInputs(
        ref=str(ref),
        name=ref.name,
        fingerprint=manifest.fingerprint,
        feature_names=manifest.feature_names,
        categorical_levels={f.name: f.levels for f in features if f.dtype == "categorical"},
        label_kind=str(label.kind),
        horizon_days=label.horizon_days,
        leakage_flagged=manifest.leakage_flagged,
        leakage_warned=manifest.leakage_warned,
        actionable=tuple(plain_json(manifest.actionable)),
        couplings=tuple(plain_json(manifest.couplings)),
    )


def check_frame(ref: str, frame: pd.DataFrame, inputs: FeatureSetInputs) -> None:
    """The rows hold the key columns and every manifest feature; labels are 0/1, or finite
    and not negative for a value label (the Poisson deviance's support)."""
    missing = [c for c in (*KEY_COLUMNS, *inputs.feature_names) if c not in frame.columns]
    if missing:
        raise UsagecastError(f"{ref}: data.parquet lacks columns {missing} named by its manifest")
    if inputs.is_value:
        values = pd.to_numeric(frame["label"], errors="coerce")
        bad = int((~np.isfinite(values.to_numpy(dtype=float)) | (values < 0)).sum())
        if bad:
            raise UsagecastError(
                f"{ref}: column 'label' of a value label must be finite and not negative, "
                f"{bad} row(s) are not"
            )
        return
    labels = set(pd.unique(frame["label"]).tolist())
    if not labels <= {0, 1}:
        raise UsagecastError(
            f"{ref}: column 'label' must be 0/1 for tuning, found {sorted(labels)}"
        )
