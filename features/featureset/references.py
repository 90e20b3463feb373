"""The names a spec refers to (event types, areas, attributes), checked against the store's.

A misspelt event type would otherwise build silently: its counts are 0 on every row. So every
name the spec reads from the data must exist in the event store, and the error lists the
names the store does hold. Pure: the caller reads the store's names (build.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from features.featureset.spec import FeatureSetSpec, SpecError

Category = Literal["event type", "area", "item attribute", "user attribute"]
CATEGORIES: tuple[Category, ...] = ("event type", "area", "item attribute", "user attribute")
# Longer lists of known values are cut, saying how many were left out.
MAX_KNOWN_LISTED = 40


@dataclass(frozen=True)
class Reference:
    """One name the spec reads from the data, and the key that names it."""

    category: Category
    name: str
    key: str


def spec_references(spec: FeatureSetSpec) -> tuple[Reference, ...]:
    """Every data name the spec uses, in spec order, with its key path (a derived attribute
    stands for the stored user attributes its expression reads)."""
    refs: list[Reference] = []
    derived = {attribute.name for attribute in spec.derived_attributes}
    if spec.eligibility.not_converted is not None:
        refs.append(
            Reference("event type", spec.eligibility.not_converted, "eligibility.not_converted")
        )
    if spec.label.event_type is not None:
        refs.append(Reference("event type", spec.label.event_type, "label.event_type"))
    for i, group in enumerate(spec.features):
        key = f"features[{i}]"
        refs.extend(Reference("event type", t, f"{key}.event_types") for t in group.event_types)
        for side in ("numerator", "denominator"):
            name = getattr(group, side)
            if name is not None:
                refs.append(Reference("event type", name, f"{key}.{side}"))
        refs.extend(Reference("area", area, f"{key}.areas") for area in group.areas)
        if group.attribute is not None:
            refs.append(Reference("item attribute", group.attribute, f"{key}.attribute"))
        refs.extend(
            Reference("user attribute", name, f"{key}.names")
            for name in group.names
            if name not in derived
        )
        if group.via is not None:
            refs.append(Reference("user attribute", group.via, f"{key}.via"))
    for attribute in spec.derived_attributes:
        key = f"derived_attributes.{attribute.name}.expression"
        refs.extend(Reference("user attribute", column, key) for column in attribute.columns)
    return tuple(refs)


def _listing(values: frozenset[str]) -> str:
    ordered = sorted(values)
    if not ordered:
        return "none"
    shown = ", ".join(ordered[:MAX_KNOWN_LISTED])
    rest = len(ordered) - MAX_KNOWN_LISTED
    return shown if rest <= 0 else f"{shown} and {rest} more"


def unknown_references(
    spec: FeatureSetSpec, known: Mapping[Category, frozenset[str]]
) -> tuple[str, ...]:
    """One message per kind of name with names the store does not hold (empty when none).

    `known` maps each category the spec uses to the store's values of it. A name used under
    several keys is listed once, with every key.
    """
    missing: dict[Category, dict[str, list[str]]] = {}
    for ref in spec_references(spec):
        if ref.name not in known[ref.category]:
            missing.setdefault(ref.category, {}).setdefault(ref.name, []).append(ref.key)
    messages = []
    for category, names in missing.items():
        listed = ", ".join(f"{name!r} ({', '.join(keys)})" for name, keys in names.items())
        subject = f"{category} {listed} is" if len(names) == 1 else f"{category}s {listed} are"
        messages.append(
            f"{subject} not in the event store; known {category}s: {_listing(known[category])}"
        )
    return tuple(messages)


def check_references(spec: FeatureSetSpec, known: Mapping[Category, frozenset[str]]) -> None:
    """Raise a SpecError naming every unknown name of the spec and the known values."""
    problems = unknown_references(spec, known)
    if problems:
        raise SpecError(f"{spec.ref}: {'; '.join(problems)}")
