"""A query's top-level CTEs as Spark steps: each CTE read more than once is computed once.

Spark inlines every deterministic CTE at each place that reads it, so a feature query whose
CTEs read one another would scan the event store and shuffle again at every read (the
related-entity query of a spec reads its key CTEs up to six times). Splitting the WITH
clause into temp views, and materialising those read twice or more, gives Spark what DuckDB
does by itself. Pure: the Spark engine (features/engines/spark.py) runs the steps.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import sqlglot
import sqlglot.expressions as exp


@dataclass(frozen=True)
class SparkStep:
    """One CTE (named `cte`) as a temp view: `view` holds `query`'s rows; `materialize` says
    to compute them once (read twice or more, and not marked NOT MATERIALIZED) rather than
    inline the view."""

    cte: str
    view: str
    query: exp.Query
    materialize: bool


@dataclass(frozen=True)
class SparkSteps:
    """The CTEs in their order of definition, then the statement that reads them."""

    steps: tuple[SparkStep, ...]
    final: exp.Expression


def spark_steps(sql: exp.Expression | str, view_prefix: str) -> SparkSteps:
    """Split `sql`'s top-level WITH into steps whose views are named `view_prefix` + the CTE's
    name. A reference to a CTE is renamed to its view and keeps the CTE's name as its alias, so
    columns qualified by the CTE's name still resolve. A query without a WITH is one final
    statement."""
    tree = sqlglot.parse_one(sql, read="duckdb") if isinstance(sql, str) else sql.copy()
    with_clause = tree.args.get("with_")
    if with_clause is None:
        return SparkSteps(steps=(), final=tree)
    ctes = list(with_clause.expressions)
    views = {cte.alias: f"{view_prefix}{cte.alias}" for cte in ctes}
    tree.set("with_", None)
    reads = Counter[str]()
    # A CTE's body sees the CTEs defined before it; a name defined later (or its own) is a
    # table of the store there. The final statement sees them all.
    scopes = [(cte.this, {c.alias for c in ctes[:index]}) for index, cte in enumerate(ctes)]
    for scope, visible in [*scopes, (tree, set(views))]:
        for table in scope.find_all(exp.Table):
            if table.name in visible and not table.args.get("db"):
                reads[table.name] += 1
                if not table.args.get("alias"):
                    table.set("alias", exp.TableAlias(this=exp.to_identifier(table.name)))
                table.set("this", exp.to_identifier(views[table.name]))
    steps = tuple(
        SparkStep(
            cte=cte.alias,
            view=views[cte.alias],
            query=cte.this,
            materialize=reads[cte.alias] >= 2 and cte.args.get("materialized") is not False,
        )
        for cte in ctes
    )
    return SparkSteps(steps=steps, final=tree)
