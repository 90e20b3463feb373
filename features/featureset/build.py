"""Build a feature set: spec + event store -> rows, manifest, leakage scan -> the store.

Same spec + same data + same sample = same fingerprint, and an existing build with that
fingerprint is reused instead of recomputed. The engine is not part of the fingerprint: DuckDB
and Spark give identical rows (the parity test keeps it so).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from contracts.errors import UsagecastError
from contracts.manifest import FeatureSetManifest, plain_json
from contracts.refs import BuildRef, FeatureSetRef
from contracts.workspace import event_store_path
from events.store import (
    EVENTS,
    ITEM_ATTRIBUTES,
    USER_ATTRIBUTES,
    USERS,
    StoreMissingError,
    attribute_catalog,
    check_event_columns,
    check_item_columns,
    data_granularity,
    latest_dataset_digest,
    latest_ingest_value,
    open_store,
    store_tables,
)
from features.engines import Engine, check_engine_name, open_engine
from features.featureset import store
from features.featureset.catalog import list_specs, load_spec
from features.featureset.compiler import (
    STATUSES,
    Dialect,
    calendar_cutoff_dates,
    compile_feature_query,
    render,
)
from features.featureset.leakage import scan_label_proxies, snapshot_like_unit
from features.featureset.progress import Stages, stage_progress
from features.featureset.references import Category, check_references, spec_references
from features.featureset.spec import (
    FEATURE_KINDS,
    ITEM_KINDS,
    FeatureDef,
    FeatureSetSpec,
    SpecError,
    derive_couplings,
    expand_features,
    natural_bounds,
    spec_hash,
    spec_to_dict,
)

logger = logging.getLogger(__name__)
# Stages of a training build: checks, the feature query, the leak scan, writing.
BUILD_STAGES = 4

INTEGER_KINDS = (
    "count",
    "active_days",
    "sessions",
    "area_count",
    "item_count",
    "tenure",
    "distinct_items",
    "distinct_areas",
)
# Above this many distinct cutoffs (signup-relative ones are per user) the manifest keeps
# eligibility totals only.
MAX_CUTOFFS_LISTED = 60
MAX_DATES_SHOWN = 4  # of the calendar cutoffs without rows, in `features build`'s summary


class LeakageError(UsagecastError):
    """A feature looks like a proxy of the label and was not explicitly allowed."""


@dataclass(frozen=True)
class BuildResult:
    """What `features build` made (or found already built)."""

    ref: str
    fingerprint: str
    path: Path
    rows: int
    label_rate: float | None
    reused: bool
    manifest: FeatureSetManifest
    couplings_updated: bool = False


def fingerprint_of(
    spec_digest: str,
    data_digest: str,
    sample: tuple[float, int] | None,
    scoring_cutoff: dt.date | None = None,
    granularity: str = "timestamp",
) -> str:
    """hash(spec, data, sample[, scoring cutoff][, date granularity]): the identity of a
    build's rows. Date-only data ends at the midnight after its last date, which changes
    censoring: such builds get fingerprints of their own."""
    payload: dict = {
        "spec_hash": spec_digest,
        "data_digest": data_digest,
        "sample": None if sample is None else {"fraction": sample[0], "seed": sample[1]},
    }
    if scoring_cutoff is not None:
        payload["scoring_cutoff"] = scoring_cutoff.isoformat()
    if granularity != "timestamp":
        payload["granularity"] = granularity
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def _sample_pair(sample: float | None, seed: int | None) -> tuple[float, int] | None:
    """None for a full build; (fraction, seed) for a user sample (seed 0 unless given)."""
    if sample is None or sample == 1.0:
        return None
    if not 0.0 < sample < 1.0:
        raise UsagecastError(f"--sample must be a fraction in (0, 1], got {sample}")
    return float(sample), int(seed or 0)


# Per kind of name a spec refers to: the table holding it and the query of its values.
STORE_NAMES: dict[Category, tuple[str, str]] = {
    "event type": (
        EVENTS,
        f"SELECT DISTINCT event_type FROM {EVENTS} WHERE event_type IS NOT NULL",
    ),
    "area": (EVENTS, f"SELECT DISTINCT area FROM {EVENTS} WHERE area IS NOT NULL"),
    "item attribute": (ITEM_ATTRIBUTES, f"SELECT name FROM {ITEM_ATTRIBUTES}"),
    "user attribute": (USER_ATTRIBUTES, f"SELECT name FROM {USER_ATTRIBUTES}"),
}


def _store_names(con, spec: FeatureSetSpec) -> dict[Category, frozenset[str]]:
    """The store's values of each kind of name the spec refers to (only the kinds it uses)."""
    tables = store_tables(con)
    used = {ref.category for ref in spec_references(spec)}
    names: dict[Category, frozenset[str]] = {}
    for category in used:
        table, sql = STORE_NAMES[category]
        rows = con.execute(sql).fetchall() if table in tables else []
        names[category] = frozenset(str(row[0]) for row in rows)
    return names


