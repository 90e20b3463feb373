"""`usagecast whatif` and `usagecast whatif policy`: the registered model's what-ifs on the rows
of its feature set, each with the causal note, and for simulated data the simulator's truth.

- whatif_user: one user's scoring row at a cutoff (default the latest, the day after the last
  event: today's users) through the served pyfunc with params.mode = whatif, so the CLI
  answers exactly what `mlflow models serve` would.
- whatif_policy: one lever change applied to every row of a segment (serving.whatif's
  simulate_policy: bounds, directions and couplings respected), predicted conversions
  before/after with a seeded bootstrap interval, the simulator's true effect when the data
  came from `usagecast simulate`, logged as an MLflow run in experiment "whatif".
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd
import sqlglot.expressions as exp
from mlflow.exceptions import MlflowException

from analytics.filters import parse_segment
from analytics.io import log_run
from contracts.errors import UsagecastError
from contracts.manifest import FeatureSetManifest, RowRule
from contracts.workspace import event_store_path
from experiments.oracle import simulation_config
from experiments.whatif import evidence, report, sources, truth
from features.mlflow_links import describe_run_artifacts
from serving import encode_matrix
from serving.validation import IDENTITY_COLUMNS
from serving.whatif import (
    CAUSAL_NOTE,
    LeverChange,
    PolicyResult,
    apply_change,
    parse_change,
    simulate_policy,
)

MLFLOW_EXPERIMENT = "whatif"
LABEL_COLUMN = "label"
ROW_COLUMN = "__row"
DEFAULT_BUDGET_MS = 1000


@dataclass(frozen=True)
class UserWhatIf:
    """Suggestions for one user (the served JSON objects) and where they came from."""

    model_uri: str
    model_version: str
    feature_set: str
    user_id: str
    cutoff: str
    probability: float
    target: float
    seed: int
    budget_ms: int
    suggestions: tuple[dict, ...]
    note: str
    direction: str = "raise"  # "lower": the label is an outcome to avoid (churn)
    # The row's own cutoff: a signup-relative spec's row holds the user's features as of
    # signup + offset, which may be before the scoring `cutoff`.
    row_cutoff: str | None = None

    def summary(self) -> str:
        lower = self.direction == "lower"
        target = f"at most {self.target:g} (an outcome to lower)" if lower else f"{self.target:g}"
        own = (
            ""
            if self.row_cutoff in (None, self.cutoff)
            else f"; features as of the row's own cutoff, {self.row_cutoff}"
        )
        lines = [
            f"user {self.user_id} at cutoff {self.cutoff} ({self.feature_set}{own}), model "
            f"{self.model_uri} (version {self.model_version}): probability "
            f"{self.probability:.4f}, target {target}, seed {self.seed}, "
            f"budget {self.budget_ms} ms",
        ]
        if self.suggestions:
            lines += report.format_table(
                report.SUGGESTION_HEADER, report.suggestion_rows(self.suggestions)
            )
        else:
            lines.append(
                f"no change found that {'lowers' if lower else 'raises'} the probability: no "
                "actionable feature can move for this row, or the model predicts "
                f"{'no less' if lower else 'no more'} for any change tried within the "
                "features' directions and bounds"
            )
        lines.append(f"note: {self.note}")
        return "\n".join(lines)


def _missing_columns(rows: pd.DataFrame, names: tuple[str, ...], source: str) -> None:
    missing = [name for name in names if name not in rows.columns]
    if missing:
        raise UsagecastError(f"{source} lacks the model's feature(s) {missing}")


def _served_answer(
    model: sources.LoadedModel, rows: pd.DataFrame, source: str, params: dict
) -> pd.DataFrame:
    """The served pyfunc's answer for rows holding the model's features; a refused request
    (bad param, bad value) is a one-line UsagecastError."""
    _missing_columns(rows, model.feature_names, source)
    try:
        return model.pyfunc.predict(rows[list(model.feature_names)], params=params)
    except MlflowException as error:
        raise UsagecastError(f"{params['mode']}: {error.message}") from None


def explain_rows(model_uri: str, rows: pd.DataFrame, k: int = 5) -> pd.DataFrame:
    """Each row's probability and its k largest feature contributions (exact TreeSHAP), as
    the served model answers params.mode = explain; the rows' user_id and cutoff columns,
    when present, lead the result."""
    model = sources.load_model(model_uri)
    answer = _served_answer(model, rows, "explain: each row", {"mode": "explain", "k": int(k)})
    identity = rows[[name for name in IDENTITY_COLUMNS if name in rows.columns]]
    return pd.concat([identity.reset_index(drop=True), answer.reset_index(drop=True)], axis=1)


def _cutoff(rows: pd.DataFrame) -> pd.Timestamp:
    return pd.Timestamp(rows["cutoff"].iloc[0])


def why_no_row(history: sources.UserHistory | None, rule: RowRule, cutoff: pd.Timestamp) -> str:
    """Why a user has no scoring row at `cutoff`, from what the store knows of them and the
    rows' rule, the first reason that holds."""
    if history is None:
        return "the event store has no such user (ids are compared as text)"
    day = "%Y-%m-%d"
    if history.signup_time is not None and history.signup_time >= cutoff:
        return f"they signed up on {history.signup_time:{day}}, not before it"
    if history.first_of_type is not None:
        return (
            f"already converted: their first {rule.not_converted} was on "
            f"{history.first_of_type:{day}} (eligibility.not_converted)"
        )
    window = rule.active_within_days
    if window is not None and history.last_event is None:
        return f"inactive: no event before it (eligibility.active_within_days: {window})"
    if window is not None and history.last_event < cutoff - pd.Timedelta(days=window):
        return (
            f"inactive: their last event was on {history.last_event:{day}}, over {window} "
            "days before it (eligibility.active_within_days)"
        )
    if rule.after_signup_days is not None:
        return (
            f"their cutoff, signup + {rule.after_signup_days} days, is not yet reached or its "
            "label window has closed (rows of signup-relative cutoffs)"
        )
    return "not eligible then"


