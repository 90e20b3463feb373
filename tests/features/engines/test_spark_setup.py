"""Where the Spark engine runs and what it reads, refused before any JVM starts."""

from __future__ import annotations

import duckdb
import pytest

from events.store import INGEST_COLUMNS, INGESTS, write_parquet_copy
from features.engines import spark as spark_engine
from features.engines.spark import (
    DEFAULT_MASTER,
    MASTER_ENV,
    REMOTE_ENV,
    SparkEngine,
    SparkSetupError,
    spark_master,
    spark_session,
)
from usagecast_cli.main import main


@pytest.mark.parametrize(
    "url",
    [
        *("local", "local[1]", "local[*]", "local[4,2]"),
        *("spark://10.0.0.5:7077", "spark://a:1,b:2", "yarn", "k8s://https://k8s.example:6443"),
    ],
)
def test_master_urls_spark_accepts_are_kept(url):
    assert spark_master(url) == url


@pytest.mark.parametrize("url", ["spark://host", "sc://host:15002", "local[two]", "cluster"])
def test_other_master_urls_are_refused_with_the_forms_spark_accepts(url):
    with pytest.raises(SparkSetupError, match="spark://HOST:PORT, local\\[N\\]"):
        spark_master(url)


def test_the_master_comes_from_the_argument_then_the_setting_then_local(monkeypatch):
    assert spark_master() == DEFAULT_MASTER
    monkeypatch.setenv(MASTER_ENV, "spark://h:7077")
    assert spark_master() == "spark://h:7077"
    assert spark_master("local[1]") == "local[1]"


def test_spark_connect_takes_no_master_and_refuses_one(monkeypatch):
    monkeypatch.setenv(REMOTE_ENV, "sc://127.0.0.1:15002")
    assert spark_master() is None
    with pytest.raises(SparkSetupError, match="use one"):
        spark_master("spark://h:7077")


def test_spark_connect_without_its_client_says_which_extra_to_install(monkeypatch):
    """The dev install has the client, so one of its modules is made to be missing."""
    monkeypatch.setenv(REMOTE_ENV, "sc://127.0.0.1:15002")
    monkeypatch.setattr(spark_engine, "CONNECT_MODULES", ("grpc", "no_such_connect_module"))
    with pytest.raises(SparkSetupError, match=r"needs no_such_connect_module: .*spark-connect"):
        spark_session()


def _store_without_rows(path):
    con = duckdb.connect(str(path))
    columns = ", ".join(f"{name} {dtype}" for name, dtype in INGEST_COLUMNS.items())
    con.execute(f"CREATE TABLE {INGESTS} ({columns})")
    con.execute(f"INSERT INTO {INGESTS} (dataset_digest, finished_at) VALUES ('d' || 1, now())")
    con.execute("CREATE TABLE events AS SELECT 1 AS event_id")
    con.close()
    return path


def test_a_store_without_its_parquet_copy_asks_for_an_ingest(tmp_path):
    store = _store_without_rows(tmp_path / "events.duckdb")
    with pytest.raises(SparkSetupError, match=r"run `usagecast ingest DATASET\.yaml`"):
        SparkEngine(store)
    folder = write_parquet_copy(store, replace=False)
    assert [path.name for path in folder.iterdir()] == ["events.parquet"]


def test_spark_master_without_the_spark_engine_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["features", "build", "x@v1", "--spark-master", "spark://127.0.0.1:7077"])
    assert stopped.value.code == 2
    assert "--spark-master needs --engine spark" in capsys.readouterr().err
