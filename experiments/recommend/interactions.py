"""User x item interactions from the event store, split point in time at a cutoff.

Training sees the interaction events strictly before the cutoff; the evaluation window is
[cutoff, cutoff + window_days). An item the user consumed before the cutoff is neither
recommended nor relevant: only new items a user takes up in the window count. Users without
any interaction before the cutoff stay in (cold users: they get the popularity ranking); users
without a relevant item are not evaluated.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix

from contracts.errors import UsagecastError
from events.store import EVENTS, ITEMS, StoreMissingError, open_store

# A play or a like says the user wanted the item; a skip does not.
INTERACTION_EVENTS = ("PLAY", "LIKE")
INTERACTION_COLUMNS = ("user_id", "item_id", "event_time")


@dataclass(frozen=True)
class InteractionSplit:
    """Matrices over one user and item index, for one cutoff and window."""

    user_ids: tuple[str, ...]
    item_ids: tuple[str, ...]
    train: csr_matrix  # users x items: interaction events before the cutoff (counts)
    relevant: csr_matrix  # users x items: 1 for an item first taken up in the window
    cutoff: dt.datetime
    window_end: dt.datetime

    @property
    def evaluated_users(self) -> np.ndarray:
        """Row positions of the users with at least one relevant item."""
        return np.flatnonzero(np.diff(self.relevant.indptr) > 0)

    def popularity(self) -> np.ndarray:
        """Distinct users per item before the cutoff."""
        return np.diff(self.train.tocsc().indptr).astype(np.int64)


def split_interactions(
    events: pd.DataFrame,
    cutoff: dt.datetime,
    window_days: int,
    catalogue: Sequence[str] = (),
) -> InteractionSplit:
    """The point-in-time split of interaction events (`user_id`, `item_id`, `event_time`).

    Items are the catalogue plus every item met before the window's end, sorted; users are
    every user met before it, sorted. Events at or after the window's end are ignored.
    """
    if window_days < 1:
        raise UsagecastError(f"the evaluation window must be >= 1 day, got {window_days}")
    window_end = cutoff + dt.timedelta(days=window_days)
    missing = [c for c in INTERACTION_COLUMNS if c not in events.columns]
    if missing:
        raise ValueError(f"interaction events lack columns {missing}")
    seen = events.loc[events["event_time"] < window_end, list(INTERACTION_COLUMNS)]
    user_ids = tuple(sorted(seen["user_id"].unique()))
    item_ids = tuple(sorted(set(catalogue) | set(seen["item_id"].unique())))
    users = pd.Index(user_ids).get_indexer(seen["user_id"])
    items = pd.Index(item_ids).get_indexer(seen["item_id"])
    before = (seen["event_time"] < cutoff).to_numpy()
    shape = (len(user_ids), len(item_ids))
    train = csr_matrix(
        (np.ones(before.sum(), np.float32), (users[before], items[before])), shape=shape
    )
    train.sum_duplicates()
    window = csr_matrix(
        (np.ones((~before).sum(), np.float32), (users[~before], items[~before])), shape=shape
    )
    window.sum_duplicates()
    taken_up = (window - window.multiply(train > 0)).tocsr()  # new items only
    taken_up.eliminate_zeros()
    relevant = (taken_up > 0).astype(np.float32).tocsr()
    return InteractionSplit(user_ids, item_ids, train, relevant, cutoff, window_end)


def _open(store_path: Path) -> duckdb.DuckDBPyConnection:
    """The event store, read-only; a missing one is bad input (exit 2), not a crash."""
    try:
        return open_store(Path(store_path))
    except StoreMissingError as error:
        raise UsagecastError(str(error)) from None


def read_interactions(
    store_path: Path, until: dt.datetime, event_types: Sequence[str] = INTERACTION_EVENTS
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Interaction events before `until` (never later ones) and the catalogue's item ids
    (the store's items table; empty when the dataset has none)."""
    con = _open(store_path)
    try:
        placeholders = ", ".join("?" for _ in event_types)
        events = con.execute(
            f"SELECT user_id, item_id, event_time FROM {EVENTS} "
            f"WHERE event_type IN ({placeholders}) AND item_id IS NOT NULL AND event_time < ?",
            [*event_types, until],
        ).df()
        tables = {row[0] for row in con.execute("SHOW TABLES").fetchall()}
        catalogue = (
            tuple(r[0] for r in con.execute(f"SELECT item_id FROM {ITEMS}").fetchall())
            if ITEMS in tables
            else ()
        )
    finally:
        con.close()
    return events, catalogue


def last_event_time(
    store_path: Path, event_types: Sequence[str] = INTERACTION_EVENTS
) -> dt.datetime:
    """The time of the latest interaction event in the store; none is bad input that names
    the event types that do carry an item_id (on the same connection)."""
    con = _open(store_path)
    try:
        placeholders = ", ".join("?" for _ in event_types)
        (latest,) = con.execute(
            f"SELECT max(event_time) FROM {EVENTS} WHERE event_type IN ({placeholders}) "
            "AND item_id IS NOT NULL",
            list(event_types),
        ).fetchone()
        found = "" if latest is not None else _item_event_types(con)
    finally:
        con.close()
    if latest is None:
        raise UsagecastError(
            f"{store_path}: no {'/'.join(event_types)} events with an item_id; a recommender "
            f"needs user x item interactions: {found}"
        )
    return latest


def _item_event_types(con: duckdb.DuckDBPyConnection) -> str:
    """Which event types of the store carry an item_id, as the way out of having none of the
    asked ones: `--events` naming them, or mapping the export's item column."""
    found = con.execute(
        f"SELECT event_type, count(*) AS n FROM {EVENTS} WHERE item_id IS NOT NULL "
        "GROUP BY event_type ORDER BY n DESC, event_type"
    ).fetchall()
    if not found:
        return "no event has one (map the export's item column to item_id)"
    listed = ", ".join(f"{kind} ({n:,})" for kind, n in found)
    return f"the store's events with one are {listed}; name those a user wants with --events"


def default_cutoff(last_event: dt.datetime, window_days: int) -> dt.datetime:
    """The latest cutoff whose whole window lies within the data: the day after the last
    event, minus the window."""
    day_after = dt.datetime.combine(last_event.date(), dt.time()) + dt.timedelta(days=1)
    return day_after - dt.timedelta(days=window_days)
