"""Benchmark: top-features, before-conversion, a funnel, the paths to a conversion, weekly
active users, the time to convert and the value curve, usagecast (DuckDB SQL) vs pandas.

The event tables are generated straight into DuckDB with seeded, vectorised numpy (in chunks,
so memory stays flat): a uniform-user music-app log over 180 days, with ~20% of users buying
BUY_PREMIUM once. The pandas peer reads the same rows (Parquet export) and computes the same
tables with the same definitions (checked equal first at a small size). Each (side, model)
runs in its own subprocess, which reports its wall seconds and peak RSS.

    .venv/bin/python benchmarks/bench_analytics.py                 # 100M events
    .venv/bin/python benchmarks/bench_analytics.py --events 1000000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import psutil
from peak_memory import peak_rss_mib  # benchmarks/peak_memory.py
from tqdm import tqdm

AREAS = np.array(
    [
        "search",
        "radio",
        "library",
        "playlists",
        "home",
        "charts",
        "podcasts",
        "artist",
        "album",
        "queue",
        "lyrics",
        "social",
        "downloads",
        "settings",
        "profile",
        "discover",
        "mixes",
        "live",
        "kids",
        "shop",
    ]
)
AREA_WEIGHTS = 1 / np.arange(1, len(AREAS) + 1)
EVENT_TYPES = np.array(["PLAY", "SKIP", "LIKE", "LOGIN"])
EVENT_WEIGHTS = np.array([0.7, 0.15, 0.1, 0.05])
DAYS = 180
CHUNK = 5_000_000
CONVERSION = "BUY_PREMIUM"
LOOKBACK = 30
CONVERSION_DAYS = 90
CURVE_DAYS = 180
FUNNEL_STEPS = ("LOGIN", "PLAY", "LIKE", CONVERSION)
FUNNEL_DAYS = 30
PATH_STEPS = 3
PATH_DAYS = 30
DUCKDB_MEMORY_GIB = 8
# An event's time, from its seconds after the log's start (the generated frames' at_s).
AT = "TIMESTAMP '2024-01-01' + to_seconds(at_s)"


def generate(path: Path, events: int, seed: int) -> None:
    """Write users/user_attributes/events into a fresh DuckDB file, laid out as the event
    store has them (events.store: event_date beside event_time)."""
    rng = np.random.default_rng(seed)
    users = max(events // 100, 10)
    con = duckdb.connect(str(path))
    signup_s = rng.integers(0, 150 * 86_400, users)
    users_frame = pd.DataFrame(
        {
            "uid": np.arange(users),
            "signup_s": signup_s,
            "channel": rng.choice(["ads", "seo", "social", "referral"], users),
        }
    )
    con.register("users_frame", users_frame)
    con.execute(
        "CREATE TABLE users AS SELECT CAST(uid AS VARCHAR) AS user_id, "
        "TIMESTAMP '2024-01-01' + to_seconds(signup_s) AS signup_time, channel FROM users_frame"
    )
    con.execute("CREATE TABLE user_attributes (name VARCHAR, kind VARCHAR, dtype VARCHAR)")
    con.execute("INSERT INTO user_attributes VALUES ('channel', 'static', 'categorical')")
    con.execute(
        "CREATE TABLE events (event_id BIGINT, user_id VARCHAR, event_time TIMESTAMP, "
        "event_date DATE, event_type VARCHAR, area VARCHAR, value DOUBLE)"
    )
    buyers = rng.random(users) < 0.2
    conversions = int(buyers.sum())
    plain = events - conversions
    written = 0
    with tqdm(total=events, desc="generate events", unit="ev") as progress:
        while written < plain:
            size = min(CHUNK, plain - written)
            uid = rng.integers(0, users, size)
            start = signup_s[uid]
            offset = (rng.random(size) * (DAYS * 86_400 - start)).astype("int64")
            chunk = pd.DataFrame(
                {
                    "event_id": np.arange(written, written + size),
                    "uid": uid,
                    "at_s": start + offset,
                    "event_type": pd.Categorical.from_codes(
                        rng.choice(len(EVENT_TYPES), size, p=EVENT_WEIGHTS), EVENT_TYPES
                    ),
                    "area": pd.Categorical.from_codes(
                        rng.choice(len(AREAS), size, p=AREA_WEIGHTS / AREA_WEIGHTS.sum()), AREAS
                    ),
                }
            )
            con.register("chunk", chunk)
            con.execute(
                f"INSERT INTO events SELECT event_id, CAST(uid AS VARCHAR), {AT}, "
                f"CAST({AT} AS DATE), CAST(event_type AS VARCHAR), CAST(area AS VARCHAR), NULL "
                "FROM chunk"
            )
            con.unregister("chunk")
            written += size
            progress.update(size)
        buyer_ids = np.flatnonzero(buyers)
        start = signup_s[buyer_ids]
        bought = start + (rng.random(conversions) * (DAYS * 86_400 - start)).astype("int64")
        purchases = pd.DataFrame(
            {"event_id": np.arange(plain, events), "uid": buyer_ids, "at_s": bought}
        )
        con.register("purchases", purchases)
        con.execute(
            f"INSERT INTO events SELECT event_id, CAST(uid AS VARCHAR), {AT}, "
            f"CAST({AT} AS DATE), 'BUY_PREMIUM', 'shop', 9.99 FROM purchases"
        )
        progress.update(conversions)
    con.close()


def export_parquet(store: Path, folder: Path) -> None:
    """The same tables as Parquet, what the pandas peer reads."""
    con = duckdb.connect(str(store), read_only=True)
    for table in ("events", "users"):
        con.execute(f"COPY {table} TO '{folder / (table + '.parquet')}' (FORMAT parquet)")
    con.close()


def pandas_top_features(events: pd.DataFrame) -> pd.DataFrame:
    """The pandas peer of analytics.top_features (no filters)."""
    active = events["user_id"].nunique()
    with_area = events[events["area"].notna()]
    table = with_area.groupby("area", observed=True).agg(
        users=("user_id", "nunique"), events=("user_id", "size")
    )
    table = table.reset_index()
    table["area"] = table["area"].astype(str)
    table["user_share"] = table["users"] / active
    table = table.sort_values(
        ["users", "events", "area"], ascending=[False, False, True], ignore_index=True
    )
    table["rank"] = np.arange(1, len(table) + 1)
    return table


def pandas_before_conversion(events: pd.DataFrame, users: pd.DataFrame) -> pd.DataFrame:
    """The pandas peer of analytics.before_conversion (no filters), same definitions."""
    from analytics.usage import assemble_before_conversion

    day = 86_400
    signup = pd.Series(
        users["signup_time"].astype("datetime64[s]").astype("int64").to_numpy(),
        index=users["user_id"],
    )
    events = events[["user_id", "event_time", "event_type", "area"]]
    event_s = events["event_time"].astype("datetime64[s]").astype("int64")
    end_s = int(event_s.max()) + 1
    is_conversion = events["event_type"] == CONVERSION
    first = event_s[is_conversion].groupby(events.loc[is_conversion, "user_id"]).min()
    first_signup = signup.reindex(first.index).to_numpy()
    tenure = np.ceil((first.to_numpy() - first_signup) / day).astype("int64")
    tenures = (
        pd.Series(tenure).value_counts().rename_axis("tenure_day").rename("converters")
    ).reset_index()
    with_area = events["area"].notna().to_numpy()
    area_events = pd.DataFrame(
        {
            "user_id": events["user_id"].to_numpy()[with_area],
            "area": events["area"].astype(str).to_numpy()[with_area],
            "s": event_s.to_numpy()[with_area],
        }
    )
    converted = first.rename("conv_s").reset_index()
    joined = area_events.merge(converted, on="user_id")
    in_window = (joined["s"] >= joined["conv_s"] - LOOKBACK * day) & (
        joined["s"] < joined["conv_s"]
    )
    used = (
        joined[in_window].groupby("area")["user_id"].nunique().rename("converters_using")
    ).reset_index()
    min_day, max_day = int(tenure.min()), int(tenure.max())
    user_signup = signup.to_numpy()
    first_all = first.reindex(signup.index)
    conv_day = np.floor((first_all.to_numpy() - user_signup) / day)
    d_hi = np.minimum(np.ceil((end_s - user_signup) / day) - 1, max_day)
    d_hi = np.where(np.isnan(conv_day), d_hi, np.minimum(d_hi, conv_day)).astype("int64")
    risk = pd.DataFrame(
        {"user_id": signup.index, "signup_s": user_signup, "d_lo": min_day, "d_hi": d_hi}
    )
    risk = risk[risk["d_lo"] <= risk["d_hi"]]
    at_risk = risk.groupby(["d_lo", "d_hi"]).size().rename("users").reset_index()
    usage = area_events.merge(risk, on="user_id")
    usage = usage[
        (usage["s"] >= usage["signup_s"] + (usage["d_lo"] - LOOKBACK) * day)
        & (usage["s"] < usage["signup_s"] + usage["d_hi"] * day)
    ]
    usage["t"] = (usage["s"] - usage["signup_s"]) // day
    usage = usage.drop_duplicates(["user_id", "area", "t"]).sort_values(["user_id", "area", "t"])
    gap = usage.groupby(["user_id", "area"])["t"].diff()
    usage["island"] = (~(gap <= LOOKBACK)).cumsum()
    spans = usage.groupby("island").agg(
        area=("area", "first"),
        first_t=("t", "min"),
        last_t=("t", "max"),
        d_lo=("d_lo", "first"),
        d_hi=("d_hi", "first"),
    )
    spans["lo"] = np.maximum(spans["first_t"] + 1, spans["d_lo"])
    spans["hi"] = np.minimum(spans["last_t"] + LOOKBACK, spans["d_hi"])
    spans = spans[spans["lo"] <= spans["hi"]]
    edges = pd.concat(
        [
            spans.groupby(["area", "lo"])
            .size()
            .rename("users")
            .reset_index()
            .rename(columns={"lo": "day"})
            .assign(edge="open"),
            spans.groupby(["area", "hi"])
            .size()
            .rename("users")
            .reset_index()
            .rename(columns={"hi": "day"})
            .assign(edge="close"),
        ]
    )
    return assemble_before_conversion(used, tenures, at_risk, edges)


def pandas_funnel(events: pd.DataFrame) -> pd.DataFrame:
    """The pandas peer of analytics.funnel (no filters): each step the first event of its
    type, by (time, event id), at or after the previous step and within the window."""
    from analytics.funnel import funnel_table

    window = pd.Timedelta(days=FUNNEL_DAYS)
    end = events["event_time"].max() + pd.Timedelta(seconds=1)
    steps = events[events["event_type"].isin(FUNNEL_STEPS)]
    steps = steps.sort_values(["user_id", "event_time", "event_id"])
    first = steps[steps["event_type"] == FUNNEL_STEPS[0]].groupby("user_id").head(1)
    reached = first[["user_id", "event_time"]].rename(columns={"event_time": "at_1"})
    previous = reached.assign(last=reached["at_1"])  # each user's previous step's time
    for step, name in enumerate(FUNNEL_STEPS[1:], start=2):
        of_type = steps.loc[steps["event_type"] == name, ["user_id", "event_time"]]
        pairs = of_type.merge(previous, on="user_id")
        pairs = pairs[
            (pairs["event_time"] >= pairs["last"]) & (pairs["event_time"] < pairs["at_1"] + window)
        ]  # the steps' types differ, so no event can be two steps
        chosen = pairs.groupby("user_id").head(1)  # still in (time, id) order
        previous = chosen[["user_id", "at_1", "event_time"]].rename(columns={"event_time": "last"})
        reached = reached.merge(
            previous[["user_id", "last"]].rename(columns={"last": f"at_{step}"}),
            on="user_id",
            how="left",
        )
    reached["censored"] = reached["at_1"] + window > end
    return funnel_table(reached, FUNNEL_STEPS).table


def pandas_paths(events: pd.DataFrame) -> pd.DataFrame:
    """The pandas peer of analytics.paths to the conversion (no filters): each buyer's
    events before their first purchase, in (time, event id) order within the window, a
    repeated type in a row once, the nearest PATH_STEPS of them; the same table from there."""
    from analytics.paths import paths_table

    window = pd.Timedelta(days=PATH_DAYS)
    ordered = events.sort_values(["user_id", "event_time", "event_id"], ignore_index=True)
    is_anchor = ordered["event_type"] == CONVERSION
    anchors = ordered[is_anchor].groupby("user_id").head(1)[["user_id", "event_time", "event_id"]]
    anchors = anchors.rename(columns={"event_time": "anchor_time", "event_id": "anchor_id"})
    joined = ordered.merge(anchors, on="user_id")  # keeps the left's (user, time, id) order
    at, anchor_at = joined["event_time"], joined["anchor_time"]
    before = (at < anchor_at) | ((at == anchor_at) & (joined["event_id"] < joined["anchor_id"]))
    side = joined.loc[before & (at >= anchor_at - window), ["user_id", "event_type"]]
    previous = side.groupby("user_id")["event_type"].shift(1)
    kept = side[previous.isna() | (previous != side["event_type"])]
    position = kept.groupby("user_id").cumcount(ascending=False) + 1
    steps = kept.assign(position=position)[position <= PATH_STEPS]
    rows = anchors[["user_id", "anchor_time"]].merge(
        steps.rename(columns={"event_type": "step"}), on="user_id", how="left"
    )
    rows["left_out"] = rows["anchor_time"] - window < ordered["event_time"].min()
    return paths_table(rows, CONVERSION, "to", PATH_STEPS).paths


def pandas_active_users(events: pd.DataFrame) -> pd.DataFrame:
    """The pandas peer of analytics.active_users by week (no filters): distinct (user, week)
    marked by the user's weeks before and after, distinct (user, day) for the daily mean."""
    from analytics.activity import growth_table

    day = (events["event_time"].dt.floor("D") - pd.Timestamp("1970-01-01")).dt.days
    week = (day + 3) // 7
    end = events["event_time"].max() + pd.Timedelta(seconds=1)
    user_days = pd.DataFrame({"user_id": events["user_id"], "day": day, "period": week})
    user_days = user_days.drop_duplicates(["user_id", "day"])
    active = user_days[["user_id", "period"]].drop_duplicates()
    active = active.sort_values(["user_id", "period"], ignore_index=True)
    by_user = active.groupby("user_id")["period"]
    previous, following = by_user.shift(1), by_user.shift(-1)
    period = active["period"]
    marked = pd.DataFrame(
        {
            "period": period,
            "active_users": 1,
            "new_users": previous.isna().astype("int64"),
            "retained_users": (previous == period - 1).astype("int64"),
            "resurrected_users": (previous < period - 1).astype("int64"),
        }
    )
    counts = marked.groupby("period").sum()
    left = following.isna() | (following > period + 1)
    counts["churned_users"] = (period[left] + 1).value_counts()
    counts["user_days"] = user_days.groupby("period").size()
    counts = counts.reindex(counts.index.union((period[left] + 1).unique())).fillna(0)
    first = int(period.min())
    return growth_table(counts.rename_axis("period").reset_index(), "week", end, first)


