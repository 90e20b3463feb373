"""What the booster expects, and the one encoding shared by training and serving.

`ModelMetadata` travels with every model as `metadata.json`; `encode_features` turns raw
feature rows (numbers, category strings) into the float matrix LightGBM was trained on.
Training (experiments/) and serving call the same function, so they cannot drift apart.

Decisions:
- Numeric features become float64: a value is never truncated (5.7 stays 5.7), and a missing
  value (None/NaN) stays NaN, which LightGBM routes down its learned missing branch.
- A categorical feature becomes the index of its level in `categorical_levels[name]`.
  A level the model has never seen, and a missing value, become NaN: LightGBM treats both as
  "missing" for that split. Unknown levels are therefore allowed (a new city must not make the
  whole request fail) and the served response is still a valid score.
- Values of the wrong kind are errors, never coerced: a string in a numeric column (even "5"),
  a bool anywhere, a number in a categorical column.
- Extra columns (user_id, cutoff, label in a training frame) are ignored here; the serving
  request check (serving/validation.py) is stricter and refuses them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd

from features.errors import UsagecastError

METADATA_FORMAT_VERSION = 1


class FeatureEncodingError(UsagecastError):
    """A feature row that cannot be encoded; the message names the column and the rule."""


@dataclass(frozen=True)
class ModelMetadata:
    """Everything besides the booster that scoring needs, stored as metadata.json.

    `threshold` turns a probability into the served label; the trainer chooses it on the
    validation rows (never on the test rows) and records how in its run. `model_sha256` lets
    the loader refuse a damaged model.txt before LightGBM parses it (a truncated file can abort
    the whole process inside LightGBM's parser).
    """

    feature_names: tuple[str, ...]
    categorical_levels: Mapping[str, tuple[str, ...]]
    threshold: float
    feature_set: str
    feature_set_fingerprint: str
    label_kind: str
    actionable: tuple[Mapping[str, Any], ...] = ()
    couplings: tuple[Mapping[str, Any], ...] = ()
    model_sha256: str = ""  # of model.txt, filled in by save_model_files
    format_version: int = field(default=METADATA_FORMAT_VERSION)

    def __post_init__(self) -> None:
        names = tuple(self.feature_names)
        if len(set(names)) != len(names):
            raise FeatureEncodingError(f"metadata: feature_names repeat a name: {list(names)}")
        unknown = sorted(set(self.categorical_levels) - set(names))
        if unknown:
            raise FeatureEncodingError(
                f"metadata: categorical_levels names {unknown}, which are not in feature_names"
            )
        if not 0.0 <= float(self.threshold) <= 1.0:
            raise FeatureEncodingError(
                f"metadata: threshold must be within [0, 1], got {self.threshold}"
            )
        object.__setattr__(self, "feature_names", names)
        object.__setattr__(
            self,
            "categorical_levels",
            {
                name: tuple(str(v) for v in levels)
                for name, levels in self.categorical_levels.items()
            },
        )
        object.__setattr__(self, "threshold", float(self.threshold))
        object.__setattr__(self, "actionable", tuple(dict(a) for a in self.actionable))
        object.__setattr__(self, "couplings", tuple(dict(c) for c in self.couplings))

    @property
    def categorical_features(self) -> tuple[str, ...]:
        """Categorical feature names in booster order (LightGBM's categorical_feature)."""
        return tuple(name for name in self.feature_names if name in self.categorical_levels)

    def to_json(self) -> str:
        """Canonical JSON (sorted keys), the content of metadata.json."""
        payload = asdict(self)
        payload["categorical_levels"] = {k: list(v) for k, v in self.categorical_levels.items()}
        return json.dumps(payload, sort_keys=True, indent=2)

    @classmethod
    def from_json(cls, text: str) -> ModelMetadata:
        """Parse metadata.json; unknown keys are errors naming the allowed ones."""
        payload = json.loads(text)
        allowed = set(cls.__dataclass_fields__)
        unknown = sorted(set(payload) - allowed)
        if unknown:
            raise FeatureEncodingError(
                f"metadata.json: unknown keys {unknown}; allowed keys: {sorted(allowed)}"
            )
        if payload.get("format_version", METADATA_FORMAT_VERSION) != METADATA_FORMAT_VERSION:
            raise FeatureEncodingError(
                f"metadata.json: format_version {payload['format_version']} is not supported "
                f"(this code reads {METADATA_FORMAT_VERSION})"
            )
        return cls(**payload)


def _numeric_column(name: str, column: pd.Series) -> np.ndarray:
    """float64 values of a numeric feature; strings and bools are refused, never parsed."""
    if pd.api.types.is_bool_dtype(column.dtype):
        raise FeatureEncodingError(f"column '{name}': numeric feature got booleans")
    if pd.api.types.is_numeric_dtype(column.dtype):
        return column.to_numpy(dtype="float64", na_value=np.nan)
    values = np.empty(len(column), dtype="float64")
    for row, value in enumerate(column.tolist()):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            values[row] = np.nan
        elif isinstance(value, Real) and not isinstance(value, bool | np.bool_):
            values[row] = float(value)
        else:
            raise FeatureEncodingError(
                f"column '{name}', row {row}: numeric feature got {value!r} "
                f"({type(value).__name__}); send a number or null"
            )
    return values


def _categorical_column(name: str, column: pd.Series, levels: tuple[str, ...]) -> np.ndarray:
    """Level codes of a categorical feature; unknown levels and missing values become NaN."""
    codes = {level: float(code) for code, level in enumerate(levels)}
    if isinstance(column.dtype, pd.CategoricalDtype) or (
        pd.api.types.is_string_dtype(column.dtype)
        and not pd.api.types.is_object_dtype(column.dtype)
    ):
        # Typed string columns (training frames): one vectorised lookup.
        as_text = column.astype("str") if isinstance(column.dtype, pd.CategoricalDtype) else column
        mapped = as_text.map(codes).where(column.notna())
        return mapped.to_numpy(dtype="float64", na_value=np.nan)
    values = np.empty(len(column), dtype="float64")
    for row, value in enumerate(column.tolist()):
        if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
            values[row] = np.nan
        elif isinstance(value, str):
            values[row] = codes.get(value, np.nan)
        else:
            raise FeatureEncodingError(
                f"column '{name}', row {row}: categorical feature got {value!r} "
                f"({type(value).__name__}); send the level as a string or null"
            )
    return values


def encode_features(frame: pd.DataFrame, metadata: ModelMetadata) -> pd.DataFrame:
    """The booster's input: float64 columns in `metadata.feature_names` order.

    Raises FeatureEncodingError naming the column when a feature is missing or a value has
    the wrong kind. Extra columns are ignored (see the module docstring).
    """
    missing = [name for name in metadata.feature_names if name not in frame.columns]
    if missing:
        raise FeatureEncodingError(
            f"missing feature columns {missing}; the model needs {list(metadata.feature_names)}"
        )
    encoded = {}
    for name in metadata.feature_names:
        levels = metadata.categorical_levels.get(name)
        column = frame[name]
        encoded[name] = (
            _numeric_column(name, column)
            if levels is None
            else _categorical_column(name, column, levels)
        )
    return pd.DataFrame(encoded, index=frame.index, columns=list(metadata.feature_names))
