"""A two-file product export shaped like the ones data scientists bring, made in code.

A trial app's users table and login log, with what real exports carry and the simulator does
not: a latin-1 users CSV with day-first signup times to the minute, accented countries and an
epoch-seconds "last seen" column read at export time; a login log with dates only, no event
type column, ids written as floats (`17.0`), blank ids, exact duplicate lines (two logins on
one day) and logins of users missing from the users table.

Each user has a hidden engagement level that drives their daily logins, so early activity
predicts later adoption (a model has something to learn) without any column giving it away.
`adopted_from_signup` is the independent reference the tests compare usagecast with.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

DATA_START = dt.date(2024, 1, 1)
DATA_END = dt.date(2024, 6, 30)
COUNTRIES = ("España", "Österreich", "France", "Côte d'Ivoire", "Deutschland")
PLANS = ("free", "team")
SIGNUP_FORMAT = "%d/%m/%Y %H:%M"


@dataclass(frozen=True)
class Export:
    """Where the export was written and what went into it (for accounting checks)."""

    folder: Path
    users_rows: int
    login_rows: int
    blank_login_ids: int
    duplicate_login_lines: int
    unknown_user_logins: int


def _signup_times(rng: np.random.Generator, users: int) -> pd.Series:
    days = rng.integers(0, (DATA_END - DATA_START).days - 10, users)
    minutes = rng.integers(8 * 60, 23 * 60, users)
    start = pd.Timestamp(DATA_START)
    return pd.Series(
        start + pd.to_timedelta(days, unit="D") + pd.to_timedelta(minutes, unit="min")
    )


def _logins(rng: np.random.Generator, ids: list[str], signups: pd.Series) -> pd.DataFrame:
    """Daily logins from each user's signup day on, at a rate set by a hidden engagement."""
    engagement = rng.beta(0.7, 2.5, len(ids))
    rows: list[tuple[str, dt.date]] = []
    for user, signup, level in zip(ids, signups, engagement, strict=True):
        first = signup.date()
        days = (DATA_END - first).days + 1
        # Most users log in on the day they sign up (a date-only log puts that at 00:00).
        if rng.random() < 0.8:
            rows.append((user, first))
        decay = np.exp(-np.arange(1, days) / (20 + 80 * level))
        active = rng.random(days - 1) < level * decay
        rows += [(user, first + dt.timedelta(days=int(d))) for d in np.flatnonzero(active) + 1]
        # A few users log in twice on one day: identical lines in a date-only log.
        if active.any() and rng.random() < 0.1:
            rows.append(rows[-1])
    return pd.DataFrame(rows, columns=["user", "day"])


def write_export(folder: Path, users: int = 600, seed: int = 11) -> Export:
    """Write users.csv (latin-1) and logins.csv into `folder` (the dataset config is the
    one in docs/bring-your-own-data.md)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    ids = [str(1000 + i) for i in range(users)]
    signups = _signup_times(rng, users)
    logins = _logins(rng, ids, signups)
    last_seen = logins.groupby("user")["day"].max()
    last_seen_epoch = [
        int(pd.Timestamp(last_seen.get(user, signup.date())).timestamp()) + 3600 * 9
        for user, signup in zip(ids, signups, strict=True)
    ]
    table = pd.DataFrame(
        {
            "Id": ids,
            "Registered": signups.dt.strftime(SIGNUP_FORMAT),
            "Country": rng.choice(COUNTRIES, users),
            "Plan": rng.choice(PLANS, users, p=[0.8, 0.2]),
            "LastSeen": last_seen_epoch,
        }
    )
    table.to_csv(folder / "users.csv", index=False, encoding="latin-1")

    lines = logins.assign(day=logins["day"].map(dt.date.isoformat))
    as_float = rng.random(len(lines)) < 0.1
    lines.loc[as_float, "user"] = lines.loc[as_float, "user"] + ".0"
    # Duplicates are lines repeated as written (`17` and `17.0` on one day are two lines).
    duplicates = int(lines.duplicated().sum())
    blank = pd.DataFrame({"user": ["", " "], "day": ["2024-03-01", "2024-03-02"]})
    unknown = pd.DataFrame({"user": ["999999", "999999.0"], "day": ["2024-04-01", "2024-04-02"]})
    lines = pd.concat([lines, blank, unknown], ignore_index=True)
    lines = lines.iloc[rng.permutation(len(lines))]
    lines.to_csv(folder / "logins.csv", index=False)
    return Export(
        folder=folder,
        users_rows=users,
        login_rows=len(lines),
        blank_login_ids=len(blank),
        duplicate_login_lines=duplicates,
        unknown_user_logins=len(unknown),
    )


def adopted_from_signup(folder: Path, min_days: int = 3, window_days: int = 7) -> set[str]:
    """Users with `min_days` distinct login dates inside some `window_days`-day window, on or
    after their signup date (the whole signup day counts): computed from the raw files alone.
    """
    users = pd.read_csv(folder / "users.csv", encoding="latin-1", dtype=str)
    signup_day = pd.to_datetime(users["Registered"], format=SIGNUP_FORMAT).dt.normalize()
    signups = dict(zip(users["Id"], signup_day, strict=True))
    logins = pd.read_csv(folder / "logins.csv", dtype=str, keep_default_na=False)
    logins["user"] = logins["user"].str.strip().str.removesuffix(".0")
    logins = logins[logins["user"].isin(signups)]
    logins["day"] = pd.to_datetime(logins["day"])
    adopted = set()
    for user, days in logins.groupby("user")["day"]:
        distinct = np.sort(days[days >= signups[user]].unique())
        gaps = distinct[min_days - 1 :] - distinct[: len(distinct) - min_days + 1]
        if (gaps <= np.timedelta64(window_days - 1, "D")).any():
            adopted.add(user)
    return adopted
