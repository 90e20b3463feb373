"""The packaging API: log the pyfunc in a real MLflow store, load it back, score."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace

import mlflow
import numpy as np
import pytest

from serving import (
    ModelMetadata,
    Scorer,
    ServingInputError,
    log_serving_model,
    parse_params,
    save_model_files,
)


def test_logged_model_loads_without_pickle_and_predicts(tiny_model, monkeypatch):
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "false")
    rows = tiny_model.rows.head(5)
    with mlflow.start_run():
        info = log_serving_model(tiny_model.model, tiny_model.metadata, rows.head(2))
    loaded = mlflow.pyfunc.load_model(info.model_uri)
    result = loaded.predict(rows)
    expected = tiny_model.probabilities(rows)
    np.testing.assert_allclose(result["probability"], expected, rtol=0, atol=1e-12)
    assert list(result["label"]) == [int(p >= 0.4) for p in expected]
    explained = loaded.predict(rows, params={"mode": "explain", "k": 2})
    for _, row in explained.iterrows():
        assert len(row["contributions"]) == 2
        total = (
            row["base_value"]
            + sum(c["contribution"] for c in row["contributions"])
            + row["other_contribution"]
        )
        assert total == pytest.approx(row["raw_score"], abs=1e-9)


LOAD_IN_FRESH_PROCESS = """
import json, sys
import mlflow, pandas as pd
model = mlflow.pyfunc.load_model(sys.argv[1])
rows = pd.DataFrame(json.loads(sys.argv[2]))
import contracts, features, serving
print(json.dumps({
    "probability": model.predict(rows)["probability"].tolist(),
    "packages": {m.__name__: m.__file__ for m in (contracts, features, serving)},
}))
"""


@pytest.mark.slow
def test_a_fresh_process_loads_the_model_from_the_code_it_ships(tiny_model, tmp_path):
    """Without this checkout on its path, the model imports serving/, features/ and
    contracts/ from the copies logged beside it."""
    rows = tiny_model.rows.head(3)
    with mlflow.start_run():
        info = log_serving_model(tiny_model.model, tiny_model.metadata, rows)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = "false"
    out = subprocess.run(
        [sys.executable, "-c", LOAD_IN_FRESH_PROCESS, info.model_uri, rows.to_json()],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    answer = json.loads(out.stdout.strip().splitlines()[-1])
    np.testing.assert_allclose(answer["probability"], tiny_model.probabilities(rows), atol=1e-12)
    for package, path in answer["packages"].items():
        assert "code" in path.split(os.sep), f"{package} was imported from {path}, not the model"


def test_model_files_round_trip(tiny_model, tmp_path):
    directory = save_model_files(tiny_model.model, tiny_model.metadata, tmp_path / "m")
    assert sorted(p.name for p in directory.iterdir()) == ["metadata.json", "model.txt"]
    assert b"\x80" not in (directory / "model.txt").read_bytes()[:2]  # text, not pickle
    loaded = ModelMetadata.from_json((directory / "metadata.json").read_text())
    assert len(loaded.model_sha256) == 64
    assert replace(loaded, model_sha256="") == tiny_model.metadata


def test_damaged_model_file_is_refused_before_lightgbm_parses_it(tiny_model, tmp_path):
    directory = save_model_files(tiny_model.model, tiny_model.metadata, tmp_path / "m")
    model_file = directory / "model.txt"
    model_file.write_text(model_file.read_text()[:200])
    with pytest.raises(ValueError, match=r"model\.txt is damaged"):
        Scorer.from_files(model_file, directory / "metadata.json")


def test_a_churn_models_whatif_lowers_the_probability_to_the_target(tiny_model):
    """Churn is an outcome to avoid: its what-if looks for changes that bring the probability
    down to the target; the same model asked of a conversion raises it."""
    ads = {**tiny_model.metadata.actionable[0], "direction": "both"}
    metadata = replace(tiny_model.metadata, actionable=(ads,))
    churn = Scorer(tiny_model.model, replace(metadata, label_kind="churn"))
    rows = tiny_model.rows[tiny_model.probabilities(tiny_model.rows) > 0.6].head(3)
    params = parse_params({"mode": "whatif", "target": 0.6, "seed": 0, "budget_ms": 5000})
    answers = churn.respond(rows, params)
    suggested = [s for answer in answers.itertuples() for s in answer.whatif["suggestions"]]
    assert any(s["reached"] for s in suggested)
    for (_, row), answer in zip(rows.iterrows(), answers.itertuples(), strict=True):
        assert answer.whatif["direction"] == "lower"
        for suggestion in answer.whatif["suggestions"]:
            changed = row.copy()
            for change in suggestion["changes"]:
                changed[change["feature"]] = change["to"]
            (after,) = tiny_model.probabilities(changed.to_frame().T.astype(rows.dtypes))
            assert suggestion["probability"] == pytest.approx(after, abs=1e-12)
            assert suggestion["gain"] == pytest.approx(after - answer.probability, abs=1e-12)
            assert suggestion["gain"] < 0 and suggestion["reached"] == (after <= 0.6)
    raised = Scorer(tiny_model.model, metadata).respond(rows, params)
    for answer in raised.itertuples():
        assert answer.whatif["direction"] == "raise"
        (met,) = answer.whatif["suggestions"]  # already above the target: nothing to change
        assert met["changes"] == [] and met["reached"]


def test_invalid_actionable_list_disables_only_whatif(tiny_model):
    entry = {**tiny_model.metadata.actionable[0], "unit_price": 1.0}
    scorer = Scorer(tiny_model.model, replace(tiny_model.metadata, actionable=(entry,)))
    rows = tiny_model.rows.head(2)
    assert len(scorer.respond(rows, parse_params({"mode": "explain"}))) == 2
    with pytest.raises(ServingInputError, match="not available in this model version") as error:
        scorer.respond(rows, parse_params({"mode": "whatif"}))
    assert "unit_price" in str(error.value)
