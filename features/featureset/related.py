"""Related-entity features (`kind: related`): what the users related to a row's user did
before the row's cutoff.

A `related` entry names a static users attribute `via`. With `relation: group` the related
users of a row are the other users with the same value; with `relation: reference` the one
user whose id is the value. The row's own user is never one of them (so a self-reference
relates nobody). A row whose value is blank (NULL or '') gets NULL for every column of the
entry; a row with no related user gets 0 for counts and users, NULL for the label rate.

Point in time, as for the user's own features: events of the related users in
[cutoff - w, cutoff), users signed up before the cutoff, and only labels of rows of this
feature set whose window [their cutoff, their cutoff + horizon) had closed by the row's
cutoff.

Cost: aggregating each row's related users' events per row would pair every row with every
event of its group. Instead each distinct (key, cutoff) -- a group value or a referenced id,
at a cutoff one of its rows has -- is paired once with its members' events in the longest
window, and every member's contribution is kept apart (`parts`). A row's value is the
key's total minus its own user's part: exact for counts, sessions (distinct (member,
session) pairs, so each belongs to one member), users and label sums. Distinct active days
do not add up over members: a date counts for a row when another member was active on it,
that is, every date with an active member minus the dates on which the row's user was the
only one (`sole_<w>d`). CTEs per entry, prefix P: related_P_keys -> related_P_slots ->
related_P_events -> related_P_counts | related_P_member_days -> related_P_days ->
related_P_sole | related_P_labels -> related_P_parts -> related_P_totals -> related_P_values.
"""

from __future__ import annotations

import datetime as dt

import sqlglot.expressions as exp

from features.event_store import EVENTS, USERS
from features.featureset.spec import RELATED_KINDS, FeatureDef, FeatureSetSpec

# Keys of a pairing of a (key, cutoff) with one member.
_SLOT = ("rel_key", "cutoff", "member_id")
_LABEL_SUM = "label_sum"
_LABEL_ROWS = "label_rows"
_USERS = "signed_up"


def related_entries(features: tuple[FeatureDef, ...]) -> dict[str, tuple[FeatureDef, ...]]:
    """The related features grouped by their entry's prefix, in spec order."""
    entries: dict[str, list[FeatureDef]] = {}
    for feature in features:
        if feature.kind in RELATED_KINDS and feature.prefix is not None:
            entries.setdefault(feature.prefix, []).append(feature)
    return {prefix: tuple(defs) for prefix, defs in entries.items()}


def values_table(prefix: str) -> str:
    """The CTE holding one row per (user, cutoff) with the entry's columns."""
    return f"related_{prefix}_values"


def _num(value: int) -> exp.Literal:
    return exp.Literal.number(value)


def _flag(condition: exp.Expression) -> exp.Expression:
    return exp.Case().when(condition, _num(1)).else_(_num(0))


def _zero(value: exp.Expression) -> exp.Expression:
    return exp.Coalesce(this=value, expressions=[_num(0)])


def _back(timestamp: exp.Expression, days: int) -> exp.Expression:
    interval = exp.Interval(this=exp.Literal.string(str(days)), unit=exp.var("DAY"))
    return exp.paren(exp.Sub(this=timestamp, expression=interval), copy=False)


def _on(left: str, right: str, keys: tuple[str, ...]) -> exp.Expression:
    return exp.and_(*(exp.column(key, left).eq(exp.column(key, right)) for key in keys))


def _text(value: exp.Expression) -> exp.Expression:
    return exp.cast(value, "VARCHAR")


def _not_blank(value: exp.Expression) -> exp.Expression:
    """NULL <> '' is NULL, so this also drops NULL."""
    return exp.NEQ(this=_text(value), expression=exp.Literal.string(""))


def _part_name(feature: FeatureDef) -> str:
    """A feature's per-member column in parts/totals (active days: the member's sole days)."""
    if feature.kind == "related_active_days":
        return f"sole_{feature.window_days}d"
    return feature.name


def _keys_select(via: str, rows: str) -> exp.Select:
    """Each row (user, cutoff) with a non-blank `via` value, as text (the key)."""
    return (
        exp.select(
            exp.column("user_id", "f"),
            exp.column("cutoff", "f"),
            _text(exp.column(via, "u")).as_("rel_key"),
        )
        .from_(exp.to_table(rows).as_("f"))
        .join(exp.to_table(USERS).as_("u"), on=_on("u", "f", ("user_id",)))
        .where(_not_blank(exp.column(via, "u")))
    )


