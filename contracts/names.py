"""The rules for user-given names: those that become file names in the workspace, and those
a feature-set spec gives to the data.

Experiment names (`ab --experiment`), model names (`rollback`, `models`, promotion locks),
feature-set and spec names all end up as `<folder>/<name>...`. One pattern keeps every such
name a single plain path component: no separator, no `..`, not absolute, not empty.

Event types, areas, attributes and features named in a spec end up as column names and SQL
literals: they are plain identifiers (SPEC_NAME_PATTERN). Data whose event types are not (an
export's "Add to Cart") is renamed at ingest; `plain_name_for` proposes the new name.
"""

from __future__ import annotations

import re
import unicodedata

from contracts.errors import UsagecastError

NAME_MAX_LENGTH = 128
NAME_PATTERN = re.compile(rf"^[A-Za-z0-9][A-Za-z0-9_.-]{{0,{NAME_MAX_LENGTH - 1}}}$")
NAME_RULE = (
    f"1-{NAME_MAX_LENGTH} letters, digits, '_', '.' or '-', starting with a letter or digit, "
    "without '..'"
)

SPEC_NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
SPEC_NAME_RULE = "letters, digits, _; starting with a letter"


class InvalidNameError(UsagecastError):
    """A user-given name that would not be one plain file name."""


def is_valid_name(name: str) -> bool:
    """True when `name` matches NAME_PATTERN and holds no `..`."""
    return NAME_PATTERN.fullmatch(name) is not None and ".." not in name


def check_name(name: str, what: str) -> str:
    """Return `name` unchanged, or raise naming `what` (e.g. "experiment name") and the rule."""
    if not is_valid_name(name):
        raise InvalidNameError(f"{what} {name!r} is not allowed: use {NAME_RULE}")
    return name


def is_spec_name(name: str) -> bool:
    """True when a spec can name `name` (SPEC_NAME_PATTERN)."""
    return SPEC_NAME_PATTERN.fullmatch(name) is not None


def plain_name_for(name: str) -> str:
    """`name` when a spec can name it; else each run of other characters becomes one `_`, and
    a name that would not start with a letter gets an `e_` prefix ("Add to Cart" ->
    "Add_to_Cart"); accents are dropped first ("Öffnen" -> "Offnen")."""
    if is_spec_name(name):
        return name
    unmarked = "".join(
        c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c)
    )  # "Öffnen" -> "Offnen", "café" -> "cafe"
    plain = re.sub(r"[^A-Za-z0-9_]+", "_", unmarked).strip("_")
    return plain if is_spec_name(plain) else f"e_{plain}"


def name_words(name: str) -> list[str]:
    """A name's words, lower-case: `LastSeen`, `last_seen`, `last seen` and `LAST_SEEN` alike."""
    return [w.lower() for w in re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+", name)]
