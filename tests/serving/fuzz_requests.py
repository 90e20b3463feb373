"""A grammar of valid and invalid /invocations requests, and how to judge each answer.

Used by scripts/fuzz_serving.py (>= 10,000 requests) and tests/serving/test_fuzz_serving.py
(a bounded sample). Every generated `Case` knows whether the serving contract accepts it
(`accept`) and whether the flaw, if any, is out of the model's sight under stock
`mlflow models serve` (`stock_blind`): the stock server answers a missing Content-Type or
JSON nested a thousand levels deep with 500 before the model runs, fills keys missing from
some records with null, and drops unknown params. Those are the front door's to refuse;
against stock they are counted apart, so a stock run shows what the model controls.
"""

from __future__ import annotations

import http.client
import json
import random
import re
import string
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from serving import ModelMetadata

JSON = "application/json"
TRACE = re.compile(
    r"Traceback \(most recent call last\)|File \"[^\"]+\", line \d+|stack_trace|"
    r"site-packages|(?:/[\w.-]+){2,}\.py\b"
)
IDENTITY = ("user_id", "cutoff")
BIG_BODY_ROWS = 20_000  # about 1.5 MB of records: big, within a sane bound


@dataclass(frozen=True)
class Case:
    """One request: its kind, the body and Content-Type sent, and what the contract says.
    `within_caps`: valid, but big enough that a server's size caps (the front door's body,
    rows or whatif-rows cap) may refuse it with a 4xx instead."""

    kind: str
    body: bytes
    content_type: str | None = JSON
    accept: bool = False
    stock_blind: bool = False
    within_caps: bool = False


@dataclass
class Tally:
    """What came back, by verdict; `failures` are those the server under test controls."""

    requests: int = 0
    statuses: Counter = field(default_factory=Counter)
    server_errors: Counter = field(default_factory=Counter)
    traces: Counter = field(default_factory=Counter)
    silent_acceptances: Counter = field(default_factory=Counter)
    false_refusals: Counter = field(default_factory=Counter)
    beyond_model: Counter = field(default_factory=Counter)
    ping_failures: int = 0

    @property
    def failures(self) -> int:
        return (
            sum(self.server_errors.values())
            + sum(self.traces.values())
            + sum(self.silent_acceptances.values())
            + sum(self.false_refusals.values())
            + self.ping_failures
        )

    def report(self) -> list[str]:
        """The summary lines the script prints."""
        lines = [
            f"requests: {self.requests}",
            f"statuses: {dict(sorted(self.statuses.items()))}",
            f"5xx or no answer (model-caused): {sum(self.server_errors.values())} "
            f"{dict(self.server_errors)}",
            f"bodies with a stack trace or file path: {sum(self.traces.values())} "
            f"{dict(self.traces)}",
            f"silent acceptances (200 to a refused input): "
            f"{sum(self.silent_acceptances.values())} {dict(self.silent_acceptances)}",
            f"valid requests refused: {sum(self.false_refusals.values())} "
            f"{dict(self.false_refusals)}",
            f"/ping failures between batches: {self.ping_failures}",
        ]
        if self.beyond_model:
            lines.append(
                "outside the model's reach under stock serving (front door's job, not failures "
                f"here): {sum(self.beyond_model.values())} {dict(self.beyond_model)}"
            )
        return lines


def judge(case: Case, status: int, body: bytes, stock: bool, tally: Tally) -> None:
    """Classify one answer into `tally`. With `stock`, a flaw out of the model's sight (see
    the module docstring) is counted under `beyond_model` instead of as a failure."""
    tally.requests += 1
    tally.statuses[status] += 1
    text = body.decode("utf-8", errors="replace")
    problems = []
    if status >= 500:
        problems.append(("5xx", tally.server_errors))
    if TRACE.search(text):
        problems.append(("trace", tally.traces))
    if status == 200 and not case.accept:
        problems.append(("silent", tally.silent_acceptances))
    capped = case.within_caps and not stock and 400 <= status < 500  # stock has no caps
    if status != 200 and case.accept and not capped:
        problems.append(("refused", tally.false_refusals))
    for label, counter in problems:
        if stock and case.stock_blind:
            tally.beyond_model[f"{case.kind}: {label} {status}"] += 1
        else:
            counter[case.kind] += 1


