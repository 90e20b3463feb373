"""The simulator's one I/O module: stream a simulated export to a folder, chunk by chunk.

Users are simulated in chunks of config.chunk_size; each chunk's draws come from streams
keyed by (seed, chunk), so memory use is bounded by one chunk and the bytes on disk depend
only on the config. Writes DIR/dataset.yaml (ready for `usagecast ingest`) and DIR/faults.json
(how many rows ingest must quarantine, per table and reason, and any drift planted).
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import time
from collections import Counter
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import yaml
from tqdm import tqdm

from contracts.errors import UsagecastError
from simulator import drift, faults, streams, tables
from simulator.config import (
    DROPPED_EVENT_NAME,
    Drift,
    LeverExperiment,
    Levers,
    SimulationConfig,
)
from simulator.events import expand_chunk
from simulator.layout import (
    ARTISTS_FILE,
    DATASET_FILE,
    EVENT_COLUMNS,
    EVENTS_GLOB,
    EXPERIMENT_FILE,
    FAULTS_FILE,
    LOGINS_FILE,
    PURCHASES_FILE,
    SIMULATION_FILE,
    TRACKS_FILE,
    USERS_ENCODING,
    USERS_FILE,
    dataset_config,
)
from simulator.process import chunk_key, record_days, recorded_schedule
from simulator.traits import draw_catalog, draw_user_traits

_CSV_OPTIONS = pa_csv.WriteOptions(quoting_style="needed")


@dataclass(frozen=True)
class SimulationSummary:
    """What was written and how fast."""

    out_dir: str
    n_users: int
    rows: dict[str, int]  # rows written per file kind (events, purchases, logins, users)
    expected_quarantine: dict[str, dict[str, int]]  # table -> reason -> rows
    reformatted_timestamps: int  # valid rows written in the second (day-first) format
    seconds: float
    drift: tuple[dict, ...] = ()  # what was planted (faults.json `drift`)

    @property
    def events_per_second(self) -> float:
        """Event rows (all event files) written per second of wall time."""
        events = self.rows["events"] + self.rows["purchases"] + self.rows["logins"]
        return events / self.seconds if self.seconds > 0 else float("inf")

    def describe(self) -> str:
        """A few lines for the terminal: what was written, how fast, what ingest will refuse."""
        quarantined = sum(sum(reasons.values()) for reasons in self.expected_quarantine.values())
        written = ", ".join(f"{kind} {count:,}" for kind, count in self.rows.items())
        return "\n".join(
            [
                f"simulated {self.n_users:,} users into {self.out_dir} in {self.seconds:.1f} s "
                f"({self.events_per_second:,.0f} event rows/s)",
                f"rows: {written}",
                f"rows ingest must quarantine: {quarantined:,} (see faults.json)",
                *(f"planted drift: {d['kind']} from {d['from_date']}" for d in self.drift),
                *(
                    [f"experiment assignments: {self.rows['experiment_assignments']:,} users"]
                    if "experiment_assignments" in self.rows
                    else []
                ),
                f"next: usagecast ingest {Path(self.out_dir) / DATASET_FILE}",
            ]
        )


def simulate_to_dir(
    out_dir: Path | str,
    config: SimulationConfig,
    *,
    name: str = "music_demo",
    progress: bool = True,
) -> SimulationSummary:
    """Simulate the product described by `config` and write the export into `out_dir`."""
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsagecastError(f"{out}: not an empty folder; simulate into a new or empty folder")
    started = time.perf_counter()
    (out / Path(EVENTS_GLOB).parent).mkdir(parents=True, exist_ok=True)
    start_epoch = calendar.timegm(config.start_date.timetuple())
    catalog = draw_catalog(config)
    track_frame, artist_frame = tables.catalog_frames(catalog)
    track_frame.to_csv(out / TRACKS_FILE, index=False)
    artist_frame.to_csv(out / ARTISTS_FILE, index=False)

    rows: Counter[str] = Counter()
    reformatted_total = 0
    not_recorded = 0
    quarantine = {"events": Counter(), "users": Counter()}
    schedule = recorded_schedule(config)
    chunks = tqdm(range(config.n_chunks), desc="simulate", unit="chunk", disable=not progress)
    with (
        open(out / PURCHASES_FILE, "w", encoding="utf-8", newline="") as purchases_file,
        open(out / LOGINS_FILE, "wb") as logins_file,
        open(out / USERS_FILE, "w", encoding=USERS_ENCODING, newline="") as users_file,
    ):
        for chunk in chunks:
            traits = draw_user_traits(config, chunk)
            counts = record_days(traits, config.n_days, schedule, chunk_key(config.seed, chunk))
            log = expand_chunk(
                counts,
                traits,
                catalog,
                start_epoch,
                streams.stream(config.seed, streams.EVENTS, chunk),
            )
            recorded, lost = drift.unrecorded(log, config)
            not_recorded += lost
            fault_rng = streams.stream(config.seed, streams.FAULTS, chunk)
            events, event_faults, reformatted = faults.inject_event_faults(
                tables.events_table(recorded, len(catalog.track_genre)),
                config.fault_rate,
                fault_rng,
            )
            pa_csv.write_csv(
                events, out / f"events/part-{chunk:05d}.csv", write_options=_CSV_OPTIONS
            )
            dropped = pc.sum(pc.equal(events[EVENT_COLUMNS["event_type"]], DROPPED_EVENT_NAME))
            quarantine["events"].update(event_faults)
            quarantine["events"]["dropped_event_type"] += int(dropped.as_py() or 0)
            reformatted_total += reformatted

            purchases = tables.purchases_frame(recorded, traits, config.levers.premium_price)
            purchases_file.write(purchases.to_json(orient="records", lines=True))
            logins = tables.logins_table(recorded)
            pa_csv.write_csv(
                logins,
                logins_file,
                write_options=pa_csv.WriteOptions(
                    include_header=chunk == 0, quoting_style="needed"
                ),
            )
            users = tables.users_frame(traits, log, start_epoch, chunk)
            user_faults = faults.user_fault_rows(len(users), config.fault_rate, fault_rng)
            extra = [tables.faulty_user_rows(users, user_faults)]
            quarantine["users"].update({k: len(v) for k, v in user_faults.items()})
            if chunk == 0 and config.fault_rate > 0:
                extra.append(tables.sentinel_user_row(users))
                quarantine["users"]["sentinel_id"] += 1
            for frame in [users, *extra]:
                frame.to_csv(users_file, index=False, header=users_file.tell() == 0)
                rows["users"] += len(frame)
            rows["events"] += events.num_rows
            rows["purchases"] += len(purchases)
            rows["logins"] += logins.num_rows
            if config.experiment is not None:
                assignments = tables.experiment_frame(
                    log,
                    traits,
                    config.experiment.name,
                    calendar.timegm(config.experiment.from_date.timetuple()),
                )
                assignments.to_csv(out / EXPERIMENT_FILE, mode="a", index=False, header=chunk == 0)
                rows["experiment_assignments"] += len(assignments)

    with open(out / DATASET_FILE, "w", encoding="utf-8") as handle:
        yaml.safe_dump(dataset_config(config, name), handle, sort_keys=False, allow_unicode=True)
    expected = {
        table: {reason: n for reason, n in sorted(c.items()) if n}
        for table, c in quarantine.items()
    }
    summary = SimulationSummary(
        out_dir=str(out),
        n_users=config.n_users,
        rows=dict(sorted(rows.items())),
        expected_quarantine=expected,
        reformatted_timestamps=reformatted_total,
        seconds=time.perf_counter() - started,
        drift=tuple(drift.planted(config, not_recorded)),
    )
    _write_faults_file(out / FAULTS_FILE, config, summary)
    (out / SIMULATION_FILE).write_text(
        json.dumps(_config_to_json(config), indent=2) + "\n", encoding="utf-8"
    )
    return summary


def load_simulation_config(path: Path | str) -> SimulationConfig:
    """The config that wrote a simulated export, from its folder or any file in it.

    Lets ground-truth consumers go from an ingested dataset.yaml back to the simulator.
    """
    where = Path(path)
    folder = where if where.is_dir() else where.parent
    document = folder / SIMULATION_FILE
    if not document.is_file():
        raise UsagecastError(
            f"{folder}: no {SIMULATION_FILE}; not written by `usagecast simulate`"
        )
    values = json.loads(document.read_text(encoding="utf-8"))
    allowed = {f.name for f in fields(SimulationConfig)}
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise UsagecastError(f"{document}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")
    lever_keys = {f.name for f in fields(Levers)}
    levers = values.get("levers", {})
    if set(levers) - lever_keys:
        raise UsagecastError(
            f"{document}: levers: unknown key(s) {sorted(set(levers) - lever_keys)}; "
            f"allowed: {sorted(lever_keys)}"
        )
    return SimulationConfig(
        **{
            **values,
            "start_date": dt.date.fromisoformat(values["start_date"]),
            "levers": Levers(**levers),
            "drift": tuple(_drift_from_json(document, d) for d in values.get("drift", [])),
            "experiment": _experiment_from_json(document, values.get("experiment")),
        }
    )


def _experiment_from_json(document: Path, values: dict | None) -> LeverExperiment | None:
    if values is None:
        return None
    allowed = {f.name for f in fields(LeverExperiment)}
    if set(values) != allowed:
        raise UsagecastError(
            f"{document}: experiment: keys {sorted(values)}; expected {sorted(allowed)}"
        )
    return LeverExperiment(**{**values, "from_date": dt.date.fromisoformat(values["from_date"])})


def _drift_from_json(document: Path, values: dict) -> Drift:
    allowed = {f.name for f in fields(Drift)}
    unknown = sorted(set(values) - allowed)
    missing = sorted({"kind", "from_date"} - set(values))
    if unknown or missing:
        raise UsagecastError(
            f"{document}: drift: unknown key(s) {unknown}, missing key(s) {missing}; "
            f"allowed: {sorted(allowed)}"
        )
    return Drift(**{**values, "from_date": dt.date.fromisoformat(values["from_date"])})


def _config_to_json(config: SimulationConfig) -> dict:
    """The config as JSON; `drift`, `experiment` and `ad_load_spread` only when set (none of
    them: the same bytes as before they existed)."""
    document = {**asdict(config), "start_date": config.start_date.isoformat()}
    document.pop("drift")
    document.pop("experiment")
    if config.ad_load_spread == 0.0:
        document.pop("ad_load_spread")
    if config.drift:
        document["drift"] = [
            {
                **{k: v for k, v in asdict(d).items() if v is not None},
                "from_date": d.from_date.isoformat(),
            }
            for d in config.drift
        ]
    if config.experiment is not None:
        document["experiment"] = {
            **asdict(config.experiment),
            "from_date": config.experiment.from_date.isoformat(),
        }
    return document


def _write_faults_file(path: Path, config: SimulationConfig, summary: SimulationSummary) -> None:
    """faults.json: expected quarantine per table and reason, plus rows written per table."""
    totals: Counter[str] = Counter()
    for reasons in summary.expected_quarantine.values():
        totals.update(reasons)
    document = {
        "seed": config.seed,
        "fault_rate": config.fault_rate,
        "n_users": config.n_users,
        "levers": asdict(config.levers),
        # Rows the ingest reads per canonical table: events = events files + purchases + logins.
        "rows_written": {
            "events": summary.rows["events"]
            + summary.rows["purchases"]
            + summary.rows["logins"]
            + summary.rows.get("experiment_assignments", 0),
            "users": summary.rows["users"],
        },
        "expected_quarantine": summary.expected_quarantine,
        "expected_quarantine_by_reason": dict(sorted(totals.items())),
        "reformatted_timestamps": summary.reformatted_timestamps,
    }
    if summary.drift:
        document["drift"] = list(summary.drift)
    if config.experiment is not None:
        document["experiment"] = {
            "name": config.experiment.name,
            "lever": "ads_per_hour",
            "ads_per_hour_control": config.levers.ads_per_hour,
            "ads_per_hour_treatment": config.treated_ads_per_hour,
            "share": config.experiment.share,
            "from_date": config.experiment.from_date.isoformat(),
        }
    path.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n", encoding="utf-8")
