"""Benchmark: building premium_30d@v1, usagecast (DuckDB SQL) vs pandas and polars peers.

Data: canonical event-store tables generated straight into DuckDB by seeded SQL over
`range(N)` (hash-based draws, so memory stays flat at 100M rows): a music-app log from
2024-01-01 to 2024-07-01 shaped like the simulator's (event-type mix, areas, sessions, tracks
with popularity, channel/city/age users, ~0.2 premium purchases per user). It is not H2's
simulator: at 100M events that (and ingesting its CSV export) takes far longer than the
feature build being measured, and every side reads exactly the same rows either way. The
events are laid out as `usagecast ingest` stores them (ordered by user and time, with
event_date), and the Parquet export the dataframe peers read has the same rows in the same
order.

Peers, each in its own subprocess that reports wall seconds and peak RSS (VmHWM, see
benchmarks/peak_memory.py):
- features: `build_feature_set("premium_30d@v1")` vs pandas the way notebooks do it (read the
  events from Parquet, then per cutoff: filter, groupby, nunique, merge) and vs polars' lazy
  API doing the same work (per cutoff a grouped pass over the 30-day window, one over the
  history and one over the label window, all cutoffs collected as one plan). Each peer's
  ratio is printed with whether its rows equal usagecast's. The floor is not a peer: one
  DuckDB GROUP BY user over every event column the feature set reads, with the cheapest
  aggregate of each (FLOOR_SQL), the least work any build must do; usagecast's time is
  reported as a multiple of it.
- adoption label alone (3 distinct active days within some 7-day window in the 60 days after
  signup + 14 days): usagecast's day bitmask rule vs pandas `rolling('7D')`.
- related (issue 14): building adoption_14d@v2 (organisation, team and inviter features) vs the
  same spec without its `related` entries; the ratio is the cost of the related features,
  and the shared columns must be equal. Users get an organisation (3 in 4, about 9 members),
  a team inside it and an inviter (3 in 10), drawn like the rest.

Each side runs --repeats times (default 3), alternating, and the median time is reported
with the range: identical runs vary by about 20% on a shared 2-core machine.

    .venv/bin/python benchmarks/bench_features.py                        # 10M and 100M
    .venv/bin/python benchmarks/bench_features.py --events 1000000       # quick
    .venv/bin/python benchmarks/bench_features.py --pandas-max-events 10000000
    .venv/bin/python benchmarks/bench_features.py --repeats 1     # one run per side
    .venv/bin/python benchmarks/bench_features.py --events 10000000 --tasks features
    .venv/bin/python benchmarks/bench_features.py --events 10000000 --tasks related

polars is a dev extra (pinned in constraints.txt), used by this script only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import pandas as pd
import yaml
from peak_memory import peak_rss_mib  # benchmarks/peak_memory.py

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# Imported here, outside the timed calls, as pandas is for the pandas peer.
from features.featureset import build_feature_set, load_feature_set  # noqa: E402
from features.featureset.catalog import locate_spec  # noqa: E402

START = pd.Timestamp("2024-01-01")
DAYS = 182  # to 2024-07-01
EVENTS_PER_USER = 500
# A session is a user's events in one 2-day bucket: about 9 events and 55 sessions per user,
# as in the simulator's export (8.9 and 55 at 2,000 users). 6-hour buckets gave 1.9 events
# per session, a log no product has, and made distinct sessions most of either side's work.
SESSION_SECONDS = 2 * 86400
N_TRACKS = 4000
# The columns the pandas peer reads (a careful notebook reads only what it uses).
EVENT_FIELDS = ["user_id", "event_time", "event_type", "session_id", "item_id", "value", "area"]
CUTOFFS = [pd.Timestamp(f"2024-0{m}-01") for m in range(2, 7)]  # premium_30d@v1's calendar
TYPES = ["PLAY", "SKIP", "LOGIN", "ADVERTISEMENT", "LIKE", "BUY_PREMIUM"]
COUNTED_TYPES = ("PLAY", "SKIP", "LIKE", "ADVERTISEMENT", "LOGIN")  # premium_30d@v1's counts
# Cumulative thresholds (per 100000) of the event-type mix, close to the simulator's.
TYPE_CUTS = [53800, 75700, 86600, 94200, 99940, 100000]
AREAS = ["home", "search", "playlist", "radio", "browse", "settings"]
CHANNELS = ["facebook", "twitter", "reddit", "pinterest"]
CITIES = ["London", "Berlin", "Zürich", "São Paulo", "Paris", "Madrid"]
RELATED_SPEC = "adoption_14d@v2"
ORG_MEMBERS = 12  # organisations are drawn for every user; 3 in 4 keep theirs
ADOPTION_SPEC = """
name: adoption_label
version: 1
dataset: bench
cutoffs: {after_signup: {offset_days: 14, anchor: timestamp}}
label: {kind: active_days_in_window, horizon_days: 60, min_days: 3, window_days: 7}
features:
  - {kind: tenure}
