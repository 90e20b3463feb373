"""Which event types a command reads, checked against the event types the store holds.

Decisions: an event type comes from its flag; when the flag is left out, a command with a
default (the demo's BUY_PREMIUM) uses it only if the store holds it. An event type the store
does not hold is refused, listing the ones it does, because counting a missing type gives
0 conversions, 0 revenue and NaN lifts that look like results.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from contracts.errors import UsagecastError
from features.engines import Engine

DEMO_CONVERSION = "BUY_PREMIUM"


def store_event_types(engine: Engine) -> frozenset[str]:
    """Every event type the store holds (over all time, whatever the filters)."""
    found = engine.query("SELECT DISTINCT event_type FROM events WHERE event_type IS NOT NULL")[
        "event_type"
    ]
    return frozenset(map(str, found))


def resolve_event_types(
    known: Collection[str],
    given: Sequence[str],
    *,
    command: str,
    flag: str,
    default: str | None = None,
) -> tuple[str, ...]:
    """The event types `given` by `flag`, else `(default,)`; each one must be in `known`.

    Raises UsagecastError naming the command, the missing type, the known types (sorted)
    and the flag to pass, both for a given type and for an absent default.
    """
    listing = ", ".join(sorted(known)) or "(none)"
    if not given:
        if default is None or default not in known:
            absent = "" if default is None else f" and the event store holds no {default!r}"
            raise UsagecastError(
                f"{command}: no {flag} given{absent}; known event types: {listing}; "
                f"pass {flag} EVENT_TYPE"
            )
        return (default,)
    unknown = [name for name in given if name not in known]
    if unknown:
        names = ", ".join(repr(name) for name in unknown)
        are = "is" if len(unknown) == 1 else "are"
        noun = "event type" if len(unknown) == 1 else "event types"
        raise UsagecastError(
            f"{command}: {noun} {names} {are} not in the event store; "
            f"known event types: {listing}; pass {flag} with one of them"
        )
    return tuple(given)
