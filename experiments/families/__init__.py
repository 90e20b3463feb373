"""Model families behind one protocol (base.py): LightGBM, the tuned classifier, the L1
logistic regression, its baseline, and LightGBM regression, the tuned model of a value label;
each is logged as the serving pyfunc, so each can be promoted and served.

Public API: ModelFamily, TrainingRows, LightGBMFamily, L1LogisticFamily,
LightGBMRegressionFamily.
"""

from experiments.families.base import ModelFamily, TrainingRows
from experiments.families.l1_logistic import L1LogisticFamily
from experiments.families.lightgbm_family import LightGBMFamily
from experiments.families.lightgbm_regression import LightGBMRegressionFamily

__all__ = [
    "L1LogisticFamily",
    "LightGBMFamily",
    "LightGBMRegressionFamily",
    "ModelFamily",
    "TrainingRows",
]
