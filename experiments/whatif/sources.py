"""The one what-if module that reads the outside world: the registered model, the feature
rows it reads, the users table and, for simulated data, the simulation's config.

Model and feature rows come through registry/ (the same helpers `usagecast score` uses), so a
what-if sees exactly the rows and the model that batch scoring would.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import sqlglot
import sqlglot.expressions as exp
from mlflow.exceptions import MlflowException
from mlflow.pyfunc import PyFuncModel
from mlflow.tracking import MlflowClient

from contracts.errors import UsagecastError
from contracts.lineage import feature_set_of
from contracts.manifest import FeatureSetManifest
from contracts.refs import BuildRef
from contracts.workspace import event_store_path
from events.store import EVENTS, USER_ATTRIBUTES, USERS, StoreMissingError, open_store
from features.featureset.spec import FeatureDef
from features.workspace import activate_mlflow_tracking
from registry import load_registered, model_version, rows_at_cutoff
from serving import Scorer


@dataclass(frozen=True)
class LoadedModel:
    """A served model loaded from the registry, with where it came from."""

    uri: str
    version: str
    feature_set: str  # NAME@vN it was trained on
    pyfunc: PyFuncModel
    scorer: Scorer

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self.scorer.metadata.feature_names


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _trained_on(client: MlflowClient, model_uri: str, version: str) -> str | None:
    """The `feature_set` tag of the model version, else of the run that logged it."""
    if version == "unregistered":
        return None
    name = model_uri.removeprefix("models:/").partition("@")[0].partition("/")[0]
    registered = client.get_model_version(name, version)
    trained_on = feature_set_of(registered.tags)
    if trained_on is None and registered.run_id:
        trained_on = feature_set_of(client.get_run(registered.run_id).data.tags)
    return None if trained_on is None else str(trained_on)


def load_model(model_uri: str) -> LoadedModel:
    """Download and load a served model; an unknown model is a one-line user error."""
    activate_mlflow_tracking()
    client = MlflowClient()
    try:
        version = model_version(client, model_uri)
        with tempfile.TemporaryDirectory(prefix="usagecast-whatif-") as folder:
            pyfunc, _ = load_registered(model_uri, Path(folder))
        trained_on = _trained_on(client, model_uri, version)
    except (MlflowException, OSError) as error:
        reason = _first_line(error)
        raise UsagecastError(f"model {model_uri!r}: cannot load it ({reason})") from None
    scorer = pyfunc.unwrap_python_model().scorer
    return LoadedModel(
        model_uri, version, trained_on or scorer.metadata.feature_set, pyfunc, scorer
    )


def scoring_rows(feature_set: str, cutoff: str | None) -> tuple[pd.DataFrame, FeatureSetManifest]:
    """The feature set's scoring rows at the cutoff (default: the latest, the day after the
    last event), as `usagecast score` reads them, and their manifest."""
    from features.featureset import load_scoring_rows  # lazily: the feature-set stack is heavy

    return load_scoring_rows(BuildRef.parse(feature_set).ref, cutoff)


def feature_rows(feature_set: str, cutoff: str | None) -> tuple[pd.DataFrame, FeatureSetManifest]:
    """The feature set's rows at the cutoff (default: the latest) and its manifest."""
    from features import load_feature_set  # lazily: the feature-set stack is heavy

    frame, manifest = load_feature_set(feature_set)
    return rows_at_cutoff(frame, feature_set, cutoff).reset_index(drop=True), manifest


@dataclass(frozen=True)
class PolicyRows:
    """The rows a policy what-if changes, the training build's manifest (label, couplings),
    the day the rows stand at, the fingerprint of the build they come from and, for a
    signup-relative feature set, who they are (None for a calendar cutoff's rows)."""

    rows: pd.DataFrame
    manifest: FeatureSetManifest
    day: str
    fingerprint: str
    whose: str | None = None