class Grammar:
    """Random requests for a model with `metadata`'s features; all randomness from `rng`."""

    def __init__(self, metadata: ModelMetadata, rng: random.Random, whatif: bool) -> None:
        self.metadata = metadata
        self.rng = rng
        self.whatif = whatif
        self.numeric = [n for n in metadata.feature_names if n not in metadata.categorical_levels]
        self.categorical = list(metadata.categorical_levels)
        self.productions: list[tuple[int, Callable[[], Case]]] = [
            (30, self.valid_predict),
            (8, self.valid_split),
            (8, self.valid_explain),
            (4, self.valid_extreme_numbers),
            (1, self.valid_big_body),
            (12, self.bad_value),
            (6, self.bad_columns),
            (6, self.duplicate_columns),
            (10, self.bad_params),
            (3, self.missing_keys),
            (3, self.unknown_params),
            (3, self.transport),
            (2, self.deep_nesting),
        ]
        if whatif:
            self.productions += [(3, self.valid_whatif), (1, self.whatif_many_rows)]

    def case(self) -> Case:
        weights = [w for w, _ in self.productions]
        return self.rng.choices([p for _, p in self.productions], weights)[0]()

    # -- values and rows ------------------------------------------------------------------
    def number(self) -> Any:
        r = self.rng
        return r.choice(
            [r.randint(0, 50), r.uniform(-1e3, 1e3), None, 0, -0.0, r.randint(-(2**40), 2**40)]
        )

    def level(self) -> Any:
        levels = list(self.metadata.categorical_levels[self.rng.choice(self.categorical)])
        return self.rng.choice([*levels, None, "never-seen", self.text(12)])

    def text(self, size: int) -> str:
        return "".join(self.rng.choices(string.ascii_letters + " -_é", k=size))

    def row(self, identity: tuple[str, ...] = ()) -> dict[str, Any]:
        """One valid row: every feature, and the identity columns named."""
        row = {name: self.number() for name in self.numeric}
        row.update({name: self.level() for name in self.categorical})
        row.update({name: self.identity(name) for name in identity})
        items = list(row.items())
        self.rng.shuffle(items)
        return dict(items)

    def identity(self, name: str) -> str:
        if name == "user_id":
            return f"u{self.rng.randint(0, 10**6)}"
        return self.rng.choice(["2024-03-01", "2024-03-01T10:30:00"])

    def rows(self, low: int = 1, high: int = 5) -> list[dict[str, Any]]:
        """Valid rows that all name the same columns (a key missing from some records is
        its own case)."""
        identity = tuple(name for name in IDENTITY if self.rng.random() < 0.3)
        return [self.row(identity) for _ in range(self.rng.randint(low, high))]

    def body(self, rows: list[dict], params: dict | None = None, split: bool = False) -> bytes:
        if split:
            columns = list(rows[0])
            data = {
                "dataframe_split": {
                    "columns": columns,
                    "data": [[row.get(c) for c in columns] for row in rows],
                }
            }
        else:
            data = {"dataframe_records": rows}
        if params is not None:
            data["params"] = params
        return json.dumps(data, allow_nan=True).encode()

    # -- valid -------------------------------------------------------------------------------
    def valid_predict(self) -> Case:
        params = self.rng.choice([None, {}, {"mode": "predict"}])
        return Case("valid predict", self.body(self.rows(), params), accept=True)

    def valid_split(self) -> Case:
        rows = self.rows()
        return Case("valid split", self.body(rows, split=True), accept=True)

    def valid_explain(self) -> Case:
        params = {"mode": "explain", "k": self.rng.randint(1, 12)}
        kind = self.rng.choice([JSON, "application/json; charset=utf-8"])
        return Case("valid explain", self.body(self.rows(), params), kind, accept=True)

    def valid_extreme_numbers(self) -> Case:
        row = self.row(IDENTITY)
        value = self.rng.choice(
            [1e300, -1e300, 5e-324, 2**63, 2**64 + 1, 10**300, float("nan"), -(2**70)]
        )
        row[self.rng.choice(self.numeric)] = value
        return Case("valid extreme number", self.body([row]), accept=True)

    def valid_big_body(self) -> Case:
        rows = self.rows(2_000, BIG_BODY_ROWS)
        return Case("valid big body", self.body(rows), accept=True, within_caps=True)

    def valid_whatif(self) -> Case:
        params = {
            "mode": "whatif",
            "k": self.rng.randint(1, 20),
            "target": self.rng.uniform(0.05, 0.95),
            "budget_ms": self.rng.randint(1, 20),
            "seed": self.rng.randint(0, 100),
        }
        return Case("valid whatif", self.body(self.rows(1, 3), params), accept=True)

    def whatif_many_rows(self) -> Case:
        rows = self.rows(50, 300)
        params = {"mode": "whatif", "k": 2, "budget_ms": 1}
        return Case("whatif many rows", self.body(rows, params), accept=True, within_caps=True)

    # -- refused by the model ----------------------------------------------------------------
    def bad_value(self) -> Case:
        rows = self.rows()
        deep: Any = 1
        for _ in range(self.rng.randint(2, 40)):
            deep = [deep]
        where, value, raw = self.rng.choice(
            [
                ("numeric", "5", None),
                ("numeric", True, None),
                ("numeric", [1, 2], None),
                ("numeric", {"a": 1}, None),
                ("numeric", deep, None),
                ("numeric", self.text(self.rng.randint(1_000, 200_000)), None),
                ("numeric", None, "1" + "0" * self.rng.randint(309, 4000)),
                ("numeric", None, "-1" + "0" * self.rng.randint(309, 4000)),
                ("numeric", None, "Infinity"),
                ("numeric", None, "-Infinity"),
                ("numeric", None, "1e400"),
                ("categorical", 3, None),
                ("categorical", False, None),
                ("categorical", ["lima"], None),
                ("user_id", 7, None),
                ("user_id", None if self.rng.random() < 0.5 else 1.5, None),
                ("cutoff", "March", None),
                ("cutoff", "2024-03-01T00:00:00+00:00", None),
                ("cutoff", self.text(self.rng.randint(100, 100_000)), None),
            ]
        )
        column = {"numeric": self.numeric, "categorical": self.categorical}.get(where, [where])
        name = self.rng.choice(column)
        for row in rows:  # the column is in every row: no key is missing
            row.setdefault(name, self.identity(name))
        marker = "__RAW_NUMBER__"
        self.rng.choice(rows)[name] = marker if raw is not None else value
        body = self.body(rows).replace(f'"{marker}"'.encode(), (raw or "").encode())
        return Case(f"bad {where} value", body)

    def bad_columns(self) -> Case:
        rows = self.rows()
        choice = self.rng.randrange(5)
        if choice == 0:
            name = self.rng.choice(list(self.metadata.feature_names))
            for row in rows:
                row.pop(name, None)
            kind = "missing column"
        elif choice == 1:
            for row in rows:
                row["plan"] = "free"
            kind = "unknown column"
        elif choice == 2:
            for row in rows:
                row[self.text(self.rng.randint(1_000, 50_000))] = 1
            kind = "huge unknown column name"
        elif choice == 3:
            return Case("empty batch", self.body([]))
        else:
            values = [[self.number() for _ in range(3)] for _ in rows]
            columns = self.rng.choice([None, [1, 2, 3], [None, "a", "b"]])
            split = {"data": values} if columns is None else {"columns": columns, "data": values}
            return Case("split without names", json.dumps({"dataframe_split": split}).encode())
        return Case(kind, self.body(rows))

    def duplicate_columns(self) -> Case:
        rows = self.rows()
        columns = list(rows[0])
        twice = self.rng.choice([c for c in columns if c in self.metadata.feature_names])
        columns.insert(self.rng.randrange(len(columns) + 1), twice)
        data = [[row.get(c) for c in columns] for row in rows]
        body = {"dataframe_split": {"columns": columns, "data": data}}
        if self.rng.random() < 0.5:
            body["params"] = {"mode": "explain"}
        return Case("duplicate columns", json.dumps(body).encode())

    def bad_params(self) -> Case:
        name, value = self.rng.choice(
            [
                ("mode", "guess"),
                ("mode", None),
                ("mode", 5),
                ("k", 0),
                ("k", -3),
                ("k", 2**40),
                ("k", 10**30),
                ("k", 2.5),
                ("k", "3"),
                ("k", None),
                ("k", [1, 2]),
                ("target", 0),
                ("target", 1),
                ("target", -1),
                ("target", 2),
                ("target", "0.5"),
                ("target", True),
                ("max_cost", -1),
                ("max_cost", "x"),
                ("budget_ms", 0),
                ("budget_ms", 10**6),
                ("seed", -1),
                ("max_changes", 0),
                ("target", "__NaN__"),
                ("target", "__Infinity__"),
                ("max_cost", "__NaN__"),
                ("max_cost", "__Infinity__"),
                ("target", "__1e400__"),
            ]
        )
        params: Any = {name: value}
        if name == "k" and self.rng.random() < 0.3:
            params = {"mode": "whatif", "k": self.rng.randint(21, 1000)}
        elif self.rng.random() < 0.05:
            params = self.rng.choice([[1, 2], "explain", 7])
        body = self.body(self.rows(1, 2), params)
        for literal in ("NaN", "Infinity", "1e400"):
            body = body.replace(f'"__{literal}__"'.encode(), literal.encode())
        return Case("bad params", body)

    # -- out of the model's sight under stock serving ------------------------------------
    def missing_keys(self) -> Case:
        rows = self.rows(2, 6)
        victim = self.rng.choice(rows[1:])
        victim.pop(self.rng.choice(list(self.metadata.feature_names)))
        return Case("missing key in some records", self.body(rows), stock_blind=True)

    def unknown_params(self) -> Case:
        params = {self.rng.choice(["mdoe", "topk", "budget", "x"]): self.rng.randint(0, 9)}
        return Case("unknown param", self.body(self.rows(1, 2), params), stock_blind=True)

    def transport(self) -> Case:
        good = self.body(self.rows(1, 2))
        choice = self.rng.randrange(8)
        cases = [
            Case("no Content-Type", good, None, stock_blind=True),
            Case("wrong Content-Type", good, "text/plain", stock_blind=True),
            Case("latin-1 charset", good, "application/json; charset=latin-1", stock_blind=True),
            Case("truncated JSON", good[: len(good) // 2], stock_blind=True),
            Case("not UTF-8", b'{"dataframe_records": [{"\xff": 1}]}', stock_blind=True),
            Case("top level is a list", b"[1, 2]", stock_blind=True),
            Case("no rows key", b'{"rows": []}', stock_blind=True),
            Case(
                "integer over 4300 digits",
                b'{"dataframe_records": [{"x": 1' + b"0" * 5000 + b"}]}",
                stock_blind=True,
            ),
        ]
        return cases[choice]

    def deep_nesting(self) -> Case:
        depth = self.rng.choice([100, 900, 1_000, 5_000, 50_000])
        nested = b"[" * depth + b"1" + b"]" * depth
        body = b'{"dataframe_records": [{"x": ' + nested + b"}]}"
        return Case(f"JSON nested {depth} deep", body, stock_blind=depth >= 900)


def send(connection: http.client.HTTPConnection, case: Case) -> tuple[int, bytes]:
    """POST one case on a keep-alive connection; (status, body)."""
    headers = {} if case.content_type is None else {"Content-Type": case.content_type}
    connection.request("POST", "/invocations", case.body, headers)
    response = connection.getresponse()
    return response.status, response.read()


def pings(base: str) -> bool:
    """Whether GET /ping answers 200 within 10 s."""
    host, port = base.removeprefix("http://").rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("GET", "/ping")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def answer_in_process(model: Any, case: Case) -> tuple[int, bytes]:
    """(status, body) of stock serving's own request handler, called in this process on a
    loaded pyfunc: what `mlflow models serve` answers, minus HTTP. An exception the handler
    lets through is what the server turns into a 500."""
    from mlflow.exceptions import MlflowException
    from mlflow.pyfunc.scoring_server import invocations

    try:
        answer = invocations(case.body, case.content_type, model, None)
    except MlflowException as error:
        return error.get_http_status_code(), error.serialize_as_json().encode()
    except Exception as error:
        return 500, f"Internal Server Error: {type(error).__name__}".encode()
    body = answer.response
    return answer.status, body.encode() if isinstance(body, str) else body


def run(base: str, cases: Iterable[Case], stock: bool, batch: int = 100) -> Tally:
    """Send every case on one keep-alive connection (reopened after an error), judge each
    answer, and /ping the server every `batch` requests."""
    host, port = base.removeprefix("http://").rsplit(":", 1)
    tally = Tally()
    connection = http.client.HTTPConnection(host, int(port), timeout=120)
    for i, case in enumerate(cases, start=1):
        try:
            status, body = send(connection, case)
        except (OSError, http.client.HTTPException) as error:
            connection.close()
            connection = http.client.HTTPConnection(host, int(port), timeout=120)
            status, body = 599, f"connection failed: {error}".encode()
        judge(case, status, body, stock, tally)
        if status >= 500:
            connection.close()  # the server may have closed it; start clean
            connection = http.client.HTTPConnection(host, int(port), timeout=120)
        if i % batch == 0 and not pings(base):
            tally.ping_failures += 1
    connection.close()
    if not pings(base):
        tally.ping_failures += 1
    return tally
