"""The one rule for user-given names that become file names in the workspace.

Experiment names (`ab --experiment`), model names (`rollback`, `models`, promotion locks),
feature-set and spec names all end up as `<folder>/<name>...`. One pattern keeps every such
name a single plain path component: no separator, no `..`, not absolute, not empty.
"""

from __future__ import annotations

import re

from contracts.errors import UsagecastError

NAME_MAX_LENGTH = 128
NAME_PATTERN = re.compile(rf"^[A-Za-z0-9][A-Za-z0-9_.-]{{0,{NAME_MAX_LENGTH - 1}}}$")
NAME_RULE = (
    f"1-{NAME_MAX_LENGTH} letters, digits, '_', '.' or '-', starting with a letter or digit, "
    "without '..'"
)


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