def policy_rows(feature_set: str, cutoff: str | None) -> PolicyRows:
    """A calendar feature set's rows at the cutoff (default: its latest). A signup-relative
    one's latest cutoff holds only one day's signups, so its rows are the scoring rows at the
    day instead (default: the day after the last event): every user whose signup + offset
    has passed and whose outcome is still open then, each at their own cutoff, as `score`
    and `whatif --user` read them."""
    from features import load_feature_set  # lazily: the feature-set stack is heavy

    frame, manifest = load_feature_set(feature_set)
    offset = manifest.row_rule.after_signup_days
    if offset is None:
        rows = rows_at_cutoff(frame, feature_set, cutoff).reset_index(drop=True)
        day = pd.Timestamp(rows["cutoff"].iloc[0]).date().isoformat()
        return PolicyRows(rows, manifest, day, manifest.fingerprint or "")
    rows, scoring = scoring_rows(feature_set, cutoff)
    day = pd.Timestamp(scoring.scoring_cutoff).date().isoformat()
    if rows.empty:
        raise UsagecastError(
            f"{feature_set} has no user at signup + {offset} days whose outcome is still "
            f"open on {day}: no row for a policy (--cutoff picks another day)"
        )
    whose = f"users at signup + {offset} days whose outcome is still open on {day}"
    return PolicyRows(rows.reset_index(drop=True), manifest, day, scoring.fingerprint or "", whose)


def user_columns() -> dict[str, str]:
    """Columns of the event store's users table a segment may name, with their kind:
    `static` (known at signup, and signup_time) or `snapshot` (read at export time).
    Empty when there is no event store."""
    try:
        con = open_store(event_store_path())
    except StoreMissingError:
        return {}
    try:
        rows = con.execute(f"SELECT name, kind FROM {USER_ATTRIBUTES}").fetchall()
    finally:
        con.close()
    return {"signup_time": "static", **{str(name): str(kind) for name, kind in rows}}


@dataclass(frozen=True)
class UserHistory:
    """What the event store knows of one user before a cutoff: signup, last event, first
    event of a type (a conversion)."""

    signup_time: pd.Timestamp | None
    last_event: pd.Timestamp | None
    first_of_type: pd.Timestamp | None


def user_history(user_id: str, cutoff: str, event_type: str | None) -> UserHistory | None:
    """The user's history before `cutoff` (ISO), `first_of_type` of `event_type`; None when
    the users table has no such user (or there is no event store)."""
    try:
        con = open_store(event_store_path())
    except StoreMissingError:
        return None
    try:
        signup = con.execute(
            f"SELECT signup_time FROM {USERS} WHERE user_id = ?", [user_id]
        ).fetchall()
        if not signup:
            return None
        last, first = con.execute(
            f"SELECT max(event_time), min(event_time) FILTER (WHERE event_type = ?) "
            f"FROM {EVENTS} WHERE user_id = ? AND event_time < CAST(? AS TIMESTAMP)",
            [event_type, user_id, cutoff],
        ).fetchone()
    finally:
        con.close()
    return UserHistory(
        *(None if v is None else pd.Timestamp(v) for v in (signup[0][0], last, first))
    )


def users(columns: tuple[str, ...]) -> pd.DataFrame:
    """user_id plus the named columns of the users table."""
    con = open_store(event_store_path())
    try:
        query = sqlglot.select(*(exp.column(c, quoted=True) for c in ("user_id", *columns)))
        return con.execute(query.from_(USERS).sql("duckdb")).df()
    finally:
        con.close()


def feature_definition(feature_set: str, name: str) -> FeatureDef | None:
    """How the spec of `feature_set` defines the column `name` (None when it is not found)."""
    from features.featureset import expand_features, load_spec

    try:
        features = expand_features(load_spec(BuildRef.parse(feature_set).ref))
    except UsagecastError:
        return None
    return next((feature for feature in features if feature.name == name), None)
