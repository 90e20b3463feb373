"""The served half of a model family: a fitted model that scores, explains, saves and loads.

Every family's fitted model answers the same three questions on the encoded matrix
(serving/encoding.py: float64, columns in `ModelMetadata.feature_names` order):
- `raw_scores`: log-odds for a family whose output is a probability (the calibration in
  metadata.json maps them to the served probability), the value itself for a family whose
  output is a value;
- `contributions`: rows x (features + 1), one column per served feature and a last column
  holding the base value; every row sums to its raw score (serving/explain.py keeps the top k);
- `save` / `load`: one text file, never a pickle, so the model serves with
  MLFLOW_ALLOW_PICKLE_DESERIALIZATION=false.

`FITTED_MODELS` maps the family name recorded in metadata.json to the class that loads its
file. The trainer's half (search space, fit) lives in experiments/families.py.

Decisions:
- LightGBM: the booster's own text file; contributions are its exact TreeSHAP (`pred_contrib`).
- LightGBM regression (a value output): the booster's text file too, with a log-link objective
  (Poisson: experiments/families/lightgbm_regression.py). Its raw score is the
  value itself, exp of the booster's log-scale score. TreeSHAP is exact on the log scale; each
  row's log-scale contributions are rescaled by one factor, b (e^d - 1) / d (b the base value
  exp(log base), d the row's log-scale sum), so they keep their signs and proportions and sum
  to the value minus b, with b as the base value column.
- L1 logistic: the fitted sklearn pipeline is exported as a list of linear terms over the
  encoded matrix (median fill, missing indicator, standard scaling, one column per category
  level), so serving needs numpy only and no sklearn. A term's contribution is
  weight x (term - its mean on the training rows), summed per served feature; the base value is
  the raw score of the training rows' mean term vector.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol

import lightgbm
import numpy as np

from contracts.errors import UsagecastError

Output = Literal["probability", "value"]
OUTPUTS: tuple[str, ...] = ("probability", "value")
LINEAR_FORMAT = "usagecast.linear"
LINEAR_FORMAT_VERSION = 1
TermKind = Literal["value", "missing", "level"]
TERM_KINDS: tuple[str, ...] = ("value", "missing", "level")


class ModelFileError(UsagecastError):
    """A saved model file that cannot be read; the message names the file and the field."""


class FittedModel(Protocol):
    """What the served model needs of a fitted model, whatever its family."""

    file_name: ClassVar[str]

    @property
    def num_features(self) -> int:
        """Columns of the encoded matrix the model reads."""
        ...

    def raw_scores(self, encoded: np.ndarray, num_threads: int | None = None) -> np.ndarray:
        """Log-odds (probability output) or the value (value output) per row."""
        ...

    def contributions(self, encoded: np.ndarray, num_threads: int | None = None) -> np.ndarray:
        """Per-feature contributions plus a last base-value column; rows sum to raw_scores."""
        ...

    def save(self, path: Path) -> None:
        """Write the model as one text file."""
        ...

    @classmethod
    def load(cls, path: Path) -> FittedModel:
        """Read the file `save` wrote."""
        ...


def _threads(num_threads: int | None) -> dict[str, int]:
    """LightGBM's num_threads keyword, or none (the booster's own setting)."""
    return {} if num_threads is None else {"num_threads": num_threads}


@dataclass(frozen=True)
class LightGBMModel:
    """A LightGBM booster, saved as LightGBM's text model."""

    booster: lightgbm.Booster
    file_name: ClassVar[str] = "model.txt"

    @property
    def num_features(self) -> int:
        return self.booster.num_feature()

    def raw_scores(self, encoded: np.ndarray, num_threads: int | None = None) -> np.ndarray:
        return self.booster.predict(encoded, raw_score=True, **_threads(num_threads))

    def contributions(self, encoded: np.ndarray, num_threads: int | None = None) -> np.ndarray:
        return np.asarray(
            self.booster.predict(encoded, pred_contrib=True, **_threads(num_threads))
        )

    def save(self, path: Path) -> None:
        self.booster.save_model(str(path))

    @classmethod
    def load(cls, path: Path) -> LightGBMModel:
        return cls(lightgbm.Booster(model_file=str(path)))


LOG_LINK_OBJECTIVES: tuple[str, ...] = ("tweedie", "poisson", "gamma")


