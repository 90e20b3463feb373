"""The feature-set store (the IO module): Parquet + manifest.json per build.

Layout: <workspace>/feature_sets/<name>/v<N>/<fingerprint>/{data.parquet, manifest.json},
plus <name>/v<N>/LATEST holding the fingerprint of the most recent build or reuse, which is
what `name@vN` loads. Scoring builds (unlabelled rows at one cutoff) lie apart, under
<name>/v<N>/scoring/<fingerprint>/: neither LATEST nor a listing of training builds sees them.
A build is written to a temporary folder and renamed into place, so a reader never sees half
a feature set.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from contracts.manifest import FeatureSetManifest
from contracts.refs import FeatureSetRef
from contracts.workspace import feature_sets_dir
from features.featureset.spec import SpecError

DATA_FILE = "data.parquet"
MANIFEST_FILE = "manifest.json"
LATEST_FILE = "LATEST"
SCORING_DIR = "scoring"


def version_dir(ref: FeatureSetRef, root: Path | None = None) -> Path:
    """<feature_sets>/<name>/v<N>."""
    return (root or feature_sets_dir()) / ref.name / f"v{ref.version}"


def build_dir(ref: FeatureSetRef, fingerprint: str, root: Path | None = None) -> Path:
    """Folder of one build."""
    return version_dir(ref, root) / fingerprint


def scoring_build_dir(ref: FeatureSetRef, fingerprint: str, root: Path | None = None) -> Path:
    """Folder of one scoring build, apart from the training builds."""
    return version_dir(ref, root) / SCORING_DIR / fingerprint


def read_manifest(path: Path) -> FeatureSetManifest | None:
    """The manifest of a build folder, or None when there is no complete build there."""
    manifest = path / MANIFEST_FILE
    if not manifest.exists() or not (path / DATA_FILE).exists():
        return None
    return FeatureSetManifest.from_json(manifest.read_text(), where=str(manifest))


def write_build(frame: pd.DataFrame, manifest: FeatureSetManifest, path: Path) -> Path:
    """Write data + manifest atomically into `path` (a build folder); return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".building-", dir=path.parent))
    try:
        frame.to_parquet(staging / DATA_FILE, index=False)
        (staging / MANIFEST_FILE).write_text(manifest.to_json())
        if path.exists():  # a forced rebuild: move the old build aside, then swap
            retired = Path(tempfile.mkdtemp(prefix=".retired-", dir=path.parent))
            os.replace(path, retired / path.name)
            os.replace(staging, path)
            shutil.rmtree(retired)
        else:
            os.replace(staging, path)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return path


def replace_manifest(manifest: FeatureSetManifest, path: Path) -> None:
    """Rewrite a build's manifest.json in place, atomically (its rows stay as they are)."""
    staging = path / f".{MANIFEST_FILE}.new"
    staging.write_text(manifest.to_json())
    os.replace(staging, path / MANIFEST_FILE)


def mark_latest(ref: FeatureSetRef, fingerprint: str, root: Path | None = None) -> None:
    """Record which build `name@vN` resolves to."""
    (version_dir(ref, root) / LATEST_FILE).write_text(fingerprint + "\n")


def resolve_build(
    ref: FeatureSetRef, fingerprint: str | None = None, root: Path | None = None
) -> Path:
    """The build folder for a ref: the given fingerprint, else the latest build."""
    if fingerprint is None:
        latest = version_dir(ref, root) / LATEST_FILE
        if not latest.exists():
            raise SpecError(
                f"{ref} has not been built in {version_dir(ref, root).parent}; run "
                f"`usagecast features build {ref}` first"
            )
        fingerprint = latest.read_text().strip()
    path = build_dir(ref, fingerprint, root)
    if read_manifest(path) is None:
        raise SpecError(f"{ref}: no complete build with fingerprint {fingerprint} at {path}")
    return path


def read_build(path: Path) -> tuple[pd.DataFrame, FeatureSetManifest]:
    """Rows and manifest of a build folder (the manifest knows its `path`, where it lies)."""
    manifest = read_manifest(path)
    if manifest is None:
        raise SpecError(f"{path}: not a complete feature-set build")
    return pd.read_parquet(path / DATA_FILE), manifest.located(str(path))


def list_builds(root: Path | None = None) -> list[dict]:
    """Every complete build under the store: ref, fingerprint, rows, built_at, path, latest."""
    base = root or feature_sets_dir()
    builds = []
    for manifest_path in sorted(base.glob(f"*/v*/*/{MANIFEST_FILE}")):
        manifest = read_manifest(manifest_path.parent)
        if manifest is None:
            continue
        latest = manifest_path.parent.parent / LATEST_FILE
        is_latest = latest.exists() and latest.read_text().strip() == manifest.fingerprint
        builds.append(
            {
                "ref": str(manifest.feature_set),
                "fingerprint": manifest.fingerprint,
                "rows": manifest.rows,
                "built_at": manifest.built_at,
                "path": str(manifest_path.parent),
                "latest": is_latest,
            }
        )
    return builds
