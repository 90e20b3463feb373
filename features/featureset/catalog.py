"""The spec catalog: where `name@vN` specs live, one grammar for refs, released versions locked.

Specs are looked up in two folders, in order: the project's spec folder (`./specs` under the
working directory, or USAGECAST_SPECS; the CLI's `--specs DIR` sets it) and the examples
shipped inside the package (features/sets/). Each holds `<name>/v<N>.yaml`. A `name@vN` found
in both is an error naming both files: which one a model was trained on must never depend on
search order.

A released version's canonical spec hash is recorded in its folder's LOCK.json. Loading a
locked ref whose file now hashes differently is refused: a change to a released spec is a new
version, so every model trained on name@vN can trust what vN means. Comments and formatting
may change freely (the hash is over the parsed spec, not the bytes). The shipped examples are
locked in features/sets/LOCK.json and are not released through the CLI.
"""

from __future__ import annotations

import json
import os
import re
import textwrap
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml

from contracts.months import month_index
from contracts.names import check_name, is_spec_name, name_words, plain_name_for
from contracts.refs import FeatureSetRef, InvalidRefError
from contracts.workspace import DEFAULT_PROJECT_SPECS, SPECS_ENV
from events.store import EXPERIMENT_ASSIGNED
from features.featureset.spec import FeatureSetSpec, SpecError, parse_spec, spec_hash

SHIPPED_DIR = Path(__file__).resolve().parent.parent / "sets"
LOCK_FILE = "LOCK.json"
STARTER_FILE = Path(__file__).resolve().parent / "starter.yaml"
STARTER_NAME = "__NAME__"
STARTER_DATASET = "my_dataset"
Origin = Literal["project", "shipped"]


@dataclass(frozen=True)
class CatalogEntry:
    """Where one spec file lives: its ref, path, and whether the project or usagecast owns it."""

    ref: FeatureSetRef
    path: Path
    origin: Origin

    @property
    def folder(self) -> Path:
        """The spec folder holding it (and its LOCK.json)."""
        return self.path.parent.parent


def project_specs_dir() -> Path:
    """The project's spec folder (absolute): USAGECAST_SPECS, else ./specs."""
    return Path(os.environ.get(SPECS_ENV) or DEFAULT_PROJECT_SPECS).resolve()


def spec_path(ref: FeatureSetRef, folder: Path) -> Path:
    """Where the YAML of a ref lives inside one spec folder."""
    return folder / ref.name / f"v{ref.version}.yaml"


def _folders(project: Path | None) -> tuple[tuple[Origin, Path], ...]:
    """The folders searched, in order (a project folder that is the shipped one counts once)."""
    folder = (project or project_specs_dir()).resolve()
    if folder == SHIPPED_DIR:
        return (("shipped", SHIPPED_DIR),)
    return (("project", folder), ("shipped", SHIPPED_DIR))


def _refuse_clash(entries: list[CatalogEntry]) -> None:
    if len(entries) > 1:
        raise SpecError(
            f"{entries[0].ref} is defined twice: {entries[0].path} ({entries[0].origin}) and "
            f"{entries[1].path} ({entries[1].origin}); rename or remove the project's copy"
        )


def locate_spec(ref: str | FeatureSetRef, sets_dir: Path | None = None) -> CatalogEntry:
    """The one file `name@vN` means: the project folder's (sets_dir) or a shipped example."""
    parsed = FeatureSetRef.parse(ref) if isinstance(ref, str) else ref
    folders = _folders(sets_dir)
    found = [
        CatalogEntry(parsed, spec_path(parsed, folder), origin)
        for origin, folder in folders
        if spec_path(parsed, folder).is_file()
    ]
    _refuse_clash(found)
    if not found:
        looked = " or ".join(str(spec_path(parsed, folder)) for _, folder in folders)
        known = ", ".join(str(entry.ref) for entry in list_specs(sets_dir)) or "none"
        raise SpecError(
            f"{parsed}: no spec at {looked}; known feature sets: {known} "
            "(`usagecast features new NAME` writes a starter)"
        )
    return found[0]


def read_lock(folder: Path) -> dict[str, str]:
    """Released refs of one spec folder -> canonical spec hash."""
    path = folder / LOCK_FILE
    if not path.exists():
        return {}
    return json.loads(path.read_text())


def _read_spec(entry: CatalogEntry) -> FeatureSetSpec:
    """Parse one catalog file and check it against its folder's lock."""
    path, parsed = entry.path, entry.ref
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise SpecError(f"{path}: not valid YAML: {error}") from None
    spec = parse_spec(raw, str(path))
    if (spec.name, spec.version) != (parsed.name, parsed.version):
        raise SpecError(
            f"{path}: declares name {spec.name!r} version {spec.version}, but its path says "
            f"{parsed}; keep them the same"
        )
    locked = read_lock(entry.folder).get(str(parsed))
    if locked is not None and locked != spec_hash(spec):
        raise SpecError(
            f"{path}: {parsed} is released and locked in {entry.folder / LOCK_FILE} (hash "
            f"{locked[:12]}), but the file now means something else (hash "
            f"{spec_hash(spec)[:12]}); put the change in a new version v{parsed.version + 1}"
        )
    return spec


def load_spec(ref: str | FeatureSetRef, sets_dir: Path | None = None) -> FeatureSetSpec:
    """Find, read, parse and lock-check one spec (sets_dir: the project folder to search)."""
    return _read_spec(locate_spec(ref, sets_dir))


