"""The pipeline as plain Python calls for notebooks and scripts: the CLI's steps without the
printing.

Each function calls the library function its `usagecast` command calls and returns that
function's result object (or a DataFrame) instead of printing it. Bad input raises
contracts.errors.UsagecastError, whose message is the CLI's one-line error. Stores come from
the workspace (USAGECAST_HOME, else ./.usagecast; MLflow from MLFLOW_TRACKING_URI, else the
workspace's SQLite store), specs from USAGECAST_SPECS (else ./specs), then the shipped ones.
Libraries are imported inside the functions: `import usagecast` stays quick. Each call starts
with the CLI's quiet defaults (features/quiet.py: MLflow's INFO lines and download bars off
unless the user's environment sets them).
"""

from __future__ import annotations

import dataclasses
import functools
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from contracts.errors import UsagecastError
from features.quiet import quiet_defaults

if TYPE_CHECKING:
    import pandas as pd

    from events.ingest import IngestSummary
    from events.ingest.starter import Starter
    from experiments import TuneResult, ValueTuneResult
    from experiments.whatif import UserWhatIf
    from features.featureset import BuildResult
    from features.featureset import Starter as SpecStarter
    from registry import PolicyConfig, PromotionResult
    from simulator import SimulationSummary


P = ParamSpec("P")
R = TypeVar("R")


def _quiet(function: Callable[P, R]) -> Callable[P, R]:
    """`function` starting with the CLI's quiet defaults, as every command does."""

    @functools.wraps(function)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        quiet_defaults()
        return function(*args, **kwargs)

    return call