def _declared_attributes(con) -> dict[str, tuple[str, str]]:
    """The store's user attributes: name -> (kind, dtype)."""
    return {name: (kind, dtype) for name, kind, dtype in attribute_catalog(con, USER_ATTRIBUTES)}


def _stored_attribute(
    declared: dict[str, tuple[str, str]], name: str, spec: FeatureSetSpec, reader: str = ""
) -> str:
    """The dtype of a stored user attribute a feature reads; unknown and snapshot ones are
    refused (`reader` prefixes the message: which derived attribute reads it).

    Snapshot attributes are read at export time (e.g. last login), so at any earlier cutoff
    they carry information from after it.
    """
    if name not in declared:
        raise SpecError(
            f"{spec.ref}: {reader}user attribute {name!r} is not in the event store; "
            f"declared attributes: {', '.join(sorted(declared)) or 'none'}"
        )
    kind, dtype = declared[name]
    if kind == "snapshot":
        raise SpecError(
            f"{spec.ref}: {reader}user attribute {name!r} is a snapshot (read when the data "
            "was exported, after every cutoff), so as a feature it would leak the future "
            "into past rows; use only static attributes or derive it from events"
        )
    return dtype


def _attribute_dtypes(con, spec: FeatureSetSpec, features: tuple[FeatureDef, ...]) -> dict:
    """Check user/item attributes the spec reads; return user attribute name -> dtype.

    A derived attribute may read static user attributes of any dtype; one of the store's
    attributes used as a feature itself must be categorical or numeric.
    """
    declared = _declared_attributes(con)
    derived = {attribute.name: attribute for attribute in spec.derived_attributes}
    shadowed = sorted(set(derived) & set(declared))
    if shadowed:
        raise SpecError(
            f"{spec.ref}: derived attribute(s) {', '.join(shadowed)} take the name of a stored "
            "user attribute; give them another name"
        )
    dtypes = {}
    for feature in features:
        if feature.kind != "attribute":
            continue
        if feature.name in derived:
            for column in derived[feature.name].columns:
                _stored_attribute(declared, column, spec, f"derived attribute {feature.name!r}: ")
            dtypes[feature.name] = derived[feature.name].dtype
            continue
        dtype = _stored_attribute(declared, feature.name, spec)
        if dtype not in ("categorical", "numeric"):
            raise SpecError(
                f"{spec.ref}: user attribute {feature.name!r} has dtype {dtype}; only "
                "categorical and numeric attributes can be features (a derived attribute can "
                "read it: derived_attributes)"
            )
        dtypes[feature.name] = dtype
    _check_related_via(declared, spec)
    if any(f.kind in ITEM_KINDS for f in features):
        _check_item_attributes(con, spec, [f for f in features if f.kind in ITEM_KINDS])
    return dtypes


# The item attributes' dtype each kind reads: a mean of numbers, a count per category.
ITEM_KIND_DTYPES = {"item_mean": "numeric", "item_count": "categorical"}
MAX_VALUES_SHOWN = 20  # of an item attribute's values, when a spec names an unknown one


def _check_item_attributes(con, spec: FeatureSetSpec, features: Sequence[FeatureDef]) -> None:
    """item_mean reads numeric and item_count categorical item attributes, static ones: a
    snapshot (a popularity counted at export time) would carry plays after the cutoff into
    past rows. item_count's values must be among the attribute's stored values."""
    declared = {
        name: (dtype, kind) for name, kind, dtype in attribute_catalog(con, ITEM_ATTRIBUTES)
    }
    for kind, dtype in ITEM_KIND_DTYPES.items():
        names = sorted({f.attribute for f in features if f.kind == kind})
        wrong = [a for a in names if declared[a][0] != dtype]
        if wrong:
            right = sorted(name for name, (d, _) in declared.items() if d == dtype)
            raise SpecError(
                f"{spec.ref}: {kind} needs {dtype} item attributes; {', '.join(wrong)} "
                f"are not ({dtype}: {', '.join(right) or 'none'})"
            )
        snapshots = [a for a in names if declared[a][1] == "snapshot"]
        if snapshots:
            raise SpecError(
                f"{spec.ref}: {kind} reads item attribute(s) {', '.join(snapshots)}, a "
                "snapshot (read when the data was exported, after every cutoff), so as a "
                "feature it would leak the future into past rows; use static item attributes"
            )
    for attribute in sorted({f.attribute for f in features if f.kind == "item_count"}):
        _check_item_values(con, spec, attribute, features)


