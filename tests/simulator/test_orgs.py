"""Organisations, teams and invitations: their structure in the export, their effect on
behaviour, and the truth that includes it."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from contracts.errors import UsagecastError
from simulator import SimulationConfig, simulate_to_dir, traits, true_adoption_probability
from simulator.config import CHANNEL_ENGAGEMENT
from simulator.orgs import NONE, ORG_SHARE, draw_memberships
from simulator.process import LeverSchedule, chunk_key, record_days

MANY = SimulationConfig(n_users=6000, seed=3, months=2, chunk_size=3000)
COHORT = SimulationConfig(n_users=600, seed=11, months=4, chunk_size=300)
DATE = dt.date(2024, 2, 15)
HORIZON, MIN_DAYS, WINDOW = 45, 3, 7


@pytest.fixture(scope="module")
def users(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """users.csv of a two-chunk export, as text."""
    folder = tmp_path_factory.mktemp("orgs")
    config = SimulationConfig(n_users=1200, seed=4, months=2, chunk_size=600, fault_rate=0.0)
    simulate_to_dir(folder, config, progress=False)
    frame = pd.read_csv(folder / "users.csv", encoding="latin-1", dtype=str, keep_default_na=False)
    return frame.assign(
        signup=pd.to_datetime(frame["registration"], format="%d-%m-%Y %H:%M"),
        chunk=(frame["id"].astype(int) - 1) // config.chunk_size,
    )


def test_the_export_has_organisations_teams_and_earlier_inviters(users):
    member = users["organisation"] != ""
    assert abs(member.mean() - ORG_SHARE) < 0.05
    assert (users.loc[~member, "team"] == "").all()
    teams = users[users["team"] != ""]
    assert teams.apply(lambda row: row["team"].startswith(row["organisation"] + "-"), axis=1).all()
    sizes = users[member].groupby("organisation").size()
    assert sizes.max() >= 3 * sizes.median()  # heavy-tailed
    # An organisation never spans chunks.
    assert (users[member].groupby("organisation")["chunk"].nunique() == 1).all()

    invited = users[users["invitedBy"] != ""]
    assert 0.2 < len(invited) / len(users) < 0.4
    inviter = users.set_index("id").loc[invited["invitedBy"]]
    # Signup times are written to the minute: an inviter is never later.
    assert (inviter["signup"].to_numpy() <= invited["signup"].to_numpy()).all()
    assert (inviter["chunk"].to_numpy() == invited["chunk"].to_numpy()).all()
    in_org = invited["organisation"].to_numpy() != ""
    same = inviter["organisation"].to_numpy() == invited["organisation"].to_numpy()
    assert same[in_org].mean() > 0.7  # mostly a colleague


def test_dataset_yaml_declares_the_new_static_attributes(tmp_path):
    simulate_to_dir(tmp_path, SimulationConfig(n_users=20, months=1), progress=False)
    document = yaml.safe_load((tmp_path / "dataset.yaml").read_text(encoding="utf-8"))
    declared = document["users"]["attributes"]
    assert {
        name: (declared[name]["kind"], declared[name]["dtype"])
        for name in (
            "org_id",
            "team_id",
            "invited_by",
        )
    } == {
        "org_id": ("static", "categorical"),
        "team_id": ("static", "categorical"),
        "invited_by": ("static", "user_id"),
    }


def test_inviters_signed_up_strictly_earlier_to_the_second():
    chunk = traits.draw_user_traits(MANY, 0)
    signup = chunk.signup_day * 86_400 + chunk.signup_second
    invited = np.flatnonzero(chunk.inviter > 0)
    local = chunk.inviter[invited] - 1
    assert (signup[local] < signup[invited]).all()
    groups = draw_memberships(MANY, 0, signup)
    assert (groups.inviter[invited] == local).all()


def _log_engagement(config: SimulationConfig, chunk: int) -> tuple[np.ndarray, traits.UserTraits]:
    """Log engagement without the channel effect (only the noise the organisations shape)."""
    users = traits.draw_user_traits(config, chunk)
    channel = np.array(CHANNEL_ENGAGEMENT)[users.channel]
    return np.log(users.engagement / channel), users


def test_members_of_an_organisation_are_alike_and_invitees_take_after_their_inviter():
    log_engagement, users = _log_engagement(MANY, 0)
    member = users.org != NONE
    frame = pd.DataFrame({"org": users.org[member], "value": log_engagement[member]})
    between = frame.groupby("org")["value"].mean().var()
    within = frame.groupby("org")["value"].var().mean()
    assert between / (between + within) > 0.15  # about (0.25^2 + 0.1^2) / 0.45^2 = 0.36
    invited = np.flatnonzero(users.inviter > 0)
    inviter = users.inviter[invited] - 1
    assert np.corrcoef(log_engagement[invited], log_engagement[inviter])[0, 1] > 0.3
    # The spread of engagement over all users is the channel's and ENGAGEMENT_SD, as before.
    for group in (member, ~member):
        assert abs(log_engagement[group].std() - traits.ENGAGEMENT_SD) < 0.03


def test_without_the_effects_organisations_change_nothing(monkeypatch):
    for name in (
        "ORG_ENGAGEMENT",
        "TEAM_ENGAGEMENT",
        "INHERITANCE",
        "ORG_PURCHASE",
        "ORG_RETENTION",
        "INVITER_RETENTION",
    ):
        monkeypatch.setattr(traits, name, 0.0)
    log_engagement, users = _log_engagement(MANY, 0)
    invited = np.flatnonzero(users.inviter > 0)
    assert (
        abs(np.corrcoef(log_engagement[invited], log_engagement[users.inviter[invited] - 1])[0, 1])
        < 0.1
    )
    assert not users.purchase_shift.any() and not users.churn_shift.any()


def _realised_adoption(config: SimulationConfig, day: int) -> np.ndarray:
    """Whether each user adopted in [day, day + HORIZON) in the recorded run (the files'),
    read from the daily sessions directly rather than by the truth's Monte Carlo."""
    outcome = []
    schedule = LeverSchedule.constant(config.levers)
    for chunk in range(config.n_chunks):
        counts = record_days(
            traits.draw_user_traits(config, chunk),
            day + HORIZON,
            schedule,
            chunk_key(config.seed, chunk),
        )
        active = (counts.sessions[day:] > 0).astype(int)
        windows = np.lib.stride_tricks.sliding_window_view(active, WINDOW, axis=0).sum(axis=-1)
        outcome.append((windows >= MIN_DAYS).any(axis=0))
    return np.concatenate(outcome)


@pytest.fixture(scope="module")
def adoption_truth() -> np.ndarray:
    users = np.arange(1, COHORT.n_users + 1)
    return true_adoption_probability(
        COHORT,
        users,
        DATE,
        horizon_days=HORIZON,
        min_days=MIN_DAYS,
        window_days=WINDOW,
        replicas=64,
    )


def test_the_true_adoption_probability_fits_what_happened(adoption_truth):
    realised = _realised_adoption(COHORT, (DATE - COHORT.start_date).days)
    signed_up = (
        np.concatenate(
            [traits.draw_user_traits(COHORT, c).signup_day for c in range(COHORT.n_chunks)]
        )
        < (DATE - COHORT.start_date).days
    )
    truth, outcome = adoption_truth[signed_up], realised[signed_up]
    assert np.all((adoption_truth >= 0) & (adoption_truth <= 1))
    standard_error = np.sqrt(truth.mean() * (1 - truth.mean()) / len(truth))
    assert abs(truth.mean() - outcome.mean()) < 4 * standard_error
    assert roc_auc_score(outcome, truth) > 0.8


def test_the_truth_includes_the_organisations_effect(adoption_truth):
    latent = np.concatenate(
        [
            draw_memberships(
                COHORT,
                c,
                (u := traits.draw_user_traits(COHORT, c)).signup_day * 86_400 + u.signup_second,
            ).org_latent
            for c in range(COHORT.n_chunks)
        ]
    )
    members = latent != 0.0
    low, high = np.quantile(latent[members], [1 / 3, 2 / 3])
    assert adoption_truth[members & (latent >= high)].mean() > (
        adoption_truth[members & (latent <= low)].mean() + 0.05
    )


def test_a_cutoff_before_the_first_session_of_a_day_is_that_days_midnight():
    users = np.arange(1, 41)
    at = {
        hour: true_adoption_probability(
            COHORT,
            users,
            np.datetime64(f"{DATE}T{hour}"),
            horizon_days=30,
            min_days=3,
            window_days=7,
            replicas=8,
        )
        for hour in ("00:00", "05:59")
    }
    np.testing.assert_array_equal(at["00:00"], at["05:59"])
    with pytest.raises(UsagecastError, match="06:00"):
        true_adoption_probability(
            COHORT,
            users,
            np.datetime64(f"{DATE}T06:00"),
            horizon_days=30,
            min_days=3,
            window_days=7,
        )


def test_same_seed_same_organisations():
    first = draw_memberships(COHORT, 1, np.arange(COHORT.chunk_size) * 60)
    again = draw_memberships(COHORT, 1, np.arange(COHORT.chunk_size) * 60)
    other = draw_memberships(
        dataclasses.replace(COHORT, seed=12), 1, np.arange(COHORT.chunk_size) * 60
    )
    for field in dataclasses.fields(first):
        np.testing.assert_array_equal(getattr(first, field.name), getattr(again, field.name))
    assert not np.array_equal(first.org, other.org)


@settings(max_examples=60)
@given(
    seed=st.integers(0, 2**16),
    signup=st.lists(st.integers(0, 20), min_size=1, max_size=80),
)
def test_an_inviter_always_signed_up_strictly_earlier(seed, signup):
    """Whatever the signup times (ties included), an inviter signed up strictly before the
    invitee, and a team belongs to its member's organisation."""
    times = np.array(signup, dtype=np.int64)
    groups = draw_memberships(dataclasses.replace(COHORT, seed=seed), 0, times)
    invited = np.flatnonzero(groups.inviter != NONE)
    assert (times[groups.inviter[invited]] < times[invited]).all()
    assert ((groups.team == NONE) | (groups.org != NONE)).all()
    assert ((groups.team_number == NONE) == (groups.team == NONE)).all()
    for org in np.unique(groups.org[groups.org != NONE]):
        teams = groups.team[(groups.org == org) & (groups.team != NONE)]
        others = groups.team[(groups.org != org) & (groups.team != NONE)]
        assert not set(teams) & set(others)
