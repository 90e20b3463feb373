"""Seeded music-streaming product simulator: demo data, test data, benchmarks, ground truth.

`simulate_to_dir(out_dir, SimulationConfig(n_users=..., seed=...))` writes an export that
looks like a real one (several files, encodings and timestamp formats, optional faults) plus
the matching dataset.yaml for `usagecast ingest`, faults.json (what ingest must quarantine)
and simulation.json (the config; `load_simulation_config(dir or dataset.yaml)` reads it back).

Behaviour comes from latent per-user traits (traits.py) and platform levers (config.Levers)
through a day-by-day Markov process (process.py). Because the simulator knows the process,
it also knows the truth: `true_purchase_probability` (oracle 30-day purchase probability per
user and date), `true_adoption_probability` (the same for the adoption label),
`true_purchase_rate_under` (expected purchase rate under changed levers: the true effect of a
what-if) and `simulate_cohort` (a realised re-run with changed levers, same seed). See
truth.py for the method.

Users belong to organisations and teams and some were invited by an earlier user (orgs.py);
shared organisation and team latents and inherited engagement make them alike (traits.py).

`SimulationConfig(drift=(Drift("channel_mix" | "lever_effect" | "tracking_bug", date),))`
plants drift from a date (config.Drift); faults.json `drift` records what and from when.
`SimulationConfig(experiment=LeverExperiment(ads=0.5, share=0.5, from_date=date))` runs a
randomized ad-lever experiment: experiment_assignments.csv logs each user's arm at exposure
(EXPERIMENT_ASSIGNED events once ingested), and the truth functions follow the arms.
`SimulationConfig(ad_load_spread=0.5)` serves each user their own ad load (a seeded
log-normal multiplier of ads per hour with mean 1, traits.py) instead of one rate for all.
"""

from simulator.config import (
    CHANNELS,
    CITIES,
    GENRES,
    Drift,
    LeverExperiment,
    Levers,
    SimulationConfig,
)
from simulator.truth import (
    CohortOutcome,
    simulate_cohort,
    true_adoption_probability,
    true_arm_probabilities,
    true_purchase_probability,
    true_purchase_rate_under,
)
from simulator.writer import SimulationSummary, load_simulation_config, simulate_to_dir

__all__ = [
    "CHANNELS",
    "CITIES",
    "GENRES",
    "CohortOutcome",
    "Drift",
    "LeverExperiment",
    "Levers",
    "SimulationConfig",
    "SimulationSummary",
    "load_simulation_config",
    "simulate_cohort",
    "simulate_to_dir",
    "true_adoption_probability",
    "true_arm_probabilities",
    "true_purchase_probability",
    "true_purchase_rate_under",
]
