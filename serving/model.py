"""The served pyfunc: probabilities (or values), labels at the stored threshold, explanations.

Any model family of serving/families.py serves through it: the fitted model gives raw scores
and per-feature contributions, this module does the rest. Every probability it returns
(predict, explain, what-if, and batch scoring, which calls the same pyfunc) is the calibrated
one: the raw score through `metadata.calibration`. Explanations are in raw-score units
(log-odds for a probability): `raw_score` is reported beside `probability` and the
contributions sum to it. A family whose output is a value answers `value` instead of
`probability` and `label`, and has no what-if (its target is a probability).

Loaded by MLflow from code (serving/model_entry.py) around two files: the family's model file
(LightGBM text model, or a linear model's JSON) and `metadata.json`; nothing is unpickled, so
it serves with MLFLOW_ALLOW_PICKLE_DESERIALIZATION=false.

With `USAGECAST_PREDICTION_LOG=DIR` set where the pyfunc loads, every answered row is also
appended to the prediction log in DIR (serving/prediction_log.py), off the request path.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import uuid
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow.models import Model

from serving.encoding import ModelMetadata
from serving.explain import top_k_contributions
from serving.families import FittedModel, fitted_model_class
from serving.prediction_log import (
    LoggedModel,
    PredictionLog,
    prediction_log_from_environment,
    request_columns,
)
from serving.validation import (
    CheckedRequest,
    ServingInputError,
    ServingParams,
    check_request,
    parse_params,
)
from serving.whatif import (
    ActionSpace,
    ActionSpaceError,
    build_action_space,
    counterfactuals,
    lowered,
    suggestions_to_json,
)

METADATA_FILE = "metadata.json"
# Labels of an outcome to avoid: what-if looks for changes that lower its probability to the
# target or below (the search runs on 1 - p).
LOWERED_LABELS = frozenset({"churn"})
# One thread is fastest for the small requests a server sees (no OpenMP fork/join per call);
# batch scoring uses all cores.
SINGLE_THREAD_MAX_ROWS = 256


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _action_space(metadata: ModelMetadata) -> tuple[ActionSpace | None, str]:
    """The what-if action space, or None and why not. Checked once at load: a model whose
    actionable list is invalid still serves predict/explain, and whatif says what is wrong."""
    if not metadata.actionable:
        return None, "its feature set declares no actionable features"
    try:
        space = build_action_space(metadata.feature_names, metadata.actionable, metadata.couplings)
    except ActionSpaceError as error:
        return None, f"its actionable features are invalid ({error})"
    return space, ""


class Scorer:
    """A fitted model with its metadata; the scoring logic shared by the pyfunc and CLI."""

    def __init__(
        self,
        model: FittedModel,
        metadata: ModelMetadata,
        prediction_log: PredictionLog | None = None,
    ) -> None:
        if model.num_features != len(metadata.feature_names):
            raise ValueError(
                f"{model.file_name} has {model.num_features} features, metadata.json lists "
                f"{len(metadata.feature_names)}"
            )
        self.model = model
        self.metadata = metadata
        self.prediction_log = prediction_log
        self.action_space, self.whatif_unavailable = _action_space(metadata)

    @classmethod
    def from_files(cls, model_file: str | Path, metadata_file: str | Path) -> Scorer:
        """Load the model file and metadata.json (the files `save_model_files` writes), the
        model file read by the class of the family metadata.json names.

        Raises ValueError when the model file does not match the checksum in metadata.json.
        """
        metadata = ModelMetadata.from_json(Path(metadata_file).read_text(encoding="utf-8"))
        model_class = fitted_model_class(metadata.family)
        actual = file_sha256(Path(model_file))
        if metadata.model_sha256 and actual != metadata.model_sha256:
            raise ValueError(
                f"{model_class.file_name} is damaged: sha256 {actual} != "
                f"{metadata.model_sha256} recorded in {METADATA_FILE}"
            )
        return cls(model_class.load(Path(model_file)), metadata)

    def _threads(self, rows: int) -> int:
        return 1 if rows <= SINGLE_THREAD_MAX_ROWS else 0

    def raw_scores(self, encoded: np.ndarray, num_threads: int | None = None) -> np.ndarray:
        """The model's raw score (log-odds, or the value) per row of an encoded matrix."""
        threads = self._threads(len(encoded)) if num_threads is None else num_threads
        return self.model.raw_scores(encoded, num_threads=threads)

    def probabilities(self, encoded: np.ndarray, num_threads: int | None = None) -> np.ndarray:
        """Calibrated P(label = 1) per row of an encoded matrix."""
        return self.metadata.calibration.apply(self.raw_scores(encoded, num_threads))

    def respond(self, frame: Any, params: ServingParams) -> pd.DataFrame:
        """The response rows for a checked request (one output row per input row); each
        answered row also goes to the prediction log when there is one."""
        checked = check_request(frame, self.metadata)
        encoded = checked.encoded
        raw = self.raw_scores(encoded)
        if self.metadata.output == "value":
            score = raw
            columns: dict[str, Any] = {"value": raw}
        else:
            score = self.metadata.calibration.apply(raw)
            columns = {
                "probability": score,
                "label": (score >= self.metadata.threshold).astype("int64"),
            }
        if params.mode == "explain":
            columns.update(self._explanations(frame, encoded, params.k))
        elif params.mode == "whatif":
            columns["whatif"] = self._whatif(encoded, params)
        if self.prediction_log is not None:
            try:
                # A value output has no probability: its value is the raw score.
                probability = (
                    score if self.metadata.output == "probability" else np.full(len(raw), np.nan)
                )
                self._log(frame, checked, params.mode, probability, raw)
            except Exception as error:  # a failing log never fails the answer it would record
                self.prediction_log.count_failed(len(score), error)
        return pd.DataFrame(columns)

    def _log(
        self,
        frame: pd.DataFrame,
        checked: CheckedRequest,
        mode: str,
        probability: np.ndarray,
        raw: np.ndarray,
    ) -> None:
        """Hand one answered request to the prediction log: numeric features as checked and
        encoded (float64), categorical ones as the strings sent (an unknown level stays
        readable), None for missing."""
        # One copy of the matrix, one column view per feature (in feature order); the
        # categorical ones then replaced by what was sent.
        features = dict(zip(self.metadata.feature_names, checked.encoded.T.copy(), strict=True))
        for name in self.metadata.categorical_levels:
            sent = frame[name].to_numpy(dtype=object)
            features[name] = np.where(pd.isna(sent), None, sent)
        columns = request_columns(
            request_id=str(uuid.uuid4()),
            logged_at=dt.datetime.now(dt.UTC),
            mode=mode,
            user_id=checked.user_id,
            cutoff=checked.cutoff,
            probability=probability,
            raw_score=raw,
            features=features,
        )
        self.prediction_log.append(columns, len(probability))

    def _explanations(self, frame: pd.DataFrame, encoded: np.ndarray, k: int) -> dict:
        contrib = self.model.contributions(encoded, num_threads=self._threads(len(encoded)))
        names = self.metadata.feature_names
        # One object matrix, then numpy indexing: cheaper than frame[list(names)].
        position = {name: i for i, name in enumerate(frame.columns.tolist())}
        raw_values = frame.to_numpy(dtype=object)[:, [position[name] for name in names]]
        rows = top_k_contributions(contrib, names, raw_values, k)
        return {
            "raw_score": [r.raw_score for r in rows],
            "base_value": [r.base_value for r in rows],
            "other_contribution": [r.other_contribution for r in rows],
            "contributions": [list(r.contributions) for r in rows],
        }

    def _whatif(self, encoded: np.ndarray, params: ServingParams) -> list[dict]:
        """Counterfactual suggestions per row from the GA in serving/whatif/."""
        if self.metadata.output != "probability":
            raise ServingInputError(
                f"param 'mode': 'whatif' is not available in this model version: its "
                f"{self.metadata.family} model outputs a {self.metadata.output}, and what-if "
                "searches for a target probability"
            )
        if self.action_space is None:
            raise ServingInputError(
                f"param 'mode': 'whatif' is not available in this model version: "
                f"{self.whatif_unavailable}"
            )
        goal, options = params.whatif_search()
        lower = self.metadata.label_kind in LOWERED_LABELS
        score = self._single_thread_probabilities
        if lower:
            score = self._single_thread_complement
            if goal.kind == "reach" and goal.target is not None:
                goal = dataclasses.replace(goal, target=1.0 - goal.target)
        try:
            suggestions = counterfactuals(
                encoded, self.action_space, score, goal, options, params.seed
            )
        except ActionSpaceError as error:
            raise ServingInputError(str(error)) from None
        if lower:
            return suggestions_to_json(lowered(suggestions), "lower")
        return suggestions_to_json(suggestions, "raise")

    def _single_thread_probabilities(self, matrix: np.ndarray) -> np.ndarray:
        # The GA scores one population (a few thousand rows) per call: one thread avoids
        # OpenMP start-up per generation (LightGBM). Calibrated, so `target` is on the
        # served scale.
        return self.probabilities(matrix, num_threads=1)

    def _single_thread_complement(self, matrix: np.ndarray) -> np.ndarray:
        """1 - p: the search's score for an outcome to lower."""
        return 1.0 - self._single_thread_probabilities(matrix)


def _run_id(artifact: Path) -> str | None:
    """The MLflow run that logged the model, from the MLmodel file above its artifacts
    folder (`<model>/artifacts/<file>`); None for a model not loaded from such a folder."""
    root = artifact.parent.parent
    return Model.load(str(root)).run_id if (root / "MLmodel").is_file() else None


class UsagecastModel(mlflow.pyfunc.PythonModel):
    """The pyfunc `mlflow models serve` runs; `predict` answers params.mode."""

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        """Load the fitted model and metadata from the model's artifacts."""
        scorer = Scorer.from_files(context.artifacts["model"], context.artifacts["metadata"])
        logged = LoggedModel(
            feature_set=scorer.metadata.feature_set,
            model_run_id=_run_id(Path(context.artifacts["metadata"])),
            model_sha256=scorer.metadata.model_sha256,
        )
        scorer.prediction_log = prediction_log_from_environment(logged)
        self.scorer = scorer

    def predict(
        self,
        context: mlflow.pyfunc.PythonModelContext,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        """Probability and label (or value) per row; with mode=explain also the top-k
        contributions."""
        return self.scorer.respond(model_input, parse_params(params))
