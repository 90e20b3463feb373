"""The filters every analytics model accepts, as sqlglot WHERE-clause trees.

A time range (half-open `[start, end)`), a segment (a SQL predicate over user attributes,
parsed and checked here, never pasted into SQL as text) and a product-area prefix.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlglot
import sqlglot.expressions as exp
from sqlglot.errors import ParseError

from contracts.errors import UsagecastError
from features.featureset.derived import SCALAR_NODES

# Node types a segment predicate may contain: comparisons, boolean logic, literals, columns
# and a few harmless scalar functions. Anything else (subqueries, table functions, ...) is
# refused, so a segment can never read or change anything but the user's own attributes.
_ALLOWED_NODES: tuple[type[exp.Expression], ...] = (
    *SCALAR_NODES,
    exp.ILike,
    exp.Tuple,
    exp.Interval,
    exp.Var,
)

_BOOLEAN_ROOTS: tuple[type[exp.Expression], ...] = (
    exp.And,
    exp.Or,
    exp.Not,
    exp.EQ,
    exp.NEQ,
    exp.GT,
    exp.GTE,
    exp.LT,
    exp.LTE,
    exp.In,
    exp.Between,
    exp.Is,
    exp.Like,
    exp.ILike,
    exp.Boolean,
)


@dataclass(frozen=True)
class Filters:
    """What part of the data a model looks at; every field is optional.

    start/end: half-open time range [start, end) (naive UTC).
    segment: SQL predicate over user attributes, e.g. "channel = 'ads' AND city <> 'Oslo'".
    area_prefix: keep only events whose area starts with this text.
    """

    start: datetime | None = None
    end: datetime | None = None
    segment: str | None = None
    area_prefix: str | None = None

    def __post_init__(self) -> None:
        if self.start is not None and self.end is not None and self.start >= self.end:
            raise UsagecastError(f"time range: start {self.start} must be before end {self.end}")
        if self.area_prefix is not None and not self.area_prefix:
            raise UsagecastError("area prefix: must not be empty (leave it out to keep all)")


def timestamp_literal(value: datetime) -> exp.Expression:
    """A TIMESTAMP literal both DuckDB and Spark read the same way."""
    return exp.cast(exp.Literal.string(value.isoformat(sep=" ")), "TIMESTAMP")


def parse_segment(predicate: str, columns: frozenset[str], table: str) -> exp.Expression:
    """Parse a segment predicate, check it only reads `columns`, qualify them with `table`.

    Raises UsagecastError naming the unknown column or the construct that is not allowed.
    """
    try:
        tree = sqlglot.parse_one(predicate, read="duckdb")
    except ParseError as error:
        raise UsagecastError(f"segment {predicate!r}: not valid SQL ({error})") from error
    if not isinstance(tree, _BOOLEAN_ROOTS):
        raise UsagecastError(
            f"segment {predicate!r}: must be a true/false condition such as "
            "\"channel = 'ads'\", not a {tree.key}"
        )
    for node in tree.walk():
        if not isinstance(node, _ALLOWED_NODES):
            raise UsagecastError(
                f"segment {predicate!r}: {node.key!r} ({node.sql()}) is not allowed; use "
                "comparisons, AND/OR/NOT, IN, BETWEEN, LIKE, IS NULL over user attributes"
            )
    for column in tree.find_all(exp.Column):
        if column.table or column.name not in columns:
            raise UsagecastError(
                f"segment {predicate!r}: column {column.sql()!r} is not a user attribute; "
                f"known: {', '.join(sorted(columns))}"
            )
    qualified = tree.copy()
    for column in qualified.find_all(exp.Column):
        column.set("table", exp.to_identifier(table))
    return qualified


def time_range_condition(column: exp.Expression, filters: Filters) -> exp.Expression | None:
    """`column >= start AND column < end` for the bounds that are set (None if neither)."""
    parts: list[exp.Expression] = []
    if filters.start is not None:
        parts.append(exp.GTE(this=column.copy(), expression=timestamp_literal(filters.start)))
    if filters.end is not None:
        parts.append(exp.LT(this=column.copy(), expression=timestamp_literal(filters.end)))
    return exp.and_(*parts) if parts else None


def area_condition(column: exp.Expression, filters: Filters) -> exp.Expression | None:
    """`SUBSTRING(area, 1, n) = prefix` (no LIKE, so % and _ in a prefix mean themselves)."""
    if filters.area_prefix is None:
        return None
    prefix = filters.area_prefix
    head = exp.Substring(
        this=column.copy(),
        start=exp.Literal.number(1),
        length=exp.Literal.number(len(prefix)),
    )
    return exp.EQ(this=head, expression=exp.Literal.string(prefix))


def combine(*conditions: exp.Expression | None) -> exp.Expression:
    """AND together the conditions that are present (TRUE when none are)."""
    present = [condition for condition in conditions if condition is not None]
    return exp.and_(*present) if present else exp.true()


NO_FILTERS = Filters()
