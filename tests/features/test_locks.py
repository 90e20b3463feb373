"""Locks record their holder; a lock whose holder was killed is taken without waiting."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict

import pytest

from features.locks import LockOwner, OwnedLock, advisory_lock, is_postgres_url, parse_owner
from scripts.local_postgres import advisory_lock_is_free

HOLD = """
import sys, time
from features.locks import OwnedLock
OwnedLock(sys.argv[1]).acquire()
print("held", flush=True)
time.sleep(120)
"""


def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.fixture
def holder(tmp_path):
    """A live process holding the lock at tmp_path/x.lock until killed."""
    path = tmp_path / "x.lock"
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path)],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert process.stdout.readline().strip() == b"held"
    yield process, path
    process.kill()
    process.wait()


def test_acquire_records_the_owner_and_release_clears_it(tmp_path):
    lock = OwnedLock(tmp_path / "x.lock")
    with lock.hold():
        owner = lock.owner()
        assert owner is not None and owner.pid == os.getpid()
        assert owner.host == socket.gethostname() and not owner.is_gone()
    assert lock.owner() is None and lock.waits == 0


def test_a_lock_file_owned_by_a_dead_pid_is_taken_at_once(tmp_path, caplog):
    path = tmp_path / "x.lock"
    dead = LockOwner(_dead_pid(), socket.gethostname(), 1.0)
    path.write_text(f'{{"pid": {dead.pid}, "host": "{dead.host}", "started": 1.0}}')
    assert parse_owner(path.read_text()) == dead and dead.is_gone()

    lock = OwnedLock(path)
    with caplog.at_level(logging.WARNING, logger="features.locks"), lock.hold():
        assert lock.owner().pid == os.getpid()
    assert lock.waits == 0
    assert f"took over the lock of pid {dead.pid}" in caplog.text


def test_a_lock_held_by_a_live_process_is_respected(holder):
    process, path = holder
    lock = OwnedLock(path)
    assert lock.acquire(blocking=False) is False
    assert lock.owner().pid == process.pid and not lock.owner().is_gone()


def test_a_sigkilled_holder_leaves_a_lock_taken_at_once(holder, caplog):
    process, path = holder
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert OwnedLock(path).owner().pid == process.pid  # its record is still there

    lock = OwnedLock(path)
    with caplog.at_level(logging.WARNING, logger="features.locks"):
        assert lock.acquire(blocking=False) is True
    lock.release()
    assert lock.waits == 0
    assert f"pid {process.pid} on {socket.gethostname()}" in caplog.text


def test_a_reused_pid_or_another_host_is_judged_correctly():
    me = LockOwner.current()
    assert not me.is_gone()
    assert LockOwner(me.pid, me.host, me.started - 3600).is_gone()  # pid reused since
    assert not LockOwner(_dead_pid(), "some-other-host", 1.0).is_gone()  # cannot tell


def test_a_wall_clock_step_after_the_record_does_not_make_its_holder_gone():
    me = LockOwner.current()
    assert me.since_boot is not None
    stepped = LockOwner(me.pid, me.host, me.started - 600, me.since_boot)  # read before a step
    assert not stepped.is_gone()
    assert LockOwner(me.pid, me.host, me.started, me.since_boot - 3600).is_gone()  # reused
    assert parse_owner(json.dumps(asdict(me))) == me


@pytest.mark.parametrize("text", ["", "garbage", "{}", '{"pid": "x", "host": 1}', "[1]"])
def test_a_record_that_is_not_ours_is_no_owner(text):
    assert parse_owner(text) is None


HOLD_ADVISORY = """
import sys, time
from features.locks import advisory_lock
with advisory_lock(sys.argv[1], "premium_30d"):
    print("held", flush=True)
    time.sleep(120)
"""


@pytest.mark.postgres
def test_an_advisory_lock_excludes_other_sessions_until_its_holder_is_killed(postgres_server):
    url = postgres_server.create_database("locks")
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD_ADVISORY, url],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        assert process.stdout.readline().strip() == b"held"
        assert not advisory_lock_is_free(url, "premium_30d")
        assert advisory_lock_is_free(url, "other_model")  # one lock per name
        process.send_signal(signal.SIGKILL)
        process.wait()
        deadline = time.monotonic() + 10
        while not advisory_lock_is_free(url, "premium_30d"):
            assert time.monotonic() < deadline, "a killed holder's advisory lock stayed held"
            time.sleep(0.1)
    finally:
        process.kill()
        process.wait()
    with advisory_lock(url, "premium_30d"):
        assert not advisory_lock_is_free(url, "premium_30d")
    assert advisory_lock_is_free(url, "premium_30d")


@pytest.mark.parametrize(
    ("url", "postgres"),
    [
        ("postgresql://u@h/db", True),
        ("postgresql+psycopg://u@h:5433/db", True),
        ("sqlite:///tmp/mlflow.db", False),
        ("http://127.0.0.1:5000", False),
        ("mysql://u@h/postgresql", False),
    ],
)
def test_postgres_urls_are_recognised_by_their_scheme(url, postgres):
    assert is_postgres_url(url) is postgres
