"""Cutoffs and candidates: calendar cutoff dates (and their SQL date arithmetic), the
signup-relative cutoff, the deterministic user sample and the (user, cutoff) candidates.
"""

from __future__ import annotations

import datetime as dt

import sqlglot.expressions as exp

from events.store import USERS
from features.featureset.compiler.sqlbits import (
    _USER,
    _col,
    _date,
    _date_literal,
    _num,
    _shift,
    _str,
)
from features.featureset.spec import (
    CalendarCutoffs,
    FeatureSetSpec,
    SignupCutoffs,
    first_of_month_from,
)

# Sampling compares the first 8 hex digits of md5(seed:user_id), identical in both engines.
SAMPLE_HEX_DIGITS = 8


def calendar_cutoff_dates(calendar: CalendarCutoffs) -> tuple[dt.date, ...]:
    """The calendar cutoffs: start, start + n, ... (or each month's first day) up to end."""
    if calendar.every_month:
        day, dates = first_of_month_from(calendar.start), []
        while day <= calendar.end:
            dates.append(day)
            day = first_of_month_from(day + dt.timedelta(days=1))
        return tuple(dates)
    step = dt.timedelta(days=calendar.every_days or 1)
    count = (calendar.end - calendar.start) // step + 1
    return tuple(calendar.start + i * step for i in range(count))


def sample_threshold(fraction: float) -> str:
    """Hex prefix bound: users whose md5(seed:id) prefix sorts below it form the sample."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"sample fraction must be in (0, 1), got {fraction}")
    return format(int(fraction * 16**SAMPLE_HEX_DIGITS), f"0{SAMPLE_HEX_DIGITS}x")


def _first_cutoff(calendar: CalendarCutoffs) -> exp.Expression:
    return _date_literal(calendar_cutoff_dates(calendar)[0])


def _whole_steps_since_first(calendar: CalendarCutoffs, day: exp.Expression) -> exp.Expression:
    """(day - first cutoff) DIV step, in days, for every-N-days calendars."""
    elapsed = exp.DateDiff(
        this=day.copy(), expression=_first_cutoff(calendar), unit=exp.var("DAY")
    )
    return exp.IntDiv(this=elapsed, expression=_num(calendar.every_days or 1))


def next_cutoff_day(calendar: CalendarCutoffs, day: exp.Expression) -> exp.Expression:
    """The first calendar cutoff after `day` (a date), for days before the last cutoff.

    Calendar cutoffs are midnights, so an event is before a cutoff exactly when its date is
    before the cutoff's date: the first cutoff after the date is the first the event precedes.
    """
    if calendar.every_month:  # month starts: the start of the month after the day's
        month = exp.DateTrunc(this=day, unit=exp.var("MONTH"))
        later = exp.DateAdd(this=month, expression=_num(1), unit=exp.var("MONTH"))
    else:
        steps = exp.Add(this=_whole_steps_since_first(calendar, day), expression=_num(1))
        # INT: Spark's DATE_ADD refuses the BIGINT that DATE_DIFF arithmetic gives.
        shift = exp.cast(
            exp.Mul(this=exp.paren(steps, copy=False), expression=_num(calendar.every_days or 1)),
            "INT",
        )
        later = exp.DateAdd(this=_first_cutoff(calendar), expression=shift, unit=exp.var("DAY"))
    first = _first_cutoff(calendar)
    return exp.Case().when(day.copy() < first, first.copy()).else_(_date(later))


def cutoff_period(calendar: CalendarCutoffs, day: exp.Expression) -> exp.Expression:
    """An integer per date, equal for dates that share their first cutoff after them.

    The month (year * 12 + month) for month-start cutoffs; else the number of whole steps
    since the first cutoff, with every earlier date in one period (-1): DuckDB's `//` floors
    and Spark's DIV truncates, which agree on the non-negative counts only. Cheaper per event
    than next_cutoff_day's date arithmetic, which then runs once per (user, period).
    """
    if calendar.every_month:
        year = exp.Mul(this=exp.Year(this=day), expression=_num(12))
        return exp.Add(this=year, expression=exp.Month(this=day.copy()))
    steps = _whole_steps_since_first(calendar, day)
    return exp.Case().when(day.copy() < _first_cutoff(calendar), _num(-1)).else_(steps)


def _cutoffs_select(dates: tuple[dt.date, ...]) -> exp.Select:
    values = exp.values(
        [(_str(day.isoformat()),) for day in dates], alias="calendar", columns=["cutoff_day"]
    )
    return exp.select(exp.cast(exp.column("cutoff_day"), "TIMESTAMP").as_("cutoff")).from_(values)


def _sample_condition(fraction: float, seed: int) -> exp.Expression:
    key = exp.Concat(expressions=[_str(f"{seed}:"), _col("user_id", _USER)])
    prefix = exp.Substring(this=exp.MD5(this=key), start=_num(1), length=_num(SAMPLE_HEX_DIGITS))
    return prefix < _str(sample_threshold(fraction))


def _signup_cutoff(after_signup: SignupCutoffs) -> exp.Expression:
    """A user's signup-relative cutoff: offset days after the signup's date at 00:00 UTC
    (anchor `date`) or after the signup timestamp (anchor `timestamp`).

    A date-anchored cutoff at offset 0 lies at or before the signup instant, on the same
    day: the user still gets the row (signup-relative candidates are never filtered on
    signup_time), with tenure 0.
    """
    signup = _col("signup_time", _USER)
    if after_signup.anchor == "date":
        signup = exp.cast(_date(signup), "TIMESTAMP")
    return _shift(signup, after_signup.offset_days)


def _candidates_select(spec: FeatureSetSpec, sample: tuple[float, int] | None) -> exp.Expression:
    """(user_id, cutoff) pairs before eligibility: users who signed up before a calendar
    cutoff, and every user at their signup-relative cutoff."""
    parts: list[exp.Select] = []
    users = exp.to_table(USERS).as_(_USER)
    if spec.cutoffs.calendar is not None:
        calendar = (
            exp.select(_col("user_id", _USER), _col("cutoff", "c"))
            .from_(users)
            .join(exp.to_table("cutoffs").as_("c"), join_type="cross")
            .where(_col("signup_time", _USER) < _col("cutoff", "c"))
        )
        parts.append(calendar)
    if spec.cutoffs.after_signup is not None:
        after = exp.select(
            _col("user_id", _USER), _signup_cutoff(spec.cutoffs.after_signup).as_("cutoff")
        ).from_(users)
        parts.append(after)
    if sample is not None:
        parts = [part.where(_sample_condition(*sample)) for part in parts]
    union: exp.Expression = parts[0]
    for part in parts[1:]:
        union = exp.union(union, part, distinct=True)
    return union
