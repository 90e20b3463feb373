"""Monitoring thresholds: a frozen dataclass, defaults below, overridable from a YAML file.

A value crosses its threshold when it is strictly above it (AUC: when the run's test AUC
minus the AUC at a later cutoff is). `*_alert` thresholds make `usagecast monitor` exit 1;
`feature_psi_warn` is reported only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from pathlib import Path

import yaml

from features.errors import UsagecastError


class MonitorConfigError(UsagecastError):
    """A thresholds file that cannot be read, or holds an unknown key or a bad value."""


@dataclass(frozen=True)
class Thresholds:
    """Where drift and decay become findings (docs/architecture.md, "Monitoring")."""

    feature_psi_warn: float = 0.1
    feature_psi_alert: float = 0.25
    prediction_psi_alert: float = 0.2
    auc_drop_alert: float = 0.05
    ece_alert: float = 0.1

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise MonitorConfigError(f"threshold {item.name}: {value!r} is not a number")
            if not math.isfinite(value) or value < 0:
                raise MonitorConfigError(
                    f"threshold {item.name}: {value!r} must be a finite number >= 0"
                )
        if self.feature_psi_warn > self.feature_psi_alert:
            raise MonitorConfigError(
                f"feature_psi_warn {self.feature_psi_warn} is above feature_psi_alert "
                f"{self.feature_psi_alert}"
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
