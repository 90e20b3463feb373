"""The served recommender: top-k items per user from factor matrices, never an item consumed.

Decisions:
- The model is numbers, not a library object: `user_factors.npy`, `item_factors.npy`, each
  user's consumed items (`consumed_indptr.npy`, `consumed_indices.npy`, a CSR row layout) and
  `recommender.json` (ids, the popularity order, sha256 of every array). Arrays load with
  `allow_pickle=False`, so the model serves with MLFLOW_ALLOW_PICKLE_DESERIALIZATION=false and
  the served model needs numpy, not the training library.
- Scores are dot products of user and item factors; `top_k` ranks them with consumed items
  removed and ties broken by item position. Evaluation (experiments/recommend) calls the same
  `top_k`, so the served ranking is the evaluated one.
- A user without an interaction before the model's cutoff gets the most popular items
  (distinct users before the cutoff): `source` says which.
- Requests follow the served model contract (serving/validation.py): rows with one `user_id`
  string column, params `mode` (only `recommend`) and `k` (1 to MAX_ITEMS, default 10), unknown
  params and columns refused, every input error a ServingInputError (HTTP 400, one line).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import cached_property
from importlib.metadata import version
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.models.model import ModelInfo
from mlflow.types import ParamSchema, ParamSpec
from scipy.sparse import csr_matrix

from serving.encoding import shown
from serving.package import CODE_PATHS, SERVED_REQUIREMENTS
from serving.validation import ServingInputError, check_table, int_param

MODE = "recommend"
DEFAULT_K = 10
MAX_ITEMS = 100
METADATA_FILE = "recommender.json"
ARRAY_FILES = ("user_factors", "item_factors", "consumed_indptr", "consumed_indices")
ENTRY_POINT = Path(__file__).parent / "recommend_entry.py"
SOURCE_MODEL = "model"
SOURCE_POPULARITY = "popularity"


def top_k(scores: np.ndarray, consumed: csr_matrix, k: int) -> np.ndarray:
    """Item positions of the k best scores per row, consumed items removed; -1 pads a row
    with fewer than k items left. Ties go to the lower item position (a stable order)."""
    masked = np.array(scores, dtype=np.float64, copy=True)
    rows, cols = consumed.nonzero()
    masked[rows, cols] = -np.inf
    order = np.argsort(-masked, axis=1, kind="stable")[:, :k]
    taken = np.take_along_axis(masked, order, axis=1)
    return np.where(np.isneginf(taken), -1, order)


@dataclass(frozen=True)
class RecommenderMetadata:
    """What besides the arrays the served recommender needs (`recommender.json`)."""

    user_ids: tuple[str, ...]
    item_ids: tuple[str, ...]
    popularity: tuple[int, ...]  # distinct users per item before the cutoff
    cutoff: str  # ISO; the model saw events strictly before it
    array_sha256: Mapping[str, str]

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> RecommenderMetadata:
        values = json.loads(text)
        return cls(
            user_ids=tuple(values["user_ids"]),
            item_ids=tuple(values["item_ids"]),
            popularity=tuple(int(v) for v in values["popularity"]),
            cutoff=values["cutoff"],
            array_sha256=dict(values["array_sha256"]),
        )


@dataclass(frozen=True)
class Recommender:
    """Factors, consumed items and metadata of one trained recommender."""

    user_factors: np.ndarray
    item_factors: np.ndarray
    consumed: csr_matrix  # users x items, nonzero = consumed before the cutoff
    metadata: RecommenderMetadata

    def __post_init__(self) -> None:
        users, items = len(self.metadata.user_ids), len(self.metadata.item_ids)
        if self.user_factors.shape[0] != users or self.item_factors.shape[0] != items:
            raise ValueError(
                f"factors {self.user_factors.shape} x {self.item_factors.shape} do not match "
                f"{users} users and {items} items in {METADATA_FILE}"
            )
        if self.consumed.shape != (users, items) or len(self.metadata.popularity) != items:
            raise ValueError(f"consumed items or popularity do not match {METADATA_FILE}")

    @cached_property
    def _user_position(self) -> dict[str, int]:
        return {user: i for i, user in enumerate(self.metadata.user_ids)}

    def save(self, directory: Path) -> Path:
        """Write the arrays (.npy, no pickle) and recommender.json with their sha256."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        arrays = {
            "user_factors": self.user_factors,
            "item_factors": self.item_factors,
            "consumed_indptr": self.consumed.indptr.astype(np.int64),
            "consumed_indices": self.consumed.indices.astype(np.int64),
        }
        digests = {}
        for name, array in arrays.items():
            path = directory / f"{name}.npy"
            np.save(path, np.ascontiguousarray(array), allow_pickle=False)
            digests[name] = _sha256(path)
        metadata = RecommenderMetadata(**{**asdict(self.metadata), "array_sha256": digests})
        (directory / METADATA_FILE).write_text(metadata.to_json(), encoding="utf-8")
        return directory

    @classmethod
    def load(cls, files: Mapping[str, str | Path]) -> Recommender:
        """Load from the files `save` wrote (name -> path, names as in ARRAY_FILES plus
        "metadata"); a damaged array (sha256 mismatch) raises ValueError."""
        metadata = RecommenderMetadata.from_json(
            Path(files["metadata"]).read_text(encoding="utf-8")
        )
        arrays = {}
        for name in ARRAY_FILES:
            path = Path(files[name])
            if _sha256(path) != metadata.array_sha256.get(name):
                raise ValueError(f"{path.name} is damaged: its sha256 is not in {METADATA_FILE}")
            arrays[name] = np.load(path, allow_pickle=False)
        shape = (len(metadata.user_ids), len(metadata.item_ids))
        data = np.ones(len(arrays["consumed_indices"]), dtype=np.float32)
        consumed = csr_matrix(
            (data, arrays["consumed_indices"], arrays["consumed_indptr"]), shape=shape
        )
        return cls(arrays["user_factors"], arrays["item_factors"], consumed, metadata)

    def ranked(self, user_ids: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(item positions, scores, known) per user: the top k by the factors for a user the
        model knows, else by popularity; -1 (score NaN) pads a short list."""
        position = self._user_position
        index = np.array([position.get(user, -1) for user in user_ids], dtype=np.int64)
        known = index >= 0
        scores = np.empty((len(index), len(self.metadata.item_ids)))
        scores[known] = self.user_factors[index[known]] @ self.item_factors.T
        scores[~known] = np.array(self.metadata.popularity, dtype=np.float64)
        consumed = self.consumed[np.where(known, index, 0)]
        consumed = consumed.multiply(known[:, None]).tocsr()  # nothing consumed if unknown
        items = top_k(scores, consumed, k)
        taken = np.take_along_axis(scores, np.maximum(items, 0), axis=1)
        return items, np.where(items >= 0, taken, np.nan), known

    def recommend(self, user_ids: Sequence[str], k: int) -> pd.DataFrame:
        """One row per user: `user_id`, `items` (best first), `scores`, `source`."""
        items, scores, known = self.ranked(user_ids, k)
        item_ids = np.array(self.metadata.item_ids, dtype=object)
        kept = [row >= 0 for row in items]
        return pd.DataFrame(
            {
                "user_id": list(user_ids),
                "items": [
                    item_ids[row[keep]].tolist() for row, keep in zip(items, kept, strict=True)
                ],
                "scores": [row[keep].tolist() for row, keep in zip(scores, kept, strict=True)],
                "source": np.where(known, SOURCE_MODEL, SOURCE_POPULARITY),
            }
        )


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def parse_recommend_params(params: Mapping[str, Any] | None) -> int:
    """The request's `k`, after checking `mode` is `recommend` and no other param is sent."""
    params = dict(params or {})
    allowed = ("mode", "k")
    unknown = sorted((set(params) - set(allowed)), key=str)
    if unknown:
        raise ServingInputError(
            f"unknown params {[shown(p) for p in unknown]}; allowed params: {list(allowed)}"
        )
    mode = params.get("mode", MODE)
    if mode != MODE:
        raise ServingInputError(
            f"param 'mode': this model recommends items and answers only {MODE!r}, "
            f"got {shown(mode)}"
        )
    return int_param(params, "k", DEFAULT_K, 1, MAX_ITEMS)


def check_users(frame: Any) -> list[str]:
    """The request's user ids: a table with exactly one column `user_id`, a string per row."""
    frame = check_table(frame)
    columns = frame.columns.tolist()
    if columns != ["user_id"]:
        raise ServingInputError(
            f"columns {[shown(c) for c in columns][:5]}: the recommender takes exactly one "
            "column, 'user_id'"
        )
    values = frame["user_id"].to_numpy(dtype=object)
    for row, value in enumerate(values):
        if not isinstance(value, str):
            raise ServingInputError(
                f"column 'user_id', row {row}: must be a string (send ids as text), got "
                f"{shown(value)}"
            )
    return values.tolist()


class RecommendModel(mlflow.pyfunc.PythonModel):
    """The pyfunc `mlflow models serve` runs for a recommender (`mode: recommend`)."""

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        """Load the arrays and metadata from the model's artifacts."""
        self.recommender = Recommender.load(context.artifacts)

    def predict(
        self,
        context: mlflow.pyfunc.PythonModelContext,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        """Top-k items per requested user, consumed ones excluded."""
        k = parse_recommend_params(params)
        return self.recommender.recommend(check_users(model_input), k)


def recommend_signature() -> ModelSignature:
    """Params only (the rows are checked by `check_users`), as for the other served models."""
    return ModelSignature(
        inputs=None,
        outputs=None,
        params=ParamSchema([ParamSpec("mode", "string", MODE), ParamSpec("k", "long", DEFAULT_K)]),
    )


def log_recommender_model(recommender: Recommender, name: str = "model") -> ModelInfo:
    """Log the recommender pyfunc into the active MLflow run and return its ModelInfo."""
    with tempfile.TemporaryDirectory(prefix="usagecast-recommender-") as tmp:
        folder = recommender.save(Path(tmp))
        artifacts = {file: str(folder / f"{file}.npy") for file in ARRAY_FILES}
        artifacts["metadata"] = str(folder / METADATA_FILE)
        example = pd.DataFrame({"user_id": list(recommender.metadata.user_ids[:2])})
        return mlflow.pyfunc.log_model(
            name=name,
            python_model=str(ENTRY_POINT),
            artifacts=artifacts,
            code_paths=[str(path) for path in CODE_PATHS],
            signature=recommend_signature(),
            input_example=example,
            pip_requirements=[f"{pkg}=={version(pkg)}" for pkg in (*SERVED_REQUIREMENTS, "scipy")],
        )