def release_spec(ref: str, sets_dir: Path | None = None) -> tuple[CatalogEntry, str]:
    """Lock a project spec's current meaning into its folder's LOCK.json; return entry, hash."""
    entry = locate_spec(ref, sets_dir)
    if entry.origin == "shipped":
        raise SpecError(
            f"{entry.ref} is a shipped example ({entry.path}), already locked in "
            f"{entry.folder / LOCK_FILE}; to change it, copy it into your project's spec "
            f"folder under a new name"
        )
    lock = read_lock(entry.folder)
    if str(entry.ref) in lock:
        raise SpecError(f"{entry.ref} is already released; a change is a new version")
    digest = spec_hash(_read_spec(entry))
    lock[str(entry.ref)] = digest
    (entry.folder / LOCK_FILE).write_text(json.dumps(dict(sorted(lock.items())), indent=2) + "\n")
    return entry, digest


@dataclass(frozen=True)
class StoreFacts:
    """What `features new` knows of the ingested event store, to fill the starter in."""

    dataset: str
    months: tuple[str, ...]  # months holding events, "YYYY-MM", ascending
    event_types: tuple[str, ...]  # most frequent first
    sessions: bool = False  # the events carry session ids (mapped or rules.sessions)
    attributes: tuple[str, ...] = ()  # static user attributes worth a feature (model_attributes)
    areas: bool = False  # the usage events carry two or more product areas (area_use)
    area_changes: tuple[str, ...] = ()  # event types whose area is what they changed (area_use)
    valued: tuple[str, ...] = ()  # event types whose events mostly carry a value (valued_types)
    data_end: datetime | None = None  # the end of data a build reads (store_data_end)
    data_start: datetime | None = None  # the first event in the store's months (store_data_start)
    main_type: str | None = None  # the event type of half or more of the events
    item_means: tuple[str, ...] = ()  # numeric static item attributes (mean_item_features)
    # (attribute, ((name, value), ...)): the categories counted per value (item_categories)
    item_counts: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()


def model_attributes(
    kinds: Mapping[str, str],
    dtypes: Mapping[str, str],
    distinct: Mapping[str, int],
    users: int | None = None,
) -> tuple[str, ...]:
    """The static user attributes a starter spec takes as features: numeric ones that vary
    and are not an id (a CRM's `record_id` counts signups, it measures nothing), categorical
    ones of 2 to MAX_ATTRIBUTE_LEVELS levels that users share (_names_its_user: an email in a
    store of 80 users has 80 levels); never a snapshot (read at export time) or a
    timestamp."""
    return tuple(
        name
        for name, kind in kinds.items()
        if kind == "static"
        and is_spec_name(name)
        and (
            (
                dtypes.get(name) == "numeric"
                and distinct.get(name, 0) >= 2
                and name_words(name)[-1:] != ["id"]
            )
            or (
                dtypes.get(name) == "categorical"
                and 2 <= distinct.get(name, 0) <= MAX_ATTRIBUTE_LEVELS
                and not _names_its_user(distinct.get(name, 0), users)
            )
        )
    )


def _names_its_user(levels: int, users: int | None) -> bool:
    """Whether a categorical attribute's levels are its users' own, no group: nearly one per
    user (IDENTIFIER_SHARE of the users table's rows), in a store of MIN_USERS_FOR_IDS or more
    (in a handful of users, a plan per user is still a plan)."""
    return users is not None and users >= MIN_USERS_FOR_IDS and levels >= IDENTIFIER_SHARE * users


@dataclass(frozen=True)
class Starter:
    """A starter spec's text, what of it came from the store (empty: placeholders) and, once
    written, its file."""

    text: str
    calendar: str | None = None
    counted: tuple[str, ...] = ()
    label: str | None = None  # the label's event type, guessed (label_why says how)
    sessions: bool = False  # it counts sessions (the store's events carry session ids)
    path: Path | None = None
    label_why: str = ""  # "a guess from its name", or "the store's only event type, ..."
    attributes: tuple[str, ...] = ()  # the static user attributes it takes as features
    item_means: tuple[str, ...] = ()  # the item attributes it averages (item_mean)
    item_counts: tuple[str, ...] = ()  # the item categories it counts events of (item_count)
    areas: bool = False  # it counts distinct product areas (the store's events carry areas)
    area_changes: tuple[str, ...] = ()  # event types whose last area it reads
    windows: tuple[int, ...] = ()  # its windows in days, when the store's span chose longer ones
    valued: tuple[str, ...] = ()  # event types whose values it sums
    rhythm: str | None = None  # the event type whose gaps it measures
    label_kind: str = "event_within"  # the question it asks (LABEL_STARTER_KINDS)
    after_signup: int | None = None  # its cutoff's days after each user's signup, if so


