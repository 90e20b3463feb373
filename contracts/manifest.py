"""The feature-set manifest: what a build holds, frozen, schema-versioned, to and from JSON.

A build's manifest.json is written by features.featureset and read by every later stage
(tuning, scoring, promotion, monitoring, what-if, analytics) through this type's fields and
properties, never by key. Decisions:
- Schema version 1 is the shape written so far, without a `schema_version` key: existing
  workspaces and logged models keep loading, and the bytes written stay the same. A later
  shape writes its number; a number this code does not know is refused.
- Keys are written back in the order they were read (or built), so a manifest round-trips
  byte for byte. A key of neither kind is an error naming it; keys may be absent (hand-made
  or partial manifests), and reading one that is absent says which key is missing.
- `path` (where the build lies) and `reused` (a scoring build found, not built) are facts of
  the reading, not of the build: they are never written.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any, Literal

from contracts.errors import UsagecastError
from contracts.refs import FeatureSetRef

SCHEMA_VERSION = 1
Kind = Literal["training", "scoring"]
HEADER_KEYS = (
    "kind",
    "ref",
    "name",
    "version",
    "fingerprint",
    "spec",
    "spec_hash",
    "data_digest",
    "sample",
    "engine",
    "built_at",
    "build_seconds",
    "rows",
    "users",
)
TRAINING_KEYS = frozenset(
    (
        *HEADER_KEYS,
        "label",
        "label_rate",
        "positives",
        "cutoffs",
        "end_of_data",
        "data_granularity",
        "censored",
        "eligibility",
        "leakage",
        "columns",
        "features",
        "actionable",
        "couplings",
    )
)
SCORING_KEYS = frozenset(
    (
        *HEADER_KEYS,
        "cutoff",
        "population",
        "label_rate",
        "feature_cutoffs",
        "end_of_data",
        "eligibility",
        "columns",
        "features",
    )
)
# Facts of the reading, never written to manifest.json.
READING_FIELDS = ("path", "reused")


class ManifestError(UsagecastError):
    """A manifest that is not one this code can read, or lacks a key a reader needs."""


def _frozen(value: Any) -> Any:
    """A JSON value that cannot change: mappings become read-only, lists tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({key: _frozen(item) for key, item in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_frozen(item) for item in value)
    return value


def plain_json(value: Any) -> Any:
    """The plain (mutable) JSON value of a frozen one: a copy a caller may keep or change."""
    if isinstance(value, Mapping):
        return {key: plain_json(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [plain_json(item) for item in value]
    return value


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


@dataclass(frozen=True)
class Label:
    """The manifest's label section."""

    kind: str | None
    event_type: str | None
    horizon_days: int | None  # None: a long-horizon ("ever") label
    long_horizon: bool
    dtype: str | None
    min_days: int | None  # an adoption label's active days within window_days
    window_days: int | None


@dataclass(frozen=True)
class RowRule:
    """Who gets a row, from the manifest's spec: eligibility at a cutoff (active within N
    days, not converted to an event type) and, for signup-relative cutoffs, their offset."""

    active_within_days: int | None
    not_converted: str | None
    after_signup_days: int | None  # None: calendar cutoffs only


@dataclass(frozen=True)
class FeatureEntry:
    """One feature column as the manifest declares it."""

    name: str
    dtype: str
    kind: str | None
    levels: tuple[str, ...]


@dataclass(frozen=True)
class FeatureSetManifest:
    """A build's manifest. JSON sections (spec, counts, leakage, actionable, couplings) stay
    read-only JSON values; what stages read from them has a typed property. Made by
    `from_dict` / `from_json`, which record the keys `to_json` writes back."""

    kind: Kind = "training"
    ref: FeatureSetRef | None = None
    name: str | None = None
    version: int | None = None
    fingerprint: str | None = None
    spec: Mapping[str, Any] | None = None
    spec_hash: str | None = None
    data_digest: str | None = None
    sample: Mapping[str, Any] | None = None
    engine: str | None = None
    built_at: str | None = None
    build_seconds: float | None = None
    rows: int | None = None
    users: int | None = None
    label_section: Mapping[str, Any] | None = None
    label_rate: float | None = None
    positives: int | None = None
    cutoffs: Mapping[str, Any] | None = None
    end_of_data: str | None = None
    data_granularity: str | None = None
    censored: Mapping[str, Any] | None = None
    eligibility: Mapping[str, Any] | None = None
    leakage: Mapping[str, Any] | None = None
    columns: tuple[str, ...] | None = None
    feature_section: tuple[Mapping[str, Any], ...] | None = None
    actionable: tuple[Mapping[str, Any], ...] = ()
    couplings: tuple[Mapping[str, Any], ...] = ()
    cutoff: str | None = None
    population: str | None = None
    feature_cutoffs: Mapping[str, Any] | None = None
    schema_version: int = SCHEMA_VERSION
    # The keys read or built, in their order: what to_json writes back.
    keys: tuple[str, ...] = ()
    path: str | None = field(default=None, compare=False)
    reused: bool | None = field(default=None, compare=False)

    # -- reading and writing -------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "manifest") -> FeatureSetManifest:
        """Read a manifest's JSON object; `where` (its file) names it in errors."""
        if not isinstance(data, Mapping):
            raise ManifestError(f"{where}: a manifest is a JSON object, not {type(data).__name__}")
        version = data.get("schema_version", SCHEMA_VERSION)
        if version != SCHEMA_VERSION:
            raise ManifestError(
                f"{where}: schema_version {version!r} is not one this usagecast reads "
                f"(it reads {SCHEMA_VERSION}); upgrade usagecast or rebuild the feature set"
            )
        kind = data.get("kind", "training")
        if kind not in ("training", "scoring"):
            raise ManifestError(f"{where}: kind {kind!r} is neither training nor scoring")
        allowed = TRAINING_KEYS if kind == "training" else SCORING_KEYS
        keys = tuple(key for key in data if key != "schema_version")
        unknown = [key for key in keys if key not in allowed]
        if unknown:
            raise ManifestError(
                f"{where}: unknown key(s) {', '.join(map(repr, unknown))} in a {kind} manifest "
                f"(known: {', '.join(sorted(allowed))})"
            )
        values = {_FIELD_OF.get(key, key): _frozen(value) for key, value in data.items()}
        values.pop("schema_version", None)
        if "ref" in values:
            values["ref"] = FeatureSetRef.parse(values["ref"])
        return cls(**values, keys=keys)

    @classmethod
    def from_json(cls, text: str, where: str = "manifest") -> FeatureSetManifest:
        """Parse manifest.json's text."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ManifestError(f"{where}: not valid JSON ({error})") from None
        return cls.from_dict(data, where)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object, keys in the order they were read or built."""
        data = {}
        for key in self.keys:
            value = getattr(self, _FIELD_OF.get(key, key))
            data[key] = str(value) if key == "ref" else plain_json(value)
        return data

    def to_json(self) -> str:
        """manifest.json's text."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=False)

    def __reduce__(self) -> tuple:
        # Rebuilt from its JSON: read-only mappings do not pickle (spawned workers, notebooks).
        return (_rebuilt, (self.to_dict(), self.path, self.reused))

    def located(self, path: str) -> FeatureSetManifest:
        """The manifest with where its build lies."""
        return replace(self, path=path)

    def with_reused(self, reused: bool) -> FeatureSetManifest:
        """The manifest noting whether its build was found rather than built."""
        return replace(self, reused=reused)

    def with_couplings(self, couplings: Sequence[Mapping[str, Any]]) -> FeatureSetManifest:
        """The manifest with other what-if couplings (written after `actionable` when it had
        none)."""
        keys = self.keys if "couplings" in self.keys else (*self.keys, "couplings")
        return replace(self, couplings=_frozen(list(couplings)), keys=keys)

    # -- what stages read ----------------------------------------------------------------

    def _required(self, key: str) -> Any:
        value = getattr(self, _FIELD_OF.get(key, key))
        if key not in self.keys or value is None:
            raise ManifestError(
                f"{self.ref or 'feature set'} (build {self.fingerprint}): its manifest has no "
                f"'{key}'; rebuild it with `usagecast features build {self.ref} --force`"
            )
        return value

    @property
    def feature_set(self) -> FeatureSetRef:
        """The reference the build was made from."""
        return self._required("ref")

    @property
    def label(self) -> Label:
        """The label section (a scoring manifest has none)."""
        section = self._required("label")
        horizon = section.get("horizon_days")
        long_horizon = bool(section.get("long_horizon")) or horizon == "ever"
        return Label(
            kind=section.get("kind"),
            event_type=section.get("event_type"),
            horizon_days=None if long_horizon else _optional_int(horizon),
            long_horizon=long_horizon,
            dtype=section.get("dtype"),
            min_days=_optional_int(section.get("min_days")),
            window_days=_optional_int(section.get("window_days")),
        )

    @property
    def row_rule(self) -> RowRule:
        """The spec's eligibility and signup-relative offset the rows were built with."""
        spec = self._required("spec")
        eligibility = spec.get("eligibility") or {}
        after_signup = (spec.get("cutoffs") or {}).get("after_signup") or {}
        return RowRule(
            active_within_days=_optional_int(eligibility.get("active_within_days")),
            not_converted=eligibility.get("not_converted"),
            after_signup_days=_optional_int(after_signup.get("offset_days")),
        )

    @property
    def has_label(self) -> bool:
        """Whether the manifest states its label (training builds do)."""
        return self.label_section is not None

    @property
    def features(self) -> tuple[FeatureEntry, ...]:
        """The feature columns in model order."""
        return tuple(
            FeatureEntry(
                name=str(entry["name"]),
                dtype=str(entry.get("dtype", "numeric")),
                kind=entry.get("kind"),
                levels=tuple(str(level) for level in entry.get("levels") or ()),
            )
            for entry in self._required("features")
        )

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(entry.name for entry in self.features)

    @property
    def sample_fraction(self) -> float | None:
        """The user sample's fraction, None for a full build."""
        return None if not self.sample else float(self.sample["fraction"])

    @property
    def sample_seed(self) -> int | None:
        return None if not self.sample else int(self.sample["seed"])

    @property
    def leakage_flagged(self) -> tuple[str, ...]:
        """Features allowed at build although they predict the label almost alone."""
        return tuple((self.leakage or {}).get("flagged", ()))

    @property
    def leakage_warned(self) -> tuple[str, ...]:
        return tuple((self.leakage or {}).get("warned", ()))

    @property
    def leakage_scores(self) -> Mapping[str, float]:
        """Each scored feature's univariate AUC against the label."""
        return (self.leakage or {}).get("scores", MappingProxyType({}))

    @property
    def leakage_skipped(self) -> str | None:
        """Why the leak scan did not run, None when it did."""
        return (self.leakage or {}).get("skipped")

    def count(self, status: str) -> int:
        """Rows of one eligibility status (candidates, kept, inactive, converted, censored,
        scored) the build counted."""
        counts = self._required("eligibility")
        if status not in counts:
            raise ManifestError(f"{self.ref}: its manifest counts no {status!r} rows")
        return int(counts[status])

    @property
    def first_cutoff(self) -> str | None:
        """The earliest row cutoff (ISO), None when there are no rows."""
        return self._cutoff_span().get("min")

    @property
    def last_cutoff(self) -> str | None:
        """The latest row cutoff (ISO), None when there are no rows."""
        return self._cutoff_span().get("max")

    @property
    def calendar_without_rows(self) -> Mapping[str, tuple[str, ...]]:
        """Calendar cutoffs that gave no row, by why (`no_candidates`, `all_dropped`); empty
        for a scoring build and for manifests written before it was recorded."""
        if self.kind == "scoring":
            return {}
        recorded = self._cutoff_span().get("calendar_without_rows", {})
        return {why: tuple(dates) for why, dates in recorded.items()}

    def _cutoff_span(self) -> Mapping[str, Any]:
        return self._required("feature_cutoffs" if self.kind == "scoring" else "cutoffs")

    @property
    def scoring_cutoff(self) -> str:
        """The one cutoff a scoring build holds (ISO)."""
        return self._required("cutoff")


def _rebuilt(data: dict[str, Any], path: str | None, reused: bool | None) -> FeatureSetManifest:
    return replace(FeatureSetManifest.from_dict(data), path=path, reused=reused)


def manifest_fields() -> frozenset[str]:
    """The field names that hold a manifest key (the rest are facts of the reading)."""
    return frozenset(f.name for f in fields(FeatureSetManifest)) - _NOT_KEYS


# Keys whose field has another name (a property of that name is the typed view).
_FIELD_OF = {"label": "label_section", "features": "feature_section"}
_NOT_KEYS = frozenset({"keys", "schema_version", *READING_FIELDS})
