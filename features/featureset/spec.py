"""Feature-set specs: frozen dataclasses parsed from YAML, with errors that name the key.

A spec says which rows exist (cutoffs x eligible users), what each row's label is (computed
only from events at or after its cutoff) and which features it carries (computed only from
events strictly before its cutoff). Feature names follow one fixed scheme, so downstream code
(what-if constraints, couplings, dashboards) can rely on them:

    count_<TYPE>_<w>d            events of TYPE in the w days before the cutoff
    active_days_<w>d             distinct calendar days (UTC) with any event in the window
    sessions_<w>d                distinct session ids in the window
    days_since_last_event        whole calendar days from the last event's date to the cutoff's
    days_since_last_<TYPE>       the same for events of TYPE (empty when there is none)
    tenure_days                  whole calendar days from the signup date to the cutoff date
                                 (0, never negative, for a date-anchored cutoff on signup day)
    value_sum_<TYPE>_<w>d        sum of `value` over events of TYPE in the window (0 when none)
    ratio_<NUM>_per_<DEN>_<w>d   count_NUM / count_DEN in the window (empty when DEN is 0)
    area_<AREA>_<w>d             events in product area AREA in the window
    mean_item_<ATTR>_<w>d        mean item attribute ATTR over the window's events with an item
    count_item_<ATTR>_<NAME>_<w>d
                                 events in the window whose item's categorical attribute ATTR
                                 is the value NAME stands for (a product type, a genre)
    mean_gap_days_<TYPE>         mean days between consecutive distinct dates with an event of
                                 TYPE, over all history before the cutoff (empty below 2 dates)
    last_gap_days_<TYPE>         days between the last two such dates (empty below 2 dates)
    days_since_last_per_mean_gap_<TYPE>
                                 days_since_last_<TYPE> / mean_gap_days_<TYPE> (empty below 2)
    trend_<TYPE>_<w>d            (count in [cutoff - w, cutoff) + 1) /
                                 (count in [cutoff - 2w, cutoff - w) + 1): 1 when both are 0
    distinct_items_<w>d          distinct item ids over the window's events (0 when none);
    distinct_items_<TYPE>_<w>d   the same over events of TYPE
    distinct_areas_<w>d          distinct product areas over the window's events (0 when
                                 none): how broadly the product is used
    distinct_areas_<TYPE>_<w>d   the same over events of TYPE
    value_mean_<TYPE>_<w>d       value_sum_<TYPE>_<w>d / count_<TYPE>_<w>d (a missing value
                                 counts as 0, as in the sum; empty when there is no event)
    last_<FIELD>                 the non-empty FIELD (area, item_id or value) of the latest
                                 event strictly before the cutoff, over all history (the
                                 greatest FIELD among events at that instant; empty when
                                 none): a plan, tier or device as of the cutoff
    last_<FIELD>_<TYPE>          the same over events of TYPE
    <attribute>                  a static user attribute, by its name (channel, city, ...),
                                 or a derived attribute of the spec (`derived_attributes`:
                                 an SQL expression over user columns, features/featureset/
                                 derived.py)

Related-entity features (`kind: related`, `via` a static user attribute, `prefix` P) read the
users related to the row's user through `via`: `relation: group` the other users with the
same value, `relation: reference` the one user whose id is the value; the row's own user is
never one of them. Empty for every row whose `via` value is blank:
    P_count_<TYPE>_<w>d          events of TYPE by the related users in the window
    P_active_days_<w>d           distinct dates in the window with a related user's event
    P_sessions_<w>d              distinct (related user, session id) pairs in the window
    P_users                      related users signed up before the cutoff
    P_label_rate                 share of label 1 among the related users' rows of this
                                 feature set whose label window closed by the cutoff
                                 (cutoff + horizon <= this row's cutoff; empty when none)

Signup-relative cutoffs (`after_signup: {offset_days: N, anchor: date | timestamp}`) sit N
days after the signup's calendar date at 00:00 UTC (`anchor: date`, the default) or N days
after the signup instant (`anchor: timestamp`). Exports often log events as dates only (at
00:00): with the date anchor the whole signup day is on the label side at offset 0 and
day-granular windows count whole days; with the timestamp anchor a date-only event on the
signup day falls before a cutoff at signup + 0 days. The canonical form (and so the hash)
leaves out `anchor: timestamp`, the meaning every spec had before anchors existed, so
released specs that state it keep their hash; a released spec without the key now means
`date`, and the lock refuses it as an edit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

from contracts.errors import UsagecastError
from contracts.names import SPEC_NAME_RULE, is_spec_name, plain_name_for
from features.featureset.derived import (
    DERIVED_DTYPES,
    DerivedAttributeError,
    canonical_sql,
    referenced_columns,
)

LabelKind = Literal["event_within", "active_days_in_window", "churn", "value_within"]
# A spec entry's `kind:`.
SpecFeatureKind = Literal[
    "count",
    "active_days",
    "sessions",
    "recency",
    "tenure",
    "value_sum",
    "ratio",
    "area_count",
    "item_mean",
    "item_count",
    "attribute",
    "gaps",
    "trend",
    "distinct_items",
    "distinct_areas",
    "value_mean",
    "last",
    "related",
]
# A FeatureDef's kind: a spec kind, or a column a `gaps` or `related` entry expands to.
FeatureKind = Literal[
    SpecFeatureKind,
    "gap_mean",
    "gap_last",
    "gap_ratio",
    "related_count",
    "related_active_days",
    "related_sessions",
    "related_users",
    "related_label_rate",
]
Relation = Literal["group", "reference"]
Direction = Literal["increase", "decrease", "both"]
Causal = Literal["increases", "decreases"]
SignupAnchor = Literal["date", "timestamp"]

LABEL_KINDS: tuple[str, ...] = get_args(LabelKind)
FEATURE_KINDS: tuple[str, ...] = get_args(SpecFeatureKind)
# Kinds whose `event_types` key is required (it is optional for recency, item_mean,
# item_count, distinct_items, distinct_areas and last: without it they read events of any
# type).
TYPED_KINDS: tuple[str, ...] = ("count", "value_sum", "gaps", "trend", "value_mean")
# Kinds reading the items table (an item's attributes, as of the event's time).
ITEM_KINDS: frozenset[str] = frozenset({"item_mean", "item_count"})
# The event column whose distinct values a `distinct_*` kind counts.
DISTINCT_COLUMNS: dict[str, str] = {"distinct_items": "item_id", "distinct_areas": "area"}
# The event columns a `last` entry may read (its `field`); the first two are categorical.
LAST_FIELDS: tuple[str, ...] = ("area", "item_id", "value")
# The columns of a `gaps` entry: (FeatureDef kind, name pattern over the event type).
GAP_NAMES: tuple[tuple[str, str], ...] = (
    ("gap_mean", "mean_gap_days_{}"),
    ("gap_last", "last_gap_days_{}"),
    ("gap_ratio", "days_since_last_per_mean_gap_{}"),
)
GAP_KINDS: tuple[str, ...] = tuple(kind for kind, _ in GAP_NAMES)
RELATIONS: tuple[str, ...] = ("group", "reference")
# A `related` entry's aggregates: the ones read over a window of the related users' events,
# and the others.
RELATED_WINDOWED: tuple[str, ...] = ("count", "active_days", "sessions")
RELATED_AGGREGATES: tuple[str, ...] = (*RELATED_WINDOWED, "users", "label_rate")
RELATED_KINDS: tuple[str, ...] = tuple(f"related_{name}" for name in RELATED_AGGREGATES)
# FeatureGroup fields only a `related` entry sets: left out of other entries' canonical form,
# so the specs released before related entries existed keep their hash.
RELATED_FIELDS: tuple[str, ...] = ("via", "relation", "prefix", "aggregates")
DIRECTIONS: tuple[str, ...] = ("increase", "decrease", "both")
CAUSAL_EFFECTS: tuple[str, ...] = ("increases", "decreases")
SIGNUP_ANCHORS: tuple[str, ...] = ("date", "timestamp")
DEFAULT_SIGNUP_ANCHOR: SignupAnchor = "date"
EVER = "ever"


class SpecError(UsagecastError):
    """A feature-set spec is malformed; the message names the file and key path."""


def first_of_month_from(day: dt.date) -> dt.date:
    """The first day of a month on or after `day`: where `every: month` puts a cutoff."""
    return day if day.day == 1 else (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


@dataclass(frozen=True)
class CalendarCutoffs:
    """Cutoffs on the calendar: every `every_days` days, or every month start, start..end."""

    start: dt.date
    end: dt.date
    every_days: int | None = None
    every_month: bool = False


@dataclass(frozen=True)
class SignupCutoffs:
    """One cutoff per user, offset_days (e.g. 14: "from the first two weeks") after the
    signup's calendar date at 00:00 UTC (anchor `date`) or after its timestamp."""

    offset_days: int
    anchor: SignupAnchor = DEFAULT_SIGNUP_ANCHOR