@dataclass(frozen=True)
class LightGBMRegressionModel:
    """A LightGBM booster with a log-link objective whose raw score is the predicted value."""

    booster: lightgbm.Booster
    file_name: ClassVar[str] = "model.txt"

    def __post_init__(self) -> None:
        objective = str(self.booster.params.get("objective", "")).split(" ")[0]
        if objective not in LOG_LINK_OBJECTIVES:
            raise ModelFileError(
                f"LightGBM regression model: objective {objective!r} is not one of the "
                f"log-link objectives {list(LOG_LINK_OBJECTIVES)} this family serves"
            )

    @property
    def num_features(self) -> int:
        return self.booster.num_feature()

    def raw_scores(self, encoded: np.ndarray, num_threads: int | None = None) -> np.ndarray:
        return np.exp(self.booster.predict(encoded, raw_score=True, **_threads(num_threads)))

    def contributions(self, encoded: np.ndarray, num_threads: int | None = None) -> np.ndarray:
        log_scale = np.asarray(
            self.booster.predict(encoded, pred_contrib=True, **_threads(num_threads))
        )
        log_base = log_scale[:, -1]
        d = log_scale[:, :-1].sum(axis=1)
        base = np.exp(log_base)
        safe = np.where(d == 0.0, 1.0, d)
        factor = np.where(d == 0.0, base, base * np.expm1(d) / safe)
        return np.column_stack([log_scale[:, :-1] * factor[:, None], base])

    def save(self, path: Path) -> None:
        self.booster.save_model(str(path))

    @classmethod
    def load(cls, path: Path) -> LightGBMRegressionModel:
        return cls(lightgbm.Booster(model_file=str(path)))


@dataclass(frozen=True)
class LinearTerm:
    """One column of a linear model's design matrix, computed from one encoded feature x:
    `value`: (x with NaN as `fill` - center) / scale; `missing`: (isnan(x) - center) / scale;
    `level`: ((x == code) - center) / scale. `mean` is the column's mean on the training rows."""

    feature: str
    kind: TermKind
    weight: float
    center: float = 0.0
    scale: float = 1.0
    fill: float = 0.0
    code: float = 0.0
    mean: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in TERM_KINDS:
            raise ModelFileError(
                f"linear term of {self.feature!r}: kind {self.kind!r} is not one of "
                f"{list(TERM_KINDS)}"
            )
        numbers = ("weight", "center", "scale", "fill", "code", "mean")
        for name in numbers:
            value = float(getattr(self, name))
            if not math.isfinite(value):
                raise ModelFileError(f"linear term of {self.feature!r}: {name} is {value}")
            object.__setattr__(self, name, value)
        if self.scale == 0.0:
            raise ModelFileError(f"linear term of {self.feature!r}: scale is 0")

    def column(self, x: np.ndarray) -> np.ndarray:
        """This term's design column from the feature's encoded values."""
        missing = np.isnan(x)
        if self.kind == "value":
            raw = np.where(missing, self.fill, x)
        elif self.kind == "missing":
            raw = missing.astype("float64")
        else:
            raw = (x == self.code).astype("float64")
        return (raw - self.center) / self.scale


