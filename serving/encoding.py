"""What a fitted model expects, and the one encoding shared by training and serving.

`ModelMetadata` travels with every model as `metadata.json`; `encode_features` turns raw
feature rows (numbers, category strings) into the float matrix every model family reads.
Training (experiments/) and serving call the same function, so they cannot drift apart.

Decisions:
- Numeric features become float64: a value is never truncated (5.7 stays 5.7), and a missing
  value (None/NaN) stays NaN, which LightGBM routes down its learned missing branch.
- A categorical feature becomes the index of its level in `categorical_levels[name]`.
  A level the model has never seen, and a missing value, become NaN: LightGBM treats both as
  "missing" for that split. Unknown levels are therefore allowed (a new city must not make the
  whole request fail) and the served response is still a valid score.
- A high-cardinality feature whose levels end with `__other__` (features/categories.py: rare
  levels grouped at training) maps every level outside its list to that level's code instead,
  the same at training (rare levels) and at serving (unseen ones).
- Values of the wrong kind are errors, never coerced: a string in a numeric column (even "5"),
  a bool anywhere, a number in a categorical column.
- Extra columns (user_id, cutoff, label in a training frame) are ignored here; the serving
  request check (serving/validation.py) is stricter: it refuses every other column but the
  identity columns user_id and cutoff, which it checks.
"""

from __future__ import annotations

import json
import math
import reprlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd

from contracts.errors import UsagecastError
from features.categories import OTHER_LEVEL
from serving.calibration import UNCALIBRATED, Calibration
from serving.families import FITTED_MODELS, OUTPUTS, Output

METADATA_FORMAT_VERSION = 1
# Up to this many rows, plain loops over an object matrix beat per-column pandas calls.
VECTORISE_FROM_ROWS = 1_000


class FeatureEncodingError(UsagecastError):
    """A feature row that cannot be encoded; the message names the column and the rule."""


def _short_repr() -> reprlib.Repr:
    short = reprlib.Repr()
    short.maxlevel, short.maxlist, short.maxdict = 2, 4, 4
    short.maxstring = short.maxother = short.maxlong = 60
    return short


_SHOWN = _short_repr()


def shown(value: Any) -> str:
    """A short one-line repr for error messages: a request value may be a huge string or a
    deeply nested list, and the message must stay one bounded line."""
    return _SHOWN.repr(value)


