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
event of its group. A row's value is instead its key's total (a group value or a referenced
id, at the row's cutoff) less its own user's part. That is exact for counts, sessions
(distinct (member, session) pairs: each belongs to one member), users and label sums.
Distinct active dates do not add up over members: a date counts for a row when another
member was active on it, i.e. every date with an active member less the dates on which the
row's user was the only one (`sole_<w>d`). Two plans for the windowed aggregates:
- midnight cutoffs (calendar, `anchor: date`), `_day_plan_ctes`: windows hold whole dates,
  so the events are rolled up once per (user, date) for every entry (`user_rollup_ctes`),
  then per (key, member, date) and (key, date), and a (key, cutoff) or a row reads the rollup
  rows of its lookback dates, whatever the number of members. A session counts on its first
  date in the window: its dates are rolled up with the gap to the same session's previous
  date (`gaps`), and a date counts it when that gap reaches back before the window.
- cutoffs at a time of day (`anchor: timestamp`): each distinct (key, cutoff) is paired
  once with its members' events in the longest window (`events`) and every member's part
  kept apart (`parts`); cutoffs that members share are paired once, but a group whose
  members all have their own cutoff pairs each member's events once per member.
Users and label rates always come from `slots` (each (key, cutoff) with its members) and
`parts`; every CTE of an entry is named `related_<prefix>_...`.
"""

from __future__ import annotations

import sqlglot.expressions as exp

from events.store import EVENTS, USERS
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


def _members_select(via: str, relation: str, keys: str) -> exp.Select:
    """(key, member, signup_time) for the keys the rows have: each user with a non-blank
    value under that value (group), or each referenced user under their own id (reference)."""
    key = exp.column("user_id") if relation == "reference" else _text(exp.column(via))
    wanted = key.copy().isin(query=exp.select("rel_key").from_(keys))
    return (
        exp.select(key.as_("rel_key"), exp.column("user_id").as_("member_id"), "signup_time")
        .from_(USERS)
        .where(wanted)
    )


def _slots_select(keys: str, members: str) -> exp.Select:
    """Each distinct (key, cutoff) of the rows with every member of the key."""
    distinct = exp.select("rel_key", "cutoff").distinct().from_(keys)
    return (
        exp.select(
            exp.column("rel_key", "k"),
            exp.column("cutoff", "k"),
            exp.column("member_id", "m"),
            exp.column("signup_time", "m"),
        )
        .from_(exp.Subquery(this=distinct, alias="k"))
        .join(exp.to_table(members).as_("m"), on=_on("m", "k", ("rel_key",)))
    )


def _events_select(slots: str, lookback: int) -> exp.Select:
    """Each slot's member's events in [cutoff - longest window, cutoff)."""
    time = exp.column("event_time", "e")
    cutoff = exp.column("cutoff", "s")
    on = exp.and_(
        exp.column("user_id", "e").eq(exp.column("member_id", "s")),
        time >= _back(cutoff, lookback),
        time.copy() < cutoff.copy(),
    )
    return (
        exp.select(
            *(exp.column(key, "s") for key in _SLOT),
            *(exp.column(name, "e") for name in ("event_time", "event_date", "event_type")),
            exp.column("session_id", "e"),
        )
        .from_(exp.to_table(slots).as_("s"))
        .join(exp.to_table(EVENTS).as_("e"), on=on)
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


# The plan for midnight cutoffs: per-(key, date) rollups ------------------------------------


def _type_column(event_type: str | None) -> str:
    return f"n_{event_type}"


def _day_offsets(lookback: int) -> exp.Subquery:
    """day_offset -lookback .. -1: the dates of the longest window before a midnight cutoff."""
    values = exp.values(
        [(_num(-back),) for back in range(lookback, 0, -1)], alias="o", columns=["day_offset"]
    )
    return exp.Subquery(this=exp.select("*").from_(values), alias="o")


def _offset_date(cutoff: exp.Expression) -> exp.Expression:
    day = exp.DateAdd(
        this=exp.cast(cutoff, "DATE"),
        expression=exp.column("day_offset", "o"),
        unit=exp.var("DAY"),
    )
    return exp.cast(day, "DATE")


# The per-user rollups every entry of the day plan reads (one pass over the events each).
USER_DAYS = "related_user_days"
USER_GAPS = "related_user_gaps"
_DAY_KINDS = ("related_count", "related_active_days")


def user_rollup_ctes(features: tuple[FeatureDef, ...]) -> list[tuple[str, exp.Select]]:
    """Events per (user, date) with a count per type any entry counts, and, for sessions,
    session dates per (user, date, gap): the sessions whose previous date is `gap` days
    earlier (capped at the longest session window: none earlier, or too early to matter).
    For the day plan (midnight cutoffs) of every entry; independent of the keys."""
    windowed = [f for f in features if f.kind in RELATED_KINDS and f.window_days is not None]
    types = tuple(dict.fromkeys(f.event_type for f in windowed if f.kind == "related_count"))
    ctes: list[tuple[str, exp.Select]] = []
    if any(f.kind in _DAY_KINDS for f in windowed):
        counts = [
            exp.Count(
                this=exp.Case().when(
                    exp.column("event_type").eq(exp.Literal.string(t or "")), _num(1)
                )
            ).as_(_type_column(t))
            for t in types
        ]
        days = (
            exp.select("user_id", "event_date", *counts)
            .from_(EVENTS)
            .group_by("user_id", "event_date")
        )
        ctes.append((USER_DAYS, days))
    session_windows = [f.window_days or 0 for f in windowed if f.kind == "related_sessions"]
    if not session_windows:
        return ctes
    lookback = max(session_windows)
    dates = (
        exp.select("user_id", "session_id", "event_date")
        .distinct()
        .from_(EVENTS)
        .where(exp.column("session_id").is_(exp.null()).not_())
    )
    previous = exp.Window(
        this=exp.Anonymous(this="LAG", expressions=[exp.column("event_date")]),
        partition_by=[exp.column("user_id"), exp.column("session_id")],
        order=exp.Order(expressions=[exp.Ordered(this=exp.column("event_date"))]),
    )
    gap = exp.DateDiff(this=exp.column("event_date"), expression=previous, unit=exp.var("DAY"))
    capped = exp.Least(
        this=exp.Coalesce(this=gap, expressions=[_num(lookback)]), expressions=[_num(lookback)]
    )
    gapped = exp.select("user_id", "event_date", capped.as_("gap")).from_(
        exp.Subquery(this=dates, alias="d")
    )
    keys = ("user_id", "event_date", "gap")
    gaps = (
        exp.select(*keys, exp.Count(this=exp.Star()).as_("sessions"))
        .from_(exp.Subquery(this=gapped, alias="g"))
        .group_by(*keys)
    )
    return [*ctes, (USER_GAPS, gaps)]


def _rollup_ctes(
    name: str, members: str, types: tuple[str, ...], days: bool, sessions: bool
) -> list[tuple[str, exp.Select]]:
    """The per-user rollups under each member's key: per (key, member, date) and per (key,
    date) with the number of active members; per (key[, member], date, gap) for sessions."""
    on = exp.column("member_id", "m").eq(exp.column("user_id", "r"))
    member = [exp.column("rel_key", "m"), exp.column("member_id", "m")]
    ctes: list[tuple[str, exp.Select]] = []
    if days:
        columns = [_type_column(t) for t in types]
        ctes += [
            (
                f"{name}_member_days",
                exp.select(
                    *member, exp.column("event_date", "r"), *(exp.column(c, "r") for c in columns)
                )
                .from_(exp.to_table(USER_DAYS).as_("r"))
                .join(exp.to_table(members).as_("m"), on=on),
            ),
            (
                f"{name}_key_days",
                exp.select(
                    "rel_key",
                    "event_date",
                    exp.Count(this=exp.Star()).as_("active_members"),
                    *(exp.Sum(this=exp.column(c)).as_(c) for c in columns),
                )
                .from_(f"{name}_member_days")
                .group_by("rel_key", "event_date"),
            ),
        ]
    if sessions:
        ctes += [
            (
                f"{name}_member_gaps",
                exp.select(
                    *member, *(exp.column(c, "r") for c in ("event_date", "gap", "sessions"))
                )
                .from_(exp.to_table(USER_GAPS).as_("r"))
                .join(exp.to_table(members).as_("m"), on=on.copy()),
            ),
            (
                f"{name}_key_gaps",
                exp.select(
                    "rel_key",
                    "event_date",
                    "gap",
                    exp.Sum(this=exp.column("sessions")).as_("sessions"),
                )
                .from_(f"{name}_member_gaps")
                .group_by("rel_key", "event_date", "gap"),
            ),
        ]
    return ctes


def _in_days(window: int) -> exp.Expression:
    return exp.column("day_offset", "o") >= _num(-window)


def _first_in_window(window: int) -> exp.Expression:
    """A session's first date in the window: its previous date lies before the window start,
    gap > window + day_offset (day_offset < 0 is the date's place before the cutoff)."""
    return exp.and_(
        _in_days(window),
        exp.column("gap", "g")
        > exp.paren(
            exp.Add(this=_num(window), expression=exp.column("day_offset", "o")), copy=False
        ),
    )


def _day_aggregates(
    defs: tuple[FeatureDef, ...], *, own: bool
) -> tuple[list[exp.Expression], list[exp.Expression]]:
    """Over (offset o, rollup d) pairs: the count and active-day columns (from the days
    rollup) and the session columns (from the gaps rollup), of a key or (own) of a user."""
    days, sessions = [], []
    for feature in defs:
        window = feature.window_days or 0
        if feature.kind == "related_count":
            value = exp.Case().when(
                _in_days(window), exp.column(_type_column(feature.event_type), "d")
            )
            days.append(_zero(exp.Sum(this=value)).as_(feature.name))
        elif feature.kind == "related_active_days":
            # a key: dates with an active member; a user: dates on which it was the only one
            condition = _in_days(window)
            if own:
                condition = exp.and_(condition, exp.column("active_members", "kd").eq(_num(1)))
            days.append(
                exp.Count(this=exp.Case().when(condition, _num(1))).as_(
                    _part_name(feature) if own else f"days_{window}d"
                )
            )
        elif feature.kind == "related_sessions":
            value = exp.Case().when(_first_in_window(window), exp.column("sessions", "g"))
            sessions.append(_zero(exp.Sum(this=value)).as_(feature.name))
    return days, sessions


def _dated_select(
    source: exp.Expression,
    keys: list[str],
    columns: list[exp.Expression],
    joins: list[tuple[str, str, exp.Expression]],
) -> exp.Select:
    """`columns` over the offsets `source` (alias o) inner-joined with rollups (table, alias,
    condition): only the dates with a rollup row count, grouped by o's `keys`."""
    select = exp.select(*(exp.column(k, "o") for k in keys), *columns).from_(source)
    for table, alias, on in joins:
        select = select.join(exp.to_table(table).as_(alias), on=on)
    return select.group_by(*(exp.column(k, "o") for k in keys))


def _day_plan_ctes(
    name: str, defs: tuple[FeatureDef, ...], members: str
) -> list[tuple[str, exp.Select]]:
    """Windowed related features for midnight cutoffs, from per-(key, date) rollups.

    A key's total at a cutoff reads its rollup rows of the lookback dates (a few rows per
    (key, cutoff), whatever the number of members); the row's own part reads its user's
    rows the same way. Windows hold whole dates, so counts and active dates add up over
    dates; a session counts once, on its first date in the window (gap rollup).
    """
    lookback = max(f.window_days or 0 for f in defs)
    types = tuple(
        dict.fromkeys(f.event_type for f in defs if f.kind == "related_count" and f.event_type)
    )
    sessions = any(f.kind == "related_sessions" for f in defs)
    days = any(f.kind in _DAY_KINDS for f in defs)
    ctes = _rollup_ctes(name, members, types, days, sessions)
    slots = exp.select("rel_key", "cutoff").distinct().from_(f"{name}_keys")
    key_offsets = (
        exp.select(
            "k.rel_key",
            "k.cutoff",
            "o.day_offset",
            _offset_date(exp.column("cutoff", "k")).as_("event_date"),
        )
        .from_(exp.Subquery(this=slots, alias="k"))
        .join(_day_offsets(lookback), join_type="cross")
    )
    row_offsets = (
        exp.select(
            "k.user_id",
            "k.cutoff",
            "k.rel_key",
            "o.day_offset",
            _offset_date(exp.column("cutoff", "k")).as_("event_date"),
        )
        .from_(exp.to_table(f"{name}_keys").as_("k"))
        .join(_day_offsets(lookback), join_type="cross")
    )
    if defs[0].relation == "reference":  # only a self-reference has an own part
        row_offsets = row_offsets.where(exp.column("rel_key", "k").eq(exp.column("user_id", "k")))
    ctes += [(f"{name}_key_offsets", key_offsets), (f"{name}_row_offsets", row_offsets)]
    key_days, key_sessions = _day_aggregates(defs, own=False)
    own_days, own_sessions = _day_aggregates(defs, own=True)
    on_key_date = _on("d", "o", ("rel_key", "event_date"))
    sides = []  # (cte, columns, key columns)
    if key_days:
        ctes.append(
            (
                f"{name}_key_totals",
                _dated_select(
                    exp.to_table(f"{name}_key_offsets").as_("o"),
                    ["rel_key", "cutoff"],
                    key_days,
                    [(f"{name}_key_days", "d", on_key_date)],
                ),
            )
        )
        own_on = exp.and_(
            _on("d", "o", ("rel_key", "event_date")),
            exp.column("member_id", "d").eq(exp.column("user_id", "o")),
        )
        joins = [(f"{name}_member_days", "d", own_on)]
        if any(f.kind == "related_active_days" for f in defs):
            joins.append((f"{name}_key_days", "kd", _on("kd", "o", ("rel_key", "event_date"))))
        ctes.append(
            (
                f"{name}_own_totals",
                _dated_select(
                    exp.to_table(f"{name}_row_offsets").as_("o"),
                    ["user_id", "cutoff"],
                    own_days,
                    joins,
                ),
            )
        )
        sides.append((f"{name}_key_totals", f"{name}_own_totals"))
    if key_sessions:
        ctes.append(
            (
                f"{name}_key_sessions",
                _dated_select(
                    exp.to_table(f"{name}_key_offsets").as_("o"),
                    ["rel_key", "cutoff"],
                    key_sessions,
                    [(f"{name}_key_gaps", "g", _on("g", "o", ("rel_key", "event_date")))],
                ),
            )
        )
        own_on = exp.and_(
            _on("g", "o", ("rel_key", "event_date")),
            exp.column("member_id", "g").eq(exp.column("user_id", "o")),
        )
        ctes.append(
            (
                f"{name}_own_sessions",
                _dated_select(
                    exp.to_table(f"{name}_row_offsets").as_("o"),
                    ["user_id", "cutoff"],
                    own_sessions,
                    [(f"{name}_member_gaps", "g", own_on)],
                ),
            )
        )
        sides.append((f"{name}_key_sessions", f"{name}_own_sessions"))
    select = exp.select(exp.column("user_id", "k"), exp.column("cutoff", "k")).from_(
        exp.to_table(f"{name}_keys").as_("k")
    )
    for index, (total, own) in enumerate(sides):
        t, o = f"t{index}", f"o{index}"
        select = select.join(
            exp.to_table(total).as_(t), on=_on(t, "k", ("rel_key", "cutoff")), join_type="left"
        )
        select = select.join(
            exp.to_table(own).as_(o), on=_on(o, "k", ("user_id", "cutoff")), join_type="left"
        )
    for feature in defs:
        index = 1 if feature.kind == "related_sessions" and key_days else 0
        total = (
            f"days_{feature.window_days}d"
            if feature.kind == "related_active_days"
            else feature.name
        )
        value = exp.Sub(
            this=_zero(exp.column(total, f"t{index}")),
            expression=_zero(exp.column(_part_name(feature), f"o{index}")),
        )
        select = select.select(exp.cast(value, "DOUBLE").as_(feature.name))
    ctes.append((f"{name}_windowed", select))
    return ctes


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


def _values_select(
    prefix: str, defs: tuple[FeatureDef, ...], parts: bool, windowed: tuple[FeatureDef, ...]
) -> exp.Select:
    """Per row with a key: each feature of the entry (rows without a key get no row: NULL).
    `parts`: the per-member parts exist; `windowed`: the features read from the day plan."""
    name = f"related_{prefix}"
    select = exp.select(
        exp.column("user_id", "k"),
        exp.column("cutoff", "k"),
        *((exp.column(f.name, "w") if f in windowed else _value(f)).as_(f.name) for f in defs),
    ).from_(exp.to_table(f"{name}_keys").as_("k"))
    if parts:
        own = exp.and_(
            _on("o", "k", ("rel_key", "cutoff")),
            exp.column("member_id", "o").eq(exp.column("user_id", "k")),
        )
        select = select.join(
            exp.to_table(f"{name}_totals").as_("t"),
            on=_on("t", "k", ("rel_key", "cutoff")),
            join_type="left",
        ).join(exp.to_table(f"{name}_parts").as_("o"), on=own, join_type="left")
    if windowed:
        select = select.join(
            exp.to_table(f"{name}_windowed").as_("w"),
            on=_on("w", "k", ("user_id", "cutoff")),
            join_type="left",
        )
    return select


def related_ctes(
    spec: FeatureSetSpec,
    prefix: str,
    defs: tuple[FeatureDef, ...],
    rows: str,
    midnight: bool,
) -> list[tuple[str, exp.Select]]:
    """The CTEs of one `related` entry, ending in values_table(prefix); `rows` is the CTE of
    the query's rows (user_id, cutoff, label, status) before related features; `midnight`:
    every cutoff is a midnight (calendar and date-anchored cutoffs), so windows hold whole
    dates and the windowed features come from per-(key, date) rollups (_day_plan_ctes)."""
    via, relation = defs[0].via, defs[0].relation
    assert via is not None and relation is not None  # set by spec.py's expansion
    name = f"related_{prefix}"
    ctes: list[tuple[str, exp.Select]] = [
        (f"{name}_keys", _keys_select(via, rows)),
        (f"{name}_members", _members_select(via, relation, f"{name}_keys")),
    ]
    windowed = tuple(f for f in defs if f.window_days is not None)
    by_day = windowed if midnight else ()
    if by_day:
        ctes += _day_plan_ctes(name, by_day, f"{name}_members")
    part_defs = tuple(f for f in defs if f not in by_day)
    if not part_defs:
        return [*ctes, (values_table(prefix), _values_select(prefix, defs, False, by_day))]
    ctes.append((f"{name}_slots", _slots_select(f"{name}_keys", f"{name}_members")))
    sides: list[tuple[str, list[str]]] = []
    if windowed and not by_day:
        lookback = max(f.window_days or 0 for f in windowed)
        ctes.append((f"{name}_events", _events_select(f"{name}_slots", lookback)))
    counted = tuple(f for f in part_defs if f.kind in ("related_count", "related_sessions"))
    if counted:
        ctes.append((f"{name}_counts", _counts_select(f"{name}_events", counted)))
        sides.append((f"{name}_counts", [f.name for f in counted]))
    windows = tuple(f.window_days or 0 for f in part_defs if f.kind == "related_active_days")
    if windows:
        ctes += _day_ctes(prefix, f"{name}_events", windows)
        sides.append((f"{name}_sole", [f"sole_{w}d" for w in windows]))
    if any(f.kind == "related_label_rate" for f in defs):
        ctes.append((f"{name}_labels", _labels_select(spec, f"{name}_slots", rows)))
        sides.append((f"{name}_labels", [_LABEL_SUM, _LABEL_ROWS]))
    ctes += [
        (f"{name}_parts", _parts_select(prefix, part_defs, sides)),
        (f"{name}_totals", _totals_select(prefix, part_defs)),
        (values_table(prefix), _values_select(prefix, defs, True, by_day)),
    ]
    return ctes