def _check_item_values(
    con, spec: FeatureSetSpec, attribute: str, features: Sequence[FeatureDef]
) -> None:
    """Each value an item_count entry counts is one the items table holds for `attribute`."""
    counted = (f for f in features if f.kind == "item_count" and f.attribute == attribute)
    wanted = {f.item_value for f in counted}
    stored = [
        value
        for (value,) in con.execute(
            f'SELECT DISTINCT "{attribute}" FROM items WHERE "{attribute}" IS NOT NULL ORDER BY 1'
        ).fetchall()
    ]
    unknown = sorted(v for v in wanted if v not in set(stored))
    if unknown:
        shown = ", ".join(json.dumps(v) for v in stored[:MAX_VALUES_SHOWN])
        hidden = len(stored) - MAX_VALUES_SHOWN
        more = f" and {hidden} more" if hidden > 0 else ""
        raise SpecError(
            f"{spec.ref}: item_count counts {attribute} {', '.join(map(json.dumps, unknown))}, "
            f"which no item has (its values: {shown or 'none'}{more})"
        )


# The dtypes a `related` entry's `via` attribute may have, per relation: a group gathers the
# users sharing a value, a reference names one user by id.
RELATED_VIA_DTYPES: dict[str, tuple[str, ...]] = {
    "group": ("categorical", "numeric", "user_id"),
    "reference": ("user_id",),
}


def _check_related_via(declared: dict[str, tuple[str, str]], spec: FeatureSetSpec) -> None:
    """Each `related` entry's `via` is a stored static users attribute of a dtype its relation
    can read (a snapshot one would relate users by what was known only at export time)."""
    for i, group in enumerate(spec.features):
        if group.kind != "related" or group.via is None or group.relation is None:
            continue
        reader = f"features[{i}].via: "
        dtype = _stored_attribute(declared, group.via, spec, reader)
        allowed = RELATED_VIA_DTYPES[group.relation]
        if dtype not in allowed:
            raise SpecError(
                f"{spec.ref}: {reader}user attribute {group.via!r} has dtype {dtype}; "
                f"relation {group.relation} needs {' or '.join(allowed)}"
                + (
                    " (declare it `dtype: user_id` in the dataset config and ingest again)"
                    if group.relation == "reference"
                    else ""
                )
            )


def _numeric_columns_read(con, spec: FeatureSetSpec, features: tuple[FeatureDef, ...]) -> list:
    """Stored numeric user attributes the features read, directly or through a derived one."""
    declared = _declared_attributes(con)
    derived = {attribute.name: attribute for attribute in spec.derived_attributes}
    read = [
        column
        for feature in features
        if feature.kind == "attribute"
        for column in (
            derived[feature.name].columns if feature.name in derived else (feature.name,)
        )
    ]
    return [name for name in dict.fromkeys(read) if declared[name][1] == "numeric"]


def _refuse_snapshot_like(con, spec: FeatureSetSpec, frame: pd.DataFrame, columns: list) -> None:
    """Refuse a numeric attribute whose values read as epoch times after the rows' cutoffs
    (features/featureset/leakage.py, snapshot_like_unit): a snapshot declared static."""
    if not columns or frame.empty:
        return
    start, end = con.execute(f"SELECT MIN(event_time), MAX(event_time) FROM {EVENTS}").fetchone()
    if start is None:
        return
    users = con.execute(f"SELECT user_id, {', '.join(columns)} FROM {USERS}").df()
    rows = frame[["user_id", "cutoff"]].merge(
        users.astype({"user_id": "str"}), on="user_id", how="left"
    )
    for column in columns:
        unit = snapshot_like_unit(rows[column], rows["cutoff"], start, end)
        if unit is not None:
            raise SpecError(
                f"{spec.ref}: user attribute {column!r} is declared static numeric, but most of "
                f"its values read as epoch {unit} inside the data's time range and after the "
                "rows' cutoffs: a timestamp read at export time, which would leak the future "
                "into past rows. In the dataset config declare it `kind: snapshot` (if it was "
                "read at export time) or `dtype: timestamp`, and ingest again; or derive the "
                "feature from events (e.g. `kind: recency`)"
            )