@dataclass(frozen=True)
class Cutoffs:
    """Calendar cutoffs, signup-relative cutoffs, or both (rows are deduplicated)."""

    calendar: CalendarCutoffs | None = None
    after_signup: SignupCutoffs | None = None


@dataclass(frozen=True)
class Eligibility:
    """Who gets a row at a cutoff (besides having signed up before it)."""

    active_within_days: int | None = None
    not_converted: str | None = None


@dataclass(frozen=True)
class Label:
    """What happens in [cutoff, cutoff + horizon); horizon None means `ever` (end of data)."""

    kind: LabelKind
    horizon_days: int | None
    event_type: str | None = None
    min_days: int | None = None
    window_days: int | None = None

    @property
    def is_regression(self) -> bool:
        """value_within is a float target; every other kind is 0/1."""
        return self.kind == "value_within"


@dataclass(frozen=True)
class FeatureGroup:
    """One `features:` entry; it expands to one column per (event type | area) x window."""

    kind: FeatureKind
    windows: tuple[int, ...] = ()
    event_types: tuple[str, ...] = ()
    areas: tuple[str, ...] = ()
    attribute: str | None = None
    numerator: str | None = None
    denominator: str | None = None
    names: tuple[str, ...] = ()
    via: str | None = None
    relation: Relation | None = None
    prefix: str | None = None
    aggregates: tuple[str, ...] = ()
    field: str | None = None  # a `last` entry's event column (LAST_FIELDS)
    # An item_count entry's (name, value) pairs: the value of the item attribute each counts
    # and the plain name its columns carry.
    values: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Actionable:
    """A feature the business can move, for the what-if search; all others are immutable.

    `causal` is a known causal prior: raising the feature `increases` or `decreases` the
    label's probability, all else equal (None: unknown). Training may turn it into a
    monotone constraint (`usagecast tune --monotone true`); `direction` is only which way the
    business may move the feature.
    """

    feature: str
    direction: Direction
    lower: float | None
    upper: float | None
    integer: bool
    cost_per_unit: float
    causal: Causal | None = None


@dataclass(frozen=True)
class DerivedAttribute:
    """A user attribute computed from stored user columns (features/featureset/derived.py).

    `expression` is the canonical (sqlglot-written) text; `columns` the user columns it reads.
    """

    name: str
    expression: str
    dtype: Literal["numeric", "categorical"]
    columns: tuple[str, ...]


