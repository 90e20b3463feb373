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

import sqlglot
import sqlglot.expressions as exp
from sqlglot.errors import ParseError

from features.errors import UsagecastError

DERIVED_DTYPES: tuple[str, ...] = ("numeric", "categorical")
ALLOWED_FUNCTIONS: dict[type[exp.Expression], str] = {
    exp.Abs: "ABS",
    exp.Round: "ROUND",
    exp.Floor: "FLOOR",
    exp.Ceil: "CEIL",
    exp.Sqrt: "SQRT",
    exp.Ln: "LN",
    exp.Pow: "POWER",
    exp.Greatest: "GREATEST",
    exp.Least: "LEAST",
    exp.Nullif: "NULLIF",
    exp.Coalesce: "COALESCE",
    exp.Lower: "LOWER",
    exp.Upper: "UPPER",
    exp.Length: "LENGTH",
    exp.Trim: "TRIM",
}
# Plain scalar SQL over one row's columns: the shared core of every user-written expression
# (derived attributes here, analytics segments), which can read nothing but that row.
SCALAR_NODES: tuple[type[exp.Expression], ...] = (
    exp.Column,
    exp.Identifier,
    exp.Literal,
    exp.Boolean,
    exp.Null,
    exp.Paren,
    exp.Neg,
    exp.Add,
    exp.Sub,
    exp.Mul,
    exp.Div,
    exp.EQ,
    exp.NEQ,
    exp.GT,
    exp.GTE,
    exp.LT,
    exp.LTE,
    exp.And,
    exp.Or,
    exp.Not,
    exp.Is,
    exp.In,
    exp.Between,
    exp.Like,
    exp.Cast,
    exp.DataType,
    exp.Lower,
    exp.Upper,
)
ALLOWED_NODES: tuple[type[exp.Expression], ...] = (
    *SCALAR_NODES,
    exp.Mod,
    exp.Case,
    exp.If,
    *ALLOWED_FUNCTIONS,
)
# Refused with a reason of their own (the allowlist would refuse them anyway).
REFUSED_NODES: tuple[tuple[type[exp.Expression], str], ...] = (
    (exp.Subquery, "subqueries"),
    (exp.Select, "subqueries"),
    (exp.Exists, "subqueries"),
    (exp.Window, "window functions"),
    (exp.AggFunc, "aggregates"),
)


class DerivedAttributeError(UsagecastError):
    """A derived attribute's expression is not allowed; the message says what to change."""


@lru_cache(maxsize=256)
def parse_expression(text: str) -> exp.Expression:
    """The checked syntax tree of an expression (cached: specs parse once per text).

    Raises DerivedAttributeError naming what is not allowed. Callers copy before changing it.
    """
    try:
        tree = sqlglot.parse_one(text, read="duckdb")
    except ParseError as error:
        raise DerivedAttributeError(f"not valid SQL ({error})") from None
    for node in tree.walk():
        for kind, words in REFUSED_NODES:
            if isinstance(node, kind):
                raise DerivedAttributeError(
                    f"{words} are not allowed ({node.sql(dialect='duckdb')}): a derived "
                    "attribute is one value per user computed from that user's columns"
                )
        if isinstance(node, exp.Column) and node.table:
            raise DerivedAttributeError(
                f"write the column without a table name: {node.name}, not {node.sql()}"
            )
        if not isinstance(node, ALLOWED_NODES):
            raise DerivedAttributeError(
                f"{node.sql(dialect='duckdb')!r} is not allowed; use columns, literals, "
                "operators, CASE, COALESCE, CAST and the functions "
                f"{', '.join(sorted(ALLOWED_FUNCTIONS.values()))}"
            )
    return tree


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
