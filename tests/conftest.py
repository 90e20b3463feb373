"""Suite-wide safety net: no test writes to the developer's real workspace or MLflow store;
workspaces that several tests start from, built once per session; and the one PostgreSQL
server that the tests marked `postgres` share."""

from __future__ import annotations

import copy
import functools
import gc
import os
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from features.quiet import QUIET_ENV
from scripts.local_postgres import LocalPostgres, running_postgres, server_bin_dir
from usagecast_cli.main import COMMAND_GC_THRESHOLDS

os.environ.setdefault("MPLBACKEND", "Agg")
# The test processes import what a command imports, and more: they collect garbage as one does.
gc.set_threshold(*COMMAND_GC_THRESHOLDS)
# One OpenMP and one OpenBLAS thread in the test processes and every process they start (set
# before NumPy, scikit-learn or LightGBM is loaded): beside a second test process on two cores,
# their idle threads spin-wait for work and take CPU from the other tests. LightGBM's
# `num_threads`, where the code sets it, still wins.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# Every Spark JVM the tests start (in-process sessions, CLI processes, the standalone master and
# worker, the Connect server) reads the tests' own Spark configuration, not the developer's.
os.environ["SPARK_CONF_DIR"] = str(Path(__file__).parent / "spark_conf")

# No per-example deadline: on a shared or busy machine (or beside a second test process) an
# example's first run can take longer than its rerun, and Hypothesis fails such a test as flaky.
settings.register_profile("usagecast", deadline=None)
settings.load_profile("usagecast")


