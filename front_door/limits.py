"""The front door's request limits: pure checks of a body before any model sees it.

Each refusal is a `RequestRefused` (HTTP status + one-line message). Messages name the rule,
the limit and where in the body (row number, key name); they never quote the body's values,
so an error cannot echo a large or sensitive request back.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from contracts.errors import UsagecastError

# The body formats of `mlflow models serve` (mlflow.pyfunc.scoring_server.SUPPORTED_FORMATS).
RECORDS, SPLIT, INSTANCES, INPUTS = "dataframe_records", "dataframe_split", "instances", "inputs"
FORMATS = (RECORDS, SPLIT, INSTANCES, INPUTS)
PARAMS = "params"
SPLIT_KEYS = ("columns", "data", "index")
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")
NAME_CHARS, NAMES_SHOWN = 40, 5


class RequestRefused(UsagecastError):
    """A request the front door does not pass on: `status` is the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Limits:
    """What one request may ask; `usagecast serve` flags set each one (defaults below)."""

    max_body_bytes: int = 1_048_576
    max_depth: int = 16
    max_rows: int = 1_000
    max_whatif_rows: int = 20
    whatif_deadline_ms: int = 5_000
    whatif_concurrency: int = 1

    def __post_init__(self) -> None:
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UsagecastError(f"limit {name}: must be a whole number >= 1, got {value!r}")


@dataclass(frozen=True)
class CheckedBody:
    """A body that passed the limits: the one format key's value, its rows, and params."""

    input_format: str
    data: Any
    rows: int
    params: dict[str, Any] | None


def nesting_depth(body: bytes) -> int:
    """The deepest bracket nesting of a JSON text, counted without parsing it (brackets inside
    strings are skipped), so a deep body is refused before the recursive parser sees it."""
    steps = (1 if b in b"[{" else -1 for b in _BRACKETS.findall(_STRING.sub(b'""', body)))
    return max(accumulate(steps, initial=0))


def _names(keys: Collection[Any]) -> str:
    """A few key names for a message, each cut short: a name may be sent, not a value."""
    shown = [
        str(key) if len(str(key)) <= NAME_CHARS else str(key)[:NAME_CHARS] + "..."
        for key in sorted(keys, key=str)[:NAMES_SHOWN]
    ]
    more = f" and {len(keys) - NAMES_SHOWN} more" if len(keys) > NAMES_SHOWN else ""
    return f"{shown}{more}"


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        repeated = {key for key in keys if keys.count(key) > 1}
        raise RequestRefused(400, f"duplicate keys {_names(repeated)} in one JSON object")
    return dict(pairs)


def parse_body(body: bytes, limits: Limits) -> dict[str, Any]:
    """The JSON object of a body: UTF-8, nested at most `limits.max_depth`, no object with a
    repeated key (a second value must not silently replace the first)."""
    depth = nesting_depth(body)
    if depth > limits.max_depth:
        raise RequestRefused(
            400, f"JSON nested {depth} levels deep; at most {limits.max_depth} are accepted"
        )
    try:
        payload = json.loads(body.decode("utf-8"), object_pairs_hook=_refuse_duplicates)
    except UnicodeDecodeError:
        raise RequestRefused(400, "the body is not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise RequestRefused(
            400,
            f"the body is not valid JSON ({error.msg} at line {error.lineno}, "
            f"column {error.colno})",
        ) from None
    except RecursionError:
        raise RequestRefused(400, "JSON nested too deeply") from None
    except ValueError:  # a number past Python's digit limit for int conversion
        raise RequestRefused(400, "the body holds a number with too many digits") from None
    if not isinstance(payload, dict):
        raise RequestRefused(400, f"the body must be a JSON object with one of {list(FORMATS)}")
    return payload


