"""A bounded sample of the serving fuzzer (scripts/fuzz_serving.py runs >= 10,000): no answer
the model controls is a 5xx, carries a stack trace or file path, or accepts what the contract
refuses, and the server stays up; behind the `usagecast serve` front door, no answer at all."""

from __future__ import annotations

import random
from collections.abc import Iterator

import mlflow
import pytest
from fuzz_requests import Case, Grammar, Tally, answer_in_process, judge, run

from serving import log_serving_model
from serving.local_server import running, running_server


def _assert_clean(tally: Tally) -> None:
    report = "\n".join(tally.report())
    assert tally.failures == 0, report
    assert not tally.server_errors and not tally.traces and not tally.silent_acceptances, report


TRACE_BODY = b'{"stack_trace": "Traceback (most recent call last):\\n  File \\"/srv/app/x.py\\""}'


@pytest.mark.parametrize(
    ("case", "status", "body", "stock", "verdict"),
    [
        (Case("bad", b""), 400, b'{"message": "column"}', True, None),
        (Case("bad", b""), 200, b"{}", True, "silent_acceptances"),
        (Case("bad", b""), 500, b"", True, "server_errors"),
        (Case("bad", b""), 400, TRACE_BODY, True, "traces"),
        (Case("ok", b"", accept=True), 400, b"{}", True, "false_refusals"),
        (Case("blind", b"", stock_blind=True), 500, b"", True, "beyond_model"),
        (Case("blind", b"", stock_blind=True), 200, b"{}", False, "silent_acceptances"),
        (Case("big", b"", accept=True, within_caps=True), 413, b"{}", False, None),
        (Case("big", b"", accept=True, within_caps=True), 400, b"{}", True, "false_refusals"),
    ],
)
def test_judge_sorts_each_answer(case, status, body, stock, verdict):
    tally = Tally()
    judge(case, status, body, stock, tally)
    counted = {
        name
        for name in ("server_errors", "traces", "silent_acceptances", "false_refusals")
        if getattr(tally, name)
    } | ({"beyond_model"} if tally.beyond_model else set())
    assert counted == ({verdict} if verdict else set())
    assert tally.failures == (0 if verdict in (None, "beyond_model") else 1)


@pytest.fixture(scope="module")
def logged(tiny_model, tmp_path_factory, make_mlflow_store) -> Iterator[tuple[str, dict]]:
    """The tiny model logged in its own store: (model URI, server environment)."""
    root = tmp_path_factory.mktemp("fuzz")
    env = {"MLFLOW_TRACKING_URI": make_mlflow_store(root), "USAGECAST_HOME": str(root)}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", env["MLFLOW_TRACKING_URI"])
        patch.chdir(root)
        with mlflow.start_run():
            info = log_serving_model(tiny_model.model, tiny_model.metadata, tiny_model.rows)
        yield info.model_uri, env


@pytest.mark.slow
def test_stock_request_handler_in_process(logged, tiny_model, monkeypatch):
    """The stock server's own handler on the loaded pyfunc, without HTTP: fast and wide."""
    uri, env = logged
    monkeypatch.setenv("MLFLOW_TRACKING_URI", env["MLFLOW_TRACKING_URI"])
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "false")
    model = mlflow.pyfunc.load_model(uri)
    grammar = Grammar(tiny_model.metadata, random.Random(11), whatif=True)
    tally = Tally()
    for _ in range(400):
        case = grammar.case()
        judge(case, *answer_in_process(model, case), stock=True, tally=tally)
    _assert_clean(tally)
    assert tally.statuses[200] > 100 and tally.statuses[400] > 100  # both sides exercised


@pytest.mark.serve
def test_stock_server_sample(logged, tiny_model, tmp_path):
    uri, env = logged
    with running_server(uri, tmp_path / "server.log", env) as base:
        grammar = Grammar(tiny_model.metadata, random.Random(7), whatif=True)
        tally = run(base, (grammar.case() for _ in range(200)), stock=True, batch=50)
    _assert_clean(tally)
    assert tally.requests == 200


@pytest.mark.serve
def test_front_door_sample(logged, tiny_model, tmp_path, monkeypatch):
    """The same grammar against `usagecast serve` over the logged model, registered as the
    champion: every flaw is the front door's to refuse, none is excused."""
    uri, env = logged
    monkeypatch.setenv("MLFLOW_TRACKING_URI", env["MLFLOW_TRACKING_URI"])  # to register it
    with running("front", uri, "fuzz", tmp_path / "server.log", env) as base:
        grammar = Grammar(tiny_model.metadata, random.Random(5), whatif=True)
        tally = run(base, (grammar.case() for _ in range(200)), stock=False, batch=50)
    _assert_clean(tally)
    assert tally.requests == 200 and not tally.beyond_model
    assert tally.statuses[200] > 50 and tally.statuses[400] > 50