def whatif_user(
    model_uri: str,
    user_id: str,
    cutoff: str | None = None,
    target: float = 0.5,
    k: int = 3,
    max_changes: int = 2,
    seed: int = 0,
    budget_ms: int = DEFAULT_BUDGET_MS,
) -> UserWhatIf:
    """k suggestions that raise one user's predicted probability to `target` (served GA)."""
    model = sources.load_model(model_uri)
    rows, manifest = sources.scoring_rows(model.feature_set, cutoff)
    at = pd.Timestamp(manifest.scoring_cutoff).date().isoformat()
    row = rows[rows["user_id"].astype(str) == str(user_id)]
    if row.empty:
        rule = manifest.row_rule
        history = sources.user_history(str(user_id), at, rule.not_converted)
        raise UsagecastError(
            f"user {user_id!r} has no row in {model.feature_set} at cutoff {at}: "
            + why_no_row(history, rule, pd.Timestamp(at))
        )
    params = {
        "mode": "whatif",
        "target": float(target),
        "k": int(k),
        "max_changes": int(max_changes),
        "budget_ms": int(budget_ms),
        "seed": int(seed),
    }
    answer = _served_answer(model, row, f"feature set {model.feature_set}", params)
    whatif = answer["whatif"].iloc[0]
    return UserWhatIf(
        model_uri=model_uri,
        model_version=model.version,
        feature_set=model.feature_set,
        user_id=str(user_id),
        cutoff=at,
        probability=float(answer["probability"].iloc[0]),
        target=float(target),
        seed=int(seed),
        budget_ms=int(budget_ms),
        suggestions=tuple(whatif["suggestions"]),
        note=str(whatif["note"]),
        direction=str(whatif["direction"]),
        row_cutoff=pd.Timestamp(row["cutoff"].iloc[0]).date().isoformat(),
    )


def select_segment(rows: pd.DataFrame, segment: str | None) -> pd.DataFrame:
    """The rows a segment predicate keeps (all rows without one).

    The predicate may read the feature set's columns (not the label: that is the outcome)
    and the users table's columns; users' columns are joined in only when a column is not
    in the feature set, so a feature set's point-in-time value wins over the users table.
    Snapshot attributes are refused: read at export time, they would select on the future.
    """
    if segment is None:
        return rows
    columns = frozenset(rows.columns) - {LABEL_COLUMN}
    kinds = sources.user_columns()
    tree = parse_segment(segment, columns | frozenset(kinds), table="r")
    wanted = {column.name for column in tree.find_all(exp.Column)}
    extra = tuple(sorted(wanted - columns))
    future = [name for name in extra if kinds[name] == "snapshot"]
    if future:
        raise UsagecastError(
            f"segment {segment!r}: {', '.join(future)} is a snapshot attribute (read at export "
            "time, after the cutoff): selecting on it would select on the future"
        )
    scope = rows.assign(**{ROW_COLUMN: np.arange(len(rows))})
    if extra:
        users = sources.users(extra).astype({"user_id": str})
        scope = scope.assign(user_id=scope["user_id"].astype(str)).merge(
            users, on="user_id", how="left"
        )
    query = exp.select(ROW_COLUMN).from_(exp.table_("r")).where(tree)
    con = duckdb.connect()
    try:
        con.register("r", scope)
        kept = con.execute(query.sql("duckdb")).fetchnumpy()[ROW_COLUMN]
    finally:
        con.close()
    return rows.iloc[np.sort(kept)].reset_index(drop=True)