# The starter's placeholder lines that the store's facts replace.
_PLACEHOLDER_NOTE = (
    "# It loads as written, but its event types (LOGIN, PURCHASE) are placeholders: replace them\n"
    "# with the event types of your data. `usagecast features build __NAME__@v1` refuses a name\n"
    "# the event store does not hold and lists the ones it does."
)
_PLACEHOLDER_CALENDAR = "calendar: {start: 2024-02-01, end: 2024-06-01, every: month}"
_PLACEHOLDER_COUNTED = "event_types: [LOGIN, PURCHASE]"
_PLACEHOLDER_LABEL = "PURCHASE"
_ACTIVE_DAYS_GROUP = "  - kind: active_days\n    windows: [7, 30]\n"
_SESSIONS_GROUP = "  - kind: sessions\n    windows: [7, 30]\n"
_TENURE_GROUP = "  - kind: tenure\n"
_AREAS_GROUP = "  - kind: distinct_areas\n    windows: [7, 30]\n"
_PLACEHOLDER_WINDOWS = "windows: [7, 30]"
_PLACEHOLDER_ELIGIBILITY = "eligibility:\n  active_within_days: 30\n  not_converted: PURCHASE\n"
_PLACEHOLDER_LABEL_BLOCK = (
    "label:\n  kind: event_within\n  event_type: PURCHASE\n  horizon_days: 30\n"
)
_PLACEHOLDER_DESCRIPTION = "Users active in the last 30 days; label = a PURCHASE within 30 days."
_PLACEHOLDER_POPULATION = _PLACEHOLDER_DESCRIPTION.split(";")[0]
STARTER_HORIZON_DAYS = 30  # the starter label's horizon_days
# A starter's cutoffs are monthly when the store's span holds at least this many, else weekly
# (every WEEK_DAYS days, after WEEKLY_HISTORY_DAYS of history) when that holds as many.
MIN_STARTER_CUTOFFS = 3
WEEK_DAYS = 7
WEEKLY_HISTORY_DAYS = 14
# Longer windows, each once the store holds at least this many months of events: a
# purchase log's counts over 7 and 30 days are mostly zeros.
LONGER_WINDOWS = ((90, 4), (365, 13))
MAX_ATTRIBUTE_LEVELS = 100
IDENTIFIER_SHARE = 0.9  # levels per user from which a categorical attribute names its user
MIN_USERS_FOR_IDS = 20
COUNTED_FROM_STORE = 8  # the most frequent event types a starter counts (a spec names more)
# Words of an item attribute's name that read as a product's category, which a starter spec
# counts the events of per value (item_count): a product type, a genre, a brand.
CATEGORY_WORDS = (
    "type", "category", "genre", "department", "collection", "brand", "vendor", "class",
    "family", "segment", "format", "style",
)  # fmt: skip
MAX_CATEGORY_LEVELS = 20  # an attribute with more values is an item's name, not a category
CATEGORY_VALUES_COUNTED = 3  # per category attribute: its values most events name
# Words of an event type's name that read as a conversion, strongest first; a funnel step
# such as `Checkout_Started` comes after every completed purchase or subscription.
CONVERSION_WORDS = (
    "purchase", "purchased", "buy", "bought", "subscribe", "subscribed", "subscription",
    "upgrade", "upgraded", "converted", "conversion", "paid", "payment", "order", "checkout",
    "customer",  # a CRM's BECAME_CUSTOMER
    # The same in German, French, Spanish, Portuguese and Italian (event names keep no
    # accents: the ingest's plain names drop them), after the English ones.
    "kauf", "kaufe", "gekauft", "abonnement", "abo", "bestellung", "zahlung", "achat", "commande",
    "paiement", "compra", "suscripcion", "pedido", "pago", "assinatura", "pagamento",
    "acquisto", "abbonamento", "ordine",
)  # fmt: skip


def area_use(
    event_types: Sequence[Mapping[str, Any]],
    distinct_areas: int,
    change_logs: Collection[str] = (),
) -> tuple[bool, tuple[str, ...]]:
    """How a starter reads the store's areas, from the quality report's event types
    (`events`, `with_area` each) and the types of its change-log sources (`change_logs`: a
    constant event type with an area mapped): (count distinct areas, the event types to read
    the last area of).

    A change log's area is what each change moved the user to (a plan): a `last` feature per
    type reads it as of the cutoff. Areas on most of the other events describe where the
    product is used: the breadth of use (distinct_areas) when there are two or more. Else
    areas on few events, each on every event of its types, are read as changes too (a
    login's device).
    """
    logs = {t["event_type"] for t in event_types if t["event_type"] in change_logs}
    usage = [t for t in event_types if t["event_type"] not in logs]
    events = sum(t["events"] for t in usage)
    with_area = sum(t.get("with_area", 0) for t in usage)
    breadth = bool(events) and with_area * 2 >= events
    changes = tuple(
        t["event_type"]
        for t in event_types
        if is_spec_name(t["event_type"])
        and (
            t["event_type"] in logs
            or (not breadth and t["events"] and t.get("with_area", 0) == t["events"])
        )
    )
    return breadth and distinct_areas >= 2, changes


def store_facts(report: Mapping[str, Any]) -> StoreFacts:
    """The facts of an ingest's quality report (events/quality) a starter spec can use. An
    experiment's exposure log (EXPERIMENT_ASSIGNED) is none of the product's use: never a
    counted type, a label or an area's change."""
    from events.quality.timeline import main_months

    used = [t for t in report["event_types"] if t["event_type"] != EXPERIMENT_ASSIGNED]
    event_columns = report["columns"]["events"]["columns"]
    session_ids = event_columns.get("session_id", {})
    users_table = report["columns"].get("users", {})
    users = users_table.get("columns", {})
    areas, area_changes = area_use(
        used,
        event_columns.get("area", {}).get("distinct", 0),
        report.get("change_log_types", ()),
    )
    months = main_months(report["timestamp_coverage"])
    return StoreFacts(
        dataset=report["dataset"],
        months=months,
        event_types=tuple(t["event_type"] for t in used),
        sessions=session_ids.get("null_rate", 1.0) < 1.0,
        attributes=model_attributes(
            report.get("user_attribute_kinds", {}),
            report.get("user_attribute_dtypes", {}),
            {name: profile["distinct"] for name, profile in users.items()},
            users_table.get("rows"),
        ),
        areas=areas,
        area_changes=area_changes,
        valued=valued_types(used),
        data_end=store_data_end(report),
        data_start=store_data_start(report, months),
        main_type=main_event_type(used),
        item_means=mean_item_features(report.get("item_attributes", ())),
        item_counts=item_categories(report.get("item_value_events", {})),
    )


