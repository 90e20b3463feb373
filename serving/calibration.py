"""The map from the booster's raw score to the served probability, stored as plain numbers.

The trainer fits it on validation rows (experiments/calibration.py); it ships in
metadata.json and is applied to every probability the model returns (predict, explain,
what-if, and batch scoring through the same pyfunc). Explanations stay on the raw score:
SHAP terms sum to it.

Decisions:
- Platt scaling on the raw score (log-odds, `Booster.predict(raw_score=True)`):
  p = sigmoid(slope * raw + intercept). Two numbers in JSON, nothing unpickled; strictly
  increasing for slope > 0, so the ranking (ROC-AUC, lift, the promotion gate's comparison)
  is the booster's own and the what-if search keeps a gradient. Why not isotonic:
  docs/decisions/calibration.md.
- Slope 1 and intercept 0 is the booster's own probability: the calibration of a model
  saved without one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from contracts.errors import UsagecastError


class CalibrationError(UsagecastError):
    """A stored calibration that cannot be applied; the message names the field."""


@dataclass(frozen=True)
class Calibration:
    """sigmoid(slope * raw + intercept): a non-decreasing map raw score -> [0, 1].

    `rows` and `positives` record what it was fitted on (0: not fitted).
    """

    method: Literal["platt"] = "platt"
    slope: float = 1.0
    intercept: float = 0.0
    rows: int = 0
    positives: int = 0

    def __post_init__(self) -> None:
        if self.method != "platt":
            raise CalibrationError(
                f"calibration.method {self.method!r} is not known; this code reads 'platt'"
            )
        slope, intercept = float(self.slope), float(self.intercept)
        if not (np.isfinite(slope) and np.isfinite(intercept) and slope >= 0):
            raise CalibrationError(
                f"calibration: needs a finite slope >= 0 and a finite intercept, got slope "
                f"{self.slope}, intercept {self.intercept}"
            )
        object.__setattr__(self, "slope", slope)
        object.__setattr__(self, "intercept", intercept)

    def apply(self, raw_scores: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of raw scores (log-odds)."""
        z = self.slope * np.asarray(raw_scores, dtype="float64") + self.intercept
        # exp of a non-positive number only: no overflow warning at extreme scores
        e = np.exp(-np.abs(z))
        return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return asdict(self)

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> Calibration:
        """Parse `to_dict`'s output; unknown keys are errors naming the allowed ones."""
        allowed = set(cls.__dataclass_fields__)
        unknown = sorted(set(payload) - allowed)
        if unknown:
            raise CalibrationError(
                f"calibration: unknown keys {unknown}; allowed keys: {sorted(allowed)}"
            )
        return cls(**payload)


UNCALIBRATED = Calibration()
