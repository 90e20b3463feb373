"""The feature-set reference: one grammar, one parser, one str form.

`NAME@vN` names a spec version (`premium_30d@v1`); `NAME@vN/FINGERPRINT` names one build of it.
NAME is a valid contracts.names name narrowed to an identifier: it becomes SQL and column
prefixes as well as folders. Every stage parses a reference here and passes the typed value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from contracts.errors import UsagecastError
from contracts.names import NAME_MAX_LENGTH

NAME_PART = rf"[A-Za-z][A-Za-z0-9_]{{0,{NAME_MAX_LENGTH - 1}}}"
REF_PATTERN = re.compile(rf"^(?P<name>{NAME_PART})@v(?P<version>[1-9][0-9]*)$")
FINGERPRINT_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+$")
EXAMPLE = "premium_30d@v1"


class InvalidRefError(UsagecastError):
    """Text that is not a feature-set reference."""


@dataclass(frozen=True, order=True)
class FeatureSetRef:
    """A parsed `NAME@vN` reference; built directly, it checks its parts the same way."""

    name: str
    version: int

    def __post_init__(self) -> None:
        valid_version = isinstance(self.version, int) and self.version >= 1
        if not valid_version or re.fullmatch(NAME_PART, str(self.name)) is None:
            raise InvalidRefError(
                f"{self.name}@v{self.version} is not a feature-set reference; NAME starts with "
                f"a letter and holds letters, digits and '_', N is 1 or more, e.g. {EXAMPLE}"
            )

    @classmethod
    def parse(cls, text: str) -> FeatureSetRef:
        """`premium_30d@v1` -> FeatureSetRef; anything else is a clear error."""
        match = REF_PATTERN.match(text.strip())
        if match is None:
            raise InvalidRefError(
                f"{text!r} is not a feature-set reference; write NAME@vN, e.g. {EXAMPLE}"
            )
        return cls(match["name"], int(match["version"]))

    @classmethod
    def of(cls, value: str | FeatureSetRef) -> FeatureSetRef:
        """The reference itself, or the text parsed (what public entry points accept)."""
        return value if isinstance(value, FeatureSetRef) else cls.parse(value)

    def __str__(self) -> str:
        return f"{self.name}@v{self.version}"


@dataclass(frozen=True)
class BuildRef:
    """`NAME@vN` (the latest build) or `NAME@vN/FINGERPRINT` (that build)."""

    ref: FeatureSetRef
    fingerprint: str | None = None

    @classmethod
    def parse(cls, text: str) -> BuildRef:
        """`premium_30d@v1` or `premium_30d@v1/FP` -> BuildRef; anything else is a clear error."""
        head, slash, fingerprint = text.strip().partition("/")
        if slash and FINGERPRINT_PATTERN.match(fingerprint) is None:
            raise InvalidRefError(
                f"{text!r} is not a feature-set build reference; write NAME@vN or "
                f"NAME@vN/FINGERPRINT, e.g. {EXAMPLE}"
            )
        return cls(FeatureSetRef.parse(head), fingerprint or None)

    @classmethod
    def of(cls, value: str | FeatureSetRef | BuildRef) -> BuildRef:
        """The build reference itself, a spec reference's latest build, or the text parsed."""
        if isinstance(value, BuildRef):
            return value
        return cls(value) if isinstance(value, FeatureSetRef) else cls.parse(value)

    def __str__(self) -> str:
        return str(self.ref) if self.fingerprint is None else f"{self.ref}/{self.fingerprint}"