def _slots_select(via: str, relation: str, keys: str) -> exp.Select:
    """Each distinct (key, cutoff) of the rows with every member of the key: the users with
    that value (group) or the user with that id (reference)."""
    if relation == "group":
        key = _text(exp.column(via, "m"))
        members = exp.and_(key.eq(exp.column("rel_key", "k")), _not_blank(exp.column(via, "m")))
    else:
        members = exp.column("user_id", "m").eq(exp.column("rel_key", "k"))
    distinct = exp.select("rel_key", "cutoff").distinct().from_(keys)
    return (
        exp.select(
            exp.column("rel_key", "k"),
            exp.column("cutoff", "k"),
            exp.column("user_id", "m").as_("member_id"),
            exp.column("signup_time", "m"),
        )
        .from_(exp.Subquery(this=distinct, alias="k"))
        .join(exp.to_table(USERS).as_("m"), on=members)
    )


def _events_select(slots: str, lookback: int, calendar: tuple[dt.date, ...] | None) -> exp.Select:
    """Each slot's member's events in [cutoff - longest window, cutoff).

    Calendar cutoffs are midnights, so an event lies in a cutoff's look-back exactly when its
    date is one of the lookback days before the cutoff's date: events are paired with the
    cutoffs through an equi-join on the date (a small VALUES list), then with the slots on
    (member, cutoff), instead of comparing each slot with every event of its member.
    """
    columns = [
        *(exp.column(key, "s") for key in _SLOT),
        *(exp.column(name, "e") for name in ("event_time", "event_date", "event_type")),
        exp.column("session_id", "e"),
    ]
    if calendar is None:
        time = exp.column("event_time", "e")
        cutoff = exp.column("cutoff", "s")
        on = exp.and_(
            exp.column("user_id", "e").eq(exp.column("member_id", "s")),
            time >= _back(cutoff, lookback),
            time.copy() < cutoff.copy(),
        )
        return (
            exp.select(*columns)
            .from_(exp.to_table(slots).as_("s"))
            .join(exp.to_table(EVENTS).as_("e"), on=on)
        )
    days = exp.values(
        [
            (
                exp.cast(exp.Literal.string(cutoff.isoformat()), "TIMESTAMP"),
                exp.cast(
                    exp.Literal.string((cutoff - dt.timedelta(days=back)).isoformat()), "DATE"
                ),
            )
            for cutoff in calendar
            for back in range(1, lookback + 1)
        ],
        alias="lookback_days",
        columns=["cutoff", "event_day"],
    )
    return (
        exp.select(*columns)
        .from_(exp.to_table(EVENTS).as_("e"))
        .join(
            exp.Subquery(this=exp.select("*").from_(days), alias="c"),
            on=exp.column("event_date", "e").eq(exp.column("event_day", "c")),
        )
        .join(
            exp.to_table(slots).as_("s"),
            on=exp.and_(
                exp.column("member_id", "s").eq(exp.column("user_id", "e")),
                exp.column("cutoff", "s").eq(exp.column("cutoff", "c")),
            ),
        )
    )


def _in_window(days: int) -> exp.Expression:
    return exp.column("event_time") >= _back(exp.column("cutoff"), days)


def _counts_select(events: str, defs: tuple[FeatureDef, ...]) -> exp.Select:
    """Per slot: the member's events of each type and distinct sessions, per window."""
    columns = []
    for feature in defs:
        window = _in_window(feature.window_days or 0)
        if feature.kind == "related_count":
            of_type = exp.column("event_type").eq(exp.Literal.string(feature.event_type or ""))
            value = exp.Count(this=exp.Case().when(exp.and_(window, of_type), _num(1)))
        else:
            distinct = exp.Case().when(window, exp.column("session_id"))
            value = exp.Count(this=exp.Distinct(expressions=[distinct]))
        columns.append(value.as_(feature.name))
    return exp.select(*_SLOT, *columns).from_(events).group_by(*_SLOT)


