"""Named random streams: every draw comes from a generator keyed by (seed, stream, ...).

Keying by chunk and day (not by position in one long stream) is what makes the output
independent of memory and lets an intervention re-run a cohort with the same random numbers
up to the day the lever changes.
"""

from __future__ import annotations

import numpy as np

CATALOG = 1
TRAITS = 2
DAY = 3
EVENTS = 4
FAULTS = 5
TRUTH = 6
DRIFT = 7
ORGS = 8
EXPERIMENT = 9
AD_LOAD = 10


def stream(seed: int, kind: int, *key: int) -> np.random.Generator:
    """The generator for one named stream, e.g. stream(seed, DAY, chunk, day, sub)."""
    return np.random.default_rng([seed, kind, *key])
