"""Run lineage: the tag keys, metric and artifact names a training run carries, in one place.

The trainer writes a run's lineage through `RunLineage.to_tags()`; promotion, monitoring and
the what-if tools read it back through `RunLineage.from_tags()`, so a key is spelt once. The
leakage tags hold comma-separated feature names; a run logged before they existed has none,
which reads as None (unknown), not as an empty scan.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from contracts.errors import UsagecastError
from contracts.refs import FeatureSetRef

# Tags on a training run (promotion copies the first two onto every model version).
FEATURE_SET_TAG = "feature_set"
FINGERPRINT_TAG = "feature_set_fingerprint"
CONFIG_HASH_TAG = "config_hash"
GIT_COMMIT_TAG = "git_commit"
SEED_TAG = "seed"
LEAKAGE_SCAN_TAG = "leakage_scan"
LEAKAGE_FLAGGED_TAG = "leakage_flagged"  # label-proxy AUC >= 0.95, allowed at build
LEAKAGE_WARNED_TAG = "leakage_warned"  # label-proxy AUC from 0.90 to 0.95
# On a tuning run whose promotable baseline beat the tuned model on validation: what tune said.
BETTER_BASELINE_TAG = "better_baseline"
MODEL_OUTPUT_TAG = "model_output"  # VALUE_OUTPUT on a value model's run; absent: a probability
VALUE_OUTPUT = "value"
# What a training run logs beside its tags.
MODEL_ARTIFACT = "model"
TEST_SET_ARTIFACT = "test_set.parquet"
BASELINE_RMSE_METRIC = "baseline_training_mean_test_rmse"  # on a value model's run


class LineageError(UsagecastError):
    """A run's tags do not say which feature-set build it trained on."""


def _names(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _joined(names: tuple[str, ...] | None) -> str | None:
    return None if names is None else ",".join(names)


@dataclass(frozen=True)
class RunLineage:
    """What traces a run (and the model versions registered from it) to its inputs."""

    feature_set: FeatureSetRef
    fingerprint: str | None = None
    config_hash: str | None = None
    git_commit: str | None = None
    seed: int | None = None
    leakage_scan: str | None = None
    leakage_flagged: tuple[str, ...] | None = None
    leakage_warned: tuple[str, ...] | None = None
    value_model: bool = False

    def to_tags(self) -> dict[str, str]:
        """The run's tags (keys of unknown values are left out)."""
        optional = {
            CONFIG_HASH_TAG: self.config_hash,
            GIT_COMMIT_TAG: self.git_commit,
            SEED_TAG: None if self.seed is None else str(self.seed),
            LEAKAGE_SCAN_TAG: self.leakage_scan,
            LEAKAGE_FLAGGED_TAG: _joined(self.leakage_flagged),
            LEAKAGE_WARNED_TAG: _joined(self.leakage_warned),
            MODEL_OUTPUT_TAG: VALUE_OUTPUT if self.value_model else None,
        }
        return {
            **self.identity_tags(),
            **{key: value for key, value in optional.items() if value is not None},
        }

    def identity_tags(self) -> dict[str, str]:
        """The feature set and build fingerprint alone (empty when unknown): what a model
        version carries."""
        return {FEATURE_SET_TAG: str(self.feature_set), FINGERPRINT_TAG: self.fingerprint or ""}

    @classmethod
    def from_tags(cls, tags: Mapping[str, str], where: str) -> RunLineage:
        """Read a run's (or model version's) tags; `where` ("run 1a2b") names it in errors."""
        if not tags.get(FEATURE_SET_TAG):
            raise LineageError(
                f"{where} has no {FEATURE_SET_TAG!r} tag: `usagecast tune` records there the "
                "feature set a run trained on"
            )
        seed = tags.get(SEED_TAG)
        if seed is not None and not seed.lstrip("-").isdigit():
            raise LineageError(f"{where}: tag {SEED_TAG!r} is {seed!r}, not an integer")
        return cls(
            feature_set=FeatureSetRef.parse(tags[FEATURE_SET_TAG]),
            fingerprint=tags.get(FINGERPRINT_TAG) or None,
            config_hash=tags.get(CONFIG_HASH_TAG),
            git_commit=tags.get(GIT_COMMIT_TAG),
            seed=None if seed is None else int(seed),
            leakage_scan=tags.get(LEAKAGE_SCAN_TAG),
            leakage_flagged=_names(tags.get(LEAKAGE_FLAGGED_TAG)),
            leakage_warned=_names(tags.get(LEAKAGE_WARNED_TAG)),
            value_model=tags.get(MODEL_OUTPUT_TAG) == VALUE_OUTPUT,
        )


def feature_set_of(tags: Mapping[str, str]) -> FeatureSetRef | None:
    """The feature set a run or model version names, None when it names none."""
    text = tags.get(FEATURE_SET_TAG)
    return FeatureSetRef.parse(text) if text else None