@dataclass(frozen=True)
class TruthComparison:
    """The simulator's true effect next to the prediction, or why it could not be computed;
    `simulated` is False for data that did not come from the simulator (an export), where
    no truth is to be had and the terminal does not speak of one."""

    note: str
    effect: truth.TrueEffect | None = None
    simulated: bool = True


def compare_with_truth(
    rows: pd.DataFrame,
    manifest: FeatureSetManifest,
    feature_set: str,
    lever: LeverChange,
    replicas: int,
) -> TruthComparison:
    """The true effect of the change on these rows when the data was simulated."""
    config, source = simulation_config(manifest, event_store_path())
    if config is None:
        return TruthComparison(f"true effect not computed: {source}", simulated=False)
    reason = truth.one_cutoff_note(rows["cutoff"]) or truth.label_note(manifest)
    if reason is not None:
        return TruthComparison(f"true effect not computed: {reason}")
    factor, mapping = truth.ad_lever_factor(
        lever, sources.feature_definition(feature_set, lever.feature)
    )
    if factor is None:
        return TruthComparison(f"true effect not computed: {mapping}")
    user_ids = truth.simulator_user_ids(rows["user_id"])
    if user_ids is None:
        return TruthComparison("true effect not computed: user ids are not simulator ids")
    try:
        effect = truth.true_effect(
            config,
            user_ids,
            _cutoff(rows),
            factor,
            int(manifest.label.horizon_days),
            replicas,
        )
    except UsagecastError as error:  # e.g. more than 60 ads per hour, ids of another run
        return TruthComparison(f"true effect not computed: {error}")
    return TruthComparison(f"{source}: {mapping}", effect)


@dataclass(frozen=True)
class PolicyReport:
    """A policy what-if: the prediction, the truth when known, and the MLflow run holding both."""

    model_uri: str
    model_version: str
    feature_set: str
    segment: str | None
    cutoff: str
    result: PolicyResult
    comparison: TruthComparison
    experiment: evidence.ExperimentEvidence
    table: pd.DataFrame
    run_id: str
    artifacts: str  # where the run's table and plot are (features.mlflow_links)
    outcome: tuple[str, str] = report.CONVERSION_WORDS  # report.outcome_words of the label
    whose: str | None = None  # who a signup-relative set's rows are (sources.PolicyRows)

    def summary(self) -> str:
        r = self.result
        outcome, counted = self.outcome
        where = f" at cutoff {self.cutoff}" if self.whose is None else f": {self.whose}"
        lines = [
            f"{r.change.expression} on {r.n_rows} rows of {self.feature_set}{where} "
            f"(segment: {self.segment or 'all'}); {r.n_changed} rows moved",
            *(
                [
                    "moved with it (couplings): "
                    + ", ".join(f"{n} on {k} rows" for n, k in r.moved_with)
                ]
                if r.moved_with
                else []
            ),
            f"model {self.model_uri} (version {self.model_version}), seed {r.seed}",
            f"predicted {outcome}: {r.mean_before:.4f} -> {r.mean_after:.4f}",
            f"predicted extra {counted}: {r.expected_extra:+.2f} "
            f"({r.level:.0%} bootstrap interval {r.interval_low:+.2f} .. {r.interval_high:+.2f})",
        ]
        effect = self.comparison.effect
        if effect is not None:
            gap = r.expected_extra - effect.extra
            lines += [
                f"true extra conversions (simulator): {effect.extra:+.2f}; true conversion "
                f"{effect.before.mean():.4f} -> {effect.after.mean():.4f} "
                f"(ads per hour {effect.ads_per_hour_before:g} -> {effect.ads_per_hour_after:g})",
                f"gap (predicted - true): {gap:+.2f}; "
                f"same direction: {_same_direction(r.expected_extra, effect.extra)}",
            ]
        lines += self.experiment.lines(r.n_rows)
        if self.comparison.simulated:
            lines.append(f"truth: {self.comparison.note}")
        lines += [f"note: {r.note}", f"run: {self.run_id}"]
        lines.append(self.artifacts)
        return "\n".join(lines)