def _record_rows(records: Any, key: str) -> int:
    """Rows of a list of records; every record must have the first one's keys."""
    if not isinstance(records, list):
        raise RequestRefused(400, f"'{key}' must be a list of records")
    if records and all(isinstance(record, dict) for record in records):
        expected = set(records[0])
        for row, record in enumerate(records):
            if set(record) != expected:
                missing, extra = expected - set(record), set(record) - expected
                raise RequestRefused(
                    400,
                    f"'{key}' row {row}: keys differ from row 0's (missing {_names(missing)}, "
                    f"extra {_names(extra)}); every record must carry the same keys",
                )
    return len(records)


def _split_rows(split: Any) -> int:
    if not isinstance(split, dict):
        raise RequestRefused(400, f"'{SPLIT}' must be an object with 'columns' and 'data'")
    unknown = sorted(set(split) - set(SPLIT_KEYS))
    if unknown or "columns" not in split or "data" not in split:
        raise RequestRefused(
            400, f"'{SPLIT}' takes the keys 'columns', 'data' and optionally 'index'"
        )
    columns, data = split["columns"], split["data"]
    if not isinstance(columns, list) or not isinstance(data, list):
        raise RequestRefused(400, f"'{SPLIT}': 'columns' and 'data' must be lists")
    if len({json.dumps(c) for c in columns}) != len(columns):
        raise RequestRefused(400, f"'{SPLIT}': 'columns' names a column twice")
    for row, values in enumerate(data):
        if not isinstance(values, list) or len(values) != len(columns):
            raise RequestRefused(
                400,
                f"'{SPLIT}' row {row}: must be a list of {len(columns)} values, one per column",
            )
    if "index" in split and (
        not isinstance(split["index"], list) or len(split["index"]) != len(data)
    ):
        raise RequestRefused(400, f"'{SPLIT}': 'index' must list one label per row")
    return len(data)


def _columnar_rows(columns: dict[str, Any], key: str) -> int:
    """Rows of {column: [values]}; every column must have as many values."""
    lengths = {len(v) if isinstance(v, list) else 1 for v in columns.values()}
    if len(lengths) > 1:
        raise RequestRefused(400, f"'{key}': every column must hold the same number of values")
    return lengths.pop() if lengths else 0


def _rows(input_format: str, data: Any) -> int:
    if input_format == RECORDS:
        return _record_rows(data, RECORDS)
    if input_format == SPLIT:
        return _split_rows(data)
    if isinstance(data, dict):
        return _columnar_rows(data, input_format)
    return _record_rows(data, input_format)


def check_payload(
    payload: Mapping[str, Any], limits: Limits, param_names: Collection[str]
) -> CheckedBody:
    """The format, rows and params of a parsed body, or a refusal: exactly one format key,
    only `params` beside it, params the model declares, records with equal keys, and at most
    `max_rows` rows (`max_whatif_rows` with mode whatif)."""
    formats = [key for key in payload if key in FORMATS]
    unknown = {key for key in payload if key not in FORMATS and key != PARAMS}
    if len(formats) != 1 or unknown:
        raise RequestRefused(
            400,
            f"the body must hold exactly one of {list(FORMATS)} and optionally '{PARAMS}'"
            + (f"; unknown keys {_names(unknown)}" if unknown else ""),
        )
    params = payload.get(PARAMS)
    if params is not None and not isinstance(params, dict):
        raise RequestRefused(400, f"'{PARAMS}' must be an object")
    undeclared = set(params or {}) - set(param_names)
    if undeclared:
        raise RequestRefused(
            400, f"unknown params {_names(undeclared)}; allowed params: {sorted(param_names)}"
        )
    input_format = formats[0]
    data = payload[input_format]
    rows = _rows(input_format, data)
    whatif = (params or {}).get("mode") == "whatif"
    cap, what = (limits.max_whatif_rows, "whatif rows") if whatif else (limits.max_rows, "rows")
    if rows > cap:
        raise RequestRefused(413, f"{rows} rows in one request; at most {cap} {what} are accepted")
    return CheckedBody(input_format, data, rows, params)
