"""A wheel of usagecast, installed into a bare folder, builds a user's own spec from a
temporary project directory: nothing depends on the source tree's layout."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
# Every package of the project, as the import-direction rules list them.
PACKAGES = tuple(
    tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["root_packages"]
)


def _copy_project(target: Path) -> Path:
    """The files a wheel is built from (building in place would write build/ into the tree)."""
    target.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, target / name)
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, target / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    return target


def _build_wheel(source: Path, out: Path) -> Path:
    """usagecast's wheel from setuptools' own steps, zipped in the wheel format.

    build_py applies the package and package-data rules of pyproject.toml, egg_info writes
    the metadata. `pip wheel` would do the same, but setuptools before 70.1 (what `python -m
    venv` installs) needs the separate `wheel` package for it.
    """
    lib, egg = source / "build" / "lib", source / "build" / "egg"
    setup = [sys.executable, "-c", "from setuptools import setup; setup()", "-q"]
    subprocess.run([*setup, "build_py", "--build-lib", str(lib)], cwd=source, check=True)
    egg.mkdir()
    subprocess.run([*setup, "egg_info", "--egg-base", str(egg)], cwd=source, check=True)
    metadata = (egg / "usagecast.egg-info" / "PKG-INFO").read_text()
    version = next(line.split()[1] for line in metadata.splitlines() if line.startswith("Ver"))
    info = lib / f"usagecast-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(metadata)
    shutil.copy2(egg / "usagecast.egg-info" / "entry_points.txt", info / "entry_points.txt")
    (info / "WHEEL").write_text(
        "Wheel-Version: 1.0\nGenerator: usagecast-tests\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n"
    )
    out.mkdir()
    wheel = out / f"usagecast-{version}-py3-none-any.whl"
    record = []
    with zipfile.ZipFile(wheel, "w") as archive:
        for path in sorted(p for p in lib.rglob("*") if p.is_file()):
            name = path.relative_to(lib).as_posix()
            digest = base64.urlsafe_b64encode(hashlib.sha256(path.read_bytes()).digest())
            record.append(f"{name},sha256={digest.rstrip(b'=').decode()},{path.stat().st_size}")
            archive.write(path, name)
        archive.writestr(f"{info.name}/RECORD", "\n".join([*record, f"{info.name}/RECORD,,"]))
    return wheel


def _dataset(project: Path) -> Path:
    """Twelve users logging in (dates only) from January to July 2024; every third buys."""
    users = ["id,registered,channel"]
    events = ["uid,ts,what"]
    for k in range(12):
        users.append(f"{k},2023-12-{k + 1:02d} 09:{k:02d},{'web' if k % 2 else 'app'}")
        for day in range(k % 4, 200, 5):
            events.append(f"{k},{dt.date(2024, 1, 1) + dt.timedelta(days=day)},LOGIN")
        if k % 3 == 0:
            events.append(f"{k},2024-03-{k + 2:02d} 12:00,PURCHASE")
    (project / "users.csv").write_text("\n".join(users) + "\n")
    (project / "events.csv").write_text("\n".join(events) + "\n")
    config = {
        "name": "shop",
        "events": [
            {
                "files": "events.csv",
                "columns": {"user_id": "uid", "timestamp": "ts", "event_type": "what"},
            }
        ],
        "users": {
            "files": "users.csv",
            "columns": {"user_id": "id", "signup_time": "registered"},
            "attributes": {
                "channel": {"column": "channel", "kind": "static", "dtype": "categorical"}
            },
        },
    }
    path = project / "dataset.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.mark.slow
def test_an_installed_wheel_builds_a_project_spec_from_any_directory(tmp_path):
    source = _copy_project(tmp_path / "source")
    wheels, site, project = tmp_path / "wheels", tmp_path / "site", tmp_path / "project"
    wheel = _build_wheel(source, wheels)
    shipped = set(zipfile.ZipFile(wheel).namelist())
    assert {"features/sets/LOCK.json", "features/featureset/starter.yaml"} <= shipped
    assert "features/sets/premium_30d/v1.yaml" in shipped
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)], check=True)

    project.mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("USAGECAST_HOME", "USAGECAST_SPECS", "PYTHONPATH")
    }
    env["PYTHONPATH"] = str(site)  # dependencies come from this interpreter's environment

    def usagecast(*argv: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "usagecast_cli.main", *argv],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "next:" in usagecast("features", "new", "myspec")
    spec_file = project / "specs" / "myspec" / "v1.yaml"
    spec_file.write_text(spec_file.read_text().replace("my_dataset", "shop"))
    listing = usagecast("features", "list")
    assert f"myspec@v1  project  {spec_file}" in listing
    assert f"premium_30d@v1  shipped  {site / 'features' / 'sets'}" in listing
    usagecast("ingest", str(_dataset(project)))
    built = usagecast("features", "build", "myspec@v1")
    assert "myspec@v1  fingerprint " in built, built
    rows = list((project / ".usagecast" / "feature_sets" / "myspec" / "v1").glob("*/data.parquet"))
    assert len(rows) == 1
    # The Python API ships too and reads the same workspace and spec folder.
    code = "import usagecast; print(usagecast.__file__, len(usagecast.load('myspec@v1')))"
    api = subprocess.run(
        [sys.executable, "-c", code], cwd=project, env=env, capture_output=True, text=True
    )
    assert api.returncode == 0, api.stderr
    assert api.stdout.split() == [
        str(site / "usagecast" / "__init__.py"),
        str(len(pd.read_parquet(rows[0]))),
    ]
    usagecast("features", "release", "myspec@v1")
    assert "myspec@v1" in (project / "specs" / "LOCK.json").read_text()
    assert not (ROOT / "specs").exists()