def mean_item_features(item_attributes: Sequence[Mapping[str, str]]) -> tuple[str, ...]:
    """The item attributes a starter spec averages over the items a user's events name
    (item_mean): numeric and static ones; a snapshot (a catalogue's current price, read at
    export time) would leak."""
    return tuple(
        a["name"]
        for a in item_attributes
        if a["kind"] == "static" and a["dtype"] == "numeric" and is_spec_name(a["name"])
    )


def item_categories(
    value_events: Mapping[str, Mapping[str, Any]],
) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    """The categorical, static item attributes a starter spec counts events of per value
    (item_count), with the values: those named like a category (CATEGORY_WORDS) with 2 to
    MAX_CATEGORY_LEVELS values among the events' items, and their CATEGORY_VALUES_COUNTED
    values most events name (the quality report's `item_value_events`), each under a plain
    name (`Home > Kitchen` as Home_Kitchen)."""
    chosen = []
    for attribute, seen in sorted(value_events.items()):
        words = name_words(attribute)
        if not is_spec_name(attribute) or not any(w in CATEGORY_WORDS for w in words):
            continue
        if not 2 <= seen["values"] <= MAX_CATEGORY_LEVELS:
            continue
        named: dict[str, str] = {}
        for entry in seen["top"][:CATEGORY_VALUES_COUNTED]:
            named.setdefault(plain_name_for(entry["value"]), entry["value"])
        chosen.append((attribute, tuple(named.items())))
    return tuple(chosen)


def store_data_end(report: Mapping[str, Any]) -> datetime | None:
    """The end of data as a build reads it (compiler's data_end): the last event time, or for
    date-only events the midnight after the last date, so the last day is complete."""
    latest = report["columns"]["events"]["columns"].get("event_time", {}).get("max")
    if latest is None:
        return None
    end = datetime.fromisoformat(latest)
    return end + timedelta(days=1) if report.get("granularity") == "date" else end


def store_data_start(report: Mapping[str, Any], months: Sequence[str]) -> datetime | None:
    """The first event time in the store's months (`months`, the main block: an earlier stray
    event is left out, the first month's start then stands in)."""
    earliest = report["columns"]["events"]["columns"].get("event_time", {}).get("min")
    if earliest is None or not months:
        return None
    first_month = datetime.combine(_month_start(months[0], 0), time())
    return max(datetime.fromisoformat(earliest), first_month)


def valued_types(event_types: Sequence[Mapping[str, Any]]) -> tuple[str, ...]:
    """The event types (of those a spec can name, most frequent first) most of whose events
    carry a value (`with_value` of the quality report's event types): an order's amount, a
    play's seconds."""
    return tuple(
        t["event_type"]
        for t in event_types
        if is_spec_name(t["event_type"])
        and t["events"]
        and t.get("with_value", 0) * 2 >= t["events"]
    )[:COUNTED_FROM_STORE]


def conversion_event_type(event_types: tuple[str, ...]) -> str | None:
    """The event type whose name holds the strongest conversion word
    (`Subscription_Purchased`, `BUY_PREMIUM`); None without one."""
    return _named_event_type(event_types, CONVERSION_WORDS)


def _named_event_type(event_types: tuple[str, ...], words: Sequence[str]) -> str | None:
    """The event type (of those a spec can name, most frequent first) whose name holds the
    first of `words` that any holds; None without one."""
    nameable = [t for t in event_types if is_spec_name(t)]
    for word in words:
        for event_type in nameable:
            if word in name_words(event_type):
                return event_type
    return None


ONLY_TYPE = "the store's only event type, so a repeat"
PAID_AFTER_TRIAL = "the paid events beside their trials' starts ({trial}): will a user pay"
MAIN_TYPE = "a guess from its name, and half or more of the store's events, so a repeat"
REPEATS = (ONLY_TYPE, MAIN_TYPE)  # the reasons that make the label a repeat, not a conversion


def label_guess(
    event_types: tuple[str, ...], main_type: str | None = None
) -> tuple[str, str] | None:
    """The label's event type and why: the store's only one, when a spec can name it (a
    purchase log such as CDNOW: will they buy again, whatever it is called), else the one
    with a conversion word (conversion_event_type), a repeat too when it is `main_type`
    (an order log with a few cancellations: most users have bought, so "has not bought yet"
    would leave almost no row). A type beside its `<TYPE>_TRIAL` (trials' starts, split from
    paid transactions at ingest) is the conversion before any name: will a trial user pay."""
    if len(event_types) == 1 and is_spec_name(event_types[0]):
        return event_types[0], ONLY_TYPE
    paid = next((t for t in event_types if f"{t}_TRIAL" in event_types and is_spec_name(t)), None)
    if paid is not None:  # the ingest's split of a transactions file by its trial flag
        return paid, PAID_AFTER_TRIAL.format(trial=f"{paid}_TRIAL")
    named = conversion_event_type(event_types)
    if named is None:
        return None
    return named, MAIN_TYPE if named == main_type else "a guess from its name"


