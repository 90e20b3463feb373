"""Deliberate checks of a scoring request: the rows and the params, before any scoring.

The stock server coerces silently ("5" -> 5, 5.7 -> 5, extra columns dropped) when a model
declares a column schema, so the served model declares no column schema (only params) and
these checks are the ones that run. Every failure is a `ServingInputError`: an
MlflowException with INVALID_PARAMETER_VALUE, which the scoring server answers with HTTP 400
and a JSON body {"error_code", "message"}; no stack trace is attached.

Rules (documented in docs/architecture.md, "Served model contract"):
- the batch has at least one row;
- every feature column is present, and no other column (a typo must not go unnoticed) except
  the optional identity columns `user_id` (a string per row) and `cutoff` (an ISO date or
  datetime string without a time zone, like the feature sets' cutoffs): never scored, written
  to the prediction log (serving/prediction_log.py) so served rows can be matched to the
  feature set's rows;
- numeric features take numbers or null; categorical features take strings or null;
- null/NaN is allowed in every feature (LightGBM learned where missing values go);
  +/-inf is refused;
- an unknown categorical level is allowed and scored as missing;
- params: mode in predict|explain|whatif, k >= 1, target in (0, 1), max_changes >= 1,
  budget_ms in [1, 60000], seed >= 0, max_cost a number or null; each must have the right
  type (5.5 is not an int). mode=whatif adds the what-if search's own rules (e.g. k <= 20).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

from serving.encoding import FeatureEncodingError, ModelMetadata, encode_matrix

MODES = ("predict", "explain", "whatif")
MAX_BUDGET_MS = 60_000
# Optional request columns that name the row (not features; never passed to the booster).
IDENTITY_COLUMNS = ("user_id", "cutoff")


class ServingInputError(MlflowException):
    """A bad request: HTTP 400 from `mlflow models serve`, message names the column/param."""

    def __init__(self, message: str) -> None:
        super().__init__(message, error_code=INVALID_PARAMETER_VALUE)


@dataclass(frozen=True)
class ServingParams:
    """Validated request params; the what-if ones are used by mode=whatif only."""

    mode: str = "predict"
    k: int = 5
    target: float = 0.5
    max_changes: int = 2
    budget_ms: int = 200
    seed: int = 0
    max_cost: float | None = None


def _int_param(params: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ServingInputError(f"param '{name}': must be an integer, got {value!r}")
    if not low <= int(value) <= high:
        raise ServingInputError(f"param '{name}': must be within [{low}, {high}], got {value}")
    return int(value)


def parse_params(params: Mapping[str, Any] | None) -> ServingParams:
    """Validate the request's params (None means all defaults)."""
    params = dict(params or {})
    allowed = set(ServingParams.__dataclass_fields__)
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ServingInputError(f"unknown params {unknown}; allowed params: {sorted(allowed)}")
    defaults = ServingParams()
    mode = params.get("mode", defaults.mode)
    if mode not in MODES:
        raise ServingInputError(f"param 'mode': must be one of {list(MODES)}, got {mode!r}")
    target = params.get("target", defaults.target)
    if isinstance(target, bool) or not isinstance(target, int | float | np.number):
        raise ServingInputError(f"param 'target': must be a number, got {target!r}")
    if not 0.0 < float(target) < 1.0:
        raise ServingInputError(f"param 'target': must be within (0, 1), got {target}")
    max_cost = params.get("max_cost")
    if max_cost is not None and (
        isinstance(max_cost, bool) or not isinstance(max_cost, int | float | np.number)
    ):
        raise ServingInputError(f"param 'max_cost': must be a number or null, got {max_cost!r}")
    big = 2**31 - 1
    return ServingParams(
        mode=mode,
        k=_int_param(params, "k", defaults.k, 1, big),
        target=float(target),
        max_changes=_int_param(params, "max_changes", defaults.max_changes, 1, big),
        budget_ms=_int_param(params, "budget_ms", defaults.budget_ms, 1, MAX_BUDGET_MS),
        seed=_int_param(params, "seed", defaults.seed, 0, big),
        max_cost=None if max_cost is None else float(max_cost),
    )


@dataclass(frozen=True)
class CheckedRequest:
    """A request's rows after the checks: the booster input and the identity columns.

    `user_id` holds a str per row and `cutoff` a datetime64[us] per row, or None (or NaT)
    when the request did not send that column.
    """

    encoded: np.ndarray
    user_id: np.ndarray
    cutoff: np.ndarray


def _user_ids(frame: pd.DataFrame) -> np.ndarray:
    if "user_id" not in frame.columns:
        return np.full(len(frame), None, dtype=object)
    values = frame["user_id"].to_numpy(dtype=object)
    for row, value in enumerate(values):
        if not isinstance(value, str):
            raise ServingInputError(
                f"column 'user_id', row {row}: must be a string (send ids as text, e.g. "
                f'"{value}"), got {value!r}'
            )
    return values


def _cutoffs(frame: pd.DataFrame) -> np.ndarray:
    if "cutoff" not in frame.columns:
        return np.full(len(frame), np.datetime64("NaT"), dtype="datetime64[us]")
    parsed = []
    for row, value in enumerate(frame["cutoff"].to_numpy(dtype=object)):
        when = None
        if isinstance(value, str):
            try:
                when = dt.datetime.fromisoformat(value)
            except ValueError:
                when = None
        if when is None or when.tzinfo is not None:
            raise ServingInputError(
                f"column 'cutoff', row {row}: must be an ISO date or datetime without a time "
                f'zone (e.g. "2024-03-01"), got {value!r}'
            )
        parsed.append(np.datetime64(when, "us"))
    return np.array(parsed, dtype="datetime64[us]")


def check_request(frame: Any, metadata: ModelMetadata) -> CheckedRequest:
    """The checked rows of a request (booster input, identity), or a ServingInputError."""
    if not isinstance(frame, pd.DataFrame):
        raise ServingInputError(
            f"rows must be a table (dataframe_records or dataframe_split), got "
            f"{type(frame).__name__}"
        )
    if len(frame) == 0:
        raise ServingInputError("empty batch: send at least one row")
    known = set(metadata.feature_names) | set(IDENTITY_COLUMNS)
    unknown = [str(c) for c in frame.columns.tolist() if c not in known]
    if unknown:
        raise ServingInputError(
            f"unknown columns {unknown}; the model takes exactly {list(metadata.feature_names)}"
            f" and optionally {list(IDENTITY_COLUMNS)}"
        )
    try:
        encoded = encode_matrix(frame, metadata)
    except FeatureEncodingError as error:
        raise ServingInputError(str(error)) from None
    infinite = np.isinf(encoded)
    if infinite.any():
        row, col = (int(i[0]) for i in np.nonzero(infinite))
        raise ServingInputError(
            f"column '{metadata.feature_names[col]}', row {row}: infinite values are not allowed"
        )
    return CheckedRequest(encoded, _user_ids(frame), _cutoffs(frame))
