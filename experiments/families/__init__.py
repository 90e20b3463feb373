"""Model families behind one protocol (base.py): LightGBM, the tuned model, and the L1
logistic regression, the baseline; either is logged as the serving pyfunc, so either can be
promoted and served.

Public API: ModelFamily, TrainingRows, LightGBMFamily, L1LogisticFamily.
"""

from experiments.families.base import ModelFamily, TrainingRows
from experiments.families.l1_logistic import L1LogisticFamily
from experiments.families.lightgbm_family import LightGBMFamily

__all__ = ["L1LogisticFamily", "LightGBMFamily", "ModelFamily", "TrainingRows"]
