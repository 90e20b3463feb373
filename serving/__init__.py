"""The served model: a pyfunc over any model family's fitted model (serving/families.py);
explanations and what-if search.

Ships inside the model with features/; must never import experiments/ or registry/.
Public API: Calibration, ModelMetadata, encode_features, save_model_files, log_serving_model,
Scorer, and the fitted models: FittedModel, LightGBMModel,
LightGBMRegressionModel, LinearModel, LinearTerm.
"""

from serving.calibration import UNCALIBRATED, Calibration, CalibrationError
from serving.encoding import FeatureEncodingError, ModelMetadata, encode_features, encode_matrix
from serving.families import (
    FITTED_MODELS,
    FittedModel,
    LightGBMModel,
    LightGBMRegressionModel,
    LinearModel,
    LinearTerm,
    ModelFileError,
    Output,
)
from serving.model import Scorer, UsagecastModel
from serving.package import log_serving_model, save_model_files, serving_signature
from serving.validation import ServingInputError, ServingParams, parse_params

__all__ = [
    "FITTED_MODELS",
    "UNCALIBRATED",
    "Calibration",
    "CalibrationError",
    "FeatureEncodingError",
    "FittedModel",
    "LightGBMModel",
    "LightGBMRegressionModel",
    "LinearModel",
    "LinearTerm",
    "ModelFileError",
    "ModelMetadata",
    "Output",
    "Scorer",
    "ServingInputError",
    "ServingParams",
    "UsagecastModel",
    "encode_features",
    "encode_matrix",
    "log_serving_model",
    "parse_params",
    "save_model_files",
    "serving_signature",
]