# The markers `make test-fast` leaves out: a test that carries one is expensive.
EXPENSIVE_MARKERS = ("slow", "spark", "spark_cluster", "serve", "postgres")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Put the files that hold an expensive test first, each file's tests kept in order.

    `make test` hands whole files to its xdist processes in this order (`--dist loadfile
    --no-loadscope-reorder`): the long files start while the other process is busy too, and the
    many short files fill both processes at the end, instead of one process running a long file
    alone while the other waits.
    """
    expensive = {
        item.path
        for item in items
        if any(item.get_closest_marker(name) for name in EXPENSIVE_MARKERS)
    }
    items.sort(key=lambda item: item.path not in expensive)


def _workspace_env(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the working directory, USAGECAST_HOME, MLflow's store and specs at `folder`."""
    monkeypatch.chdir(folder)
    monkeypatch.setenv("USAGECAST_HOME", str(folder / "usagecast_home"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{folder / 'mlflow.db'}")
    # Set (to its default) so that monkeypatch also undoes what `--specs` sets in main().
    monkeypatch.setenv("USAGECAST_SPECS", str(folder / "specs"))


@pytest.fixture(autouse=True)
def isolated_workspace(tmp_path, monkeypatch):
    """Point USAGECAST_HOME, MLflow, specs and the working directory at a fresh folder per test.

    The working directory matters too: MLflow puts a SQLite store's default artifacts in
    ./mlruns under it.
    """
    _workspace_env(tmp_path, monkeypatch)
    # `--spark-master` sets the engine's master for the process; a test starts without one.
    for name in ("USAGECAST_SPARK_MASTER", "USAGECAST_PARQUET_ROOT", "SPARK_REMOTE"):
        monkeypatch.delenv(name, raising=False)
    # main() sets quiet defaults with os.environ.setdefault; undo them after each test.
    for name in QUIET_ENV:
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "usagecast_home"


@pytest.fixture(scope="session")
def _mlflow_store_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from features.workspace import ensure_mlflow_store

    folder = tmp_path_factory.mktemp("mlflow_store")
    # MLflow records the Default experiment's artifact folder as ./mlruns/0 under the working
    # directory of the store's creation: this folder, not the checkout pytest started in.
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.chdir(folder)
        ensure_mlflow_store(f"sqlite:///{folder / 'mlflow.db'}")
    return folder


def _copy_mlflow_store(template: Path, folder: Path) -> str:
    """Copy the empty store in `template` to folder/mlflow.db, its Default experiment's
    artifacts in `folder`; return its tracking URI."""
    for name in ("mlflow.db", "mlflow.db.schema"):
        shutil.copy2(template / name, folder / name)
    _relocate(folder, str(template), str(folder))
    return f"sqlite:///{folder / 'mlflow.db'}"


@pytest.fixture
def mlflow_store(_mlflow_store_template: Path, tmp_path: Path) -> None:
    """This test's SQLite MLflow store (MLFLOW_TRACKING_URI) made before the test: a copy of an
    empty store at this MLflow's schema head, with its marker, created once per session rather
    than by each test's first MLflow call, its Default experiment's artifacts in this test's
    folder. Tests of a store's first use do not take it."""
    _copy_mlflow_store(_mlflow_store_template, tmp_path)


@pytest.fixture(scope="session")
def make_mlflow_store(_mlflow_store_template: Path) -> Callable[[Path], str]:
    """`make_mlflow_store(folder)`: a store at folder/mlflow.db made as `mlflow_store` makes a
    test's, for fixtures that outlive a test; returns its tracking URI."""
    return functools.partial(_copy_mlflow_store, _mlflow_store_template)


RELOCATED = ("mlflow.db", "MLmodel")


def _relocate(copy_root: Path, old: str, new: str) -> None:
    """Rewrite the absolute paths a copied workspace records (MLflow's run, model and
    experiment locations in mlflow.db and each model's MLmodel) from `old` to `new`."""
    database = copy_root / "mlflow.db"
    if database.exists():
        con = sqlite3.connect(database)
        try:
            tables = [
                row[0]
                for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            ]
            for table in tables:
                for column in con.execute(f'PRAGMA table_info("{table}")').fetchall():
                    if column[2].upper().startswith(("VARCHAR", "TEXT")):
                        con.execute(
                            f'UPDATE "{table}" SET "{column[1]}" = replace("{column[1]}", ?, ?) '
                            f'WHERE "{column[1]}" LIKE ?',
                            (old, new, f"%{old}%"),
                        )
            con.commit()
        finally:
            con.close()
    for mlmodel in copy_root.rglob("MLmodel"):
        mlmodel.write_text(mlmodel.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")


def _check_relocatable(folder: Path) -> None:
    """Refuse a workspace that records its own path anywhere _relocate does not rewrite."""
    needle = str(folder).encode()
    stuck = [
        path
        for path in folder.rglob("*")
        if path.is_file() and path.name not in RELOCATED and needle in path.read_bytes()
    ]
    if stuck:
        raise RuntimeError(f"built_once cannot copy {folder}: its path is recorded in {stuck}")


class BuiltOnce:
    """Workspaces (event store, feature sets, MLflow store) that tests start from, each built
    once per session in a folder of its own and copied into every test that asks for it."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._built: dict[str, Any] = {}

    def restore(self, key: str, build: Callable[[], Any], target: Path) -> Any:
        """Copy the workspace `build()` leaves (building it on first use) into `target`;
        return a copy of what `build()` returned."""
        folder = self._root / key
        if key not in self._built:
            folder.mkdir()
            with pytest.MonkeyPatch.context() as monkeypatch:
                _workspace_env(folder, monkeypatch)
                self._built[key] = build()
            _check_relocatable(folder)
        for entry in folder.iterdir():
            destination = target / entry.name
            if entry.is_dir():
                shutil.copytree(entry, destination, dirs_exist_ok=True)
            else:
                shutil.copy2(entry, destination)
        _relocate(target, str(folder), str(target))
        return copy.deepcopy(self._built[key])


@pytest.fixture(scope="session")
def _built_once_cache(tmp_path_factory: pytest.TempPathFactory) -> BuiltOnce:
    return BuiltOnce(tmp_path_factory.mktemp("built_once"))


@pytest.fixture
def built_once(_built_once_cache: BuiltOnce, tmp_path: Path) -> Callable[[str, Callable], Any]:
    """`built_once(key, build)`: this test's workspace (tmp_path) starts as the one `build()`
    leaves, built once per session under `key` (expensive set-ups such as a promoted model)
    and copied here, so a test that changes it changes only its own copy."""
    return lambda key, build: _built_once_cache.restore(key, build, tmp_path)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[LocalPostgres]:
    """A real PostgreSQL on 127.0.0.1 in a temporary folder for the whole session;
    `postgres_server.create_database()` gives each test fresh databases."""
    bin_dir = server_bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL server programs (initdb, pg_ctl) not found; .ci/run installs them")
    with running_postgres(bin_dir) as server:
        yield server


# How the in-process local session executes the tests' tiny data: one shuffle partition (one
# task per stage), expressions interpreted instead of generated as Java and compiled. Each
# picks how Spark executes a query, not what it means; the Spark Connect and standalone-cluster
# tests keep Spark's defaults (code generation), so Spark's usual execution is still compared
# with DuckDB's rows. Adaptive execution stays on, as in the product: without it, Spark's
# reuse of broadcast exchanges can return a related-features row twice
# (docs/decisions/point-in-time-engine.md).
TINY_DATA_SPARK = {
    "spark.sql.shuffle.partitions": "1",
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
}


@pytest.fixture(scope="session")
def spark_session():
    """One local Spark session for the whole test session (its startup is slow), started with
    TINY_DATA_SPARK, which later spark_session() calls (SparkEngine without a session) keep.
    A test that starts Spark that way asks for this fixture too, so that every in-process Spark
    test runs on the same settings whichever test comes first."""
    from features.engines.spark import DEFAULT_MASTER, spark_session

    session = spark_session(DEFAULT_MASTER, TINY_DATA_SPARK)
    session.sparkContext.setLogLevel("ERROR")
    return session
