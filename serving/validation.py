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
  feature set's rows; column names are strings and none repeats (dataframe_split can send
  the same name twice: which one would be scored?);
- numeric features take numbers or null, within the float range; categorical features take
  strings or null;
- null/NaN is allowed in every feature (LightGBM learned where missing values go);
  +/-inf is refused;
- an unknown categorical level is allowed and scored as missing;
- params: the one rule for every mode (the what-if search takes them as they are):
  mode in predict|explain|whatif, k >= 1 (k <= 20 for whatif), target in (0, 1),
  max_changes >= 1, budget_ms in [1, 60000], seed >= 0, max_cost a finite number >= 0 or
  null; each must have the right type (5.5 is not an int); unknown params are refused.
Messages are one line and show request values shortened.

What the model cannot see under stock `mlflow models serve`: the server builds the frame with
pandas and enforces the params schema before `predict` runs, so a key missing from some
records arrives as null (indistinguishable from a null sent) and unknown params are dropped
with a warning. Refusing those is the front door's job; called in process, the pyfunc
refuses unknown params itself.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

from serving.encoding import FeatureEncodingError, ModelMetadata, encode_matrix, shown
from serving.whatif import Goal, SearchOptions

MODES = ("predict", "explain", "whatif")
MAX_BUDGET_MS = 60_000
MAX_WHATIF_SUGGESTIONS = 20
MAX_INT_PARAM = 2**31 - 1
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

    def whatif_search(self) -> tuple[Goal, SearchOptions]:
        """The what-if search's goal and options (the seed is `self.seed`)."""
        goal = Goal("reach", self.target, self.max_cost)
        options = SearchOptions(
            k=self.k, max_changes=self.max_changes, time_budget_ms=float(self.budget_ms)
        )
        return goal, options


def _listed(values: list[Any], most: int = 5) -> str:
    """Up to `most` values, each shortened, as a one-line list: `['a', 'b'] and 3 more`."""
    more = f" and {len(values) - most} more" if len(values) > most else ""
    return f"[{', '.join(shown(v) for v in values[:most])}]{more}"


def int_param(params: Mapping[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ServingInputError(f"param '{name}': must be an integer, got {shown(value)}")
    if not low <= int(value) <= high:
        raise ServingInputError(
            f"param '{name}': must be within [{low}, {high}], got {shown(value)}"
        )
    return int(value)


def _number_param(params: Mapping[str, Any], name: str, default: float | None) -> float | None:
    """A finite number (or null when the default is null)."""
    value = params.get(name, default)
    if value is None and default is None:
        return None
    number = math.nan
    if isinstance(value, int | float | np.number) and not isinstance(value, bool | np.bool_):
        try:
            number = float(value)
        except OverflowError:  # an integer past the float range
            number = math.inf
    if not math.isfinite(number):
        nullable = " or null" if default is None else ""
        raise ServingInputError(
            f"param '{name}': must be a finite number{nullable}, got {shown(value)}"
        )
    return number


def parse_params(params: Mapping[str, Any] | None) -> ServingParams:
    """Validate the request's params (None means all defaults): the one place where served
    params are checked, for every mode."""
    params = dict(params or {})
    allowed = set(ServingParams.__dataclass_fields__)
    unknown = sorted(set(params) - allowed, key=str)
    if unknown:
        raise ServingInputError(
            f"unknown params {_listed(unknown)}; allowed params: {sorted(allowed)}"
        )
    defaults = ServingParams()
    mode = params.get("mode", defaults.mode)
    if mode not in MODES:
        raise ServingInputError(f"param 'mode': must be one of {list(MODES)}, got {shown(mode)}")
    target = _number_param(params, "target", defaults.target)
    if not 0.0 < target < 1.0:
        raise ServingInputError(f"param 'target': must be within (0, 1), got {target}")
    max_cost = _number_param(params, "max_cost", defaults.max_cost)
    if max_cost is not None and max_cost < 0:
        raise ServingInputError(f"param 'max_cost': must be >= 0, got {max_cost}")
    max_k = MAX_WHATIF_SUGGESTIONS if mode == "whatif" else MAX_INT_PARAM
    return ServingParams(
        mode=mode,
        k=int_param(params, "k", defaults.k, 1, max_k),
        target=target,
        max_changes=int_param(params, "max_changes", defaults.max_changes, 1, MAX_INT_PARAM),
        budget_ms=int_param(params, "budget_ms", defaults.budget_ms, 1, MAX_BUDGET_MS),
        seed=int_param(params, "seed", defaults.seed, 0, MAX_INT_PARAM),
        max_cost=max_cost,
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
                f"column 'user_id', row {row}: must be a string (send ids as text), got "
                f"{shown(value)}"
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
                f'zone (e.g. "2024-03-01"), got {shown(value)}'
            )
        parsed.append(np.datetime64(when, "us"))
    return np.array(parsed, dtype="datetime64[us]")


def check_table(frame: Any) -> pd.DataFrame:
    """The request's rows as a non-empty table, or a ServingInputError saying what came."""
    if not isinstance(frame, pd.DataFrame):
        raise ServingInputError(
            f"rows must be a table (dataframe_records or dataframe_split), got "
            f"{type(frame).__name__}"
        )
    if len(frame) == 0:
        raise ServingInputError("empty batch: send at least one row")
    return frame


def check_request(frame: Any, metadata: ModelMetadata) -> CheckedRequest:
    """The checked rows of a request (booster input, identity), or a ServingInputError."""
    frame = check_table(frame)
    columns = frame.columns.tolist()
    not_text = [c for c in columns if not isinstance(c, str)]
    if not_text:
        raise ServingInputError(f"column names must be strings, got {_listed(not_text)}")
    repeated = sorted(c for c, n in Counter(columns).items() if n > 1)
    if repeated:
        raise ServingInputError(
            f"columns {_listed(repeated)} are sent more than once; send each once"
        )
    known = set(metadata.feature_names) | set(IDENTITY_COLUMNS)
    unknown = [c for c in columns if c not in known]
    if unknown:
        raise ServingInputError(
            f"unknown columns {_listed(unknown)}; the model takes exactly "
            f"{list(metadata.feature_names)} and optionally {list(IDENTITY_COLUMNS)}"
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
