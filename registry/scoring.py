"""Batch scoring: every eligible user of a feature set at one cutoff, through a registered
model, ranked, with provenance in the Parquet file's metadata, or beside a CSV file for the
CRM a team imports scores into (`usagecast score`).

The scored rows come from the same compiled query as training rows (scoring rows at any
cutoff, or a named build's rows), and the model is the served pyfunc itself, downloaded and
loaded as promotion loads it, so a batch score is what the server would answer.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from mlflow.tracking import MlflowClient
from tqdm import tqdm

from contracts.errors import UsagecastError
from contracts.manifest import FeatureSetManifest
from contracts.refs import BuildRef
from features.workspace import activate_mlflow_tracking
from registry.promote import METADATA_ARTIFACT, checked_model_uri, load_registered

SCORE_SUFFIXES = (".parquet", ".csv")
REASON_VALUE = re.compile(r"reason_[0-9]+_value")  # a reason's value, written as text


def provenance_path(scores: Path) -> Path:
    """Where a CSV scores file's provenance is written: `scores.provenance.json` beside it."""
    return scores.with_suffix(".provenance.json")


def checked_scores_path(out: str | Path) -> Path:
    """`out` when it names a file scores can be written to (SCORE_SUFFIXES), else a
    UsagecastError before any work."""
    path = Path(out)
    if path.suffix.lower() not in SCORE_SUFFIXES:
        raise UsagecastError(
            f"{path}: scores are written as {' or '.join(SCORE_SUFFIXES)} (the file's "
            f"suffix says which), got {path.suffix or 'no suffix'!r}"
        )
    return path


def read_scores(path: Path) -> pd.DataFrame:
    """A scores file written by score_feature_set, Parquet or CSV, as a DataFrame."""
    if path.suffix.lower() == ".csv":
        columns = pd.read_csv(path, nrows=0).columns
        texts = {c: str for c in columns if c == "user_id" or REASON_VALUE.fullmatch(c)}
        return pd.read_csv(path, dtype=texts, parse_dates=["cutoff"])
    return pd.read_parquet(path)


@dataclass(frozen=True)
class ScoreSummary:
    """What `usagecast score` wrote."""

    out: Path
    rows: int
    cutoff: str
    model_uri: str
    model_version: str
    rows_from: str  # "scoring rows <fingerprint> (built|reused)" or "training build <fp>"
    # The rows' own cutoffs (first, last) when some differ from `cutoff`: a signup-relative
    # spec's rows hold each user's features as of signup + offset, not as of the scoring day.
    own_cutoffs: tuple[str, str] | None = None

    def summary(self) -> str:
        own = (
            ""
            if self.own_cutoffs is None
            else f"; each row's features are as of its user's own cutoff, "
            f"{self.own_cutoffs[0]} .. {self.own_cutoffs[1]} (column cutoff)"
        )
        return (
            f"scored {self.rows} eligible users at cutoff {self.cutoff} ({self.rows_from}) "
            f"with {self.model_uri} (version {self.model_version}) -> {self.out}{own}"
        )


def own_cutoffs(cutoffs: pd.Series, at: pd.Timestamp) -> tuple[str, str] | None:
    """The first and last of rows' own cutoffs (dates) when any differs from the scoring
    cutoff `at`, else None: signup-relative rows are each at their user's signup + offset."""
    days = pd.to_datetime(cutoffs)
    if days.empty or (days == at).all():
        return None
    return days.min().date().isoformat(), days.max().date().isoformat()


def model_version(client: MlflowClient, model_uri: str) -> str:
    """The registry version behind models:/NAME@alias or models:/NAME/N, else "unregistered"."""
    if not model_uri.startswith("models:/"):
        return "unregistered"
    name, at, alias = model_uri.removeprefix("models:/").partition("@")
    if at:
        return str(client.get_model_version_by_alias(name, alias).version)
    name, _, version = name.partition("/")
    return version if version.isdigit() else "unregistered"


def rows_at_cutoff(frame: pd.DataFrame, ref: str, cutoff: str | None) -> pd.DataFrame:
    """A built feature set's rows at one of its cutoffs (default: its latest)."""
    cutoffs = pd.to_datetime(frame["cutoff"])
    try:
        chosen = cutoffs.max() if cutoff is None else pd.Timestamp(cutoff)
    except ValueError as error:
        raise UsagecastError(f"--cutoff {cutoff!r}: not a date (use YYYY-MM-DD)") from error
    rows = frame[cutoffs == chosen]
    if rows.empty:
        available = sorted({c.date().isoformat() for c in cutoffs})
        raise UsagecastError(
            f"feature set {ref} has no rows at cutoff {cutoff}; cutoffs: {available}"
        )
    return rows


def reason_columns(contributions: pd.Series, reasons: int) -> dict[str, list]:
    """The served explanations' top contributions (a list of {feature, value, contribution}
    per row, largest magnitude first) as flat columns a CRM can import: reason_i (the
    feature), reason_i_value (its value as text: numbers and categories share the column)
    and reason_i_contribution (raw-score units, log-odds for a probability), i = 1..reasons."""
    columns: dict[str, list] = {}
    for i in range(reasons):
        chosen = [row[i] if i < len(row) else None for row in contributions]
        columns[f"reason_{i + 1}"] = [None if c is None else c["feature"] for c in chosen]
        columns[f"reason_{i + 1}_value"] = [
            None if c is None or c["value"] is None else str(c["value"]) for c in chosen
        ]
        columns[f"reason_{i + 1}_contribution"] = [
            None if c is None else float(c["contribution"]) for c in chosen
        ]
    return columns