def main_event_type(event_types: Sequence[Mapping[str, Any]]) -> str | None:
    """The event type of half or more of the quality report's events, if one is."""
    total = sum(t["events"] for t in event_types)
    return next((t["event_type"] for t in event_types if t["events"] * 2 >= total > 0), None)


def _month_start(month: str, shift: int) -> date:
    index = month_index(month) + shift
    return date(index // 12, index % 12 + 1, 1)


def starter_calendar(
    months: tuple[str, ...], data_end: datetime | None = None, data_start: datetime | None = None
) -> str | None:
    """The starter's calendar cutoffs: monthly ones (_monthly_cutoffs) when the store's span
    holds MIN_STARTER_CUTOFFS of them that can be split for tuning (_splittable), else weekly
    ones (_weekly_cutoffs, which need `data_start` and `data_end`) when they can, or when
    too few monthly ones fit and MIN_STARTER_CUTOFFS weekly ones do, else the monthly ones it
    holds; None when it holds none.

    Three monthly cutoffs from February cannot be split: February's 30-day labels run into
    March, so the first cutoff's rows are all embargoed and `tune` has no train part."""
    monthly = _monthly_cutoffs(months, data_end)
    weekly = _weekly_cutoffs(data_start, data_end)
    enough_months = monthly is not None and _month_count(*monthly) >= MIN_STARTER_CUTOFFS
    if enough_months and _splittable(_month_starts(*monthly)):
        return _calendar_text(*monthly, "month")
    if weekly is not None and (not enough_months or _splittable(_week_starts(*weekly))):
        return _calendar_text(*weekly, str(WEEK_DAYS))
    return None if monthly is None else _calendar_text(*monthly, "month")


def _splittable(cutoffs: list[date]) -> bool:
    """Whether `tune`'s time-ordered split can give each part rows (experiments.split's
    rule): some cutoff lies at least STARTER_HORIZON_DAYS after the first and at least as
    long before the last, so the first cutoff's labels end before validation's start, whose
    labels end before the test's."""
    horizon = timedelta(days=STARTER_HORIZON_DAYS)
    return any(cutoffs[0] + horizon <= middle <= cutoffs[-1] - horizon for middle in cutoffs)


def _month_starts(start: date, end: date) -> list[date]:
    """The first days of the months from `start` to `end` (first days of a month)."""
    return [
        _month_start(f"{start.year}-{start.month:02d}", shift)
        for shift in range(_month_count(start, end))
    ]


def _week_starts(start: date, end: date) -> list[date]:
    """Every WEEK_DAYS days from `start` to `end`."""
    return [start + timedelta(days=days) for days in range(0, (end - start).days + 1, WEEK_DAYS)]


def _calendar_text(start: date, end: date, every: str) -> str:
    return f"calendar: {{start: {start.isoformat()}, end: {end.isoformat()}, every: {every}}}"


def _month_count(start: date, end: date) -> int:
    """Month starts from `start` to `end`, both first days of a month."""
    return (end.year - start.year) * 12 + end.month - start.month + 1


def _monthly_cutoffs(
    months: tuple[str, ...], data_end: datetime | None
) -> tuple[date, date] | None:
    """Monthly cutoffs inside the store's span: from the month after the first event month (a
    month of history) to the month before the last (room for a 30-day label), or to the last
    month itself when its events reach STARTER_HORIZON_DAYS past its first day (`data_end`:
    the end of data as a build reads it; past the last month, a stray later event, it tells
    nothing of where the last month's events end); None when none fits."""
    if not months:
        return None
    start, end = _month_start(months[0], 1), _month_start(months[-1], -1)
    last = datetime.combine(_month_start(months[-1], 0), time())
    after = datetime.combine(_month_start(months[-1], 1), time())
    if data_end is not None and last + timedelta(days=STARTER_HORIZON_DAYS) <= data_end <= after:
        end = last.date()
    return None if start > end else (start, end)


def _weekly_cutoffs(
    data_start: datetime | None, data_end: datetime | None
) -> tuple[date, date] | None:
    """Weekly cutoffs for a store too short for MIN_STARTER_CUTOFFS monthly ones: from
    WEEKLY_HISTORY_DAYS after the first event's day to the last day whose STARTER_HORIZON_DAYS
    label lies inside the data; None unless MIN_STARTER_CUTOFFS fit."""
    if data_start is None or data_end is None:
        return None
    start = data_start.date() + timedelta(days=WEEKLY_HISTORY_DAYS)
    end = (data_end - timedelta(days=STARTER_HORIZON_DAYS)).date()
    if (end - start).days < WEEK_DAYS * (MIN_STARTER_CUTOFFS - 1):
        return None
    return start, start + timedelta(days=(end - start).days // WEEK_DAYS * WEEK_DAYS)


def starter_windows(months: tuple[str, ...]) -> tuple[int, ...]:
    """The starter's windows in days: 7 and 30, and each of LONGER_WINDOWS the store's months
    can fill."""
    return (7, 30, *(days for days, needed in LONGER_WINDOWS if len(months) >= needed))


def signup_windows(days: int) -> tuple[int, ...]:
    """An after-signup starter's windows: 7 days when shorter than the user's `days`, and
    `days` (all of the user's life so far)."""
    return (7, days) if days > 7 else (days,)


_ACTIONABLE_DAYS = "active_days_30d, direction: increase, lower: 0, upper: 30,"


def _signup_relative(text: str, days: int) -> str:
    """The starter `text` asked at each user's signup + `days` days: that one cutoff, every
    user (activity before it is what the model reads, not a filter), windows inside the
    user's life so far, and no tenure (the same for every row)."""
    text = _replace_once(
        text,
        _PLACEHOLDER_CALENDAR,
        f"after_signup: {{offset_days: {days}}}   # one row per user, at signup + {days} days",
    )
    if _PLACEHOLDER_ELIGIBILITY in text:  # will they convert: the not yet converted
        text = _replace_once(
            text, _PLACEHOLDER_ELIGIBILITY, _PLACEHOLDER_ELIGIBILITY.replace(_ACTIVE_WITHIN, "")
        )
    elif _ACTIVE_USERS in text:
        text = _replace_once(text, _ACTIVE_USERS, _EVERY_USER)
    population = re.search(r"^description: ([^;\n]*);", text, re.MULTILINE)
    if population is None:
        raise RuntimeError(f"{STARTER_FILE} lost its description's population")
    text = text.replace(
        population.group(0), f"description: Every user at signup + {days} days;", 1
    )
    text = _replace_once(_with_windows(text, signup_windows(days)), _TENURE_GROUP, "")
    return _replace_once(
        text,
        _ACTIONABLE_DAYS,
        f"active_days_{days}d, direction: increase, lower: 0, upper: {days},",
    )


def _with_windows(text: str, windows: Sequence[int]) -> str:
    """`text` with each feature group still at the placeholder windows given `windows`."""
    head, groups = text.split("\nfeatures:\n")
    groups = groups.replace(_PLACEHOLDER_WINDOWS, f"windows: {list(windows)}")
    return f"{head}\nfeatures:\n{groups}"


def _item_values_text(values: Sequence[tuple[str, str]]) -> str:
    """An item_count entry's `values:` in the spec's YAML: a list when each value is its own
    plain name, else a mapping of plain names to values."""
    if all(name == value for name, value in values):
        return "[" + ", ".join(json.dumps(name) for name, _ in values) + "]"
    return "{" + ", ".join(f"{name}: {json.dumps(value)}" for name, value in values) + "}"


def _replace_once(text: str, old: str, new: str) -> str:
    if text.count(old) != 1:
        raise RuntimeError(f"{STARTER_FILE} lost its placeholder {old!r}")
    return text.replace(old, new)


_ACTIVE_WITHIN = "  active_within_days: 30\n"
_ACTIVE_USERS = f"eligibility:\n{_ACTIVE_WITHIN}"
_EVERY_USER = "eligibility: {}   # every user who signed up before the cutoff, active or not\n"
# The starters of the label kinds other than event_within: (label block, eligibility block,
# description). Churn and adoption are asked of the users active in the last 30 days (a user
# gone for months has churned already); a value of every user (the whole customer base's
# worth). value_within's event type, when the store tells it, is added by value_label_type.
QUESTIONS = {
    "churn": (
        "label:\n  kind: churn\n  horizon_days: 30\n",
        _ACTIVE_USERS,
        "Users active in the last 30 days; label = no event at all within 30 days.",
    ),
    "active_days_in_window": (
        "label:\n  kind: active_days_in_window\n  horizon_days: 30\n  min_days: 3\n"
        "  window_days: 7\n",
        _ACTIVE_USERS,
        "Users active in the last 30 days; label = active on 3 days within some 7-day window "
        "in the next 30 days (adopted).",
    ),
    "value_within": (
        "label:\n  kind: value_within\n  horizon_days: 30\n",
        _EVERY_USER,
        "Every user; label = the value of their events within 30 days (a regression).",
    ),
}
LABEL_STARTER_KINDS = ("event_within", *QUESTIONS)
# Words of an event type's name that read as a customer leaving (Stripe's subscriptions
# read as SUBSCRIPTION_CANCELED), strongest first: where a store has one, churn is that event,
# not silence (a subscriber pays without any event for months).
CANCELLATION_WORDS = (
    "canceled", "cancelled", "cancel", "cancellation", "churned", "churn", "unsubscribed",
    "unsubscribe", "deactivated", "ended", "deleted",  # an app's USER_DELETED (deleted_at)
    "kundigung", "gekundigt", "annulation", "resiliation", "cancelacion", "baja",
    "cancelamento", "disdetta",
)  # fmt: skip
CANCELLATION_WHY = "a cancellation, by its name: churn is that event here, not a silence"


def cancellation_event_type(event_types: tuple[str, ...]) -> str | None:
    """The event type whose name holds the strongest cancellation word (CANCELLATION_WORDS);
    None without one."""
    return _named_event_type(event_types, CANCELLATION_WORDS)


def _article(event_type: str) -> str:
    """`an` before an event type read with a vowel sound first (an ORDER_PAID, an UPGRADE),
    else `a` (a USER_DELETED)."""
    start = event_type[:2].lower()
    return "an" if start[:1] in ("a", "e", "i", "o") or start in ("un", "up") else "a"


def value_label_type(valued: tuple[str, ...]) -> tuple[str, str] | None:
    """The event type whose values a value_within starter sums, and why: the one of the
    valued types (valued_types) named like a conversion (an order's amount, not a play's
    seconds), else the only valued one; None when neither tells it."""
    named = conversion_event_type(valued)
    if named is not None:
        return named, "a guess from its name among the types whose events carry a value"
    if len(valued) == 1:
        return valued[0], "the only event type whose events carry a value"
    return None


def _question(
    text: str, kind: str, store: StoreFacts | None
) -> tuple[str, tuple[str, str] | None]:
    """`text` with the label, eligibility and description of a QUESTIONS kind, and the
    label's event type and why when one is chosen: a value label's (value_label_type), or
    churn's when the store has a cancellation (cancellation_event_type), which then asks
    event_within of it."""
    label, eligibility, description = QUESTIONS[kind]
    chosen = None
    cancellation = None
    if kind == "churn" and store is not None:
        cancellation = cancellation_event_type(store.event_types)
    if cancellation is not None:
        chosen = cancellation, CANCELLATION_WHY
        named = json.dumps(cancellation)
        label = f"label:\n  kind: event_within\n  event_type: {named}\n  horizon_days: 30\n"
        eligibility = f"eligibility:\n  not_converted: {named}\n"
        one = f"{_article(cancellation)} {cancellation}"
        description = f"Users without {one} yet; label = {one} within 30 days (churn)."
    if kind == "value_within" and store is not None:
        if not store.valued:
            raise SpecError(
                "--label value_within: the event store's events carry no value; map a "
                "`value` column (an order's amount) in the dataset config and ingest again"
            )
        chosen = value_label_type(store.valued)
        if chosen is not None:
            label += f"  event_type: {json.dumps(chosen[0])}\n"
            description = description.replace("their events", f"their {chosen[0]} events")
    text = _replace_once(text, _PLACEHOLDER_LABEL_BLOCK, label)
    text = _replace_once(text, _PLACEHOLDER_ELIGIBILITY, eligibility)
    return _replace_once(text, _PLACEHOLDER_DESCRIPTION, description), chosen


def starter_text(
    name: str,
    store: StoreFacts | None = None,
    label_kind: str = "event_within",
    after_signup: int | None = None,
) -> Starter:
    """The starter spec for `name` asking `label_kind`'s question (LABEL_STARTER_KINDS),
    at monthly cutoffs or, with `after_signup`, at each user's signup + that many days (an
    onboarding question); with `store`, its dataset, cutoffs and counted event types are the
    store's, and only the label's event type may stay a placeholder."""
    if after_signup is not None and after_signup < 1:
        raise SpecError(
            f"--after-signup {after_signup}: the cutoff must come at least a day after signup, "
            "so that the features see some of the user's events"
        )
    text = STARTER_FILE.read_text()
    value_label = None
    if label_kind != "event_within":
        text, value_label = _question(text, label_kind, store)
    if store is None:
        if after_signup is not None:
            text = _signup_relative(text, after_signup)
        return Starter(
            text.replace(STARTER_NAME, name), label_kind=label_kind, after_signup=after_signup
        )
    # JSON quoting keeps any dataset name one YAML string ("shop: EU" included).
    text = _replace_once(
        text, f"dataset: {STARTER_DATASET}", f"dataset: {json.dumps(store.dataset)}"
    )
    calendar = (
        None if after_signup else starter_calendar(store.months, store.data_end, store.data_start)
    )
    if calendar is not None:
        text = _replace_once(text, _PLACEHOLDER_CALENDAR, calendar)
    guess = label_guess(store.event_types, store.main_type)
    label, label_why = (guess if label_kind == "event_within" else value_label) or (None, "")
    # A user eligible while not converted has no event of the label's type: its count and
    # its last area would be 0 and blank on every row.
    unconverted = label if label_kind == "event_within" and label_why not in REPEATS else None
    counted = tuple(t for t in store.event_types if is_spec_name(t) and t != unconverted)[
        :COUNTED_FROM_STORE
    ]
    if counted:
        # JSON-quoted: an event type such as `yes` or `null` stays a string in YAML.
        listed = ", ".join(json.dumps(t) for t in counted)
        text = _replace_once(text, _PLACEHOLDER_COUNTED, f"event_types: [{listed}]")
    if label_kind == "event_within" and label_why in REPEATS:
        # Will a buyer buy again: every user, the dormant ones too (a repeat-purchase model
        # scores the whole customer base), and not "not converted", which would leave no row.
        text = _replace_once(text, _PLACEHOLDER_ELIGIBILITY, _EVERY_USER)
        text = _replace_once(text, _PLACEHOLDER_POPULATION, "Every user")
    if store.sessions:
        text = _replace_once(text, _ACTIVE_DAYS_GROUP, _ACTIVE_DAYS_GROUP + _SESSIONS_GROUP)
    if store.areas:
        text = _replace_once(text, _ACTIVE_DAYS_GROUP, _ACTIVE_DAYS_GROUP + _AREAS_GROUP)
    # The counted types' values, and a value label's own past values (the best guess of
    # what a user will spend is what they spent).
    valued = tuple(t for t in store.valued if t in counted or (value_label and t == label))
    windows = signup_windows(after_signup) if after_signup else starter_windows(store.months)
    if valued:
        listed = ", ".join(json.dumps(t) for t in valued)
        value_windows = [w for w in windows if w >= 30] or [windows[-1]]
        text = _replace_once(
            text,
            _ACTIVE_DAYS_GROUP,
            f"{_ACTIVE_DAYS_GROUP}  - kind: value_sum\n    event_types: [{listed}]\n"
            f"    windows: {value_windows}\n",
        )
    rhythm = counted[0] if counted else None
    if rhythm:
        gaps = f"  - kind: gaps\n    event_types: [{json.dumps(rhythm)}]\n"
        text = _replace_once(text, _TENURE_GROUP, _TENURE_GROUP + gaps)
    area_changes = tuple(t for t in store.area_changes if t != unconverted)
    if area_changes:
        changes = "".join(
            f"  - kind: last\n    field: area\n    event_types: [{json.dumps(t)}]\n"
            for t in area_changes
        )
        text = _replace_once(text, _TENURE_GROUP, _TENURE_GROUP + changes)
    if store.attributes:
        names = ", ".join(json.dumps(name) for name in store.attributes)
        attribute_group = f"  - kind: attribute\n    names: [{names}]\n"
        text = _replace_once(text, _TENURE_GROUP, _TENURE_GROUP + attribute_group)
    if store.item_means:
        listed = ", ".join(map(str, windows))
        item_means = "".join(
            f"  - kind: item_mean\n    attribute: {json.dumps(name)}\n    windows: [{listed}]\n"
            for name in store.item_means
        )
        text = _replace_once(text, _TENURE_GROUP, _TENURE_GROUP + item_means)
    if store.item_counts:
        listed = ", ".join(map(str, windows))
        item_counts = "".join(
            f"  - kind: item_count\n    attribute: {json.dumps(attribute)}\n"
            f"    values: {_item_values_text(values)}\n    windows: [{listed}]\n"
            for attribute, values in store.item_counts
        )
        text = _replace_once(text, _TENURE_GROUP, _TENURE_GROUP + item_counts)
    longer = windows[-1] > 30 and not after_signup
    if longer:
        text = _with_windows(text, windows)
    filled = [
        *(["cutoffs"] if calendar else []),
        *(["counted event types"] if counted else []),
        *(["value sums"] if valued else []),
        *(["event gaps"] if rhythm else []),
        *([f"windows up to {windows[-1]} days"] if longer else []),
        *(["sessions features"] if store.sessions else []),
        *(["product-area breadth features"] if store.areas else []),
        *(["last-area features"] if area_changes else []),
        *(["user attribute features"] if store.attributes else []),
        *(["item attribute means"] if store.item_means else []),
        *(["item category counts"] if store.item_counts else []),
    ]
    if filled:  # a guessed label is a nameable type, so it comes with counted ones
        label_note = (
            f"# Its label's event type, {label}, is {label_why}: check it;\n"
            if label
            else f"# Its label, {label_kind}, is the one asked for: check its horizon;\n"
            if label_kind != "event_within"
            else "# Its other event types (PURCHASE) are placeholders: replace them with yours;\n"
        )
        listed = ", ".join(filled[:-1]) + (" and " if len(filled) > 1 else "") + filled[-1]
        origin = textwrap.wrap(
            f"Its {listed} come from your event store (dataset {store.dataset}).", 90
        )
        text = _replace_once(
            text,
            _PLACEHOLDER_NOTE,
            "".join(f"# {line}\n" for line in origin) + f"{label_note}"
            "# `usagecast features build __NAME__@v1` lists the ones the event store holds.",
        )
    if after_signup is not None:
        text = _signup_relative(text, after_signup)
    if label:
        text = text.replace(f"a {_PLACEHOLDER_LABEL} within", f"{_article(label)} {label} within")
        text = text.replace(f": {_PLACEHOLDER_LABEL}\n", f": {json.dumps(label)}\n")
    return Starter(
        text.replace(STARTER_NAME, name),
        calendar=calendar,
        counted=counted,
        label=label,
        sessions=store.sessions,
        label_why=label_why,
        attributes=store.attributes,
        item_means=store.item_means,
        item_counts=tuple(attribute for attribute, _ in store.item_counts),
        areas=store.areas,
        area_changes=area_changes,
        windows=windows if longer else (),
        valued=valued,
        rhythm=rhythm,
        label_kind=label_kind,
        after_signup=after_signup,
    )


def new_spec(
    name: str,
    sets_dir: Path | None = None,
    store: StoreFacts | None = None,
    label_kind: str = "event_within",
    after_signup: int | None = None,
) -> Starter:
    """Write a commented starter `name@v1` into the project folder; never overwrite a file.

    `store` (the ingested store's facts, when one exists) fills in what it can; `label_kind`
    picks the question and `after_signup` its cutoff (starter_text).
    """
    ref = FeatureSetRef(check_name(name, "spec name"), 1)
    folder = dict(_folders(sets_dir)).get("project")
    if folder is None:
        raise SpecError(f"{SHIPPED_DIR} holds the shipped examples; choose another spec folder")
    path = spec_path(ref, folder)
    for origin, other in _folders(sets_dir):
        if spec_path(ref, other).exists():
            raise SpecError(
                f"{spec_path(ref, other)} already exists ({origin}); edit it, or choose "
                "another name"
            )
    starter = starter_text(name, store, label_kind, after_signup)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("x") as handle:
        handle.write(starter.text)
    return replace(starter, path=path)


def list_specs(sets_dir: Path | None = None) -> tuple[CatalogEntry, ...]:
    """Every spec file of both folders, sorted by name and version; a clash is an error."""
    by_ref: dict[FeatureSetRef, list[CatalogEntry]] = {}
    for origin, folder in _folders(sets_dir):
        for path in sorted(folder.glob("*/v*.yaml")):
            try:
                ref = FeatureSetRef.parse(f"{path.parent.name}@{path.stem}")
            except InvalidRefError:
                continue  # not a spec file: another YAML lying in the folder
            by_ref.setdefault(ref, []).append(CatalogEntry(ref, path, origin))
    for entries in by_ref.values():
        _refuse_clash(entries)
    return tuple(by_ref[ref][0] for ref in sorted(by_ref))
