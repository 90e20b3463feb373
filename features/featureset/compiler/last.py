"""`last` features: a field of each candidate's latest event before its cutoff, over all
history (a plan, tier or device as of the cutoff).

The events a `last` feature can read (its types, its field non-empty) are joined to the
candidates on user and `event_time < cutoff`, and grouped per candidate. The latest event
is the greatest (event_time, field) pair, a struct both engines order field by field, so
events at the same instant resolve to the same value in DuckDB and Spark.
"""

from __future__ import annotations

import sqlglot.expressions as exp

from events.store import EVENTS
from features.featureset.compiler.sqlbits import (
    _EVENT,
    _ROW,
    _col,
    _cutoff,
    _of_type,
    _product_use,
    _when,
)
from features.featureset.spec import FeatureDef

LAST_VALUES = "last_values"


def _field(feature: FeatureDef) -> exp.Column:
    """The event column a `last` feature reads (spec.py sets it on every `last` feature)."""
    assert feature.field is not None
    return _col(feature.field, _EVENT)


def _readable(feature: FeatureDef) -> exp.Expression:
    """Whether an event can be the feature's latest: of its type (else of product use:
    _product_use), with its field set."""
    present = exp.Not(this=_field(feature).is_(exp.null()))
    of_type = _product_use() if feature.event_type is None else _of_type(feature.event_type)
    return exp.and_(of_type, present)


def _latest(feature: FeatureDef) -> exp.Expression:
    """The field of the greatest (event_time, field) among the readable events."""
    pair = exp.Struct(
        expressions=[
            exp.PropertyEQ(this=exp.to_identifier("t"), expression=_col("event_time", _EVENT)),
            exp.PropertyEQ(this=exp.to_identifier("v"), expression=_field(feature)),
        ]
    )
    return exp.Dot(
        this=exp.Max(this=_when(_readable(feature), pair)), expression=exp.to_identifier("v")
    )


def last_values_select(features: tuple[FeatureDef, ...]) -> exp.Select:
    """Per candidate with a readable event before its cutoff: each `last` feature."""
    chosen = [f for f in features if f.kind == "last"]
    readable = exp.or_(*(_readable(f) for f in chosen))
    return (
        exp.select(
            _col("user_id", _ROW), _col("cutoff", _ROW), *(_latest(f).as_(f.name) for f in chosen)
        )
        .from_(exp.to_table("candidates").as_(_ROW))
        .join(
            exp.to_table(EVENTS).as_(_EVENT),
            on=exp.and_(
                _col("user_id", _EVENT).eq(_col("user_id", _ROW)),
                _col("event_time", _EVENT) < _cutoff(),
                exp.paren(readable, copy=False),
            ),
        )
        .group_by(_col("user_id", _ROW), _col("cutoff", _ROW))
    )
