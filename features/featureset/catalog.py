"""The spec catalog: features/sets/<name>/v<N>.yaml, `name@vN` refs, released versions locked.

A released version's canonical spec hash is recorded in features/sets/LOCK.json. Loading a
locked ref whose file now hashes differently is refused: a change to a released spec is a new
version, so every model trained on name@vN can trust what vN means. Comments and formatting
may change freely (the hash is over the parsed spec, not the bytes).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from features.featureset.spec import FeatureSetSpec, SpecError, parse_spec, spec_hash

SETS_DIR = Path(__file__).resolve().parent.parent / "sets"
LOCK_FILE = "LOCK.json"
REF_PATTERN = re.compile(r"^(?P<name>[A-Za-z][A-Za-z0-9_]*)@v(?P<version>[1-9][0-9]*)$")


@dataclass(frozen=True)
class SpecRef:
    """A parsed `name@vN` reference."""

    name: str
    version: int

    def __str__(self) -> str:
        return f"{self.name}@v{self.version}"


def parse_ref(ref: str) -> SpecRef:
    """`premium_30d@v1` -> SpecRef; anything else is a clear error."""
    match = REF_PATTERN.match(ref.strip())
    if match is None:
        raise SpecError(
            f"{ref!r} is not a feature-set reference; write NAME@vN, e.g. premium_30d@v1"
        )
    return SpecRef(match["name"], int(match["version"]))


def spec_path(ref: SpecRef, sets_dir: Path = SETS_DIR) -> Path:
    """Where the YAML of a ref lives."""
    return sets_dir / ref.name / f"v{ref.version}.yaml"


def read_lock(sets_dir: Path = SETS_DIR) -> dict[str, str]:
    """Released refs -> canonical spec hash."""
    path = sets_dir / LOCK_FILE
    if not path.exists():
        return {}
    return json.loads(path.read_text())


def load_spec(ref: str | SpecRef, sets_dir: Path = SETS_DIR) -> FeatureSetSpec:
    """Read, parse and lock-check one spec."""
    parsed = parse_ref(ref) if isinstance(ref, str) else ref
    path = spec_path(parsed, sets_dir)
    if not path.exists():
        known = ", ".join(str(r) for r in list_specs(sets_dir)) or "none"
        raise SpecError(f"{parsed}: no spec at {path}; known feature sets: {known}")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise SpecError(f"{path}: not valid YAML: {error}") from None
    spec = parse_spec(raw, str(path))
    if (spec.name, spec.version) != (parsed.name, parsed.version):
        raise SpecError(
            f"{path}: declares name {spec.name!r} version {spec.version}, but its path says "
            f"{parsed}; keep them the same"
        )
    locked = read_lock(sets_dir).get(str(parsed))
    if locked is not None and locked != spec_hash(spec):
        raise SpecError(
            f"{path}: {parsed} is released and locked in {sets_dir / LOCK_FILE} (hash "
            f"{locked[:12]}), but the file now means something else (hash "
            f"{spec_hash(spec)[:12]}); put the change in a new version v{parsed.version + 1}"
        )
    return spec


def release_spec(ref: str, sets_dir: Path = SETS_DIR) -> str:
    """Lock a version's current meaning into LOCK.json; return its hash."""
    parsed = parse_ref(ref)
    lock = read_lock(sets_dir)
    if str(parsed) in lock:
        raise SpecError(f"{parsed} is already released; a change is a new version")
    digest = spec_hash(load_spec(parsed, sets_dir))
    lock[str(parsed)] = digest
    (sets_dir / LOCK_FILE).write_text(json.dumps(dict(sorted(lock.items())), indent=2) + "\n")
    return digest


def list_specs(sets_dir: Path = SETS_DIR) -> tuple[SpecRef, ...]:
    """Every spec file in the catalog, sorted by name and version."""
    refs = []
    for path in sorted(sets_dir.glob("*/v*.yaml")):
        match = REF_PATTERN.match(f"{path.parent.name}@{path.stem}")
        if match:
            refs.append(SpecRef(match["name"], int(match["version"])))
    return tuple(sorted(refs, key=lambda r: (r.name, r.version)))