@dataclass(frozen=True)
class FeatureSetSpec:
    """A whole feature-set spec, `name@v<version>`."""

    name: str
    version: int
    description: str
    dataset: str
    cutoffs: Cutoffs
    eligibility: Eligibility
    label: Label
    features: tuple[FeatureGroup, ...]
    actionable: tuple[Actionable, ...] = ()
    derived_attributes: tuple[DerivedAttribute, ...] = ()

    @property
    def ref(self) -> str:
        """The `name@vN` reference."""
        return f"{self.name}@v{self.version}"


@dataclass(frozen=True)
class FeatureDef:
    """One output column: its name, how it is computed and over which window."""

    name: str
    kind: FeatureKind
    window_days: int | None = None
    event_type: str | None = None
    area: str | None = None
    attribute: str | None = None
    numerator: str | None = None
    denominator: str | None = None
    via: str | None = None
    relation: Relation | None = None
    prefix: str | None = None
    field: str | None = None
    item_value: str | None = None  # item_count: the item attribute's value counted


# Allowed keys per kind of `features:` entry ("kind" is always allowed and required).
FEATURE_KEYS: dict[str, tuple[str, ...]] = {
    "count": ("windows", "event_types"),
    "active_days": ("windows",),
    "sessions": ("windows",),
    "recency": ("event_types",),
    "tenure": (),
    "value_sum": ("windows", "event_types"),
    "ratio": ("windows", "numerator", "denominator"),
    "area_count": ("windows", "areas"),
    "item_mean": ("windows", "attribute", "event_types"),
    "item_count": ("windows", "attribute", "values", "event_types"),
    "attribute": ("names",),
    "gaps": ("event_types",),
    "trend": ("windows", "event_types"),
    "distinct_items": ("windows", "event_types"),
    "distinct_areas": ("windows", "event_types"),
    "value_mean": ("windows", "event_types"),
    "last": ("field", "event_types"),
    "related": ("via", "relation", "prefix", "aggregates", "event_types", "windows"),
}
LABEL_KEYS: dict[str, tuple[str, ...]] = {
    "event_within": ("event_type", "horizon_days"),
    "active_days_in_window": ("horizon_days", "min_days", "window_days"),
    "churn": ("horizon_days",),
    "value_within": ("horizon_days", "event_type"),
}


def _check_keys(
    raw: Any, path: str, allowed: tuple[str, ...], required: tuple[str, ...] = ()
) -> Mapping[str, Any]:
    """Fail on a non-mapping, an unknown key or a missing required key, naming the path."""
    if not isinstance(raw, Mapping):
        raise SpecError(f"{path}: expected a mapping with keys {', '.join(allowed)}")
    for key in raw:
        if key not in allowed:
            raise SpecError(
                f"{path}.{key}: unknown key {key!r}; allowed keys: {', '.join(allowed)}"
            )
    for key in required:
        if key not in raw:
            raise SpecError(f"{path}.{key}: required key is missing")
    return raw


def _int(raw: Any, path: str, minimum: int = 1) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < minimum:
        raise SpecError(f"{path}: expected an integer >= {minimum}, got {raw!r}")
    return raw


