"""The allowlist every user-written SQL expression is checked against (sqlglot, DuckDB dialect).

Shared by derived user attributes (features/featureset/derived.py), analytics segments and the
dataset config's derived columns (events/ingest/config.py): plain scalar SQL over one row's
columns that DuckDB and Spark compute alike. Subqueries, aggregates and window functions are
refused with a reason of their own.
"""

from __future__ import annotations

import sqlglot
import sqlglot.expressions as exp
from sqlglot.errors import ParseError

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
# Plain scalar SQL over one row's columns: the shared core of every user-written expression.
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
# SCALAR_NODES with CASE, IF, modulo and the allowed functions: one value per row.
ALLOWED_NODES: tuple[type[exp.Expression], ...] = (
    *SCALAR_NODES,
    exp.Mod,
    exp.Case,
    exp.If,
    *ALLOWED_FUNCTIONS,
)
REFUSED_NODES: tuple[tuple[type[exp.Expression], str], ...] = (
    (exp.Subquery, "subqueries"),
    (exp.Select, "subqueries"),
    (exp.Exists, "subqueries"),
    (exp.Window, "window functions"),
    (exp.AggFunc, "aggregates"),
)


def checked_tree(
    text: str,
    allowed: tuple[type[exp.Expression], ...],
    functions: tuple[str, ...],
    scope: str,
    dotted_names: bool = False,
) -> exp.Expression:
    """The syntax tree of `text` if every node is in `allowed`, else ValueError saying why.

    `functions` are the function names the message offers; `scope` ends the refusal of a
    subquery, aggregate or window ("a derived attribute is one value per user ...").
    `dotted_names`: a column name may hold dots (a JSONL path), so the refusal of a table
    name (`properties.revenue`) says to quote the name whole instead.
    """
    try:
        tree = sqlglot.parse_one(text, read="duckdb")
    except ParseError as error:
        raise ValueError(f"not valid SQL ({error})") from None
    for node in tree.walk():
        for kind, words in REFUSED_NODES:
            if isinstance(node, kind):
                raise ValueError(
                    f"{words} are not allowed ({node.sql(dialect='duckdb')}): {scope}"
                )
        if isinstance(node, exp.Column) and node.table and dotted_names:
            dotted = ".".join(part.name for part in node.parts)
            raise ValueError(
                f'quote a name holding dots whole: "{dotted}", not {node.sql()} (in a JSONL '
                "source it is a path into nested objects)"
            )
        if isinstance(node, exp.Column) and node.table:
            raise ValueError(
                f"write the column without a table name: {node.name}, not {node.sql()}"
            )
        if not isinstance(node, allowed):
            raise ValueError(
                f"{node.sql(dialect='duckdb')!r} is not allowed; use columns, literals, "
                f"operators, CASE, COALESCE, CAST and the functions {', '.join(functions)}"
            )
    return tree
