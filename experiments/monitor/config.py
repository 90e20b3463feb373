"""Monitoring thresholds: a frozen dataclass, defaults below, overridable from a YAML file.

A value crosses its threshold when it is strictly above it. What each one applies to
(docs/reference/monitoring.md):
- `feature_psi_warn`: PSI of a feature between the training rows and the current rows; a
  warning only, since an ageing population moves age-like features without any break;
- `feature_psi_alert`, `prediction_psi_alert`: PSI of a feature / the prediction between the
  scoring rows one cadence before the cutoff and those at the cutoff ("since the previous
  check");
- `acquisition_psi_alert`: PSI of a static attribute between users who signed up in the
  `acquisition_window_days` before the cutoff and those who signed up in the training period;
- every PSI alert also needs PSI above `psi_noise_multiple` times the PSI two samples of those
  sizes show without drift (psi.expected_noise);
- `auc_drop_alert`, `auc_drop_z`: the run's test AUC minus a later cutoff's AUC must exceed
  both the threshold and z standard errors of the difference (Hanley-McNeil, both samples);
- `ece_alert`: a later cutoff's ECE must exceed it and the ECE a perfectly calibrated model
  reaches by chance on those rows (95th percentile, experiments.metrics.calibration_noise);
- `skew_share_alert`: share of the prediction log's matched rows whose served value of a
  feature differs from the feature set's value for that user and cutoff (skew.py); a served
  value is computed by the same definition, so any share beyond late-arriving events is a bug.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from pathlib import Path

import yaml

from contracts.errors import UsagecastError


class MonitorConfigError(UsagecastError):
    """A thresholds file that cannot be read, or holds an unknown key or a bad value."""


@dataclass(frozen=True)
class Thresholds:
    """Where drift and decay become findings (docs/reference/monitoring.md)."""

    feature_psi_warn: float = 0.1
    feature_psi_alert: float = 0.25
    prediction_psi_alert: float = 0.2
    acquisition_psi_alert: float = 0.1
    acquisition_window_days: int = 60
    psi_noise_multiple: float = 4.0
    auc_drop_alert: float = 0.05
    auc_drop_z: float = 2.5
    ece_alert: float = 0.1
    skew_share_alert: float = 0.01

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise MonitorConfigError(f"threshold {item.name}: {value!r} is not a number")
            if not math.isfinite(value) or value < 0:
                raise MonitorConfigError(
                    f"threshold {item.name}: {value!r} must be a finite number >= 0"
                )
        days = self.acquisition_window_days
        if not isinstance(days, int) or days < 1:
            raise MonitorConfigError(
                f"threshold acquisition_window_days: {days!r} must be a whole number of days >= 1"
            )


def known_keys() -> tuple[str, ...]:
    """The keys a thresholds file may hold."""
    return tuple(item.name for item in fields(Thresholds))


def thresholds_from_mapping(values: object, source: str) -> Thresholds:
    """Thresholds from a parsed YAML document: defaults for absent keys, unknown keys refused."""
    if values is None:
        return Thresholds()
    if not isinstance(values, dict):
        raise MonitorConfigError(f"{source}: expected a mapping of threshold: value")
    unknown = [key for key in values if key not in known_keys()]
    if unknown:
        raise MonitorConfigError(
            f"{source}: unknown key {unknown[0]!r}; known keys: {', '.join(known_keys())}"
        )
    return Thresholds(**values)


def load_thresholds(path: Path | None) -> Thresholds:
    """The thresholds of a YAML file (`--config FILE`), or the defaults without one."""
    if path is None:
        return Thresholds()
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise MonitorConfigError(f"{path}: cannot read ({error.strerror})") from None
    except yaml.YAMLError as error:
        raise MonitorConfigError(f"{path}: not valid YAML ({error})") from None
    return thresholds_from_mapping(document, str(path))