def pandas_time_to_convert(events: pd.DataFrame, users: pd.DataFrame) -> pd.DataFrame:
    """The pandas peer of analytics.time_to_convert (no filters): each user's first conversion
    at or after signup, else the end of the data; the same Kaplan-Meier curve from there."""
    from analytics.conversion_time import conversion_time_table

    signup = users.set_index("user_id")["signup_time"].astype("datetime64[s]").astype("int64")
    event_s = events["event_time"].astype("datetime64[s]").astype("int64")
    end_s = int(event_s.max()) + 1
    is_conversion = (events["event_type"] == CONVERSION).to_numpy()
    buyers = events["user_id"].to_numpy()[is_conversion]
    bought = event_s.to_numpy()[is_conversion]
    after = bought >= signup.reindex(buyers).to_numpy()
    first = pd.Series(bought[after]).groupby(buyers[after]).min().reindex(signup.index)
    cohort = (signup < end_s).to_numpy()
    follow = pd.DataFrame(
        {
            "user_id": signup.index.astype(str),
            "seconds": (first.fillna(end_s) - signup).astype("int64").to_numpy(),
            "converted": first.notna().to_numpy(),
        }
    )[cohort]
    return conversion_time_table(follow, CONVERSION_DAYS).curve


def pandas_value_curve(events: pd.DataFrame, users: pd.DataFrame) -> pd.DataFrame:
    """The pandas peer of analytics.value_curve (no filters): each user's whole days followed
    and the value of their purchases per day since signup; the same curve from there."""
    from analytics.value_curve import value_curve_table

    day = 86_400
    signup = users.set_index("user_id")["signup_time"].astype("datetime64[s]").astype("int64")
    event_s = events["event_time"].astype("datetime64[s]").astype("int64")
    end_s = int(event_s.max()) + 1
    signup = signup[signup < end_s]
    bought = (events["event_type"] == CONVERSION).to_numpy()
    purchases = pd.DataFrame(
        {
            "user_id": events["user_id"].to_numpy()[bought],
            "s": event_s.to_numpy()[bought],
            "value": events["value"].fillna(0).to_numpy()[bought],
        }
    )
    purchases["signup_s"] = signup.reindex(purchases["user_id"]).to_numpy()
    purchases = purchases[purchases["s"] >= purchases["signup_s"]]
    purchases["day"] = (purchases["s"] - purchases["signup_s"]) // day
    per_day = purchases.groupby(["user_id", "day"], as_index=False)["value"].sum()
    followed = pd.DataFrame(
        {"user_id": signup.index, "followed_days": ((end_s - signup) // day).to_numpy()}
    )
    rows = pd.concat(
        [per_day.merge(followed, on="user_id"), followed.assign(day=np.nan, value=np.nan)]
    )
    rows["user_id"] = rows["user_id"].astype(str)
    return value_curve_table(rows.astype({"day": "float64"}), CURVE_DAYS)


def run_side(side: str, model: str, folder: Path) -> pd.DataFrame:
    """Compute one model on one side (inside the measured subprocess)."""
    if side == "duckdb":
        from analytics import (
            active_users,
            before_conversion,
            funnel,
            paths,
            time_to_convert,
            top_features,
            value_curve,
        )
        from features.engines.duckdb import DuckDBEngine

        engine = DuckDBEngine(folder / "events.duckdb")
        # DuckDB's default takes 80% of RAM; on a shared machine give it a fixed budget and
        # let it spill (that is part of what is measured).
        engine.connection.execute(f"SET memory_limit = '{DUCKDB_MEMORY_GIB}GB'")
        engine.connection.execute(f"SET temp_directory = '{folder / 'duckdb_spill'}'")
        if model == "top-features":
            return top_features(engine)
        if model == "funnel":
            return funnel(engine, FUNNEL_STEPS, FUNNEL_DAYS).table
        if model == "paths":
            return paths(engine, CONVERSION, "to", PATH_STEPS, PATH_DAYS).paths
        if model == "active-users":
            return active_users(engine, period="week")
        if model == "time-to-convert":
            return time_to_convert(engine, CONVERSION, days=CONVERSION_DAYS).curve
        if model == "value-curve":
            return value_curve(engine, [CONVERSION], days=CURVE_DAYS)
        return before_conversion(engine, CONVERSION, lookback_days=LOOKBACK)
    if model in ("funnel", "paths"):
        columns = ["event_id", "user_id", "event_time", "event_type"]
        events = pd.read_parquet(folder / "events.parquet", columns=columns)
        return pandas_funnel(events) if model == "funnel" else pandas_paths(events)
    if model == "active-users":
        columns = ["user_id", "event_time"]
        return pandas_active_users(pd.read_parquet(folder / "events.parquet", columns=columns))
    columns = ["user_id", "event_time", "event_type"]
    extra = {"time-to-convert": [], "value-curve": ["value"]}.get(model, ["area"])
    events = pd.read_parquet(folder / "events.parquet", columns=columns + extra)
    if model == "top-features":
        return pandas_top_features(events)
    users = pd.read_parquet(folder / "users.parquet", columns=["user_id", "signup_time"])
    if model == "time-to-convert":
        return pandas_time_to_convert(events, users)
    if model == "value-curve":
        return pandas_value_curve(events, users)
    return pandas_before_conversion(events, users)


def child(side: str, model: str, folder: Path, output: Path) -> None:
    """Subprocess body: time one run, write the table and {seconds, peak_mib}."""
    import analytics  # noqa: F401  (imports are not part of the measured work)

    started = time.perf_counter()
    table = run_side(side, model, folder)
    seconds = time.perf_counter() - started
    table.to_parquet(output.with_suffix(".parquet"), index=False)
    output.write_text(json.dumps({"seconds": seconds, "peak_mib": peak_rss_mib()}))


def measure(side: str, model: str, folder: Path, memory_gib: float) -> dict:
    """Run one (side, model) in a fresh subprocess; return its report and table."""
    output = folder / f"result-{side}-{model}.json"
    output.unlink(missing_ok=True)
    command = [sys.executable, __file__, "--child", side, model, "--folder", str(folder)]
    # A watchdog stops a side whose memory passes the cap, so a size it cannot hold is
    # reported instead of pushing the shared machine into the OOM killer.
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    watched = psutil.Process(process.pid)
    while process.poll() is None:
        try:
            over = watched.memory_info().rss > memory_gib * 2**30
        except psutil.NoSuchProcess:
            over = False
        if over:
            process.kill()
            process.wait()
            return {"error": f"stopped: memory passed {memory_gib:g} GiB", "returncode": -9}
        time.sleep(0.2)
    stderr = process.stderr.read().decode() if process.stderr else ""
    if process.returncode != 0:
        return {
            "error": (stderr.strip().splitlines() or ["killed"])[-1],
            "returncode": process.returncode,
        }
    report = json.loads(output.read_text())
    report["table"] = pd.read_parquet(output.with_suffix(".parquet"))
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--folder", type=Path, default=Path("/tmp/usagecast_bench_analytics"))
    parser.add_argument("--sides", default="duckdb,pandas")
    parser.add_argument("--memory-cap-gib", type=float, default=16.0)
    parser.add_argument("--child", nargs=2, metavar=("SIDE", "MODEL"))
    args = parser.parse_args()
    if args.child:
        side, model = args.child
        output = args.folder / f"result-{side}-{model}.json"
        child(side, model, args.folder, output)
        return
    folder = args.folder / f"events_{args.events}_seed{args.seed}"
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "events.parquet").exists():
        store = folder / "events.duckdb"
        store.unlink(missing_ok=True)
        generate(store, args.events, args.seed)
        export_parquet(store, folder)
    print(f"events {args.events:,} seed {args.seed} (generated with numpy into DuckDB)")
    sides = args.sides.split(",")
    models = (
        "top-features",
        "before-conversion",
        "funnel",
        "paths",
        "active-users",
        "time-to-convert",
        "value-curve",
    )
    for model in models:
        reports = {side: measure(side, model, folder, args.memory_cap_gib) for side in sides}
        for side, report in reports.items():
            if "error" in report:
                print(f"{model:18s} {side:7s} FAILED rc={report['returncode']}: {report['error']}")
            else:
                print(
                    f"{model:18s} {side:7s} {report['seconds']:9.2f} s  "
                    f"peak {report['peak_mib']:9.0f} MiB"
                )
        if all("error" not in reports.get(side, {"error": 1}) for side in ("duckdb", "pandas")):
            duck, peer = reports["duckdb"], reports["pandas"]
            pd.testing.assert_frame_equal(
                duck["table"], peer["table"], check_dtype=False, rtol=1e-9
            )
            print(
                f"{model:18s} same table; pandas/usagecast time ratio "
                f"{peer['seconds'] / duck['seconds']:.2f}x, peak memory ratio "
                f"{peer['peak_mib'] / duck['peak_mib']:.2f}x"
            )


if __name__ == "__main__":
    main()