def _day_ctes(prefix: str, events: str, windows: tuple[int, ...]) -> list[tuple[str, exp.Select]]:
    """Active days: per (slot, date) whether the member was active in each window, per (key,
    cutoff, date) how many members were, and per slot the dates it was the only one."""
    member_days, days = f"related_{prefix}_member_days", f"related_{prefix}_days"
    flags = (
        exp.select(
            *_SLOT,
            "event_date",
            *(exp.Max(this=_flag(_in_window(w))).as_(f"in_{w}d") for w in windows),
        )
        .from_(events)
        .group_by(*_SLOT, "event_date")
    )
    counts = (
        exp.select(
            "rel_key",
            "cutoff",
            "event_date",
            *(exp.Sum(this=exp.column(f"in_{w}d")).as_(f"active_{w}d") for w in windows),
        )
        .from_(member_days)
        .group_by("rel_key", "cutoff", "event_date")
    )
    alone = [
        exp.and_(
            exp.column(f"in_{w}d", "md").eq(_num(1)), exp.column(f"active_{w}d", "d").eq(_num(1))
        )
        for w in windows
    ]
    sole = (
        exp.select(
            *(exp.column(key, "md") for key in _SLOT),
            *(
                exp.Sum(this=_flag(a)).as_(f"sole_{w}d")
                for a, w in zip(alone, windows, strict=True)
            ),
        )
        .from_(exp.to_table(member_days).as_("md"))
        .join(exp.to_table(days).as_("d"), on=_on("md", "d", ("rel_key", "cutoff", "event_date")))
        .group_by(*(exp.column(key, "md") for key in _SLOT))
    )
    return [(member_days, flags), (days, counts), (f"related_{prefix}_sole", sole)]


def _labels_select(spec: FeatureSetSpec, slots: str, rows: str) -> exp.Select:
    """Per slot: the sum and number of labels of the member's kept rows whose label window
    had closed by the slot's cutoff (their cutoff + horizon <= it)."""
    horizon = spec.label.horizon_days
    assert horizon is not None  # spec.py refuses label_rate for `ever`
    interval = exp.Interval(this=exp.Literal.string(str(horizon)), unit=exp.var("DAY"))
    closed = exp.paren(exp.Add(this=exp.column("cutoff", "l"), expression=interval), copy=False)
    on = exp.and_(
        exp.column("user_id", "l").eq(exp.column("member_id", "s")),
        exp.column("status", "l").eq(exp.Literal.string("kept")),
        closed <= exp.column("cutoff", "s"),
    )
    return (
        exp.select(
            *(exp.column(key, "s") for key in _SLOT),
            exp.Sum(this=exp.column("label", "l")).as_(_LABEL_SUM),
            exp.Count(this=exp.column("label", "l")).as_(_LABEL_ROWS),
        )
        .from_(exp.to_table(slots).as_("s"))
        .join(exp.to_table(rows).as_("l"), on=on)
        .group_by(*(exp.column(key, "s") for key in _SLOT))
    )


def _part_columns(defs: tuple[FeatureDef, ...]) -> list[str]:
    """The per-member columns the entry's features read, in a fixed order."""
    names = [_part_name(f) for f in defs if f.kind not in ("related_users", "related_label_rate")]
    if any(f.kind == "related_users" for f in defs):
        names.append(_USERS)
    if any(f.kind == "related_label_rate" for f in defs):
        names += [_LABEL_SUM, _LABEL_ROWS]
    return names


def _parts_select(
    prefix: str, defs: tuple[FeatureDef, ...], sides: list[tuple[str, list[str]]]
) -> exp.Select:
    """Per slot: every column of the member's contribution, 0 where it has none."""
    slots = f"related_{prefix}_slots"
    select = exp.select(*(exp.column(key, "s") for key in _SLOT)).from_(
        exp.to_table(slots).as_("s")
    )
    if any(f.kind == "related_users" for f in defs):
        signed_up = exp.column("signup_time", "s") < exp.column("cutoff", "s")
        select = select.select(_flag(signed_up).as_(_USERS))
    for index, (table, columns) in enumerate(sides):
        alias = f"p{index}"
        select = select.select(*(_zero(exp.column(c, alias)).as_(c) for c in columns))
        select = select.join(
            exp.to_table(table).as_(alias), on=_on(alias, "s", _SLOT), join_type="left"
        )
    return select


def _totals_select(prefix: str, defs: tuple[FeatureDef, ...]) -> exp.Select:
    """Per (key, cutoff): the members' parts added up, and the dates with an active member."""
    parts = f"related_{prefix}_parts"
    sums = (
        exp.select(
            "rel_key",
            "cutoff",
            *(
                exp.Sum(this=exp.column(c)).as_(c)
                for c in _part_columns(defs)
                if not c.startswith("sole_")  # per member only: see _value
            ),
        )
        .from_(parts)
        .group_by("rel_key", "cutoff")
    )
    windows = [f.window_days for f in defs if f.kind == "related_active_days"]
    if not windows:
        return sums
    dated = (
        exp.select(
            "rel_key",
            "cutoff",
            *(
                exp.Sum(this=_flag(exp.column(f"active_{w}d") >= _num(1))).as_(f"days_{w}d")
                for w in windows
            ),
        )
        .from_(f"related_{prefix}_days")
        .group_by("rel_key", "cutoff")
    )
    return (
        exp.select(
            exp.Column(this=exp.Star(), table=exp.to_identifier("t")),
            *(_zero(exp.column(f"days_{w}d", "dd")).as_(f"days_{w}d") for w in windows),
        )
        .from_(exp.Subquery(this=sums, alias="t"))
        .join(
            exp.Subquery(this=dated, alias="dd"),
            on=_on("dd", "t", ("rel_key", "cutoff")),
            join_type="left",
        )
    )


