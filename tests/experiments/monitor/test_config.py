"""Monitor thresholds: defaults, YAML overrides, refused keys and values."""

from __future__ import annotations

import pytest

from experiments.monitor.config import MonitorConfigError, Thresholds, thresholds_from_mapping


def test_a_mapping_overrides_defaults_and_unknown_keys_are_named():
    thresholds = thresholds_from_mapping(
        {"auc_drop_z": 3, "acquisition_window_days": 30}, "t.yaml"
    )
    assert thresholds == Thresholds(auc_drop_z=3, acquisition_window_days=30)
    with pytest.raises(MonitorConfigError, match=r"unknown key 'psi_alert'.*psi_noise_multiple"):
        thresholds_from_mapping({"psi_alert": 0.2}, "t.yaml")


@pytest.mark.parametrize(
    "values",
    [{"acquisition_window_days": 0}, {"acquisition_window_days": 1.5}, {"auc_drop_z": -1}],
)
def test_bad_values_are_refused(values):
    with pytest.raises(MonitorConfigError, match=next(iter(values))):
        thresholds_from_mapping(values, "t.yaml")
