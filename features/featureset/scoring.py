"""Scoring rows: every eligible user at one cutoff, unlabelled, from the training rows' SQL.

A model is deployed to score today's users, whose label window has not closed yet; training
builds drop such rows as censored. A scoring build compiles the same spec with its calendar
cutoffs replaced by the one scoring cutoff D (compile_feature_query, unchanged), keeps the
rows training would keep or censor, and empties the label: features cannot skew between
training and scoring, and a test holds the two equal at a labelled cutoff.

The population at D:
- calendar cutoffs: every user eligible at D (signed up before it, and the spec's activity and
  not-converted rules at D), with features at D;
- signup-relative cutoffs (`after_signup`): every eligible user whose own cutoff c (signup +
  offset) is on or before D and whose label window is still open at D (c + horizon > D; with
  `ever`, every c <= D), with features at c, the moment the model was trained to predict
  from. Events between c and D are not read: the model never saw such rows in training.
D runs up to the midnight after the last event's date (the default), never later: a cutoff
after the data would read an empty recent past as inactivity. For date-only data that
midnight is also the end of data (features/featureset/compiler.py, data_end).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from contracts.errors import UsagecastError
from contracts.manifest import FeatureSetManifest
from contracts.refs import FeatureSetRef
from contracts.workspace import event_store_path
from events.store import EVENTS, data_granularity
from features.engines import Engine, check_engine_name, open_engine
from features.featureset import store
from features.featureset.build import (
    BuildResult,
    _attribute_dtypes,
    _feature_entries,
    _sample_pair,
    compute_rows,
    cutoff_span,
    fingerprint_of,
    manifest_header,
    normalise_frame,
    open_checked_store,
)
from features.featureset.catalog import load_spec
from features.featureset.compiler import calendar_cutoff_dates, compile_feature_query
from features.featureset.progress import Stages, stage_progress
from features.featureset.spec import (
    CalendarCutoffs,
    Cutoffs,
    FeatureSetSpec,
    SpecError,
    expand_features,
    spec_hash,
)

# Statuses a scoring row may have: `censored` only says the label window is still open.
SCORED_STATUSES = ("kept", "censored")
# Stages of a scoring build: checks, the feature query, writing.
SCORING_STAGES = 3
POPULATION_RULE = (
    "eligible users (spec eligibility at the row's cutoff) whose cutoff is on or before the "
    "scoring cutoff and whose label window is open at it (cutoff + horizon > scoring cutoff; "
    "any cutoff for `ever`); calendar cutoffs: the scoring cutoff itself"
)


class ScoringCutoffError(UsagecastError):
    """A scoring cutoff that is not a date or lies after the data."""


def latest_scoring_day(last_event_day: dt.date) -> dt.date:
    """The midnight after the last event's date: the latest cutoff whose past is all known."""
    return last_event_day + dt.timedelta(days=1)


def scoring_day(cutoff: str | dt.date | None, last_event_day: dt.date) -> dt.date:
    """The scoring cutoff asked for (default: the latest); one after the data is refused."""
    latest = latest_scoring_day(last_event_day)
    if cutoff is None:
        return latest
    if isinstance(cutoff, dt.date):
        day = cutoff
    else:
        try:
            day = dt.date.fromisoformat(cutoff.strip())
        except ValueError:
            raise ScoringCutoffError(f"--cutoff {cutoff!r}: not a date (use YYYY-MM-DD)") from None
    if day > latest:
        raise ScoringCutoffError(
            f"--cutoff {day.isoformat()} is after the data: a scoring cutoff may be any date up "
            f"to {latest.isoformat()} (the day after the last event, "
            f"{last_event_day.isoformat()})"
        )
    return day


def scoring_spec(spec: FeatureSetSpec, day: dt.date) -> FeatureSetSpec:
    """The spec with its calendar cutoffs replaced by the one scoring cutoff `day`.

    Signup-relative cutoffs stay as they are: each user keeps their own cutoff, and
    `scoring_rows` picks the rows whose label window is open at `day`.
    """
    if spec.cutoffs.calendar is None:
        return spec
    rates = [f.name for f in expand_features(spec) if f.kind == "related_label_rate"]
    if rates:
        # The rate reads the labels of earlier calendar cutoffs' rows, which this one-cutoff
        # query does not have: it would differ from what the model learnt from.
        raise SpecError(
            f"{spec.ref}: scoring rows of a spec with calendar cutoffs cannot compute "
            f"{', '.join(rates)} (related users' labels at earlier cutoffs); use a version "
            "without label_rate, or signup-relative cutoffs only"
        )
    single = CalendarCutoffs(start=day, end=day, every_days=1)
    return replace(spec, cutoffs=Cutoffs(single, spec.cutoffs.after_signup))


