"""Monitoring a promoted model: drift (PSI) of its features and prediction against its
training rows (reported) and since the previous check, the acquisition mix of new signups
(alerted), and its performance at later cutoffs whose labels matured.

Public API: monitor, MonitorResult, MonitorReport, ReportSection, Thresholds,
load_thresholds, population_stability, psi_from_shares.
"""

from experiments.monitor.config import Thresholds, load_thresholds
from experiments.monitor.psi import population_stability, psi_from_shares
from experiments.monitor.report import MonitorReport, ReportSection
from experiments.monitor.run import MonitorResult, monitor

__all__ = [
    "MonitorReport",
    "MonitorResult",
    "ReportSection",
    "Thresholds",
    "load_thresholds",
    "monitor",
    "population_stability",
    "psi_from_shares",
]
