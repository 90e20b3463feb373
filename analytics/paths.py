"""Paths: the steps users take just before a conversion, or just after an event.

With direction "to", each user's first event of the anchor type in the time range is their
anchor, and their path is their last `steps` steps before it, within `days` before it,
ending at the anchor. With "from", the path is the anchor and their next `steps` steps within
`days` after it. A step is an event's type, or with by="area" its product area (events
without an area are no step, as in the feature tables). Consecutive events of the same step
are one step unless `keep_repeats` (PLAY, PLAY, LIKE is PLAY -> LIKE): otherwise the most
repeated action fills every path. Events at the same time are in the order the export listed
them (their event id), as in the funnel. A path with fewer steps than asked starts at
START (no earlier step in its window) or ends at END. A user whose window reaches outside
the data (before its first event, or past its end) is left out and counted: their path could
go on where nothing was observed. An experiment's exposure logs are never steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pandas as pd
import sqlglot.expressions as exp

from analytics.filters import NO_FILTERS, Filters, combine, time_range_condition
from analytics.scope import (
    SCOPED_USERS,
    check_breakdown,
    data_end_seconds,
    days_interval,
    epoch_seconds,
    product_use,
    render,
    segment_condition,
    with_breakdown,
)
from contracts.errors import UsagecastError
from features.engines import Engine

Direction = Literal["to", "from"]
STEP_COLUMNS = ("event_type", "area")
MAX_STEPS = 10
START = "(start)"
END = "(end)"
ARROW = " → "

# Each side's window: the events strictly before (or after) the anchor in (time, event id)
# order, within the window.
_SIDES: dict[str, str] = {
    "to": "(e.event_time < a.anchor_time OR (e.event_time = a.anchor_time "
    "AND e.event_id < a.anchor_id)) AND e.event_time >= a.anchor_time - :window",
    "from": "(e.event_time > a.anchor_time OR (e.event_time = a.anchor_time "
    "AND e.event_id > a.anchor_id)) AND e.event_time < a.anchor_time + :window",
}


@dataclass(frozen=True)
class PathsResult:
    """The paths to (or from) `anchor`: the most taken (path, users, share, then
    step_1..step_N: the anchor's side last for "to", first for "from"), each step position's
    shares (step, then a column per position: -N..-1 before the anchor, +1..+N after it), the
    users whose path is in them and those left out because their window reaches outside the
    data."""

    anchor: str
    direction: Direction
    paths: pd.DataFrame
    positions: pd.DataFrame
    users: int
    left_out_users: int


def paths_sql(direction: Direction) -> str:
    """The template of `direction`'s paths: every anchored user's user_id and anchor_time,
    with a row per kept step (position 1 nearest the anchor; NULL position and step for a
    user with no step in the window)."""
    nearest_first = "DESC" if direction == "to" else "ASC"
    return f"""
WITH {SCOPED_USERS},
anchors AS (
    SELECT user_id, anchor_time, anchor_id FROM (
        SELECT e.user_id, e.event_time AS anchor_time, e.event_id AS anchor_id,
               ROW_NUMBER() OVER (PARTITION BY e.user_id
                                  ORDER BY e.event_time, e.event_id) AS pick
        FROM events AS e JOIN scoped_users AS su ON e.user_id = su.user_id
        WHERE e.event_type = :anchor AND :anchor_range
    ) AS c
    WHERE pick = 1
),
windowed AS (
    SELECT e.user_id, e.event_time, e.event_id, :step AS step
    FROM events AS e JOIN anchors AS a ON e.user_id = a.user_id
    WHERE {_SIDES[direction]} AND :product_use
),
marked AS (
    SELECT user_id, event_time, event_id, step,
           LAG(step) OVER (PARTITION BY user_id ORDER BY event_time, event_id) AS previous
    FROM windowed
    WHERE step IS NOT NULL
),
numbered AS (
    SELECT user_id, step,
           ROW_NUMBER() OVER (PARTITION BY user_id
                              ORDER BY event_time {nearest_first},
                                       event_id {nearest_first}) AS position
    FROM marked
    WHERE :kept
)
SELECT a.user_id, a.anchor_time, n.position, n.step
FROM anchors AS a LEFT JOIN numbered AS n ON n.user_id = a.user_id AND n.position <= :steps
"""


def check_paths(steps: int, days: int, by: str, filters: Filters) -> None:
    """Refuse a path length, window, step column or filter that cannot make paths."""
    if not 1 <= steps <= MAX_STEPS:
        raise UsagecastError(f"paths of {steps} steps: give 1 to {MAX_STEPS}")
    if days < 1:
        raise UsagecastError(f"a path window of {days} days: must be at least 1")
    if by not in STEP_COLUMNS:
        raise UsagecastError(f"paths by {by!r}: a step is one of {', '.join(STEP_COLUMNS)}")
    if filters.area_prefix is not None:
        raise UsagecastError(
            "analytics paths: an area filter does not apply; the anchor is an event type "
            "(use --by area for steps named by product area)"
        )


def path_rows(
    engine: Engine,
    anchor: str,
    direction: Direction,
    steps: int,
    days: int,
    filters: Filters = NO_FILTERS,
    *,
    by: str = "event_type",
    keep_repeats: bool = False,
) -> pd.DataFrame:
    """user_id, anchor_time, position, step (a row per step of each anchored user; one with
    a missing position for a user without any) and left_out (the window reaches outside the
    data) of every user whose first `anchor` event is in the time range."""
    check_paths(steps, days, by, filters)
    step = exp.column(by, table="e")
    previous = exp.column("previous")
    params: dict[str, object] = {
        "segment": segment_condition(engine, filters),
        "anchor": anchor,
        "anchor_range": combine(
            time_range_condition(exp.column("event_time", table="e"), filters)
        ),
        "window": days_interval(days),
        "product_use": product_use(filters),
        "step": step,
        "kept": exp.true()
        if keep_repeats
        else exp.or_(previous.is_(exp.null()), previous.neq(exp.column("step"))),
        "steps": exp.Literal.number(steps),
    }
    rows = engine.query(render(paths_sql(direction), **params))
    rows["user_id"] = rows["user_id"].astype(str)
    rows["anchor_time"] = pd.to_datetime(rows["anchor_time"])
    window = pd.Timedelta(days=days)
    if direction == "to":
        left_out = rows["anchor_time"] - window < _data_start(engine)
    else:
        end = pd.Timestamp(data_end_seconds(engine, filters), unit="s")
        left_out = rows["anchor_time"] + window > end
    return rows.assign(left_out=left_out)


def _data_start(engine: Engine) -> pd.Timestamp:
    """The first moment observed: the store's first event time, to the second."""
    first = engine.query("SELECT MIN(event_time) AS first FROM events")["first"].iloc[0]
    return pd.Timestamp(epoch_seconds(first), unit="s")


def paths_table(
    rows: pd.DataFrame,
    anchor: str,
    direction: Direction,
    steps: int,
    breakdown: str | None = None,
) -> PathsResult:
    """The paths of path_rows' users that are not left out, counted (pure): each user's
    steps in time order with the anchor at its end ("to") or start ("from"), START or END
    where fewer than `steps` were taken; and each position's shares of those users. With a
    `breakdown` (rows carry each user's value of it in a column `breakdown`), both tables are
    counted within each value, named in a first column `breakdown`, values in order."""
    kept = rows[~rows["left_out"]]
    left_out = int(rows.loc[rows["left_out"], "user_id"].nunique())
    names = _position_names(direction, steps)
    if breakdown is None:
        walked = _walked(kept, direction, steps)
        taken = _most_taken(walked, anchor, direction)
        positions = _position_shares(walked, names)
    else:
        groups = list(kept.groupby("breakdown", sort=True)) or [("", kept)]
        walks = [(value, _walked(part, direction, steps)) for value, part in groups]
        taken = _by_value(breakdown, [(v, _most_taken(w, anchor, direction)) for v, w in walks])
        positions = _by_value(breakdown, [(v, _position_shares(w, names)) for v, w in walks])
    return PathsResult(anchor, direction, taken, positions, kept["user_id"].nunique(), left_out)


def _walked(kept: pd.DataFrame, direction: Direction, steps: int) -> pd.DataFrame:
    """A row per user of `kept`: their steps, nearest the anchor first (near_1..near_N),
    START or END where fewer were taken."""
    taken = kept.dropna(subset=["position"])
    by_user = taken.sort_values("position").groupby("user_id")["step"].agg(tuple)
    marker = START if direction == "to" else END
    nearest = [
        (*by_user.get(user, ()), *([marker] * (steps - len(by_user.get(user, ())))))
        for user in kept["user_id"].drop_duplicates()
    ]
    return pd.DataFrame(nearest, columns=[f"near_{k}" for k in range(1, steps + 1)])


def _by_value(breakdown: str, tables: list[tuple[str, pd.DataFrame]]) -> pd.DataFrame:
    """Each breakdown value's table under a first column named `breakdown`, in order."""
    parts = [table.assign(**{breakdown: value}) for value, table in tables]
    joined = pd.concat(parts, ignore_index=True)
    return joined[[breakdown, *(c for c in joined.columns if c != breakdown)]]


def _position_names(direction: Direction, steps: int) -> list[str]:
    """The positions' column names, nearest the anchor first: -1, -2, ... or +1, +2, ..."""
    sign = "-" if direction == "to" else "+"
    return [f"{sign}{k}" for k in range(1, steps + 1)]


def _most_taken(walked: pd.DataFrame, anchor: str, direction: Direction) -> pd.DataFrame:
    """Each distinct path with its users and share, most taken first (ties by path); its
    steps in time order, repeated START/END markers shown once."""
    nearest = list(walked.columns)
    ordered = [*reversed(nearest), anchor] if direction == "to" else [anchor, *nearest]
    columns = [f"step_{k}" for k in range(1, len(ordered) + 1)]
    if walked.empty:
        return pd.DataFrame(columns=["path", "users", "share", *columns])
    steps = walked.assign(**{anchor: anchor})[ordered].set_axis(columns, axis=1)
    counted = steps.value_counts(sort=False).rename("users").reset_index()
    counted.insert(0, "path", [_path_text(row) for row in counted[columns].itertuples(False)])
    counted["share"] = counted["users"] / len(walked)
    counted = counted.sort_values(["users", "path"], ascending=[False, True], kind="stable")
    return counted[["path", "users", "share", *columns]].reset_index(drop=True)


def _path_text(steps: tuple[str, ...]) -> str:
    """A path's steps joined by arrows, a run of START/END markers written once."""
    shown = [
        step
        for index, step in enumerate(steps)
        if step not in (START, END) or index == 0 or steps[index - 1] != step
    ]
    return ARROW.join(shown)


def _position_shares(walked: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """step, then each position's share of the users taking that step there (START/END where
    their path had stopped), steps most taken next to the anchor first."""
    shares = {
        name: walked[column].value_counts(normalize=True)
        for name, column in zip(names, walked.columns, strict=True)
    }
    # The columns read in time order: -3, -2, -1 before the anchor; +1, +2, +3 after it.
    columns = ["step", *(reversed(names) if names[0].startswith("-") else names)]
    table = pd.DataFrame(shares).fillna(0.0).rename_axis("step").reset_index()
    if table.empty:
        return pd.DataFrame(columns=columns)
    table = table.sort_values([names[0], "step"], ascending=[False, True], kind="stable")
    return table[columns].reset_index(drop=True)


def paths(
    engine: Engine,
    anchor: str,
    direction: Direction,
    steps: int = 3,
    days: int = 30,
    filters: Filters = NO_FILTERS,
    *,
    by: str = "event_type",
    keep_repeats: bool = False,
    breakdown: str | None = None,
) -> PathsResult:
    """The paths of `steps` steps within `days` to (or from) each user's first `anchor`;
    with a `breakdown` (a user attribute or signup cohort), counted within each of its
    values (MISSING_CHANNEL for a user without one)."""
    if breakdown is not None:
        check_breakdown(engine, breakdown, "paths breakdown")
    rows = path_rows(
        engine, anchor, direction, steps, days, filters, by=by, keep_repeats=keep_repeats
    )
    return paths_table(
        with_breakdown(engine, rows, breakdown), anchor, direction, steps, breakdown
    )
