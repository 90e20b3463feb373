"""wait_until, the poll the standalone cluster and Connect server start behind."""

from __future__ import annotations

import json

import pytest

from contracts.errors import UsagecastError
from features.engines.standalone import wait_until


def test_an_empty_reply_from_a_half_started_server_counts_as_not_ready():
    replies = iter(["", "{", '{"status": "ALIVE"}'])

    def alive() -> bool:
        return json.loads(next(replies))["status"] == "ALIVE"

    wait_until(alive, "the master did not start", 10)


def test_a_condition_that_never_holds_fails_naming_what_and_the_logs_tail(tmp_path):
    log = tmp_path / "master.log"
    log.write_text("bind failed on port 7077\n")
    with pytest.raises(UsagecastError, match=r"(?s)did not start within 1 s.*bind failed"):
        wait_until(lambda: False, "the master did not start", 1, (log,))


def test_an_error_that_is_not_a_startup_symptom_is_raised_at_once():
    def broken() -> bool:
        raise KeyError("status")

    with pytest.raises(KeyError):
        wait_until(broken, "the master did not start", 10)