"""


def _uniform(salt: str) -> str:
    """A deterministic uniform [0, 1) draw per generated row `i` (DuckDB SQL text)."""
    return f"(hash(i, '{salt}') % 1000000) / 1000000.0"


def generate_store(path: Path, n_events: int, seed: int) -> None:
    """Write the canonical tables (events/store.py) for n_events into a new store."""
    n_users = max(n_events // EVENTS_PER_USER, 10)
    type_case = " ".join(
        f"WHEN r_type < {cut} THEN '{name}'" for cut, name in zip(TYPE_CUTS, TYPES, strict=True)
    )
    area_case = " ".join(f"WHEN {k} THEN '{area}'" for k, area in enumerate(AREAS))
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    try:
        con.execute(
            f"""
            CREATE TABLE users AS
            SELECT *, CASE WHEN org_id IS NOT NULL
                           THEN org_id || '-t' || CAST(hash(i, 'team{seed}') % 3 AS VARCHAR)
                      END AS team_id
            FROM (
            SELECT i, 'u' || i AS user_id,
                   TIMESTAMP '{START}' + to_seconds(CAST(
                       {_uniform(f"signup{seed}")} * 150 * 86400 AS BIGINT)) AS signup_time,
                   list_extract({CHANNELS}, 1 + CAST(hash(i, 'ch{seed}') % 4 AS INTEGER))
                       AS channel,
                   list_extract({CITIES}, 1 + CAST(hash(i, 'city{seed}') % 6 AS INTEGER)) AS city,
                   CAST(18 + hash(i, 'age{seed}') % 50 AS DOUBLE) AS age,
                   CASE WHEN hash(i, 'inorg{seed}') % 4 <> 0 THEN 'o' || CAST(
                       hash(i, 'org{seed}') % {max(n_users // ORG_MEMBERS, 1)} AS VARCHAR)
                   END AS org_id,
                   CASE WHEN hash(i, 'invited{seed}') % 10 < 3 THEN 'u' || CAST(
                       hash(i, 'inviter{seed}') % {n_users} AS VARCHAR)
                   END AS invited_by
            FROM range({n_users}) t(i)
            )
            """
        )
        con.execute("ALTER TABLE users DROP COLUMN i")
        con.execute(
            f"""
            CREATE TABLE items AS
            SELECT 't' || i AS item_id, {_uniform(f"pop{seed}")} AS popularity,
                   NULL::TIMESTAMP AS valid_from, NULL::TIMESTAMP AS valid_to
            FROM range({N_TRACKS}) t(i)
            """
        )
        # Each event belongs to a user; its time is uniform between signup and the end; a
        # user's activity level varies (a skewed draw picks users), like real logs.
        con.execute(
            f"""
            CREATE TABLE events AS
            WITH draws AS (
                SELECT i,
                       CAST(floor(pow({_uniform(f"user{seed}")}, 1.6) * {n_users}) AS BIGINT)
                           AS u,
                       {_uniform(f"time{seed}")} AS r_time,
                       CAST(hash(i, 'type{seed}') % 100000 AS INTEGER) AS r_type,
                       CAST(hash(i, 'area{seed}') % {len(AREAS)} AS INTEGER) AS r_area,
                       hash(i, 'item{seed}') % {N_TRACKS} AS r_item
                FROM range({n_events}) t(i)
            ), timed AS (
                SELECT d.*, 'u' || d.u AS user_id,
                       s.signup_time + to_microseconds(CAST(d.r_time * (epoch_us(TIMESTAMP
                           '{START + pd.Timedelta(days=DAYS)}') - epoch_us(s.signup_time))
                           AS BIGINT)) AS event_time,
                       CASE {type_case} END AS event_type
                FROM draws d JOIN users s ON s.user_id = 'u' || d.u
            )
            SELECT i AS event_id, user_id, event_time, CAST(event_time AS DATE) AS event_date,
                   event_type,
                   user_id || '-' || CAST(epoch(event_time) // {SESSION_SECONDS} AS BIGINT)
                       AS session_id,
                   CASE WHEN event_type IN ('PLAY', 'SKIP', 'LIKE') THEN 't' || r_item END
                       AS item_id,
                   CAST(CASE WHEN event_type = 'PLAY' THEN 30 + r_item % 240
                        WHEN event_type = 'BUY_PREMIUM' THEN 9.99 END AS DOUBLE) AS value,
                   CASE r_area {area_case} END AS area,
                   CAST(NULL AS VARCHAR) AS properties, 'bench' AS source_file,
                   i AS source_row
            FROM timed
            ORDER BY user_id, event_time, event_id  -- the order `usagecast ingest` stores
            """
        )
        con.execute(
            "CREATE TABLE user_attributes AS SELECT * FROM (VALUES ('channel', 'static', "
            "'categorical'), ('city', 'static', 'categorical'), ('age', 'static', 'numeric'), "
            "('org_id', 'static', 'categorical'), ('team_id', 'static', 'categorical'), "
            "('invited_by', 'static', 'user_id')) t(name, kind, dtype)"
        )
        con.execute(
            "CREATE TABLE item_attributes AS SELECT 'popularity' AS name, 'numeric' AS dtype"
        )
        con.execute(
            "CREATE TABLE ingests AS SELECT 'bench' AS ingest_id, now()::TIMESTAMP AS started_at,"
            " now()::TIMESTAMP AS finished_at, 'bench' AS config_path, "
            f"'bench-{n_events}-{seed}' AS dataset_digest, '[]' AS files, '{{}}' AS counts"
        )
        for table in ("events", "users", "items"):
            con.execute(f"COPY {table} TO '{path.parent / table}.parquet' (FORMAT parquet)")
    finally:
        con.close()
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------
# The pandas peer: how a notebook computes premium_30d@v1, one cutoff at a time.


def _days(later: pd.Series, earlier: pd.Series) -> pd.Series:
    """Whole calendar days between two timestamp columns (the spec's recency rule)."""
    return (later.dt.normalize() - earlier.dt.normalize()).dt.days


def pandas_premium(data: Path) -> pd.DataFrame:
    events = pd.read_parquet(data / "events.parquet", columns=EVENT_FIELDS)
    users = pd.read_parquet(data / "users.parquet")
    items = pd.read_parquet(data / "items.parquet").set_index("item_id")["popularity"]
    events["day"] = events["event_time"].dt.normalize()
    end_of_data = events["event_time"].max()
    frames = []
    for cutoff in CUTOFFS:
        if cutoff + pd.Timedelta(days=30) > end_of_data:
            continue  # censored
        past = events[events["event_time"] < cutoff]
        rows = users[users["signup_time"] < cutoff][["user_id", "signup_time"]]
        w30 = past[past["event_time"] >= cutoff - pd.Timedelta(days=30)]
        w7 = w30[w30["event_time"] >= cutoff - pd.Timedelta(days=7)]
        active = w30["user_id"].unique()
        converted = past.loc[past["event_type"] == "BUY_PREMIUM", "user_id"].unique()
        rows = rows[rows["user_id"].isin(active) & ~rows["user_id"].isin(converted)]
        rows = rows.set_index("user_id")
        out = pd.DataFrame(index=rows.index)
        for name, window in (("7d", w7), ("30d", w30)):
            counts = window.groupby(["user_id", "event_type"]).size().unstack(fill_value=0)
            for kind in COUNTED_TYPES:
                column = counts.get(kind, 0)
                out[f"count_{kind}_{name}"] = column
            grouped = window.groupby("user_id")
            out[f"active_days_{name}"] = grouped["day"].nunique()
            out[f"sessions_{name}"] = grouped["session_id"].nunique()
        last = past.groupby("user_id")["event_time"].max()
        last_play = past.loc[past["event_type"] == "PLAY"].groupby("user_id")["event_time"].max()
        out["days_since_last_event"] = _days(pd.Series(cutoff, index=last.index), last)
        out["days_since_last_PLAY"] = _days(pd.Series(cutoff, index=last_play.index), last_play)
        out["tenure_days"] = _days(pd.Series(cutoff, index=rows.index), rows["signup_time"])
        plays30 = w30[w30["event_type"] == "PLAY"]
        out["value_sum_PLAY_30d"] = plays30.groupby("user_id")["value"].sum()
        out["ratio_SKIP_per_PLAY_30d"] = out["count_SKIP_30d"] / out["count_PLAY_30d"].where(
            out["count_PLAY_30d"] > 0
        )
        out["ratio_ADVERTISEMENT_per_PLAY_30d"] = out["count_ADVERTISEMENT_30d"] / out[
            "count_PLAY_30d"
        ].where(out["count_PLAY_30d"] > 0)
        areas = w30.groupby(["user_id", "area"]).size().unstack(fill_value=0)
        for area in AREAS:
            out[f"area_{area}_30d"] = areas.get(area, 0)
        popularity = plays30["item_id"].map(items)
        out["mean_item_popularity_30d"] = popularity.groupby(plays30["user_id"]).mean()
        future = events[
            (events["event_time"] >= cutoff)
            & (events["event_time"] < cutoff + pd.Timedelta(days=30))
            & (events["event_type"] == "BUY_PREMIUM")
        ]
        zero_when_absent = [c for c in out if c.startswith(("count_", "active_", "sess", "area_"))]
        out[zero_when_absent] = out[zero_when_absent].fillna(0).astype("int64")
        out["label"] = out.index.isin(future["user_id"].unique()).astype("int64")
        out["cutoff"] = cutoff
        frames.append(out.reset_index())
    result = pd.concat(frames, ignore_index=True)
    result = result.merge(users[["user_id", "channel", "city", "age"]], on="user_id")
    return result.fillna({"value_sum_PLAY_30d": 0.0})


def polars_premium(data: Path):  # -> polars.DataFrame (polars is imported by its child only)
    """premium_30d@v1 with polars' lazy API: per cutoff one grouped pass over the 30-day
    window, one over the history (recency, converted) and one over the label window; all
    cutoffs collected as one plan, which polars optimises and runs in parallel."""
    import polars as pl

    events = pl.scan_parquet(data / "events.parquet").select(EVENT_FIELDS)
    users = pl.scan_parquet(data / "users.parquet")
    items = pl.scan_parquet(data / "items.parquet")
    end_of_data = events.select(pl.col("event_time").max()).collect().item()
    is_type = {kind: pl.col("event_type") == kind for kind in TYPES}
    frames = []
    for cutoff in CUTOFFS:
        if cutoff + pd.Timedelta(days=30) > end_of_data:
            continue  # censored
        start = cutoff.to_pydatetime()
        end = start + dt.timedelta(days=30)
        in7 = pl.col("event_time") >= start - dt.timedelta(days=7)
        w30 = events.filter(
            pl.col("event_time").is_between(start - dt.timedelta(days=30), start, closed="left")
        ).join(items, on="item_id", how="left")
        plays = is_type["PLAY"]
        windowed = w30.group_by("user_id").agg(
            *[(is_type[kind] & in7).sum().alias(f"count_{kind}_7d") for kind in COUNTED_TYPES],
            *[is_type[kind].sum().alias(f"count_{kind}_30d") for kind in COUNTED_TYPES],
            pl.col("event_time").dt.date().filter(in7).n_unique().alias("active_days_7d"),
            pl.col("event_time").dt.date().n_unique().alias("active_days_30d"),
            pl.col("session_id").filter(in7).drop_nulls().n_unique().alias("sessions_7d"),
            pl.col("session_id").drop_nulls().n_unique().alias("sessions_30d"),
            pl.col("value").filter(plays).sum().alias("value_sum_PLAY_30d"),
            *[(pl.col("area") == area).sum().alias(f"area_{area}_30d") for area in AREAS],
            pl.col("popularity").filter(plays).mean().alias("mean_item_popularity_30d"),
        )
        history = (
            events.filter(pl.col("event_time") < start)
            .group_by("user_id")
            .agg(
                pl.col("event_time").max().alias("last"),
                pl.col("event_time").filter(plays).max().alias("last_play"),
                is_type["BUY_PREMIUM"].any().alias("converted"),
            )
        )
        bought = (
            events.filter(
                pl.col("event_time").is_between(start, end, closed="left") & is_type["BUY_PREMIUM"]
            )
            .select("user_id")
            .unique()
            .with_columns(label=pl.lit(1, pl.Int64))
        )
        day = pl.lit(cutoff.date())
        plays_30d = pl.col("count_PLAY_30d")
        per_play = pl.when(plays_30d > 0).then(plays_30d)  # NULL when no play, as in SQL
        frames.append(
            users.filter(pl.col("signup_time") < start)
            .select("user_id", "signup_time")
            .join(windowed, on="user_id")  # active in the 30 days before the cutoff
            .join(history.filter(~pl.col("converted")), on="user_id")
            .join(bought, on="user_id", how="left")
            .with_columns(
                days_since_last_event=(day - pl.col("last").dt.date()).dt.total_days(),
                days_since_last_PLAY=(day - pl.col("last_play").dt.date()).dt.total_days(),
                tenure_days=(day - pl.col("signup_time").dt.date()).dt.total_days(),
                ratio_SKIP_per_PLAY_30d=pl.col("count_SKIP_30d") / per_play,
                ratio_ADVERTISEMENT_per_PLAY_30d=pl.col("count_ADVERTISEMENT_30d") / per_play,
                label=pl.col("label").fill_null(0),
                cutoff=pl.lit(start),
            )
            .drop("signup_time", "last", "last_play", "converted")
        )
    attributes = users.select("user_id", "channel", "city", "age")
    return pl.concat(frames).join(attributes, on="user_id").collect()


def pandas_adoption(data: Path) -> pd.DataFrame:
    """The adoption label with rolling('7D') over each user's distinct active days."""
    events = pd.read_parquet(data / "events.parquet", columns=["user_id", "event_time"])
    users = pd.read_parquet(data / "users.parquet", columns=["user_id", "signup_time"])
    rows = users.assign(cutoff=users["signup_time"] + pd.Timedelta(days=14))
    if rows.empty:
        return rows
    end_of_data = events["event_time"].max()
    rows = rows[rows["cutoff"] + pd.Timedelta(days=60) <= end_of_data]
    joined = events.merge(rows[["user_id", "cutoff"]], on="user_id")
    joined = joined[
        (joined["event_time"] >= joined["cutoff"])
        & (joined["event_time"] < joined["cutoff"] + pd.Timedelta(days=60))
    ]
    days = joined.assign(day=joined["event_time"].dt.normalize())[["user_id", "day"]]
    days = days.drop_duplicates().sort_values(["user_id", "day"]).set_index("day")
    days["one"] = 1
    rolling = days.groupby("user_id")["one"].rolling("7D").sum()
    adopted = rolling[rolling >= 3].index.get_level_values("user_id").unique()
    return pd.DataFrame(
        {"user_id": rows["user_id"], "label": rows["user_id"].isin(adopted).astype("int64")}
    )


# ---------------------------------------------------------------------------------------


def usagecast_premium(store: Path) -> pd.DataFrame:
    build_feature_set("premium_30d@v1", store_path=store, force=True)
    return load_feature_set("premium_30d@v1")[0]


def usagecast_adoption(store: Path) -> pd.DataFrame:
    sets = Path(os.environ["USAGECAST_HOME"]) / "sets"
    (sets / "adoption_label").mkdir(parents=True, exist_ok=True)
    (sets / "adoption_label" / "v1.yaml").write_text(ADOPTION_SPEC)
    build_feature_set("adoption_label@v1", store_path=store, sets_dir=sets, force=True)
    return load_feature_set("adoption_label@v1")[0][["user_id", "label"]]


def usagecast_related(store: Path) -> pd.DataFrame:
    build_feature_set(RELATED_SPEC, store_path=store, force=True)
    return load_feature_set(RELATED_SPEC)[0]


def usagecast_without_related(store: Path) -> pd.DataFrame:
    """RELATED_SPEC without its `related` entries, as a project spec of its own name."""
    spec = yaml.safe_load(locate_spec(RELATED_SPEC).path.read_text())
    spec["name"], spec["version"] = "without_related", 1
    spec["features"] = [entry for entry in spec["features"] if entry["kind"] != "related"]
    sets = Path(os.environ["USAGECAST_HOME"]) / "sets"
    (sets / "without_related").mkdir(parents=True, exist_ok=True)
    (sets / "without_related" / "v1.yaml").write_text(yaml.safe_dump(spec))
    build_feature_set("without_related@v1", store_path=store, sets_dir=sets, force=True)
    return load_feature_set("without_related@v1")[0]


# The floor: the least work any premium_30d@v1 build must do. One hash aggregate by user over
# every event column the feature set reads, with the cheapest aggregate of each: no cutoffs,
# windows, distinct counts or joins.
FLOOR_SQL = """
SELECT user_id, COUNT(*) AS events, MAX(event_time) AS last_event, MAX(event_date) AS last_day,
       COUNT(CASE WHEN event_type = 'PLAY' THEN 1 END) AS plays,
       COUNT(session_id) AS with_session, COUNT(item_id) AS with_item, SUM(value) AS value,
       COUNT(CASE WHEN area = 'home' THEN 1 END) AS home
FROM events
GROUP BY user_id
"""


def duckdb_floor(store: Path) -> pd.DataFrame:
    with duckdb.connect(str(store), read_only=True) as con:
        return con.sql(FLOOR_SQL).df()


TASKS = {
    ("usagecast", "features"): usagecast_premium,
    ("pandas", "features"): pandas_premium,
    ("polars", "features"): polars_premium,
    ("floor", "features"): duckdb_floor,
    ("usagecast", "adoption"): usagecast_adoption,
    ("pandas", "adoption"): pandas_adoption,
    ("usagecast", "related"): usagecast_related,
    ("without", "related"): usagecast_without_related,
}
# Sides that read the DuckDB store; the others read its Parquet export.
STORE_SIDES = ("usagecast", "floor", "without")


def child(side: str, task: str, store: Path, output: Path) -> None:
    """Run one side in this process; print seconds, rows and peak RSS as JSON."""
    if side == "polars":
        import polars  # noqa: F401  (imported outside the timed call, as pandas is)
    started = time.perf_counter()
    frame = TASKS[(side, task)](store if side in STORE_SIDES else store.parent)
    seconds = time.perf_counter() - started
    if side == "polars":
        frame.write_parquet(output)
    else:
        frame.to_parquet(output, index=False)
    print(json.dumps({"seconds": seconds, "rows": len(frame), "peak_mib": peak_rss_mib()}))


def _limit_memory(limit_bytes: int) -> None:
    """Cap the child's address space, so a pandas run that cannot fit fails with a
    MemoryError instead of pushing a shared machine into swap or the OOM killer."""
    resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))


def run_side(
    side: str, task: str, store: Path, workdir: Path, memory_limit: int | None = None
) -> dict:
    output = workdir / f"{side}-{task}.parquet"
    env = {**os.environ, "USAGECAST_HOME": str(workdir / f"home-{side}")}
    command = [sys.executable, __file__, "--child", side, task, str(store), str(output)]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=env,
        check=False,
        preexec_fn=None if memory_limit is None else lambda: _limit_memory(memory_limit),
    )
    if done.returncode != 0:
        reason = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "killed"
        return {"failed": f"exit {done.returncode}: {reason}"}
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "output": output}


def combine_runs(runs: list[dict]) -> dict:
    """Repeated runs of one side: median seconds (with the range), highest peak memory.

    This machine's timings wander by +-20% between identical runs; alternating the sides and
    taking medians keeps one noisy run from deciding the ratio.
    """
    failed = [run for run in runs if "failed" in run or "skipped" in run]
    if failed:
        return failed[0]
    seconds = sorted(run["seconds"] for run in runs)
    return {
        **runs[-1],
        "seconds": statistics.median(seconds),
        "range": (seconds[0], seconds[-1]),
        "runs": len(runs),
        "peak_mib": max(run["peak_mib"] for run in runs),
    }


def same_rows(task: str, ours: Path, theirs: Path) -> bool:
    """Check the two sides computed the same table (sorted, same columns and types); for
    `related`, the columns the build without related features has."""
    b = pd.read_parquet(theirs)
    a = pd.read_parquet(ours)
    a = a[b.columns] if task == "related" else a
    b = b[a.columns]
    keys = ["cutoff", "user_id"] if task in ("features", "related") else ["user_id"]
    a = a.sort_values(keys).reset_index(drop=True)
    b = b.sort_values(keys).reset_index(drop=True).astype(a.dtypes.to_dict())
    try:
        pd.testing.assert_frame_equal(a, b, rtol=1e-9, check_exact=False)
    except AssertionError as error:
        print(f"    MISMATCH ({task}): {str(error).splitlines()[0]}")
        return False
    return True


def report(task: str, n_events: int, results: dict[str, dict]) -> None:
    """Each side's median, usagecast's ratios to the others, and the peers' row checks."""

    def line(name: str, result: dict) -> str:
        if "failed" in result or "skipped" in result:
            return f"    {name:<10} {result.get('failed') or 'skipped: ' + result['skipped']}"
        rate = n_events / result["seconds"]
        low, high = result["range"]
        return (
            f"    {name:<10} {result['seconds']:8.2f} s  {rate / 1e6:7.2f} M events/s  "
            f"peak {result['peak_mib']:8.0f} MiB  rows {result['rows']}  "
            f"(median of {result['runs']}: {low:.2f}-{high:.2f} s)"
        )

    print(f"  {task}:")
    for side, result in results.items():
        print(line(side, result))
    ours = results["usagecast"]
    if "failed" in ours:
        return
    for side, theirs in results.items():
        if side == "usagecast" or "failed" in theirs or "skipped" in theirs:
            continue
        speed = theirs["seconds"] / ours["seconds"]
        memory = ours["peak_mib"] / theirs["peak_mib"]
        if side == "floor":  # a bound, not a peer: it computes other rows
            print(f"    usagecast / floor: time x{1 / speed:.2f}   memory x{memory:.2f}")
            continue
        if side == "without":  # the same build less its related features
            equal = same_rows(task, ours["output"], theirs["output"])
            print(
                f"    with related / without: time x{1 / speed:.2f} (issue 14: <= 2)   "
                f"memory x{memory:.2f}   shared columns equal: {'yes' if equal else 'NO'}"
            )
            continue
        equal = same_rows(task, ours["output"], theirs["output"])
        print(
            f"    vs {side:<7} speed-up x{speed:.2f}   memory ratio {memory:.2f} "
            f"(usagecast / {side})   same rows: {'yes' if equal else 'NO'}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, nargs="+", default=[10_000_000, 100_000_000])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument(
        "--pandas-max-events",
        type=int,
        default=None,
        help="skip the pandas peer above this size (say so instead of swapping the machine)",
    )
    parser.add_argument("--tasks", nargs="+", default=["features", "adoption"])
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs per side, alternated; medians reported"
    )
    parser.add_argument(
        "--pandas-memory-gib",
        type=float,
        default=16.0,
        help="address-space cap of the pandas child (0 = none); exceeding it is reported",
    )
    parser.add_argument("--child", nargs=4, metavar=("SIDE", "TASK", "STORE", "OUT"))
    args = parser.parse_args(argv)
    if args.child:
        side, task, store, output = args.child
        child(side, task, Path(store), Path(output))
        return 0
    pandas_limit = int(args.pandas_memory_gib * 2**30) or None
    root = args.workdir or Path(tempfile.mkdtemp(prefix="bench_features-"))
    print(f"bench_features: workdir {root}, seed {args.seed}")
    for n_events in args.events:
        workdir = root / f"n{n_events}-s{args.seed}"
        workdir.mkdir(parents=True, exist_ok=True)
        store = workdir / "events.duckdb"
        if not store.exists():
            started = time.perf_counter()
            generate_store(store, n_events, args.seed)
            print(f"{n_events:,} events generated in {time.perf_counter() - started:.1f} s")
        print(f"{n_events:,} events:")
        skip_pandas = args.pandas_max_events is not None and n_events > args.pandas_max_events
        for task in args.tasks:
            sides = [side for side, name in TASKS if name == task]
            runs: dict[str, list[dict]] = {side: [] for side in sides}
            for _ in range(args.repeats):
                for side in sides:
                    if side == "pandas" and skip_pandas:
                        skipped = f"above --pandas-max-events {args.pandas_max_events:,}"
                        runs[side].append({"skipped": skipped})
                        continue
                    limit = pandas_limit if side == "pandas" else None
                    runs[side].append(run_side(side, task, store, workdir, limit))
            report(task, n_events, {side: combine_runs(runs[side]) for side in sides})
    return 0


if __name__ == "__main__":
    sys.exit(main())
