"""Organisations, teams and invitations: who belongs with whom, and what they share.

Drawn per chunk from the chunk's own ORGS stream (the other trait draws are untouched), so an
organisation's members and an inviter and their invitee are always users of one chunk: a
chunk stays self-contained, and the truth re-runs one chunk as before.

- ORG_SHARE of the users belong to an organisation; organisation sizes are heavy-tailed
  (log-normal weights, ORG_MEAN_SIZE members on average). Members are spread over 1 +
  Poisson(TEAMS_EXTRA) teams of their organisation; TEAMLESS_SHARE of members have no team.
- INVITED_SHARE of the users were invited by a user who signed up strictly earlier: with
  probability SAME_ORG_INVITE one of their organisation (when it has such a member), else
  anyone earlier in the chunk; a user nobody signed up before is an organic signup.
- Shared latents (standard normal): one per organisation, one per team. What they do (the
  effect sizes) is in traits.py: an organisation's latent moves every member's engagement
  and premium purchase hazard, a team's latent its members' engagement, and an invitee's
  personal engagement inherits part of their inviter's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator import streams
from simulator.config import SimulationConfig

ORG_SHARE = 0.75
ORG_MEAN_SIZE = 12.0
ORG_SIZE_SPREAD = 1.0  # sd of the log-normal organisation weights
TEAMS_EXTRA = 2.0
TEAMLESS_SHARE = 0.1
INVITED_SHARE = 0.3
SAME_ORG_INVITE = 0.8
NONE = -1  # no organisation / team / inviter (an index)


@dataclass(frozen=True)
class Memberships:
    """Per-user arrays of one chunk (local indices; NONE where there is none)."""

    org: np.ndarray  # int64 organisation index within the chunk
    team: np.ndarray  # int64 team index within the chunk (teams of all organisations)
    team_number: np.ndarray  # int64 team number within its organisation
    inviter: np.ndarray  # int64 local index of the inviting user
    org_latent: np.ndarray  # float, the member's organisation latent (0 without one)
    team_latent: np.ndarray  # float, the member's team latent (0 without one)


def draw_memberships(config: SimulationConfig, chunk: int, signup: np.ndarray) -> Memberships:
    """Organisations, teams and inviters of a chunk's users, given their signup times
    (integers that order them, e.g. seconds since the start of the period)."""
    n = len(signup)
    rng = streams.stream(config.seed, streams.ORGS, chunk)
    member = rng.random(n) < ORG_SHARE
    n_orgs = max(1, round(int(member.sum()) / ORG_MEAN_SIZE))
    weights = np.exp(rng.normal(0.0, ORG_SIZE_SPREAD, n_orgs))
    org = np.where(member, rng.choice(n_orgs, size=n, p=weights / weights.sum()), NONE)
    teams_per_org = 1 + rng.poisson(TEAMS_EXTRA, n_orgs)
    first_team = np.cumsum(teams_per_org) - teams_per_org
    team_number = (rng.random(n) * teams_per_org[np.maximum(org, 0)]).astype(np.int64)
    has_team = member & (rng.random(n) >= TEAMLESS_SHARE)
    team_number = np.where(has_team, team_number, NONE)
    team = np.where(has_team, first_team[np.maximum(org, 0)] + team_number, NONE)
    org_latent = rng.normal(0.0, 1.0, n_orgs)
    team_latent = rng.normal(0.0, 1.0, int(teams_per_org.sum()))
    inviter = _inviters(rng, org, signup)
    return Memberships(
        org=org,
        team=team,
        team_number=team_number,
        inviter=inviter,
        org_latent=np.where(member, org_latent[np.maximum(org, 0)], 0.0),
        team_latent=np.where(has_team, team_latent[np.maximum(team, 0)], 0.0),
    )


def _inviters(rng: np.random.Generator, org: np.ndarray, signup: np.ndarray) -> np.ndarray:
    """Local index of each user's inviter (NONE: organic), always signed up strictly earlier."""
    n = len(org)
    invited = rng.random(n) < INVITED_SHARE
    same_org = rng.random(n) < SAME_ORG_INVITE
    pick = rng.random(n)
    # Anyone earlier: the users sorted by signup; those strictly before a time are a prefix.
    by_time = np.argsort(signup, kind="stable")
    earlier = np.searchsorted(signup[by_time], signup, side="left")
    anyone = by_time[np.minimum((pick * earlier).astype(np.int64), max(n - 1, 0))]
    # Earlier members of the same organisation: a prefix of the organisation's run when the
    # users are sorted by (organisation, signup); users without one form a run of their own.
    span = int(signup.max(initial=0)) + 1
    group = np.where(org >= 0, org, org.max(initial=0) + 1)
    key = group * span + signup
    by_key = np.argsort(key, kind="stable")
    run_start = np.searchsorted(key[by_key], group * span, side="left")
    earlier_members = np.searchsorted(key[by_key], key, side="left") - run_start
    colleague = by_key[
        np.minimum(run_start + (pick * earlier_members).astype(np.int64), max(n - 1, 0))
    ]
    from_org = same_org & (org >= 0) & (earlier_members > 0)
    inviter = np.where(from_org, colleague, anyone)
    return np.where(invited & (from_org | (earlier > 0)), inviter, NONE)