@dataclass(frozen=True)
class LinearModel:
    """weight . terms(x) + intercept over the encoded matrix, saved as JSON."""

    feature_names: tuple[str, ...]
    terms: tuple[LinearTerm, ...]
    intercept: float
    file_name: ClassVar[str] = "model.json"

    def __post_init__(self) -> None:
        names = tuple(self.feature_names)
        unknown = sorted({t.feature for t in self.terms} - set(names))
        if unknown:
            raise ModelFileError(f"linear model: terms name unknown features {unknown}")
        if not math.isfinite(float(self.intercept)):
            raise ModelFileError(f"linear model: intercept is {self.intercept}")
        object.__setattr__(self, "feature_names", names)
        object.__setattr__(self, "terms", tuple(self.terms))
        object.__setattr__(self, "intercept", float(self.intercept))

    @property
    def num_features(self) -> int:
        return len(self.feature_names)

    def design(self, encoded: np.ndarray) -> np.ndarray:
        """The design matrix: one column per term."""
        position = {name: i for i, name in enumerate(self.feature_names)}
        matrix = np.asarray(encoded, dtype="float64")
        out = np.empty((len(matrix), len(self.terms)), dtype="float64")
        for j, term in enumerate(self.terms):
            out[:, j] = term.column(matrix[:, position[term.feature]])
        return out

    @property
    def _weights(self) -> np.ndarray:
        return np.array([t.weight for t in self.terms], dtype="float64")

    def raw_scores(self, encoded: np.ndarray, num_threads: int | None = None) -> np.ndarray:
        return self.design(encoded) @ self._weights + self.intercept

    def contributions(self, encoded: np.ndarray, num_threads: int | None = None) -> np.ndarray:
        means = np.array([t.mean for t in self.terms], dtype="float64")
        per_term = (self.design(encoded) - means) * self._weights
        to_feature = np.zeros((len(self.terms), len(self.feature_names)), dtype="float64")
        position = {name: i for i, name in enumerate(self.feature_names)}
        for j, term in enumerate(self.terms):
            to_feature[j, position[term.feature]] = 1.0
        base = self.intercept + float(means @ self._weights)
        per_feature = per_term @ to_feature
        return np.column_stack([per_feature, np.full(len(per_feature), base)])

    def to_json(self) -> str:
        """Canonical JSON: format, version, feature names, intercept, terms."""
        payload = {
            "format": LINEAR_FORMAT,
            "format_version": LINEAR_FORMAT_VERSION,
            "feature_names": list(self.feature_names),
            "intercept": self.intercept,
            "terms": [_term_dict(t) for t in self.terms],
        }
        return json.dumps(payload, sort_keys=True, indent=2)

    @classmethod
    def from_json(cls, text: str, where: str = "linear model") -> LinearModel:
        """Parse `to_json`'s output; unknown keys and other formats are errors."""
        payload = json.loads(text)
        _check_keys(
            payload, {"format", "format_version", "feature_names", "intercept", "terms"}, where
        )
        if (payload["format"], payload["format_version"]) != (
            LINEAR_FORMAT,
            LINEAR_FORMAT_VERSION,
        ):
            raise ModelFileError(
                f"{where}: format {payload['format']!r} version {payload['format_version']} is "
                f"not readable here (this code reads {LINEAR_FORMAT!r} version "
                f"{LINEAR_FORMAT_VERSION})"
            )
        allowed = set(LinearTerm.__dataclass_fields__)
        for term in payload["terms"]:
            _check_keys(term, allowed, f"{where}: term", required=("feature", "kind", "weight"))
        return cls(
            feature_names=tuple(payload["feature_names"]),
            terms=tuple(LinearTerm(**term) for term in payload["terms"]),
            intercept=payload["intercept"],
        )

    def save(self, path: Path) -> None:
        Path(path).write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> LinearModel:
        return cls.from_json(Path(path).read_text(encoding="utf-8"), where=Path(path).name)


def _term_dict(term: LinearTerm) -> dict[str, Any]:
    return {name: getattr(term, name) for name in LinearTerm.__dataclass_fields__}


def _check_keys(
    payload: Any, allowed: set[str], where: str, required: Sequence[str] | None = None
) -> None:
    if not isinstance(payload, dict):
        raise ModelFileError(f"{where}: expected a JSON object, got {type(payload).__name__}")
    unknown = sorted(set(payload) - allowed)
    if unknown:
        raise ModelFileError(f"{where}: unknown keys {unknown}; allowed keys: {sorted(allowed)}")
    missing = sorted(set(allowed if required is None else required) - set(payload))
    if missing:
        raise ModelFileError(f"{where}: missing keys {missing}")


# The family name metadata.json records -> the class that reads its model file.
FittedModelClass = type[LightGBMModel] | type[LightGBMRegressionModel] | type[LinearModel]
FITTED_MODELS: dict[str, FittedModelClass] = {
    "lightgbm": LightGBMModel,
    "lightgbm_regression": LightGBMRegressionModel,
    "l1_logistic": LinearModel,
}


def fitted_model_class(family: str) -> FittedModelClass:
    """The class that loads a family's model file; an unknown family names the known ones."""
    if family not in FITTED_MODELS:
        raise ModelFileError(
            f"model family {family!r} is not known to this code; known families: "
            f"{sorted(FITTED_MODELS)}"
        )
    return FITTED_MODELS[family]