def feature_dtype(feature: FeatureDef, attribute_dtypes: dict[str, str]) -> str:
    """numeric | categorical, as the manifest states it."""
    if feature.kind == "attribute":
        return attribute_dtypes[feature.name]
    if feature.kind == "last" and feature.field != "value":
        return "categorical"
    return "numeric"


def normalise_frame(
    frame: pd.DataFrame,
    spec: FeatureSetSpec,
    features: tuple[FeatureDef, ...],
    attribute_dtypes: dict[str, str],
    *,
    labelled: bool = True,
) -> pd.DataFrame:
    """One set of column types whatever the engine returned (int64, float64, str, timestamp).

    Unlabelled (scoring) rows keep the `label` column, empty (float NaN), so training and
    scoring rows have the same columns.
    """
    label_type = "float64" if spec.label.is_regression or not labelled else "int64"
    label = frame["label"] if labelled else pd.Series(float("nan"), index=frame.index)
    columns = {
        "user_id": frame["user_id"].astype("str"),
        "cutoff": pd.to_datetime(frame["cutoff"]).astype("datetime64[us]"),
        "label": label.astype(label_type),
    }
    for feature in features:
        values = frame[feature.name]
        if feature.kind in INTEGER_KINDS:
            columns[feature.name] = values.astype("int64")
        elif feature_dtype(feature, attribute_dtypes) == "categorical":
            columns[feature.name] = values.astype("str")
        else:
            columns[feature.name] = values.astype("float64")
    result = pd.DataFrame(columns)
    return result.sort_values(["cutoff", "user_id"], kind="stable").reset_index(drop=True)


