"""Packaging the served model: files on disk and the MLflow models-from-code pyfunc.

This is the one module in serving/ that writes (files, MLflow artifacts). The trainer calls
`log_serving_model` inside its run; everything it logs is text (the family's model file,
serving/families.py, and JSON), so the model loads with MLFLOW_ALLOW_PICKLE_DESERIALIZATION=false.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from importlib.metadata import version
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.models.model import ModelInfo
from mlflow.types import ParamSchema, ParamSpec

import contracts
import features
import serving
from contracts.lineage import MODEL_ARTIFACT
from serving.encoding import ModelMetadata
from serving.families import FittedModel, fitted_model_class
from serving.model import METADATA_FILE, file_sha256
from serving.validation import ServingParams

ENTRY_POINT = Path(serving.__file__).parent / "model_entry.py"
# Only these packages ship inside the model (the import contract keeps it so).
CODE_PATHS = tuple(Path(package.__file__).parent for package in (serving, features, contracts))
SERVED_REQUIREMENTS = ("mlflow", "lightgbm", "pandas", "numpy", "pyarrow")


def serving_signature() -> ModelSignature:
    """Params only, no column schema: serving/validation.py checks the rows itself.

    A column schema would make the stock server coerce values before our checks run
    ("5" -> 5, 5.7 -> 5, extra columns dropped) and costs most of a single-row request.
    """
    defaults = ServingParams()
    return ModelSignature(
        inputs=None,
        outputs=None,
        params=ParamSchema(
            [
                ParamSpec("mode", "string", defaults.mode),
                ParamSpec("k", "long", defaults.k),
                ParamSpec("target", "double", defaults.target),
                ParamSpec("max_changes", "long", defaults.max_changes),
                ParamSpec("budget_ms", "long", defaults.budget_ms),
                ParamSpec("seed", "long", defaults.seed),
                ParamSpec("max_cost", "double", defaults.max_cost),
            ]
        ),
    )


def save_model_files(model: FittedModel, metadata: ModelMetadata, directory: Path) -> Path:
    """Write the model's file (text, never pickle) and metadata.json into `directory`.

    metadata.json records the model file's sha256, checked every time the model is loaded.
    Raises ValueError when the model is not of the family metadata.json names.
    """
    expected = fitted_model_class(metadata.family)
    if not isinstance(model, expected):
        raise ValueError(
            f"metadata names family {metadata.family!r} ({expected.__name__}), but the model "
            f"is a {type(model).__name__}"
        )
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model_file = directory / model.file_name
    model.save(model_file)
    sealed = replace(metadata, model_sha256=file_sha256(model_file))
    (directory / METADATA_FILE).write_text(sealed.to_json(), encoding="utf-8")
    return directory


def log_serving_model(
    model: FittedModel,
    metadata: ModelMetadata,
    input_example: pd.DataFrame,
    name: str = MODEL_ARTIFACT,
) -> ModelInfo:
    """Log the serving pyfunc into the active MLflow run and return its ModelInfo.

    `input_example` holds raw feature rows (category strings, not codes) in any column order;
    only the feature columns are kept.
    """
    example = input_example.loc[:, list(metadata.feature_names)]
    with tempfile.TemporaryDirectory(prefix="usagecast-model-") as tmp:
        files = save_model_files(model, metadata, Path(tmp))
        return mlflow.pyfunc.log_model(
            name=name,
            python_model=str(ENTRY_POINT),
            artifacts={
                "model": str(files / model.file_name),
                "metadata": str(files / METADATA_FILE),
            },
            code_paths=[str(path) for path in CODE_PATHS],
            signature=serving_signature(),
            input_example=example,
            pip_requirements=[f"{pkg}=={version(pkg)}" for pkg in SERVED_REQUIREMENTS],
        )