def compute_scoring_rows(
    runner: Engine,
    spec: FeatureSetSpec,
    day: dt.date,
    sample: tuple[float, int] | None,
    attribute_dtypes: dict[str, str],
    granularity: str = "timestamp",
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Unlabelled rows at `day` (normalised like training rows) and counts by fate."""
    raw = runner.query(compile_feature_query(scoring_spec(spec, day), sample, granularity))
    at = pd.Timestamp(day)
    cutoffs = pd.to_datetime(raw["cutoff"])
    open_at = cutoffs <= at
    if spec.label.horizon_days is not None:
        open_at &= cutoffs + pd.Timedelta(days=spec.label.horizon_days) > at
    considered = raw[open_at]
    scored = considered["status"].isin(SCORED_STATUSES)
    counts = {
        "candidates": len(considered),
        "scored": int(scored.sum()),
        "inactive": int((considered["status"] == "inactive").sum()),
        "converted": int((considered["status"] == "converted").sum()),
    }
    frame = normalise_frame(
        considered[scored], spec, expand_features(spec), attribute_dtypes, labelled=False
    )
    return frame, counts


@dataclass(frozen=True)
class StoreFacts:
    """What a build at a chosen cutoff reads from the event store before its query."""

    attribute_dtypes: dict
    granularity: str
    end_of_data: dt.datetime
    last_event_day: dt.date


def store_facts(con, spec: FeatureSetSpec) -> StoreFacts:
    """The attribute dtypes the spec reads, the data's time granularity and its end."""
    granularity = data_granularity(con)
    end_of_data, last_event_day = _end_of_data(con, granularity)
    return StoreFacts(
        _attribute_dtypes(con, spec, expand_features(spec)),
        granularity,
        end_of_data,
        last_event_day,
    )


def _end_of_data(con, granularity: str) -> tuple[dt.datetime, dt.date]:
    """(end of data, the last event's date); for date-only data the end is the midnight
    after that date, as in the compiled query's data_end."""
    end = con.execute(f"SELECT MAX(event_time) FROM {EVENTS}").fetchone()[0]
    if end is None:
        raise UsagecastError("the event store has no events: nothing to score; ingest first")
    last = pd.Timestamp(end).to_pydatetime()
    if granularity == "date":
        return dt.datetime.combine(last.date() + dt.timedelta(days=1), dt.time()), last.date()
    return last, last.date()


def scoring_manifest(
    spec: FeatureSetSpec,
    frame: pd.DataFrame,
    counts: dict[str, int],
    *,
    day: dt.date,
    end_of_data: dt.datetime,
    data_digest: str,
    fingerprint: str,
    sample: tuple[float, int] | None,
    engine: str,
    attribute_dtypes: dict[str, str],
    build_seconds: float,
) -> FeatureSetManifest:
    """What a scoring build holds: kind=scoring, its cutoff, the population and its columns."""
    features = expand_features(spec)
    return FeatureSetManifest.from_dict(
        {
            **manifest_header(
                "scoring", spec, frame, fingerprint, data_digest, sample, engine, build_seconds
            ),
            "cutoff": pd.Timestamp(day).isoformat(),
            "population": POPULATION_RULE,
            "label_rate": None,
            "feature_cutoffs": cutoff_span(frame),
            "end_of_data": pd.Timestamp(end_of_data).isoformat(),
            "eligibility": counts,
            "columns": ["user_id", "cutoff", "label", *(f.name for f in features)],
            "features": _feature_entries(frame, features, attribute_dtypes),
        }
    )


def build_scoring_rows(
    ref: str | FeatureSetRef,
    cutoff: str | dt.date | None = None,
    engine: str = "duckdb",
    sample: float | None = None,
    seed: int | None = None,
    *,
    store_path: Path | None = None,
    sets_dir: Path | None = None,
    force: bool = False,
    progress: bool = False,
) -> BuildResult:
    """Materialise `name@vN`'s scoring rows at one cutoff (default: the latest), or reuse them.

    Fingerprinted by spec, data, sample and cutoff; stored apart from the training builds, so
    `name@vN` never resolves to one. `progress` shows a stage bar on stderr.
    """
    with stage_progress(f"scoring rows {ref}", SCORING_STAGES, progress) as begin:
        return _build_scoring_rows(
            ref, cutoff, engine, sample, seed, store_path, sets_dir, force, begin
        )


def _build_scoring_rows(
    ref: str | FeatureSetRef,
    cutoff: str | dt.date | None,
    engine: str,
    sample: float | None,
    seed: int | None,
    store_path: Path | None,
    sets_dir: Path | None,
    force: bool,
    begin: Stages,
) -> BuildResult:
    started = time.perf_counter()
    begin("checking the spec and the event store")
    engine = check_engine_name(engine)
    spec = load_spec(ref, sets_dir)
    parsed = FeatureSetRef.of(ref)
    sample_pair = _sample_pair(sample, seed)
    path = store_path or event_store_path()
    con, data_digest = open_checked_store(path, spec)
    try:
        facts = store_facts(con, spec)
        attribute_dtypes, granularity = facts.attribute_dtypes, facts.granularity
        end_of_data = facts.end_of_data
        day = scoring_day(cutoff, facts.last_event_day)
        fingerprint = fingerprint_of(spec_hash(spec), data_digest, sample_pair, day, granularity)
        target = store.scoring_build_dir(parsed, fingerprint)
        existing = store.read_manifest(target)
        if existing is not None and not force:
            return BuildResult(spec.ref, fingerprint, target, existing.rows, None, True, existing)
        begin(f"computing rows on {engine}")
        runner = open_engine(
            engine, path, connection=con, on_step=lambda step: begin(step, within=True)
        )
        try:
            frame, counts = compute_scoring_rows(
                runner, spec, day, sample_pair, attribute_dtypes, granularity
            )
        finally:
            runner.close()
    finally:
        con.close()
    manifest = scoring_manifest(
        spec,
        frame,
        counts,
        day=day,
        end_of_data=end_of_data,
        data_digest=data_digest,
        fingerprint=fingerprint,
        sample=sample_pair,
        engine=engine,
        attribute_dtypes=attribute_dtypes,
        build_seconds=time.perf_counter() - started,
    )
    begin("writing")
    store.write_build(frame, manifest, target)
    return BuildResult(spec.ref, fingerprint, target, len(frame), None, False, manifest)


def load_scoring_rows(
    ref: str | FeatureSetRef, cutoff: str | dt.date | None = None, *, sets_dir: Path | None = None
) -> tuple[pd.DataFrame, FeatureSetManifest]:
    """Scoring rows and manifest of `name@vN` at a cutoff (default: the latest), built first
    when no build with their fingerprint exists; the manifest gains `reused`."""
    result = build_scoring_rows(ref, cutoff, sets_dir=sets_dir)
    frame, manifest = store.read_build(result.path)
    return frame, manifest.with_reused(result.reused)


def later_spec(spec: FeatureSetSpec, after: dt.date, until: dt.date) -> FeatureSetSpec | None:
    """The spec with its calendar cutoffs continued on their own cadence from the first one
    after `after` up to `until` (past the spec's end when the data go further); None when no
    calendar cutoff falls in that span. Signup-relative cutoffs stay as they are."""
    calendar = spec.cutoffs.calendar
    if calendar is None:
        return spec
    later = [day for day in calendar_cutoff_dates(replace(calendar, end=until)) if day > after]
    if not later:
        return None
    continued = replace(calendar, start=later[0], end=until)
    return replace(spec, cutoffs=Cutoffs(continued, spec.cutoffs.after_signup))


@dataclass(frozen=True)
class LabelledRows:
    """Labelled rows of a spec at cutoffs after a moment, and the later cutoffs not yet
    labelled (their label window runs past the end of the data: censored)."""

    frame: pd.DataFrame
    end_of_data: dt.datetime
    censored_cutoffs: tuple[pd.Timestamp, ...]


def labelled_rows_after(
    ref: str,
    after: pd.Timestamp,
    *,
    store_path: Path | None = None,
    sets_dir: Path | None = None,
) -> LabelledRows:
    """`name@vN`'s labelled rows at every cutoff after `after` whose label window has closed,
    from the event store, by the training rows' own query (compute_rows: point in time, rows
    at censored cutoffs dropped). Calendar cutoffs follow the spec's cadence past its end up
    to the latest scoring day; nothing is stored."""
    spec = load_spec(ref, sets_dir)
    path = store_path or event_store_path()
    con, _ = open_checked_store(path, spec)
    try:
        facts = store_facts(con, spec)
        end_of_data = facts.end_of_data
        later = later_spec(spec, after.date(), latest_scoring_day(facts.last_event_day))
        if later is None:
            return LabelledRows(pd.DataFrame(), end_of_data, ())
        runner = open_engine("duckdb", path, connection=con)
        try:
            frame, statuses = compute_rows(
                runner, later, None, facts.attribute_dtypes, facts.granularity
            )
        finally:
            runner.close()
    finally:
        con.close()
    frame = frame[pd.to_datetime(frame["cutoff"]) > after].reset_index(drop=True)
    cutoffs = pd.to_datetime(statuses["cutoff"])
    censored = statuses[(statuses["status"] == "censored") & (cutoffs > after)]
    return LabelledRows(
        frame, end_of_data, tuple(sorted({pd.Timestamp(c) for c in censored["cutoff"]}))
    )


def format_scoring_build(result: BuildResult) -> str:
    """The few lines `features build --scoring` prints."""
    manifest = result.manifest
    lines = [
        f"{result.ref}  scoring rows at cutoff {manifest.scoring_cutoff}  fingerprint "
        f"{result.fingerprint}" + ("  (reused)" if result.reused else ""),
        f"rows {result.rows}  unlabelled  features at {manifest.first_cutoff} .. "
        f"{manifest.last_cutoff}  (data ends {manifest.end_of_data})",
        f"not eligible: inactive {manifest.count('inactive')}  converted "
        f"{manifest.count('converted')}",
        f"written to {result.path}",
    ]
    return "\n".join(lines)