def compute_rows(
    runner: Engine,
    spec: FeatureSetSpec,
    sample: tuple[float, int] | None,
    attribute_dtypes: dict[str, str],
    granularity: str = "timestamp",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run the spec's query on an engine: (normalised kept rows, counts per cutoff/status)."""
    raw = runner.query(compile_feature_query(spec, sample, granularity))
    return split_query_result(raw, spec, attribute_dtypes)


def split_query_result(
    raw: pd.DataFrame, spec: FeatureSetSpec, attribute_dtypes: dict[str, str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The result of the spec's query (compile_feature_query's columns): (normalised kept
    rows, counts per cutoff/status)."""
    statuses = (
        raw.groupby(["cutoff", "status"], as_index=False)
        .agg(rows=("user_id", "size"), end_time=("end_of_data", "max"))
        .sort_values(["cutoff", "status"], ignore_index=True)
    )
    kept = raw[raw["status"] == "kept"]
    return normalise_frame(kept, spec, expand_features(spec), attribute_dtypes), statuses


def _eligibility(statuses: pd.DataFrame) -> dict:
    """Candidate counts by status, in total and (for few cutoffs) per cutoff."""
    counts = {"candidates": int(statuses["rows"].sum())}
    for status in STATUSES:
        counts[status] = int(statuses.loc[statuses["status"] == status, "rows"].sum())
    cutoffs = pd.to_datetime(statuses["cutoff"])
    if cutoffs.nunique() <= MAX_CUTOFFS_LISTED:
        table = statuses.assign(cutoff=cutoffs.dt.strftime("%Y-%m-%dT%H:%M:%S")).pivot_table(
            index="cutoff", columns="status", values="rows", aggfunc="sum", fill_value=0
        )
        counts["by_cutoff"] = {
            cutoff: {status: int(n) for status, n in row.items()}
            for cutoff, row in table.iterrows()
        }
    return counts


def _feature_entries(
    frame: pd.DataFrame, features: tuple[FeatureDef, ...], attribute_dtypes: dict[str, str]
) -> list[dict]:
    entries = []
    for feature in features:
        dtype = feature_dtype(feature, attribute_dtypes)
        lower, upper = natural_bounds(feature)
        entry = {
            "name": feature.name,
            "dtype": dtype,
            "kind": feature.kind,
            "window_days": feature.window_days,
            "min": lower,
            "max": upper,
        }
        if dtype == "categorical":
            entry["levels"] = sorted(frame[feature.name].dropna().unique().tolist())
        entries.append(entry)
    return entries


def _actionable_entries(
    spec: FeatureSetSpec, features: tuple[FeatureDef, ...], frame: pd.DataFrame
) -> list[dict]:
    """Actionable features with finite bounds: the spec's, else the feature's natural bounds,
    else the range observed in the built rows (what-if search needs a box to search in)."""
    by_name = {feature.name: feature for feature in features}
    entries = []
    for action in spec.actionable:
        natural_lower, natural_upper = natural_bounds(by_name[action.feature])
        observed = frame[action.feature].dropna()
        seen_lower = float(observed.min()) if len(observed) else 0.0
        seen_upper = float(observed.max()) if len(observed) else 0.0
        lower = next(v for v in (action.lower, natural_lower, seen_lower) if v is not None)
        upper = next(v for v in (action.upper, natural_upper, seen_upper) if v is not None)
        entries.append(
            {
                "name": action.feature,
                "direction": action.direction,
                "lower": lower,
                "upper": max(upper, lower),
                "integer": action.integer,
                "cost": action.cost_per_unit,
                # Only when declared: manifests of specs without priors stay as they were.
                **({} if action.causal is None else {"causal": action.causal}),
            }
        )
    return entries


def _iso(value) -> str | None:
    return None if pd.isna(value) else pd.Timestamp(value).isoformat()


def manifest_header(
    kind: str,
    spec: FeatureSetSpec,
    frame: pd.DataFrame,
    fingerprint: str,
    data_digest: str,
    sample: tuple[float, int] | None,
    engine: str,
    build_seconds: float,
) -> dict:
    """The part of a manifest that training and scoring builds share: what made the rows."""
    return {
        "kind": kind,
        "ref": spec.ref,
        "name": spec.name,
        "version": spec.version,
        "fingerprint": fingerprint,
        "spec": spec_to_dict(spec),
        "spec_hash": spec_hash(spec),
        "data_digest": data_digest,
        "sample": None if sample is None else {"fraction": sample[0], "seed": sample[1]},
        "engine": engine,
        "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "build_seconds": round(build_seconds, 3),
        "rows": len(frame),
        "users": int(frame["user_id"].nunique()),
    }


def cutoff_span(frame: pd.DataFrame) -> dict:
    """First and last cutoff of the rows and how many distinct ones (None when empty)."""
    return {
        "min": _iso(frame["cutoff"].min()) if len(frame) else None,
        "max": _iso(frame["cutoff"].max()) if len(frame) else None,
        "distinct": int(frame["cutoff"].nunique()),
    }


def calendar_cutoffs_without_rows(
    calendar: tuple[dt.date, ...], statuses: pd.DataFrame
) -> dict[str, list[str]]:
    """The calendar cutoffs that gave no row, by why: no user had signed up before them
    (`no_candidates`), or every candidate was dropped as inactive, converted or censored."""
    candidates = pd.to_datetime(statuses["cutoff"]).dt.date
    kept = set(candidates[statuses["status"] == "kept"])
    seen = set(candidates)
    return {
        "no_candidates": [d.isoformat() for d in calendar if d not in seen],
        "all_dropped": [d.isoformat() for d in calendar if d in seen and d not in kept],
    }


def build_manifest(
    spec: FeatureSetSpec,
    frame: pd.DataFrame,
    statuses: pd.DataFrame,
    *,
    data_digest: str,
    fingerprint: str,
    sample: tuple[float, int] | None,
    engine: str,
    attribute_dtypes: dict[str, str],
    leakage: dict,
    build_seconds: float,
    granularity: str = "timestamp",
) -> FeatureSetManifest:
    """Everything downstream needs to trust and use the rows."""
    features = expand_features(spec)
    label = spec.label
    eligibility = _eligibility(statuses)
    calendar = calendar_cutoff_dates(spec.cutoffs.calendar) if spec.cutoffs.calendar else ()
    return FeatureSetManifest.from_dict(
        {
            **manifest_header(
                "training", spec, frame, fingerprint, data_digest, sample, engine, build_seconds
            ),
            "label": {
                "kind": label.kind,
                "horizon_days": "ever" if label.horizon_days is None else label.horizon_days,
                "long_horizon": label.horizon_days is None,
                "event_type": label.event_type,
                "min_days": label.min_days,
                "window_days": label.window_days,
                "dtype": "float" if label.is_regression else "binary",
            },
            "label_rate": None if frame.empty else round(float(frame["label"].mean()), 6),
            "positives": None if label.is_regression else int((frame["label"] == 1).sum()),
            "cutoffs": {
                **cutoff_span(frame),
                "calendar": [d.isoformat() for d in calendar],
                "calendar_without_rows": calendar_cutoffs_without_rows(calendar, statuses),
                "after_signup_days": spec.cutoffs.after_signup.offset_days
                if spec.cutoffs.after_signup
                else None,
                "after_signup_anchor": spec.cutoffs.after_signup.anchor
                if spec.cutoffs.after_signup
                else None,
            },
            "end_of_data": _iso(statuses["end_time"].max()) if len(statuses) else None,
            "data_granularity": granularity,
            "censored": {
                "rows": eligibility["censored"],
                "rule": "dropped when cutoff + horizon > end_of_data ("
                + (
                    "the midnight after the last date: event times are dates only)"
                    if granularity == "date"
                    else "the latest event_time)"
                ),
            },
            "eligibility": eligibility,
            "leakage": leakage,
            "columns": ["user_id", "cutoff", "label", *(f.name for f in features)],
            "features": _feature_entries(frame, features, attribute_dtypes),
            "actionable": _actionable_entries(spec, features, frame),
            "couplings": list(derive_couplings(features)),
        }
    )


def _scan(spec: FeatureSetSpec, frame: pd.DataFrame, dtypes: dict[str, str]) -> dict:
    if spec.label.is_regression:
        return {
            "skipped": "regression label (value_within): no univariate AUC",
            "flagged": [],
            "warned": [],
        }
    return scan_label_proxies(frame, dtypes)


# Feature kinds computed from the user's own events before each cutoff (or their signup):
# point in time by construction, so a label proxy among them is an easy question, no leak.
BEHAVIOUR_KINDS = (frozenset(FEATURE_KINDS) - {"attribute", "related"}) | {
    "gap_mean",
    "gap_last",
    "gap_ratio",
}


def _check_leaks(
    spec: FeatureSetSpec,
    leakage: dict,
    allow_leaky: tuple[str, ...],
    features: Sequence[FeatureDef],
) -> None:
    unexplained = [name for name in leakage["flagged"] if name not in allow_leaky]
    if unexplained:
        scores = ", ".join(f"{name} (AUC {leakage['scores'][name]:.3f})" for name in unexplained)
        flags = " ".join(f"--allow-leaky {name}" for name in unexplained)
        raise LeakageError(
            f"{spec.ref}: feature(s) predict the label almost alone, a sign they see the "
            f"future: {scores}; fix the spec, or if you are sure, rebuild with {flags}"
            + _behaviour_note(spec, unexplained, features)
        )


def _behaviour_note(
    spec: FeatureSetSpec, flagged: Sequence[str], features: Sequence[FeatureDef]
) -> str:
    """What to make of flagged features computed from the user's own earlier events: they
    cannot read the label's events, so the question may be the easy one."""
    kinds = {f.name: f.kind for f in features}
    behaviour = [name for name in flagged if kinds.get(name) in BEHAVIOUR_KINDS]
    if not behaviour:
        return ""
    churn = (
        " (a churn label: users it counts as churned had mostly left already; ask it of "
        "recently active users with a shorter eligibility.active_within_days)"
        if spec.label.kind == "churn"
        else ""
    )
    return (
        f". {', '.join(behaviour)}: computed from each user's events before the cutoff, so "
        f"no window reads the label's events; one behaviour feature this telling means an "
        f"easy question{churn}"
    )


class DatasetMismatchError(UsagecastError):
    """The spec was written for another dataset than the one the event store holds."""


def check_dataset(con, spec: FeatureSetSpec, path: Path) -> None:
    """Refuse a spec whose `dataset:` is not the dataset the store's latest ingest loaded.

    A store written before ingests recorded the dataset's name is not checked.
    """
    stored = latest_ingest_value(con, "dataset")
    if stored is not None and stored != spec.dataset:
        raise DatasetMismatchError(
            f"{spec.ref}: the spec is for dataset {spec.dataset!r}, but the event store {path} "
            f"holds dataset {stored!r}; ingest {spec.dataset!r} first (usagecast ingest "
            "DATASET.yaml), or fix the spec's `dataset:`"
        )


def open_checked_store(path: Path, spec: FeatureSetSpec):
    """The event store, open, and its data digest; a missing or outdated store, a store of
    another dataset, or a spec naming event types, areas or attributes the store lacks, is a
    user error."""
    try:
        con = open_store(path)
    except StoreMissingError as error:
        raise UsagecastError(str(error)) from None
    try:
        data_digest = latest_dataset_digest(con)
        check_event_columns(con)
        check_dataset(con, spec, path)
        check_references(spec, _store_names(con, spec))
        if any(group.kind in ITEM_KINDS for group in spec.features):
            check_item_columns(con)  # an items table, read as of each event's time
    except StoreMissingError as error:
        con.close()
        raise UsagecastError(str(error)) from None
    except UsagecastError:
        con.close()
        raise
    return con, data_digest


def build_feature_set(
    ref: str | FeatureSetRef,
    engine: str = "duckdb",
    sample: float | None = None,
    seed: int | None = None,
    allow_leaky: Iterable[str] = (),
    *,
    store_path: Path | None = None,
    sets_dir: Path | None = None,
    force: bool = False,
    progress: bool = False,
) -> BuildResult:
    """Materialise `name@vN` from the event store (or reuse the build with its fingerprint);
    `progress` shows a stage bar on stderr."""
    with stage_progress(f"build {ref}", BUILD_STAGES, progress) as begin:
        return _build_feature_set(
            ref, engine, sample, seed, allow_leaky, store_path, sets_dir, force, begin
        )


def _build_feature_set(
    ref: str | FeatureSetRef,
    engine: str,
    sample: float | None,
    seed: int | None,
    allow_leaky: Iterable[str],
    store_path: Path | None,
    sets_dir: Path | None,
    force: bool,
    begin: Stages,
) -> BuildResult:
    started = time.perf_counter()
    begin("checking the spec and the event store")
    engine = check_engine_name(engine)
    spec = load_spec(ref, sets_dir)
    parsed = FeatureSetRef.of(ref)
    features = expand_features(spec)
    allowed = tuple(allow_leaky)
    unknown = sorted(set(allowed) - {f.name for f in features})
    if unknown:
        raise SpecError(f"--allow-leaky {', '.join(unknown)}: not a feature of {spec.ref}")
    sample_pair = _sample_pair(sample, seed)
    path = store_path or event_store_path()
    con, data_digest = open_checked_store(path, spec)
    try:
        attribute_dtypes = _attribute_dtypes(con, spec, features)
        granularity = data_granularity(con)
        fingerprint = fingerprint_of(
            spec_hash(spec), data_digest, sample_pair, granularity=granularity
        )
        target = store.build_dir(parsed, fingerprint)
        existing = store.read_manifest(target)
        if existing is not None and not force:
            couplings = derive_couplings(features)
            updated = plain_json(existing.couplings) != list(couplings)
            if updated:  # written by an earlier usagecast: a pure function of the features
                existing = existing.with_couplings(couplings)
                store.replace_manifest(existing, target)
            store.mark_latest(parsed, fingerprint)
            return BuildResult(
                spec.ref,
                fingerprint,
                target,
                existing.rows,
                existing.label_rate,
                True,
                existing,
                couplings_updated=updated,
            )
        begin(f"computing rows on {engine}")
        runner = open_engine(
            engine, path, connection=con, on_step=lambda step: begin(step, within=True)
        )
        try:
            frame, statuses = compute_rows(
                runner, spec, sample_pair, attribute_dtypes, granularity
            )
        finally:
            runner.close()
        _refuse_snapshot_like(con, spec, frame, _numeric_columns_read(con, spec, features))
    finally:
        con.close()
    begin("scanning for label leaks")
    feature_dtypes = {f.name: feature_dtype(f, attribute_dtypes) for f in features}
    leakage = {**_scan(spec, frame, feature_dtypes), "allowed": list(allowed)}
    _check_leaks(spec, leakage, allowed, features)
    manifest = build_manifest(
        spec,
        frame,
        statuses,
        data_digest=data_digest,
        fingerprint=fingerprint,
        sample=sample_pair,
        engine=engine,
        attribute_dtypes=attribute_dtypes,
        leakage=leakage,
        build_seconds=time.perf_counter() - started,
        granularity=granularity,
    )
    begin("writing")
    store.write_build(frame, manifest, target)
    store.mark_latest(parsed, fingerprint)
    return BuildResult(
        spec.ref, fingerprint, target, len(frame), manifest.label_rate, False, manifest
    )


def load_feature_set(
    ref: str | FeatureSetRef | BuildRef,
) -> tuple[pd.DataFrame, FeatureSetManifest]:
    """Rows and manifest of a built feature set: `name@vN` (latest build) or `name@vN/FP`."""
    build = BuildRef.of(ref)
    try:
        path = store.resolve_build(build.ref, build.fingerprint)
    except SpecError:
        load_spec(build.ref)  # no such spec: say that, not "build it first"
        raise
    frame, manifest = store.read_build(path)
    if build.fingerprint is None and manifest.sample_fraction is not None:
        logger.warning(sampled_latest_notice(str(build.ref), manifest))
    return frame, manifest


def sampled_latest_notice(ref: str, manifest: FeatureSetManifest) -> str:
    """Said when a bare NAME@vN resolves to a sample build: easy to miss after `--sample`."""
    return (
        f"note: {ref} is its latest build {manifest.fingerprint}, a "
        f"{manifest.sample_fraction:.0%} user sample (seed {manifest.sample_seed}, "
        f"{manifest.rows} rows); "
        f"`usagecast features build {ref}` makes the full build the latest, or name one "
        f"build as {ref}/FINGERPRINT"
    )


def list_feature_sets(sets_dir: Path | None = None) -> list[dict]:
    """Every spec in the catalog, where it comes from, and its builds (newest first)."""
    builds = store.list_builds()
    return [
        {
            "ref": str(entry.ref),
            "origin": entry.origin,
            "path": str(entry.path),
            "builds": sorted(
                (b for b in builds if b["ref"] == str(entry.ref)),
                key=lambda b: b["built_at"],
                reverse=True,
            ),
        }
        for entry in list_specs(sets_dir)
    ]


def compile_sql(ref: str, dialect: Dialect = "duckdb", sets_dir: Path | None = None) -> str:
    """The SQL that builds `name@vN`'s rows, in DuckDB or Spark dialect."""
    if dialect not in ("duckdb", "spark"):
        raise UsagecastError(f"dialect {dialect!r} is not known; use duckdb or spark")
    return render(compile_feature_query(load_spec(ref, sets_dir)), dialect)


def format_build(result: BuildResult) -> str:
    """The few lines `features build` prints."""
    rate = "n/a" if result.label_rate is None else f"{result.label_rate:.4f}"
    manifest = result.manifest
    positives = manifest.positives
    counted = "" if positives is None else f"  positives {positives}"
    lines = [
        f"{result.ref}  fingerprint {result.fingerprint}"
        + ("  (reused)" if result.reused else "")
        + ("  what-if couplings updated to this usagecast's" if result.couplings_updated else ""),
        f"rows {result.rows}{counted}  label rate {rate}  cutoffs {manifest.first_cutoff} .. "
        f"{manifest.last_cutoff}",
        f"dropped: inactive {manifest.count('inactive')}  converted "
        f"{manifest.count('converted')}  censored {manifest.count('censored')}",
        f"written to {result.path}",
    ]
    lines.extend(_cutoffs_without_rows_lines(manifest.calendar_without_rows))
    scores = manifest.leakage_scores
    for title, names in (
        ("allowed leak suspects", manifest.leakage_flagged),
        ("leak warnings (label-proxy AUC >= 0.90)", manifest.leakage_warned),
    ):
        if names:
            lines.append(f"{title}: " + ", ".join(f"{n} (AUC {scores[n]:.3f})" for n in names))
    return "\n".join(lines)


def _cutoffs_without_rows_lines(without_rows: Mapping[str, tuple[str, ...]]) -> list[str]:
    """One line per reason a calendar cutoff gave no row, listing a few of its dates."""
    reasons = {
        "no_candidates": "no user had signed up before them",
        "all_dropped": "every candidate was dropped (see dropped:)",
    }
    lines = []
    for why, dates in without_rows.items():
        if dates:
            shown = ", ".join(dates[:MAX_DATES_SHOWN]) + (
                " ..." if len(dates) > MAX_DATES_SHOWN else ""
            )
            lines.append(f"calendar cutoffs without rows: {len(dates)} ({shown}): {reasons[why]}")
    return lines


def format_listing(entries: list[dict]) -> str:
    """`features list`: each spec and where it comes from, then its builds (latest: *)."""
    lines = []
    for entry in entries:
        built = "" if entry["builds"] else "  (not built)"
        lines.append(f"{entry['ref']}  {entry['origin']}  {entry['path']}{built}")
        for build in entry["builds"]:
            mark = "*" if build["latest"] else " "
            lines.append(
                f"  {mark} {build['fingerprint']}  rows {build['rows']}  built {build['built_at']}"
            )
    return "\n".join(lines)
