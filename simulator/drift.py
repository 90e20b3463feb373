"""Drift planted from a date (config.Drift): what the export loses and what was planted.

channel_mix lives in traits.py (who signs up) and lever_effect in process.py (the purchase
hazard), so the truth sees both; a tracking_bug changes only what is written, so it lives
here, between the simulated log and the tables.
"""

from __future__ import annotations

import calendar
from dataclasses import fields, replace

import numpy as np

from simulator import events
from simulator.config import (
    CHANNEL_SHARES,
    CHANNELS,
    DRIFTED_CHANNEL_SHARES,
    Drift,
    SimulationConfig,
)
from simulator.events import ChunkLog, EventRows
from simulator.process import DRIFTED_PURCHASE_ADS, PURCHASE_ADS

# Event types of the main events file, by their events.py kind code.
_EVENT_KINDS = {
    "PLAY": events.PLAY,
    "SKIP": events.SKIP,
    "LIKE": events.LIKE,
    "ADVERTISEMENT": events.ADVERTISEMENT,
}


def unrecorded(log: ChunkLog, config: SimulationConfig) -> tuple[ChunkLog, int]:
    """(the log as the export records it, rows lost) under the config's tracking_bug.

    Without one the log comes back as is. The users table is built from the full log: a
    tracking bug does not change the accounts (plan, last login) the product keeps.
    """
    drift = config.drift_of("tracking_bug")
    if drift is None:
        return log, 0
    since = calendar.timegm(drift.from_date.timetuple())
    if drift.event_type == "LOGIN":
        keep = log.login_time < since
        recorded = replace(log, login_user=log.login_user[keep], login_time=log.login_time[keep])
    elif drift.event_type == "BUY_PREMIUM":
        keep = log.purchase_time < since
        recorded = replace(
            log,
            purchase_user=log.purchase_user[keep],
            purchase_time=log.purchase_time[keep],
            purchase_session=log.purchase_session[keep],
        )
    else:
        rows = log.events
        keep = (rows.kind != _EVENT_KINDS[drift.event_type]) | (rows.time < since)
        kept = EventRows(**{f.name: getattr(rows, f.name)[keep] for f in fields(rows)})
        recorded = replace(log, events=kept)
    return recorded, int(np.count_nonzero(~keep))


def planted(config: SimulationConfig, rows_not_recorded: int) -> list[dict]:
    """What each planted drift changed and from when (faults.json `drift`)."""
    return [_describe(drift, rows_not_recorded) for drift in config.drift]


def _describe(drift: Drift, rows_not_recorded: int) -> dict:
    record: dict = {"kind": drift.kind, "from_date": drift.from_date.isoformat()}
    if drift.kind == "channel_mix":
        record["applies_to"] = "users signing up on or after from_date"
        record["channel_shares_before"] = dict(zip(CHANNELS, CHANNEL_SHARES, strict=True))
        record["channel_shares_after"] = dict(zip(CHANNELS, DRIFTED_CHANNEL_SHARES, strict=True))
    elif drift.kind == "lever_effect":
        record["lever"] = "ads_per_hour"
        record["purchase_ads_coefficient_before"] = PURCHASE_ADS
        record["purchase_ads_coefficient_after"] = DRIFTED_PURCHASE_ADS
    else:
        record["event_type"] = drift.event_type
        record["rows_not_recorded"] = rows_not_recorded
    return record