def config_of(kind: type, given: Mapping[str, Any], options: Mapping[str, Any], where: str) -> Any:
    """`kind(**given, **options)` for a frozen config dataclass: `given` are the function's
    own arguments, `options` the rest. A key the config lacks, or one that is both, is a
    UsagecastError naming it (and the keys the config takes)."""
    twice = sorted(set(given) & set(options))
    if twice:
        raise UsagecastError(f"{where}: {', '.join(twice)} is given by the call's own argument")
    known = {field.name for field in dataclasses.fields(kind) if field.init}
    unknown = sorted(set(options) - known)
    if unknown:
        raise UsagecastError(
            f"{where}: unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    return kind(**given, **options)


@_quiet
def simulate(
    out: str | Path, *, seed: int = 0, progress: bool = False, **config: Any
) -> SimulationSummary:
    """`usagecast simulate`: write a seeded, simulated product export and its dataset.yaml
    into the new or empty folder `out`. `config` holds simulator.SimulationConfig
    fields (n_users, months, fault_rate, ...)."""
    from simulator import SimulationConfig, simulate_to_dir

    settings = config_of(SimulationConfig, {"seed": seed}, config, "simulate")
    return simulate_to_dir(out, settings, progress=progress)


def dataset_new(
    *paths: str | Path, out: str | Path | None = None, name: str | None = None
) -> tuple[Path, Starter]:
    """`usagecast dataset new`: write a starter dataset config guessed from the export files
    or folders `paths` (default: dataset.yaml in the one folder given; never over a file).
    Returns its path and the Starter: `text`, a line per source it `mapped`, the `checks`
    to read before `ingest`."""
    from events.ingest.starter import write_starter

    return write_starter([Path(p) for p in paths], None if out is None else Path(out), name)


@_quiet
def ingest(
    config_path: str | Path,
    *,
    allow_outside_files: bool = False,
    allow_partial: bool = False,
    progress: bool = False,
) -> IngestSummary:
    """`usagecast ingest`: validate a dataset config's files into the workspace event store;
    bad rows go to quarantine with a reason (counts per table in the summary)."""
    from events.ingest import ingest_dataset

    return ingest_dataset(
        Path(config_path),
        progress=progress,
        allow_outside_files=allow_outside_files,
        allow_partial=allow_partial,
    )


def spec_new(
    name: str, label: str = "event_within", after_signup: int | None = None
) -> SpecStarter:
    """`usagecast features new`: write a commented starter spec NAME@v1 into the project's
    spec folder (never over a file), its dataset, cutoffs, counted event types, label guess
    and features filled in from the last ingest's quality report when there is one. `label`
    picks the question (`--label`: event_within, churn, active_days_in_window, value_within);
    `after_signup` asks it of each user at signup + that many days (`--after-signup`)
    instead of at monthly cutoffs. Returns the Starter: `path`, `text` and what came from
    the store."""
    from events.quality import NoReportError, load_latest_report
    from features.featureset import new_spec
    from features.featureset.catalog import store_facts

    try:
        store = store_facts(load_latest_report())
    except NoReportError:
        store = None
    return new_spec(name, store=store, label_kind=label, after_signup=after_signup)


@_quiet
def build(
    ref: str,
    *,
    engine: str = "duckdb",
    sample: float | None = None,
    seed: int | None = None,
    allow_leaky: Iterable[str] = (),
    progress: bool = False,
) -> BuildResult:
    """`usagecast features build NAME@vN`: the training rows as Parquet + manifest, reused
    when a build with the same fingerprint exists. `result.fingerprint` names the build."""
    from features.featureset import build_feature_set

    return build_feature_set(
        ref,
        engine=engine,
        sample=sample,
        seed=seed,
        allow_leaky=tuple(allow_leaky),
        progress=progress,
    )


@_quiet
def build_scoring(
    ref: str,
    cutoff: str | None = None,
    *,
    engine: str = "duckdb",
    sample: float | None = None,
    seed: int | None = None,
    progress: bool = False,
) -> BuildResult:
    """`usagecast features build NAME@vN --scoring`: unlabelled rows of every eligible user at
    one cutoff (YYYY-MM-DD; default the day after the last event, today's users)."""
    from features.featureset import build_scoring_rows

    return build_scoring_rows(
        ref, cutoff, engine=engine, sample=sample, seed=seed, progress=progress
    )


@_quiet
def load(ref: str, *, scoring: bool = False, cutoff: str | None = None) -> pd.DataFrame:
    """A feature set's rows. Training rows of `NAME@vN` (its latest build) or `NAME@vN/FP`
    (one build), all cutoffs unless `cutoff` names one; with `scoring=True`, the scoring rows
    at `cutoff` (default the latest), built first when absent, as `score` reads them."""
    if scoring:
        from features.featureset import load_scoring_rows

        return load_scoring_rows(ref, cutoff)[0]
    from features.featureset import load_feature_set

    frame = load_feature_set(ref)[0]
    if cutoff is None:
        return frame
    from registry import rows_at_cutoff

    return rows_at_cutoff(frame, ref, cutoff).reset_index(drop=True)


@_quiet
def tune(
    ref: str, *, trials: int = 20, seed: int = 0, **options: Any
) -> TuneResult | ValueTuneResult:
    """`usagecast tune NAME@vN`: time-ordered split, baselines and an Optuna study of LightGBM
    logged to MLflow (a regression for a value label: ValueTuneResult);
    `result.parent_run_id` is the run to promote. `options` holds the other
    experiments.TuneConfig fields (metric, folds, timeout_s, workers, business, ...)."""
    from experiments import TuneConfig
    from experiments import tune as run_tuning

    given = {"feature_set": ref, "trials": trials, "seed": seed}
    config = config_of(TuneConfig, given, options, "tune")
    return run_tuning(config)


@_quiet
def promote(
    run_id: str | None = None,
    *,
    feature_set: str | None = None,
    policy: PolicyConfig | None = None,
) -> PromotionResult:
    """`usagecast promote`: register a tuning run's model and make it @champion when it passes
    the gate (`result.promoted`, `result.reason`). Name the run, or the feature set NAME@vN
    whose newest tuning run it is; `policy` is a registry.PolicyConfig (default: the CLI's)."""
    if (run_id is None) == (feature_set is None):
        raise UsagecastError(
            "promote: give either run_id or feature_set='NAME@vN' (its newest tuning run)"
        )
    from registry import latest_run_id, promote_run

    return promote_run(run_id or latest_run_id(feature_set), policy)


@_quiet
def score(
    ref: str,
    *,
    model: str,
    cutoff: str | None = None,
    out: str | Path | None = None,
    reasons: int = 0,
) -> pd.DataFrame:
    """`usagecast score`: every eligible user of `ref` at `cutoff` (default the latest) scored
    by `model` (e.g. models:/premium_30d@champion): user_id, cutoff, probability, label,
    rank (1 = most likely), and with `reasons` K the K largest SHAP contributions per user
    (reason_1, reason_1_value, reason_1_contribution, ...). Also kept at `out` (.parquet or
    .csv) when given."""
    from registry import read_scores, score_feature_set

    if out is not None:
        return read_scores(score_feature_set(ref, model, Path(out), cutoff, reasons=reasons).out)
    with tempfile.TemporaryDirectory(prefix="usagecast-score-") as folder:
        path = Path(folder) / "scores.parquet"
        return read_scores(score_feature_set(ref, model, path, cutoff, reasons=reasons).out)


def champion_uri(name: str) -> str:
    """`models:/NAME@champion`: the model `promote` made current (NAME is the feature set's)."""
    from registry import champion_uri as uri

    return uri(name)


@_quiet
def explain(rows: pd.DataFrame, *, model: str, k: int = 5) -> pd.DataFrame:
    """The served model's explanations (params.mode = explain) of feature rows, e.g. from
    `load(..., scoring=True)`: probability, label, raw_score, base_value and the k largest
    contributions per row, after the rows' user_id and cutoff."""
    from experiments.whatif import explain_rows

    return explain_rows(model, rows, k)


@_quiet
def whatif(
    user_id: str,
    *,
    model: str,
    cutoff: str | None = None,
    target: float = 0.5,
    k: int = 3,
    max_changes: int = 2,
    seed: int = 0,
    budget_ms: int = 1000,
) -> UserWhatIf:
    """`usagecast whatif`: up to k changes of actionable features that would raise the user's
    predicted probability to `target` (the served genetic search; `seed` fixes it).
    Predictions on observational data, not measured effects (`result.note`)."""
    from experiments.whatif import whatif_user

    return whatif_user(
        model,
        user_id,
        cutoff=cutoff,
        target=target,
        k=k,
        max_changes=max_changes,
        seed=seed,
        budget_ms=budget_ms,
    )
