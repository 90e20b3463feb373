"""High-cardinality categoricals: rare levels grouped into one `__other__` level (pure).

One rule, used by training (the levels a model keeps, from its training rows), by serving
(through the model's level list) and by the leakage scan (over the built rows):
- a level is kept when it occurs in at least `MIN_LEVEL_ROWS` rows, and only the `MAX_LEVELS`
  most frequent kept levels stay (ties broken by the level's text);
- when any observed level is left out, the feature gains the level `OTHER_LEVEL`, and every
  value outside the kept levels (rare at training, never seen at serving) maps to it;
- when no level is left out the levels are unchanged, and an unseen level stays "missing".
Ids with thousands of levels (organisation, inviter) thus become their frequent levels plus
one shared level, instead of one memorised level per id.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

OTHER_LEVEL = "__other__"
MIN_LEVEL_ROWS = 20
MAX_LEVELS = 100


def grouped_levels(
    values: pd.Series, min_rows: int = MIN_LEVEL_ROWS, max_levels: int = MAX_LEVELS
) -> tuple[str, ...]:
    """The sorted levels kept from `values` (text or missing), plus OTHER_LEVEL when any level
    was left out."""
    counts = values.dropna().astype("str").value_counts()
    if OTHER_LEVEL in counts.index:
        raise ValueError(f"level {OTHER_LEVEL!r} is reserved for grouped rare levels")
    frequent = sorted(
        ((int(n), level) for level, n in counts.items() if n >= min_rows),
        key=lambda pair: (-pair[0], pair[1]),
    )[:max_levels]
    kept = sorted(level for _, level in frequent)
    return tuple(kept) if len(kept) == len(counts) else (*kept, OTHER_LEVEL)


def group_values(values: pd.Series, levels: Sequence[str]) -> pd.Series:
    """Values outside `levels` as OTHER_LEVEL when the levels hold it (missing stays missing)."""
    if OTHER_LEVEL not in levels:
        return values
    text = values.astype("object")
    known = text.isin(set(levels)) | text.isna()
    return text.where(known, OTHER_LEVEL)
