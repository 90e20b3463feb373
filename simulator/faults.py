"""Inject the problems real exports have, and count them by the ingest reason they must get.

Each fault is a corrupted *copy* of a clean row, inserted right after it, with exactly one
thing wrong; so the clean rows are all still there and every injected row has exactly one
quarantine reason (docs/reference/data.md codes). Copies are made from distinct source rows and
keep the source's unique timestamp (or a unique function of it), so no two injected rows can
collide with each other. Rows re-written in the second declared timestamp format (day-first)
are valid and must be accepted: they are counted apart, as `reformatted_timestamps`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from simulator.config import DROPPED_EVENT_NAME
from simulator.layout import (
    DAY_FIRST_EVENT_FORMAT,
    EVENT_COLUMNS,
    EVENT_TIME_FORMAT,
    SENTINEL_ID,
)

UNKNOWN_USER_OFFSET = 1_000_000_000  # added to a real id: no simulated user has such an id
OUT_OF_RANGE_VALUE = "9999999"
UNPARSEABLE_VALUE = "twelve"
UNKNOWN_EVENT_TYPE = "PAGE_VIEW"
YEARS_OUT_OF_RANGE = 28  # the calendar repeats after 28 years, so Feb 29 stays a valid date

_USER = EVENT_COLUMNS["user_id"]
_TIME = EVENT_COLUMNS["timestamp"]
_TYPE = EVENT_COLUMNS["event_type"]
_VALUE = EVENT_COLUMNS["value"]

Corruption = Callable[[pa.Table], pa.Table]


def _set(column: str, values: Callable[[pa.Array], pa.Array]) -> Corruption:
    """A corruption that replaces one column of the copied rows."""

    def corrupt(copies: pa.Table) -> pa.Table:
        index = copies.column_names.index(column)
        return copies.set_column(index, column, values(copies[column].combine_chunks()))

    return corrupt


def _constant(text: str | None) -> Callable[[pa.Array], pa.Array]:
    def values(column: pa.Array) -> pa.Array:
        if text is None:
            return pa.nulls(len(column), pa.string())
        return pa.array(np.full(len(column), text))

    return values


def _unknown_user(ids: pa.Array) -> pa.Array:
    return pc.cast(pc.add(pc.cast(ids, pa.int64()), UNKNOWN_USER_OFFSET), pa.string())


def _invalid_month(stamps: pa.Array) -> pa.Array:
    """yyyy-13-dd ...: same shape as a valid stamp, unique per source row, unparseable."""
    return pc.binary_replace_slice(stamps, start=5, stop=7, replacement="13")


def _shift_year(stamps: pa.Array) -> pa.Array:
    """Move ISO timestamps 28 years later (even rows) or earlier (odd rows)."""
    shift = np.where(np.arange(len(stamps)) % 2 == 0, YEARS_OUT_OF_RANGE, -YEARS_OUT_OF_RANGE)
    years = pc.add(pc.cast(pc.utf8_slice_codeunits(stamps, 0, 4), pa.int64()), pa.array(shift))
    rest = pc.utf8_slice_codeunits(stamps, 4, 64)
    return pc.binary_join_element_wise(pc.cast(years, pa.string()), rest, "")


# reason code -> corruption of the copied rows
EVENT_FAULTS: dict[str, Corruption] = {
    "missing_required_field": _set(_USER, _constant(None)),
    "sentinel_id": _set(_USER, _constant(SENTINEL_ID)),
    "unknown_user": _set(_USER, _unknown_user),
    "unparseable_timestamp": _set(_TIME, _invalid_month),
    "timestamp_out_of_range": _set(_TIME, _shift_year),
    "duplicate_event": lambda copies: copies,
    "value_out_of_range": _set(_VALUE, _constant(OUT_OF_RANGE_VALUE)),
    "unparseable_value": _set(_VALUE, _constant(UNPARSEABLE_VALUE)),
    "unknown_event_type": _set(_TYPE, _constant(UNKNOWN_EVENT_TYPE)),
}


def inject_event_faults(
    table: pa.Table, rate: float, rng: np.random.Generator
) -> tuple[pa.Table, dict[str, int], int]:
    """Return (table with faulty copies and day-first rows, count per reason, reformatted).

    About `rate` of the rows get a faulty copy (split evenly over the reasons) and about
    `rate` of the rows are re-written in the day-first format. Dropped-on-purpose rows are
    never used as sources, so their reason stays `dropped_event_type`.
    """
    counts = dict.fromkeys(EVENT_FAULTS, 0)
    if rate == 0.0 or table.num_rows == 0:
        return table, counts, 0
    candidates = np.flatnonzero(
        pc.not_equal(table[_TYPE], DROPPED_EVENT_NAME).to_numpy(zero_copy_only=False)
    )
    per_reason = rng.binomial(len(candidates), rate / len(EVENT_FAULTS), len(EVENT_FAULTS))
    n_reformat = int(rng.binomial(len(candidates), rate))
    wanted = min(len(candidates), int(per_reason.sum()) + n_reformat)
    sources = rng.choice(candidates, size=wanted, replace=False)
    reformat = np.sort(sources[: min(n_reformat, wanted)])
    table = _reformat_times(table, reformat)

    faulty_sources = []
    copies_by_reason = []
    position = len(reformat)
    for (reason, corrupt), count in zip(EVENT_FAULTS.items(), per_reason, strict=True):
        rows = np.sort(sources[position : position + int(count)])
        position += len(rows)
        counts[reason] = len(rows)
        copies_by_reason.append(corrupt(table.take(pa.array(rows, pa.int64()))))
        faulty_sources.append(rows)
    copies = pa.concat_tables(copies_by_reason)
    after = np.concatenate(faulty_sources)
    # Each copy goes right after its source row.
    where = np.concatenate([np.arange(table.num_rows), after])
    is_copy = np.concatenate([np.zeros(table.num_rows, bool), np.ones(len(after), bool)])
    order = np.lexsort((is_copy, where))
    combined = pa.concat_tables([table, copies])
    return combined.take(pa.array(order)), counts, len(reformat)


def _reformat_times(table: pa.Table, rows: np.ndarray) -> pa.Table:
    """Re-write the timestamps of `rows` (sorted) in the day-first format (still valid)."""
    if len(rows) == 0:
        return table
    times = table[_TIME].combine_chunks()
    stamps = pc.strptime(times.take(pa.array(rows)), format=EVENT_TIME_FORMAT, unit="s")
    mask = np.zeros(len(times), bool)
    mask[rows] = True
    day_first = pc.replace_with_mask(
        times, pa.array(mask), pc.strftime(stamps, format=DAY_FIRST_EVENT_FORMAT)
    )
    return table.set_column(table.column_names.index(_TIME), _TIME, day_first)


def user_fault_rows(n_users: int, rate: float, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Which user rows get a faulty copy, per users-table reason (sentinel handled apart)."""
    if rate == 0.0:
        return {
            "missing_required_field": np.zeros(0, np.int64),
            "duplicate_user": np.zeros(0, np.int64),
        }
    wanted = min(n_users, 2 * int(rng.binomial(n_users, rate / 2)))
    picked = rng.choice(n_users, size=wanted, replace=False)
    half = len(picked) // 2
    return {
        "missing_required_field": np.sort(picked[:half]),
        "duplicate_user": np.sort(picked[half:]),
    }