def score_feature_set(
    feature_set_ref: str,
    model_uri: str,
    out: Path,
    cutoff: str | None = None,
    chunk_rows: int = 100_000,
    reasons: int = 0,
) -> ScoreSummary:
    """Score every eligible user of a feature set at one cutoff.

    `NAME@vN`: the scoring rows at `cutoff` (default: the latest, the day after the last
    event), built from the event store unless a build with their fingerprint exists.
    `NAME@vN/FINGERPRINT`: that build's rows at one of its cutoffs (default: its latest).
    Writes user_id, cutoff (the row's own: a signup-relative spec's features are at each
    user's cutoff), probability, label (the model's) and rank (1 = most likely) to Parquet or
    CSV (by `out`'s suffix), with the model URI and version, the rows' kind (scoring |
    training), the cutoff and both fingerprints (the scored rows' and the model's training
    rows'): in a Parquet file's metadata under the key `usagecast`, beside a CSV file in
    provenance_path. With `reasons` K > 0, each row also gets its K largest SHAP
    contributions, what the server's explain mode answers (reason_columns).
    """
    if reasons < 0:
        raise UsagecastError(f"--reasons {reasons}: give a number of reasons >= 0")
    out = checked_scores_path(out)
    checked_model_uri(model_uri)
    rows, manifest, at = _rows_to_score(feature_set_ref, cutoff)
    kind = manifest.kind
    fingerprint = manifest.fingerprint or ""
    if kind == "scoring":
        how = "reused" if manifest.reused else "built"
        rows_from = f"scoring rows {fingerprint}, {how}"
    else:
        rows_from = f"{kind} build {fingerprint}"
    activate_mlflow_tracking()
    client = MlflowClient()
    with tempfile.TemporaryDirectory(prefix="usagecast-score-") as tmp:
        model, feature_names = load_registered(model_uri, Path(tmp))
        trained_on = json.loads((Path(tmp) / METADATA_ARTIFACT).read_text()).get(
            "feature_set_fingerprint", ""
        )
        params = {"mode": "explain", "k": reasons} if reasons else None
        parts = [
            model.predict(rows.iloc[start : start + chunk_rows][feature_names], params=params)
            for start in tqdm(range(0, len(rows), chunk_rows), desc="scoring", unit="chunk")
        ]
    scored = pd.concat(parts, ignore_index=True)
    # A value model answers `value` (no label): ranked by predicted value instead.
    answer = ["value"] if "value" in scored.columns else ["probability", "label"]
    result = pd.DataFrame(
        {
            "user_id": rows["user_id"].to_numpy(),
            "cutoff": rows["cutoff"].to_numpy(),
            **{column: scored[column].to_numpy() for column in answer},
            **(reason_columns(scored["contributions"], reasons) if reasons else {}),
        }
    )
    result.insert(
        2 + len(answer),
        "rank",
        result[answer[0]].rank(method="first", ascending=False).astype("int64"),
    )
    result = result.sort_values("rank", kind="stable").reset_index(drop=True)
    chosen_cutoff = at.isoformat()
    version = model_version(client, model_uri)
    provenance = {
        "model_uri": model_uri,
        "model_version": version,
        "feature_set": feature_set_ref,
        "feature_set_fingerprint": fingerprint,
        "model_feature_set_fingerprint": trained_on,
        "kind": kind,
        "cutoff": chosen_cutoff,
        "scored_at": dt.datetime.now(dt.UTC).isoformat(),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".csv":
        result.to_csv(out, index=False, date_format="%Y-%m-%dT%H:%M:%S")
        provenance_path(out).write_text(json.dumps(provenance, indent=2) + "\n")
    else:
        table = pa.Table.from_pandas(result, preserve_index=False)
        metadata = {**(table.schema.metadata or {}), b"usagecast": json.dumps(provenance).encode()}
        pq.write_table(table.replace_schema_metadata(metadata), out)
    return ScoreSummary(
        out,
        len(result),
        chosen_cutoff,
        model_uri,
        version,
        rows_from,
        own_cutoffs(result["cutoff"], at),
    )


def _rows_to_score(
    ref: str, cutoff: str | None
) -> tuple[pd.DataFrame, FeatureSetManifest, pd.Timestamp]:
    """(rows, manifest, cutoff) for score_feature_set: scoring rows, or one named build's."""
    # lazily: the feature-set stack is heavy
    from features.featureset import load_feature_set, load_scoring_rows

    if BuildRef.parse(ref).fingerprint is not None:
        frame, manifest = load_feature_set(ref)
        rows = rows_at_cutoff(frame, ref, cutoff)
        return rows, manifest, pd.Timestamp(rows["cutoff"].iloc[0])
    rows, manifest = load_scoring_rows(ref, cutoff)
    at = pd.Timestamp(manifest.scoring_cutoff)
    if rows.empty:
        raise UsagecastError(
            f"feature set {ref} has no eligible user to score at cutoff {at.date()} "
            f"(scoring rows {manifest.fingerprint})"
        )
    return rows, manifest, at