def _value(feature: FeatureDef) -> exp.Expression:
    """A row's value: the key's total less the row user's own part, as DOUBLE."""

    def others(total: str, own: str) -> exp.Expression:
        return exp.Sub(this=_zero(exp.column(total, "t")), expression=_zero(exp.column(own, "o")))

    if feature.kind == "related_label_rate":
        rows = others(_LABEL_ROWS, _LABEL_ROWS)
        return exp.Div(
            this=exp.cast(others(_LABEL_SUM, _LABEL_SUM), "DOUBLE"),
            expression=exp.Nullif(this=exp.cast(rows, "DOUBLE"), expression=_num(0)),
        )
    if feature.kind == "related_users":
        return exp.cast(others(_USERS, _USERS), "DOUBLE")
    if feature.kind == "related_active_days":
        return exp.cast(others(f"days_{feature.window_days}d", _part_name(feature)), "DOUBLE")
    return exp.cast(others(feature.name, feature.name), "DOUBLE")


def _values_select(prefix: str, defs: tuple[FeatureDef, ...]) -> exp.Select:
    """Per row with a key: each feature of the entry (rows without a key get no row: NULL)."""
    own = exp.and_(
        _on("o", "k", ("rel_key", "cutoff")),
        exp.column("member_id", "o").eq(exp.column("user_id", "k")),
    )
    return (
        exp.select(
            exp.column("user_id", "k"),
            exp.column("cutoff", "k"),
            *(_value(f).as_(f.name) for f in defs),
        )
        .from_(exp.to_table(f"related_{prefix}_keys").as_("k"))
        .join(
            exp.to_table(f"related_{prefix}_totals").as_("t"),
            on=_on("t", "k", ("rel_key", "cutoff")),
            join_type="left",
        )
        .join(exp.to_table(f"related_{prefix}_parts").as_("o"), on=own, join_type="left")
    )


def related_ctes(
    spec: FeatureSetSpec,
    prefix: str,
    defs: tuple[FeatureDef, ...],
    rows: str,
    calendar: tuple[dt.date, ...] | None,
) -> list[tuple[str, exp.Select]]:
    """The CTEs of one `related` entry, ending in values_table(prefix); `rows` is the CTE of
    the query's rows (user_id, cutoff, label, status) before related features, `calendar`
    the cutoff dates when every cutoff is one of them (calendar-only specs), else None."""
    via, relation = defs[0].via, defs[0].relation
    assert via is not None and relation is not None  # set by spec.py's expansion
    name = f"related_{prefix}"
    ctes: list[tuple[str, exp.Select]] = [
        (f"{name}_keys", _keys_select(via, rows)),
        (f"{name}_slots", _slots_select(via, relation, f"{name}_keys")),
    ]
    sides: list[tuple[str, list[str]]] = []
    windowed = [f for f in defs if f.window_days is not None]
    if windowed:
        lookback = max(f.window_days or 0 for f in windowed)
        ctes.append((f"{name}_events", _events_select(f"{name}_slots", lookback, calendar)))
    counted = tuple(f for f in windowed if f.kind in ("related_count", "related_sessions"))
    if counted:
        ctes.append((f"{name}_counts", _counts_select(f"{name}_events", counted)))
        sides.append((f"{name}_counts", [f.name for f in counted]))
    windows = tuple(f.window_days or 0 for f in windowed if f.kind == "related_active_days")
    if windows:
        ctes += _day_ctes(prefix, f"{name}_events", windows)
        sides.append((f"{name}_sole", [f"sole_{w}d" for w in windows]))
    if any(f.kind == "related_label_rate" for f in defs):
        ctes.append((f"{name}_labels", _labels_select(spec, f"{name}_slots", rows)))
        sides.append((f"{name}_labels", [_LABEL_SUM, _LABEL_ROWS]))
    ctes += [
        (f"{name}_parts", _parts_select(prefix, defs, sides)),
        (f"{name}_totals", _totals_select(prefix, defs)),
        (values_table(prefix), _values_select(prefix, defs)),
    ]
    return ctes
