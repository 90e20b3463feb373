"""Which lock a promotion holds: PostgreSQL's advisory lock when the tracking store is that
database or USAGECAST_LOCK_URL names one (a tracking server), else the workspace file lock."""

from __future__ import annotations

import pytest

from contracts.errors import UsagecastError
from contracts.workspace import workspace_dir
from registry.promote import LOCK_URL_ENV, PROMOTION_LOCK_PREFIX, lock_database, promotion_lock
from scripts.local_postgres import advisory_lock_is_free

SQLITE = "sqlite:///somewhere/mlflow.db"
ADVISORY_NAME = f"{PROMOTION_LOCK_PREFIX}premium_30d"


def _lock_file():
    return workspace_dir() / "registry" / "premium_30d.lock"


@pytest.mark.postgres
@pytest.mark.parametrize("where", ["tracking store", "USAGECAST_LOCK_URL"])
def test_a_postgresql_store_or_lock_url_takes_the_advisory_lock(
    where, postgres_server, monkeypatch
):
    database = postgres_server.create_database("lock")
    tracking = database
    if where == "USAGECAST_LOCK_URL":
        monkeypatch.setenv(LOCK_URL_ENV, database)
        tracking = "http://127.0.0.1:5000"
    with promotion_lock("premium_30d", tracking):
        assert not advisory_lock_is_free(database, ADVISORY_NAME)
    assert advisory_lock_is_free(database, ADVISORY_NAME)
    assert not _lock_file().exists()


def test_other_stores_take_the_workspace_file_lock():
    with promotion_lock("premium_30d", SQLITE):
        assert _lock_file().exists()


def test_a_lock_url_that_is_not_postgresql_is_refused_without_its_password(monkeypatch):
    monkeypatch.setenv(LOCK_URL_ENV, "mysql://team:s3cret@db/locks")
    with pytest.raises(UsagecastError, match="not a PostgreSQL URL") as refused:
        lock_database(SQLITE)
    assert "s3cret" not in str(refused.value) and "team:***@db" in str(refused.value)