def _same_direction(predicted: float, true: float) -> str:
    return "yes" if np.sign(predicted) == np.sign(true) else "no"


def _policy_table(
    rows: pd.DataFrame, result: PolicyResult, effect: truth.TrueEffect | None, moved: np.ndarray
) -> pd.DataFrame:
    table = pd.DataFrame(
        {
            "user_id": rows["user_id"].to_numpy(),
            "cutoff": rows["cutoff"].to_numpy(),
            "p_before": result.before,
            "p_after": result.after,
            "delta": result.after - result.before,
            "lever_moved": moved,
        }
    )
    if effect is not None:
        table = table.assign(true_p_before=effect.before, true_p_after=effect.after)
    return table


def whatif_policy(
    model_uri: str,
    feature_set: str,
    change: str,
    segment: str | None = None,
    cutoff: str | None = None,
    seed: int = 0,
    n_bootstrap: int = 1000,
    truth_replicas: int = truth.TRUTH_REPLICAS,
    experiment: str | None = None,
) -> PolicyReport:
    """Apply one lever change to a segment's rows; predicted vs (when simulated) true effect,
    and an experiment's estimates when one tested the lever (evidence.py)."""
    lever = parse_change(change)
    model = sources.load_model(model_uri)
    space = model.scorer.action_space
    if space is None:
        raise UsagecastError(
            f"model {model_uri!r}: what-if is not available: {model.scorer.whatif_unavailable}"
        )
    chosen = sources.policy_rows(feature_set, cutoff)
    rows, manifest, at = chosen.rows, chosen.manifest, chosen.day
    every_row = rows
    rows = select_segment(rows, segment)
    if rows.empty:
        raise UsagecastError(f"segment {segment!r} matches no row of {feature_set} at {at}")
    _missing_columns(rows, model.feature_names, f"feature set {feature_set}")
    encoded = encode_matrix(rows, model.scorer.metadata)
    result = simulate_policy(
        encoded, space, model.scorer.probabilities, lever, seed, n_bootstrap=n_bootstrap
    )
    _, moved = apply_change(encoded, space, lever)
    comparison = compare_with_truth(rows, manifest, feature_set, lever, truth_replicas)
    effect = comparison.effect
    tested, tested_note = evidence.experiment_for_lever(manifest, lever, feature_set, experiment)
    scopes = {"segment": rows, "all": every_row} if segment else {"all": every_row}
    found = evidence.experiment_evidence(
        tested, tested_note, manifest, feature_set, model.scorer.metadata, scopes, seed
    )
    table = _policy_table(rows, result, effect, moved)
    metrics = {
        "n_rows": result.n_rows,
        "n_changed": result.n_changed,
        "mean_p_before": result.mean_before,
        "mean_p_after": result.mean_after,
        "predicted_extra": result.expected_extra,
        "predicted_extra_low": result.interval_low,
        "predicted_extra_high": result.interval_high,
    }
    if effect is not None:
        metrics |= {
            "true_extra": effect.extra,
            "true_rate_before": float(effect.before.mean()),
            "true_rate_after": float(effect.after.mean()),
            "gap_predicted_minus_true": result.expected_extra - effect.extra,
        }
    metrics |= found.metrics()
    params = {
        "model_uri": model_uri,
        "model_version": model.version,
        "model_feature_set": model.feature_set,
        "feature_set": feature_set,
        "feature_set_fingerprint": chosen.fingerprint,
        "cutoff": at,
        "rows": chosen.whose or f"the rows at cutoff {at}",
        "segment": segment or "",
        "change": change,
        "seed": seed,
        "n_bootstrap": n_bootstrap,
        "level": result.level,
        "truth": comparison.note,
        "truth_replicas": truth_replicas if effect is not None else "",
        "causal_note": CAUSAL_NOTE,
        "experiment": found.name or "",
        "experiment_note": found.note,
        "uplift_note": found.uplift_note,
    }
    outcome = report.outcome_words(manifest.label.kind)
    figure = report.policy_figure(result, None if effect is None else effect.extra, outcome[1])
    run_id = log_run(
        "whatif_policy",
        {"policy_rows": table},
        {"p_before_after": figure},
        params,
        metrics,
        experiment=MLFLOW_EXPERIMENT,
    ).run_id
    return PolicyReport(
        model_uri,
        model.version,
        feature_set,
        segment,
        at,
        result,
        comparison,
        found,
        table,
        run_id,
        describe_run_artifacts("table and plot", run_id),
        outcome,
        chosen.whose,
    )