@dataclass(frozen=True)
class ModelMetadata:
    """Everything besides the fitted model that scoring needs, stored as metadata.json.

    `threshold` turns a probability into the served label; the trainer chooses it on the
    validation rows (never on the test rows) and records how in its run. `model_sha256` lets
    the loader refuse a damaged model file before it is parsed (a truncated file can abort
    the whole process inside LightGBM's parser). `calibration` maps the raw score to the served
    probability (serving/calibration.py); a model saved without one serves the booster's own
    probability. `family` names the model family whose file holds the model
    (serving/families.py); `output` says whether its score is a probability or a value.
    """

    feature_names: tuple[str, ...]
    categorical_levels: Mapping[str, tuple[str, ...]]
    threshold: float
    feature_set: str
    feature_set_fingerprint: str
    label_kind: str
    actionable: tuple[Mapping[str, Any], ...] = ()
    couplings: tuple[Mapping[str, Any], ...] = ()
    model_sha256: str = ""  # of the model file, filled in by save_model_files
    calibration: Calibration = UNCALIBRATED
    family: str = "lightgbm"
    output: Output = "probability"
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
        if self.family not in FITTED_MODELS:
            raise FeatureEncodingError(
                f"metadata: family {self.family!r} is not known; known families: "
                f"{sorted(FITTED_MODELS)}"
            )
        if self.output not in OUTPUTS:
            raise FeatureEncodingError(
                f"metadata: output {self.output!r} is not one of {list(OUTPUTS)}"
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
        if isinstance(self.calibration, Mapping):
            object.__setattr__(self, "calibration", Calibration.from_dict(self.calibration))

    @cached_property
    def level_codes(self) -> dict[str, dict[str, float]]:
        """name -> {level: code} for the categorical features."""
        return {
            name: {level: float(code) for code, level in enumerate(levels)}
            for name, levels in self.categorical_levels.items()
        }

    @cached_property
    def unknown_codes(self) -> dict[str, float]:
        """name -> the code of a level outside the list: `__other__`'s, else NaN (missing)."""
        return {
            name: self.level_codes[name].get(OTHER_LEVEL, np.nan)
            for name in self.categorical_levels
        }

    @cached_property
    def numeric_positions(self) -> tuple[tuple[int, str], ...]:
        """(column position, name) of every numeric feature."""
        return tuple(
            (i, n) for i, n in enumerate(self.feature_names) if n not in self.categorical_levels
        )

    @cached_property
    def categorical_positions(self) -> tuple[tuple[int, str], ...]:
        """(column position, name) of every categorical feature."""
        return tuple(
            (i, n) for i, n in enumerate(self.feature_names) if n in self.categorical_levels
        )

    @property
    def categorical_features(self) -> tuple[str, ...]:
        """Categorical feature names in booster order (LightGBM's categorical_feature)."""
        return tuple(name for name in self.feature_names if name in self.categorical_levels)

    def to_json(self) -> str:
        """Canonical JSON (sorted keys), the content of metadata.json."""
        payload = asdict(self)
        payload["categorical_levels"] = {k: list(v) for k, v in self.categorical_levels.items()}
        payload["calibration"] = self.calibration.to_dict()
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


def _is_plain_numeric(dtype: Any) -> bool:
    """A NumPy int/uint/float dtype: its values convert to float64 as they are. Nullable
    extension dtypes (Int64, Float64) hold pd.NA and take the checked path instead."""
    return isinstance(dtype, np.dtype) and dtype.kind in "iuf"


def _checked_numbers(name: str, values: Sequence[Any]) -> np.ndarray:
    """float64 values of an untyped numeric column; strings and bools are refused."""
    out = np.empty(len(values), dtype="float64")
    for row, value in enumerate(values):
        if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
            out[row] = np.nan
        elif isinstance(value, Real) and not isinstance(value, bool | np.bool_):
            try:
                out[row] = float(value)
            except OverflowError:
                raise FeatureEncodingError(
                    f"column '{name}', row {row}: number {shown(value)} is outside the float range"
                ) from None
        else:
            raise FeatureEncodingError(
                f"column '{name}', row {row}: numeric feature got {shown(value)} "
                f"({type(value).__name__}); send a number or null"
            )
    return out


def _checked_codes(
    name: str, values: Sequence[Any], codes: Mapping[str, float], unknown: float
) -> np.ndarray:
    """Level codes of a categorical column; missing values become NaN, unknown levels
    `unknown` (NaN, or the code of `__other__`)."""
    out = np.empty(len(values), dtype="float64")
    for row, value in enumerate(values):
        if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
            out[row] = np.nan
        elif isinstance(value, str):
            out[row] = codes.get(value, unknown)
        else:
            raise FeatureEncodingError(
                f"column '{name}', row {row}: categorical feature got {shown(value)} "
                f"({type(value).__name__}); send the level as a string or null"
            )
    return out


def _encode_small(frame: pd.DataFrame, metadata: ModelMetadata, dtypes: dict) -> np.ndarray:
    """Few rows (served requests): one object matrix, then plain loops; pandas calls per
    column would cost more than the model."""
    values = frame.to_numpy(dtype=object)
    column = {name: i for i, name in enumerate(dtypes)}
    matrix = np.empty((len(frame), len(metadata.feature_names)), dtype="float64")
    for position, name in metadata.numeric_positions:
        cells = values[:, column[name]]
        matrix[:, position] = (
            cells if _is_plain_numeric(dtypes[name]) else _checked_numbers(name, cells)
        )
    for position, name in metadata.categorical_positions:
        cells = values[:, column[name]]
        matrix[:, position] = _checked_codes(
            name, cells, metadata.level_codes[name], metadata.unknown_codes[name]
        )
    return matrix


def _encode_large(frame: pd.DataFrame, metadata: ModelMetadata, dtypes: dict) -> np.ndarray:
    """Many rows (training, batch scoring): vectorised pandas per column."""
    matrix = np.empty((len(frame), len(metadata.feature_names)), dtype="float64")
    for position, name in metadata.numeric_positions:
        column = frame[name]
        matrix[:, position] = (
            column.to_numpy(dtype="float64", na_value=np.nan)
            if _is_plain_numeric(dtypes[name])
            else _checked_numbers(name, column.tolist())
        )
    for position, name in metadata.categorical_positions:
        column, codes = frame[name], metadata.level_codes[name]
        unknown = metadata.unknown_codes[name]
        typed = isinstance(column.dtype, pd.CategoricalDtype) or (
            pd.api.types.is_string_dtype(column.dtype)
            and not pd.api.types.is_object_dtype(column.dtype)
        )
        if typed:
            text = (
                column.astype("str") if isinstance(column.dtype, pd.CategoricalDtype) else column
            )
            mapped = text.map(codes)
            mapped = mapped.where(mapped.notna(), unknown).where(column.notna())
            matrix[:, position] = mapped.to_numpy(dtype="float64", na_value=np.nan)
        else:
            matrix[:, position] = _checked_codes(name, column.tolist(), codes, unknown)
    return matrix


def encode_matrix(frame: pd.DataFrame, metadata: ModelMetadata) -> np.ndarray:
    """The booster's input as a float64 matrix, columns in `metadata.feature_names` order.

    Raises FeatureEncodingError naming the column when a feature is missing or a value has
    the wrong kind. Extra columns are ignored (see the module docstring).
    """
    # Plain lists: pandas 3 column indexes are Arrow-backed and slow to iterate or probe.
    columns = frame.columns.tolist()
    dtypes = dict(zip(columns, frame.dtypes.tolist(), strict=True))
    missing = [name for name in metadata.feature_names if name not in dtypes]
    if missing:
        raise FeatureEncodingError(
            f"missing feature columns {missing}; the model needs {list(metadata.feature_names)}"
        )
    for name in metadata.feature_names:
        dtype = dtypes[name]
        if isinstance(dtype, pd.BooleanDtype) or (
            isinstance(dtype, np.dtype) and dtype.kind == "b"
        ):
            raise FeatureEncodingError(f"column '{name}': feature got booleans")
    if len(frame) <= VECTORISE_FROM_ROWS:
        return _encode_small(frame, metadata, dtypes)
    return _encode_large(frame, metadata, dtypes)


def encode_features(frame: pd.DataFrame, metadata: ModelMetadata) -> pd.DataFrame:
    """The booster's input as a DataFrame: float64 columns in `metadata.feature_names` order.

    The training side's entry point (LightGBM keeps the column names); serving scores
    `encode_matrix` directly. Same rules and errors as `encode_matrix`.
    """
    return pd.DataFrame(
        encode_matrix(frame, metadata), index=frame.index, columns=list(metadata.feature_names)
    )
