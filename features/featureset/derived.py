"""Derived user attributes: a spec's SQL expression over static user columns, checked once.

    derived_attributes:
      invited: {expression: "invited_by IS NOT NULL", dtype: numeric}

The expression is parsed with sqlglot (DuckDB dialect) when the spec loads and may hold only
column references (plain names, checked against the store's user attributes at build),
literals, arithmetic, comparisons, AND/OR/NOT, IS [NOT] NULL, IN (list), BETWEEN, LIKE, CASE,
COALESCE, CAST and the functions in ALLOWED_FUNCTIONS, which DuckDB and Spark compute alike.
Subqueries, aggregates and window functions are refused: a derived attribute is one value per
user, read beside each row like a stored attribute. The compiler casts it to DOUBLE (numeric:
a true/false expression becomes 1/0, NULL stays NULL) or to text (categorical).
"""

from __future__ import annotations

from functools import lru_cache

import sqlglot.expressions as exp

from contracts.errors import UsagecastError
from events.scalar_sql import ALLOWED_FUNCTIONS, ALLOWED_NODES, checked_tree
from events.scalar_sql import SCALAR_NODES as SCALAR_NODES  # analytics segments use it

DERIVED_DTYPES: tuple[str, ...] = ("numeric", "categorical")


class DerivedAttributeError(UsagecastError):
    """A derived attribute's expression is not allowed; the message says what to change."""


@lru_cache(maxsize=256)
def parse_expression(text: str) -> exp.Expression:
    """The checked syntax tree of an expression (cached: specs parse once per text).

    Raises DerivedAttributeError naming what is not allowed. Callers copy before changing it.
    """
    try:
        return checked_tree(
            text,
            ALLOWED_NODES,
            tuple(sorted(ALLOWED_FUNCTIONS.values())),
            "a derived attribute is one value per user computed from that user's columns",
        )
    except ValueError as error:
        raise DerivedAttributeError(str(error)) from None


def canonical_sql(text: str) -> str:
    """The expression as sqlglot writes it: formatting in the YAML does not change it."""
    return parse_expression(text).sql(dialect="duckdb")


def referenced_columns(text: str) -> tuple[str, ...]:
    """The user columns an expression reads, sorted."""
    return tuple(sorted({column.name for column in parse_expression(text).find_all(exp.Column)}))


def compile_expression(text: str, dtype: str, table: str) -> exp.Expression:
    """The expression over `table`'s columns, cast to DOUBLE (numeric) or VARCHAR (categorical)."""

    def qualify(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column):
            return exp.column(node.name, table)
        return node

    tree = parse_expression(text).copy().transform(qualify, copy=False)
    return exp.cast(exp.paren(tree, copy=False), "DOUBLE" if dtype == "numeric" else "VARCHAR")