def _number(raw: Any, path: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise SpecError(f"{path}: expected a number, got {raw!r}")
    return float(raw)


def _identifier(raw: Any, path: str) -> str:
    if not isinstance(raw, str) or not is_spec_name(raw):
        raise SpecError(f"{path}: expected a plain name ({SPEC_NAME_RULE}), got {raw!r}")
    return raw


def _event_type(raw: Any, path: str) -> str:
    """An event type: a plain name; one the data spells otherwise is renamed at ingest."""
    if isinstance(raw, str) and not is_spec_name(raw):
        raise SpecError(
            f"{path}: expected a plain name ({SPEC_NAME_RULE}), got {raw!r}; rename it at "
            f"ingest in the dataset config: rules: {{event_types: {{rename: "
            f"{{{json.dumps(raw)}: {plain_name_for(raw)}}}}}}}"
        )
    return _identifier(raw, path)


def _identifiers(
    raw: Any, path: str, check: Callable[[Any, str], str] = _identifier
) -> tuple[str, ...]:
    if not isinstance(raw, list) or not raw:
        raise SpecError(f"{path}: expected a non-empty list, got {raw!r}")
    names = tuple(check(item, f"{path}[{i}]") for i, item in enumerate(raw))
    if len(set(names)) != len(names):
        raise SpecError(f"{path}: duplicate entries in {list(names)}")
    return names


def _windows(raw: Any, path: str) -> tuple[int, ...]:
    if not isinstance(raw, list) or not raw:
        raise SpecError(f"{path}: expected a non-empty list of window lengths in days")
    windows = tuple(_int(item, f"{path}[{i}]") for i, item in enumerate(raw))
    if len(set(windows)) != len(windows):
        raise SpecError(f"{path}: duplicate windows in {list(windows)}")
    return windows


def _date(raw: Any, path: str) -> dt.date:
    if isinstance(raw, dt.datetime):
        raise SpecError(f"{path}: expected a date (YYYY-MM-DD), got a timestamp {raw}")
    if isinstance(raw, dt.date):
        return raw
    try:
        return dt.date.fromisoformat(str(raw))
    except ValueError:
        raise SpecError(f"{path}: expected a date (YYYY-MM-DD), got {raw!r}") from None


def _choice(raw: Any, path: str, allowed: tuple[str, ...]) -> str:
    if raw not in allowed:
        raise SpecError(f"{path}: {raw!r} is not allowed; use one of: {', '.join(allowed)}")
    return raw


def _parse_calendar(raw: Any, path: str) -> CalendarCutoffs:
    data = _check_keys(raw, path, ("start", "end", "every"), ("start", "end", "every"))
    start, end = _date(data["start"], f"{path}.start"), _date(data["end"], f"{path}.end")
    if end < start:
        raise SpecError(f"{path}.end: {end} is before start {start}")
    every = data["every"]
    if every == "month":
        first = first_of_month_from(start)
        if first > end:
            raise SpecError(
                f"{path}: `every: month` puts a cutoff on the first day of each month, and "
                f"none lies between {start} and {end} (the next is {first}); move start to a "
                "first of the month or end past one"
            )
        return CalendarCutoffs(start=start, end=end, every_month=True)
    if isinstance(every, int) and not isinstance(every, bool):
        return CalendarCutoffs(start=start, end=end, every_days=_int(every, f"{path}.every"))
    raise SpecError(f"{path}.every: expected `month` or a number of days, got {every!r}")


def _parse_cutoffs(raw: Any, path: str) -> Cutoffs:
    data = _check_keys(raw, path, ("calendar", "after_signup"))
    if not data:
        raise SpecError(f"{path}: give `calendar`, `after_signup` or both")
    calendar = (
        _parse_calendar(data["calendar"], f"{path}.calendar") if "calendar" in data else None
    )
    after_signup = None
    if "after_signup" in data:
        signup = _check_keys(
            data["after_signup"],
            f"{path}.after_signup",
            ("offset_days", "anchor"),
            ("offset_days",),
        )
        anchor = signup.get("anchor", DEFAULT_SIGNUP_ANCHOR)
        after_signup = SignupCutoffs(
            offset_days=_int(signup["offset_days"], f"{path}.after_signup.offset_days", minimum=0),
            anchor=_choice(anchor, f"{path}.after_signup.anchor", SIGNUP_ANCHORS),  # type: ignore[arg-type]
        )
    return Cutoffs(calendar=calendar, after_signup=after_signup)


def _parse_eligibility(raw: Any, path: str) -> Eligibility:
    data = _check_keys(raw or {}, path, ("active_within_days", "not_converted"))
    active = data.get("active_within_days")
    converted = data.get("not_converted")
    return Eligibility(
        active_within_days=None if active is None else _int(active, f"{path}.active_within_days"),
        not_converted=None
        if converted is None
        else _event_type(converted, f"{path}.not_converted"),
    )


def _parse_horizon(raw: Any, path: str) -> int | None:
    if raw == EVER:
        return None
    return _int(raw, f"{path} (days or `ever`)")


def _parse_label(raw: Any, path: str) -> Label:
    all_keys = ("kind", "event_type", "horizon_days", "min_days", "window_days")
    kind = _choice(_check_keys(raw, path, all_keys).get("kind"), f"{path}.kind", LABEL_KINDS)
    required = {
        "event_within": ("kind", "event_type", "horizon_days"),
        "active_days_in_window": ("kind", "horizon_days", "min_days", "window_days"),
        "churn": ("kind", "horizon_days"),
        "value_within": ("kind", "horizon_days"),
    }[kind]
    data = _check_keys(raw, path, ("kind", *LABEL_KEYS[kind]), required)
    event_type = data.get("event_type")
    label = Label(
        kind=kind,  # type: ignore[arg-type]
        horizon_days=_parse_horizon(data["horizon_days"], f"{path}.horizon_days"),
        event_type=None if event_type is None else _event_type(event_type, f"{path}.event_type"),
        min_days=None if "min_days" not in data else _int(data["min_days"], f"{path}.min_days"),
        window_days=None
        if "window_days" not in data
        else _int(data["window_days"], f"{path}.window_days"),
    )
    if (label.min_days or 0) > (label.window_days or label.min_days or 0):
        raise SpecError(
            f"{path}.min_days: {label.min_days} distinct days cannot fit in a "
            f"{label.window_days}-day window"
        )
    return label


def _parse_feature_group(raw: Any, path: str) -> FeatureGroup:
    if not isinstance(raw, Mapping) or "kind" not in raw:
        raise SpecError(
            f"{path}: expected a mapping with `kind` (one of {', '.join(FEATURE_KINDS)})"
        )
    kind = _choice(raw["kind"], f"{path}.kind", FEATURE_KINDS)
    if kind == "related":
        return _parse_related(raw, path)
    allowed = FEATURE_KEYS[kind]
    required = tuple(key for key in allowed if key != "event_types" or kind in TYPED_KINDS)
    data = _check_keys(raw, path, ("kind", *allowed), ("kind", *required))
    return FeatureGroup(
        kind=kind,  # type: ignore[arg-type]
        windows=_windows(data["windows"], f"{path}.windows") if "windows" in data else (),
        event_types=_identifiers(data["event_types"], f"{path}.event_types", _event_type)
        if "event_types" in data
        else (),
        areas=_identifiers(data["areas"], f"{path}.areas") if "areas" in data else (),
        attribute=_identifier(data["attribute"], f"{path}.attribute")
        if "attribute" in data
        else None,
        numerator=_event_type(data["numerator"], f"{path}.numerator")
        if "numerator" in data
        else None,
        denominator=_event_type(data["denominator"], f"{path}.denominator")
        if "denominator" in data
        else None,
        names=_identifiers(data["names"], f"{path}.names") if "names" in data else (),
        field=_choice(data["field"], f"{path}.field", LAST_FIELDS) if "field" in data else None,
        values=_item_values(data["values"], f"{path}.values") if "values" in data else (),
    )


def _item_values(raw: Any, path: str) -> tuple[tuple[str, str], ...]:
    """An item_count entry's values: a list of plain names (each its own value), or a mapping
    of plain names to the values they stand for (`{kitchen: "Home > Kitchen"}`)."""
    if isinstance(raw, list):
        return tuple((name, name) for name in _identifiers(raw, path))
    if not isinstance(raw, Mapping) or not raw:
        raise SpecError(
            f"{path}: expected a non-empty list of values, or a mapping of plain names to "
            f'values ({{kitchen: "Home > Kitchen"}}), got {raw!r}'
        )
    pairs = []
    for name, value in raw.items():
        _identifier(name, f"{path}.{name}")
        if not isinstance(value, str | int | float) or isinstance(value, bool) or value == "":
            raise SpecError(f"{path}.{name}: expected the attribute's value, got {value!r}")
        pairs.append((name, str(value)))
    texts = [value for _, value in pairs]
    if len(set(texts)) != len(texts):
        raise SpecError(f"{path}: a value is named twice in {dict(raw)}")
    return tuple(pairs)


def _parse_related(raw: Mapping[str, Any], path: str) -> FeatureGroup:
    """`{kind: related, via, relation, prefix, aggregates[, event_types][, windows]}`:
    `event_types` exactly when `count` is asked for, `windows` exactly when a windowed
    aggregate is."""
    data = _check_keys(
        raw,
        path,
        ("kind", *FEATURE_KEYS["related"]),
        ("kind", "via", "relation", "prefix", "aggregates"),
    )
    aggregates = data["aggregates"]
    if not isinstance(aggregates, list) or not aggregates:
        raise SpecError(
            f"{path}.aggregates: expected a non-empty list of: {', '.join(RELATED_AGGREGATES)}"
        )
    chosen = tuple(
        _choice(item, f"{path}.aggregates[{i}]", RELATED_AGGREGATES)
        for i, item in enumerate(aggregates)
    )
    if len(set(chosen)) != len(chosen):
        raise SpecError(f"{path}.aggregates: duplicate entries in {list(chosen)}")
    windowed = [name for name in chosen if name in RELATED_WINDOWED]
    for key, needed, reader in (
        ("event_types", "count" in chosen, "`count`"),
        ("windows", bool(windowed), f"a windowed aggregate ({', '.join(RELATED_WINDOWED)})"),
    ):
        if needed and key not in data:
            raise SpecError(f"{path}.{key}: required when {reader} is among the aggregates")
        if not needed and key in data:
            raise SpecError(
                f"{path}.{key}: read only by {reader}, which is not among the aggregates; "
                "remove it"
            )
    return FeatureGroup(
        kind="related",
        windows=_windows(data["windows"], f"{path}.windows") if windowed else (),
        event_types=_identifiers(data["event_types"], f"{path}.event_types", _event_type)
        if "count" in chosen
        else (),
        via=_identifier(data["via"], f"{path}.via"),
        relation=_choice(data["relation"], f"{path}.relation", RELATIONS),  # type: ignore[arg-type]
        prefix=_identifier(data["prefix"], f"{path}.prefix"),
        aggregates=chosen,
    )


def _parse_actionable(raw: Any, path: str) -> Actionable:
    data = _check_keys(
        raw,
        path,
        ("feature", "direction", "lower", "upper", "integer", "cost_per_unit", "causal"),
        ("feature", "direction"),
    )
    lower = None if data.get("lower") is None else _number(data["lower"], f"{path}.lower")
    upper = None if data.get("upper") is None else _number(data["upper"], f"{path}.upper")
    if lower is not None and upper is not None and lower > upper:
        raise SpecError(f"{path}: lower {lower} is above upper {upper}")
    integer = data.get("integer", True)
    if not isinstance(integer, bool):
        raise SpecError(f"{path}.integer: expected true or false, got {integer!r}")
    cost = _number(data.get("cost_per_unit", 1.0), f"{path}.cost_per_unit")
    if cost < 0:
        raise SpecError(f"{path}.cost_per_unit: must be >= 0, got {cost}")
    return Actionable(
        feature=_identifier(data["feature"], f"{path}.feature"),
        direction=_choice(data["direction"], f"{path}.direction", DIRECTIONS),  # type: ignore[arg-type]
        lower=lower,
        upper=upper,
        integer=integer,
        cost_per_unit=cost,
        causal=None
        if data.get("causal") is None
        else _choice(data["causal"], f"{path}.causal", CAUSAL_EFFECTS),  # type: ignore[arg-type]
    )


def _parse_derived(raw: Any, path: str) -> tuple[DerivedAttribute, ...]:
    """`derived_attributes: {name: {expression: SQL, dtype: numeric|categorical}}`."""
    if not isinstance(raw, Mapping) or not raw:
        raise SpecError(f"{path}: expected a mapping of attribute names to {{expression, dtype}}")
    derived = []
    for name, entry in raw.items():
        at = f"{path}.{name}"
        data = _check_keys(entry, at, ("expression", "dtype"), ("expression", "dtype"))
        text = data["expression"]
        if not isinstance(text, str) or not text.strip():
            raise SpecError(f"{at}.expression: expected SQL text, e.g. invited_by IS NOT NULL")
        try:
            expression, columns = canonical_sql(text), referenced_columns(text)
        except DerivedAttributeError as error:
            raise SpecError(f"{at}.expression: {error}") from None
        if not columns:
            raise SpecError(f"{at}.expression: reads no user column, so it is a constant")
        derived.append(
            DerivedAttribute(
                name=_identifier(name, at),
                expression=expression,
                dtype=_choice(data["dtype"], f"{at}.dtype", DERIVED_DTYPES),  # type: ignore[arg-type]
                columns=columns,
            )
        )
    return tuple(derived)


def parse_spec(raw: Any, source: str) -> FeatureSetSpec:
    """Parse a loaded YAML document into a FeatureSetSpec; `source` names it in errors."""
    top = (
        "name",
        "version",
        "description",
        "dataset",
        "cutoffs",
        "eligibility",
        "label",
        "features",
        "actionable",
        "derived_attributes",
    )
    data = _check_keys(
        raw, source, top, ("name", "version", "dataset", "cutoffs", "label", "features")
    )
    features_raw = data["features"]
    if not isinstance(features_raw, list) or not features_raw:
        raise SpecError(f"{source}.features: expected a non-empty list")
    actionable_raw = data.get("actionable") or []
    if not isinstance(actionable_raw, list):
        raise SpecError(f"{source}.actionable: expected a list")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise SpecError(f"{source}.description: expected text")
    dataset = data["dataset"]
    if not isinstance(dataset, str) or not dataset:
        raise SpecError(f"{source}.dataset: expected the dataset's name")
    spec = FeatureSetSpec(
        name=_identifier(data["name"], f"{source}.name"),
        version=_int(data["version"], f"{source}.version"),
        description=description,
        dataset=dataset,
        cutoffs=_parse_cutoffs(data["cutoffs"], f"{source}.cutoffs"),
        eligibility=_parse_eligibility(data.get("eligibility"), f"{source}.eligibility"),
        label=_parse_label(data["label"], f"{source}.label"),
        features=tuple(
            _parse_feature_group(item, f"{source}.features[{i}]")
            for i, item in enumerate(features_raw)
        ),
        actionable=tuple(
            _parse_actionable(item, f"{source}.actionable[{i}]")
            for i, item in enumerate(actionable_raw)
        ),
        derived_attributes=_parse_derived(
            data["derived_attributes"], f"{source}.derived_attributes"
        )
        if "derived_attributes" in data
        else (),
    )
    _check_consistency(spec, source)
    return spec


def _check_consistency(spec: FeatureSetSpec, source: str) -> None:
    """Cross-field rules: unique feature names, actionable features exist, sane windows."""
    names = [feature.name for feature in expand_features(spec)]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise SpecError(f"{source}.features: feature names repeat: {', '.join(duplicates)}")
    reserved = {"user_id", "cutoff", "label"} & set(names)
    if reserved:
        raise SpecError(f"{source}.features: {', '.join(sorted(reserved))} is a reserved column")
    seen = set()
    for i, action in enumerate(spec.actionable):
        if action.feature not in names:
            raise SpecError(
                f"{source}.actionable[{i}].feature: {action.feature!r} is not a feature of this "
                f"spec; features are: {', '.join(names)}"
            )
        if action.feature in seen:
            raise SpecError(f"{source}.actionable[{i}].feature: {action.feature!r} listed twice")
        seen.add(action.feature)
    _check_related(spec, source)
    attributes = {f.attribute for f in expand_features(spec) if f.kind == "attribute"}
    for attribute in spec.derived_attributes:
        if attribute.name not in attributes:
            raise SpecError(
                f"{source}.derived_attributes.{attribute.name}: not used by any "
                f"`kind: attribute` feature; add it to one (names: [{attribute.name}]) or "
                "remove it"
            )


def _check_related(spec: FeatureSetSpec, source: str) -> None:
    """`related` entries: one prefix each, and `label_rate` only for a 0/1 label whose window
    closes (a bounded horizon)."""
    prefixes: dict[str, int] = {}
    for i, group in enumerate(spec.features):
        if group.kind != "related" or group.prefix is None:
            continue
        path = f"{source}.features[{i}]"
        if group.prefix in prefixes:
            raise SpecError(
                f"{path}.prefix: {group.prefix!r} is already the prefix of "
                f"features[{prefixes[group.prefix]}]; give each related entry its own"
            )
        prefixes[group.prefix] = i
        if "label_rate" not in group.aggregates:
            continue
        if spec.label.is_regression:
            raise SpecError(
                f"{path}.aggregates: label_rate is a share of 0/1 labels; the label "
                f"{spec.label.kind} is a value, so remove label_rate"
            )
        if spec.label.horizon_days is None:
            raise SpecError(
                f"{path}.aggregates: label_rate reads related users' labels whose window has "
                "closed, and a label with horizon_days: ever never closes; remove label_rate "
                "or give the label a horizon in days"
            )


def spec_to_dict(spec: FeatureSetSpec) -> dict[str, Any]:
    """The spec as plain JSON-able data (dates as ISO text): the canonical form we hash.

    `anchor: timestamp` is left out: it is what every signup-relative spec meant before
    anchors existed, so those specs keep the hash they were released with. A spec without
    derived attributes leaves that key out too, and so does every entry other than `related`
    with that entry's keys (RELATED_FIELDS), every entry but `last` its `field`, and every
    actionable entry without a causal prior its `causal` key, for the same reason.
    """
    data = json.loads(json.dumps(asdict(spec), default=str))
    after_signup = data["cutoffs"]["after_signup"]
    if after_signup is not None and after_signup["anchor"] == "timestamp":
        del after_signup["anchor"]
    if not spec.derived_attributes:
        del data["derived_attributes"]
    for group in data["features"]:
        if group["kind"] != "related":
            for key in RELATED_FIELDS:
                del group[key]
        if group["field"] is None:
            del group["field"]
        if not group["values"]:
            del group["values"]
    for action in data["actionable"]:
        if action["causal"] is None:
            del action["causal"]
    return data


def spec_hash(spec: FeatureSetSpec) -> str:
    """sha256 of the canonical form: comments and key order in the YAML do not change it."""
    canonical = json.dumps(spec_to_dict(spec), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def expand_features(spec: FeatureSetSpec) -> tuple[FeatureDef, ...]:
    """Every output feature column of the spec, in spec order, named by the fixed scheme."""
    return tuple(feature for group in spec.features for feature in _expand_group(group))


def _expand_related(group: FeatureGroup) -> tuple[FeatureDef, ...]:
    """A `related` entry's columns, in the order of its aggregates: `<prefix>_<name>`."""
    defs = []
    for aggregate in group.aggregates:
        kind = f"related_{aggregate}"
        if aggregate == "count":
            named = [(f"count_{t}_{w}d", w, t) for t in group.event_types for w in group.windows]
        elif aggregate in RELATED_WINDOWED:
            named = [(f"{aggregate}_{w}d", w, None) for w in group.windows]
        else:
            named = [(aggregate, None, None)]
        defs += [
            FeatureDef(
                f"{group.prefix}_{name}",
                kind,  # type: ignore[arg-type]
                window_days=window,
                event_type=event_type,
                via=group.via,
                relation=group.relation,
                prefix=group.prefix,
            )
            for name, window, event_type in named
        ]
    return tuple(defs)


def _expand_group(group: FeatureGroup) -> tuple[FeatureDef, ...]:
    kind = group.kind
    if kind == "related":
        return _expand_related(group)
    if kind == "count":
        return tuple(
            FeatureDef(f"count_{t}_{w}d", kind, window_days=w, event_type=t)
            for t in group.event_types
            for w in group.windows
        )
    if kind == "active_days":
        return tuple(FeatureDef(f"active_days_{w}d", kind, window_days=w) for w in group.windows)
    if kind == "sessions":
        return tuple(FeatureDef(f"sessions_{w}d", kind, window_days=w) for w in group.windows)
    if kind == "recency":
        if not group.event_types:
            return (FeatureDef("days_since_last_event", kind),)
        return tuple(
            FeatureDef(f"days_since_last_{t}", kind, event_type=t) for t in group.event_types
        )
    if kind == "tenure":
        return (FeatureDef("tenure_days", kind),)
    if kind == "value_sum":
        return tuple(
            FeatureDef(f"value_sum_{t}_{w}d", kind, window_days=w, event_type=t)
            for t in group.event_types
            for w in group.windows
        )
    if kind == "ratio":
        return tuple(
            FeatureDef(
                f"ratio_{group.numerator}_per_{group.denominator}_{w}d",
                kind,
                window_days=w,
                numerator=group.numerator,
                denominator=group.denominator,
            )
            for w in group.windows
        )
    if kind == "area_count":
        return tuple(
            FeatureDef(f"area_{a}_{w}d", kind, window_days=w, area=a)
            for a in group.areas
            for w in group.windows
        )
    if kind in ("item_mean", "item_count"):
        event_type = group.event_types[0] if group.event_types else None
        if len(group.event_types) > 1:
            raise SpecError(
                f"{kind} over {group.attribute!r}: give at most one event type "
                f"(got {list(group.event_types)}); add another entry for another type"
            )
    if kind == "item_count":
        return tuple(
            FeatureDef(
                f"count_item_{group.attribute}_{name}_{w}d",
                kind,
                window_days=w,
                event_type=event_type,
                attribute=group.attribute,
                item_value=value,
            )
            for name, value in group.values
            for w in group.windows
        )
    if kind == "item_mean":
        return tuple(
            FeatureDef(
                f"mean_item_{group.attribute}_{w}d",
                kind,
                window_days=w,
                event_type=event_type,
                attribute=group.attribute,
            )
            for w in group.windows
        )
    if kind == "gaps":
        return tuple(
            FeatureDef(name.format(t), gap_kind, event_type=t)  # type: ignore[arg-type]
            for t in group.event_types
            for gap_kind, name in GAP_NAMES
        )
    if kind in DISTINCT_COLUMNS:
        typed = tuple((f"{t}_", t) for t in group.event_types) or (("", None),)
        return tuple(
            FeatureDef(f"{kind}_{prefix}{w}d", kind, window_days=w, event_type=t)
            for prefix, t in typed
            for w in group.windows
        )
    if kind == "last":
        typed = tuple((f"_{t}", t) for t in group.event_types) or (("", None),)
        return tuple(
            FeatureDef(f"last_{group.field}{suffix}", kind, event_type=t, field=group.field)
            for suffix, t in typed
        )
    if kind in ("trend", "value_mean"):
        return tuple(
            FeatureDef(f"{kind}_{t}_{w}d", kind, window_days=w, event_type=t)
            for t in group.event_types
            for w in group.windows
        )
    return tuple(FeatureDef(name, "attribute", attribute=name) for name in group.names)


# Kinds whose value over a shorter window can never exceed the same value over a longer one.
NESTED_WINDOW_KINDS = (
    "count",
    "active_days",
    "sessions",
    "value_sum",
    "area_count",
    "item_count",
    "distinct_items",
    "distinct_areas",
)
# Kinds that count events of a window: above 0, the window has an active day and a last event.
EVENT_COUNT_KINDS = ("count", "area_count", "item_count")
# Nested-window kinds that add up over the events of their window (not the distinct counts):
# a change to one window's value carries over to the other windows of the same feature
# (`window` couplings).
ADDITIVE_WINDOW_KINDS = tuple(k for k in NESTED_WINDOW_KINDS if not k.startswith("distinct_"))
NON_NEGATIVE_KINDS = (
    *NESTED_WINDOW_KINDS,
    "recency",
    "tenure",
    "ratio",
    "trend",
    "value_mean",
    *GAP_KINDS,
    *RELATED_KINDS,
)


def natural_bounds(feature: FeatureDef) -> tuple[float | None, float | None]:
    """Bounds a feature can never leave (active days over w days lie in [0, w])."""
    if feature.kind == "related_label_rate":
        return 0.0, 1.0
    if feature.kind in ("active_days", "related_active_days"):
        return 0.0, float(feature.window_days or 0)
    if feature.kind in NON_NEGATIVE_KINDS:
        return 0.0, None
    return None, None


def derive_couplings(features: tuple[FeatureDef, ...]) -> tuple[dict[str, object], ...]:
    """Constraints tying features together, for what-if search to keep suggestions coherent.

    `order`: smaller <= larger always holds (a 7-day count inside a 30-day count; the last
    PLAY is never more recent than the last event). `ratio`: the feature equals numerator /
    denominator counts over the same window, so it moves only when they do (listed when both
    counts are features of the set; the ratio is empty, not 0, when the denominator is 0).
    `window`: adjacent windows of an additive feature (ADDITIVE_WINDOW_KINDS) move together
    when a what-if changes one of them (serving/whatif/constraints.py says how); for active
    days `shorter_days`/`longer_days` bound them: at most one active day per day.
    `recency`: each window's active days and the days since the last event describe the same
    events, so a what-if that makes a user active in a window brings their last event into it;
    a count of a type does the same for the days since the last event of that type, and (only
    when it rises from 0: `recency_sees: more`) for the days since the last event of any type;
    no active day in a window puts the last event of each type before it (`recency_sees:
    fewer`).
    `activity`: a count above 0 makes each active-days window at least as long active on a
    day at least, so a what-if that adds events to a quiet window adds an active day. Counts of
    an area's or an item's events (EVENT_COUNT_KINDS) do as a type's count does, except that
    the last event of their type (if any) or of any type sees more events than they count.
    `sessions`: a window's sessions happen on its active days, so a what-if that adds or takes
    away active days adds or takes away sessions of the same window.
    `trend`: a window's trend moves with its count (the window before it is history).
    """
    couplings: list[dict[str, object]] = []
    by_key: dict[tuple, list[FeatureDef]] = {}
    for feature in features:
        if feature.kind in NESTED_WINDOW_KINDS:
            key = (
                feature.kind,
                feature.event_type,
                feature.area,
                feature.attribute,
                feature.item_value,
            )
            by_key.setdefault(key, []).append(feature)
    for group in by_key.values():
        ordered = sorted(group, key=lambda f: f.window_days or 0)
        for shorter, longer in itertools.pairwise(ordered):
            couplings.append({"kind": "order", "smaller": shorter.name, "larger": longer.name})
            if shorter.kind in ADDITIVE_WINDOW_KINDS:
                window: dict[str, object] = {
                    "kind": "window",
                    "shorter": shorter.name,
                    "longer": longer.name,
                }
                if shorter.kind == "active_days":
                    window["shorter_days"] = shorter.window_days
                    window["longer_days"] = longer.window_days
                couplings.append(window)
    names = {feature.name for feature in features}
    typed_recencies = [f.name for f in features if f.kind == "recency" and f.event_type]
    active_days = [f for f in features if f.kind == "active_days"]
    for feature in features:
        if feature.kind == "active_days":
            couplings.extend(_active_days_recency_couplings(feature, names, typed_recencies))
            sessions = f"sessions_{feature.window_days}d"
            if sessions in names:
                couplings.append({"kind": "sessions", "days": feature.name, "sessions": sessions})
        if feature.kind == "trend":
            count = f"count_{feature.event_type}_{feature.window_days}d"
            if count in names:
                couplings.append({"kind": "trend", "count": count, "trend": feature.name})
        if feature.kind in EVENT_COUNT_KINDS:
            couplings.extend(_count_recency_couplings(feature, names))
            couplings.extend(
                {"kind": "activity", "events": feature.name, "days": days.name}
                for days in active_days
                if (days.window_days or 0) >= (feature.window_days or 0)
            )
        if feature.kind == "recency" and feature.event_type and "days_since_last_event" in names:
            couplings.append(
                {"kind": "order", "smaller": "days_since_last_event", "larger": feature.name}
            )
        numerator = f"count_{feature.numerator}_{feature.window_days}d"
        denominator = f"count_{feature.denominator}_{feature.window_days}d"
        if feature.kind == "ratio" and {numerator, denominator} <= names:
            couplings.append(
                {
                    "kind": "ratio",
                    "feature": feature.name,
                    "numerator": numerator,
                    "denominator": denominator,
                }
            )
    return tuple(couplings)


def _recency_coupling(
    driver_key: str, driver: FeatureDef, recency: str, sees: str
) -> dict[str, object]:
    """One manifest `recency` coupling (serving/whatif/constraints.py reads it)."""
    coupling = {
        "kind": "recency",
        driver_key: driver.name,
        "recency": recency,
        "window_days": driver.window_days,
    }
    return coupling if sees == "same" else {**coupling, "recency_sees": sees}


def _active_days_recency_couplings(
    days: FeatureDef, names: set[str], typed_recencies: list[str]
) -> tuple[dict[str, object], ...]:
    """Active days' `recency` couplings: with the days since the last event, and with each
    type's (which sees fewer events than the active days count)."""
    last_event = "days_since_last_event"
    any_type = (
        (_recency_coupling("days", days, last_event, "same"),) if last_event in names else ()
    )
    return (*any_type, *(_recency_coupling("days", days, r, "fewer") for r in typed_recencies))


def _count_recency_couplings(count: FeatureDef, names: set[str]) -> tuple[dict[str, object], ...]:
    """A count's `recency` couplings: with its type's days since the last event (which sees
    more events than an area's or item's count), and with the days since the last event of
    any type (which sees more events than the count)."""
    same_type = "same" if count.kind == "count" else "more"
    pairs = (
        (f"days_since_last_{count.event_type}", same_type),
        ("days_since_last_event", "more"),
    )
    return tuple(
        _recency_coupling("events", count, recency, sees)
        for recency, sees in pairs
        if recency in names
    )
