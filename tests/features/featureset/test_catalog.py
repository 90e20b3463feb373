"""Where specs live: the project's folder first, the shipped examples second, clashes refused."""

from __future__ import annotations

import pytest
import yaml
from featureset_testlib import write_spec

from contracts.refs import InvalidRefError
from features.featureset.catalog import (
    SHIPPED_DIR,
    list_specs,
    load_spec,
    locate_spec,
    new_spec,
    project_specs_dir,
    release_spec,
)
from features.featureset.spec import SpecError, expand_features

OWN = """
name: mine
version: 1
dataset: test
cutoffs: {calendar: {start: 2024-02-01, end: 2024-03-01, every: month}}
label: {kind: churn, horizon_days: 30}
features:
  - {kind: count, event_types: [LOGIN], windows: [7]}
"""


def test_the_project_folder_is_specs_under_the_working_directory_unless_moved(
    tmp_path, monkeypatch
):
    monkeypatch.delenv("USAGECAST_SPECS")
    assert project_specs_dir() == tmp_path / "specs"
    write_spec(tmp_path / "specs", OWN)
    assert locate_spec("mine@v1").origin == "project"
    monkeypatch.setenv("USAGECAST_SPECS", str(tmp_path / "elsewhere"))
    assert project_specs_dir() == tmp_path / "elsewhere"
    with pytest.raises(SpecError, match=r"mine@v1: no spec at .*elsewhere/mine/v1\.yaml or "):
        locate_spec("mine@v1")


def test_project_specs_and_shipped_examples_resolve_each_where_they_are(sets_dir):
    write_spec(sets_dir, OWN)
    own, shipped = locate_spec("mine@v1", sets_dir), locate_spec("premium_30d@v1", sets_dir)
    assert (own.origin, own.path) == ("project", sets_dir / "mine" / "v1.yaml")
    assert (shipped.origin, shipped.folder) == ("shipped", SHIPPED_DIR)
    assert load_spec("mine@v1", sets_dir).name == "mine"
    origins = {str(entry.ref): entry.origin for entry in list_specs(sets_dir)}
    assert origins["mine@v1"] == "project" and origins["premium_30d@v1"] == "shipped"
    # A later version of a shipped name is a different NAME@vN: no clash.
    write_spec(sets_dir, OWN.replace("name: mine", "name: premium_30d").replace("1\n", "2\n", 1))
    assert locate_spec("premium_30d@v2", sets_dir).origin == "project"


def test_the_same_ref_in_both_folders_is_an_error_naming_both_files(sets_dir):
    write_spec(sets_dir, OWN.replace("name: mine", "name: premium_30d"))
    clash = r"premium_30d@v1 is defined twice: .*premium_30d/v1\.yaml \(project\) and .*sets/"
    for action in (load_spec, locate_spec, lambda _, d: list_specs(d)):
        with pytest.raises(SpecError, match=clash):
            action("premium_30d@v1", sets_dir)


def test_a_starter_spec_loads_and_is_never_written_over(sets_dir):
    path = new_spec("trial", sets_dir)
    assert path == sets_dir / "trial" / "v1.yaml"
    text = path.read_text()
    for topic in ("after_signup", "event_within", "item_mean", "not_converted", "actionable"):
        assert topic in text
    spec = load_spec("trial@v1", sets_dir)
    assert (spec.name, spec.version) == ("trial", 1)
    assert expand_features(spec) and spec.actionable
    path.write_text(text.replace("my_dataset", "shop"))
    with pytest.raises(SpecError, match=r"trial/v1\.yaml already exists \(project\)"):
        new_spec("trial", sets_dir)
    assert yaml.safe_load(path.read_text())["dataset"] == "shop"
    with pytest.raises(SpecError, match=r"premium_30d/v1\.yaml already exists \(shipped\)"):
        new_spec("premium_30d", sets_dir)
    with pytest.raises(InvalidRefError, match="is not a feature-set reference"):
        new_spec("2fast", sets_dir)


def test_releasing_locks_a_project_spec_but_never_a_shipped_one(sets_dir):
    path = write_spec(sets_dir, OWN)
    entry, digest = release_spec("mine@v1", sets_dir)
    assert entry.folder == sets_dir and (sets_dir / "LOCK.json").exists()
    assert len(digest) == 64
    path.write_text(OWN.replace("[7]", "[14]"))
    with pytest.raises(SpecError, match=r"released and locked in .*LOCK\.json"):
        load_spec("mine@v1", sets_dir)
    with pytest.raises(SpecError, match=r"premium_30d@v1 is a shipped example .*already locked"):
        release_spec("premium_30d@v1", sets_dir)


@pytest.mark.parametrize("dataset", ["shop", "shop: EU #1", 'say "hi"'])
def test_a_starter_takes_the_dataset_name_as_one_yaml_string(sets_dir, dataset):
    path = new_spec("trial", sets_dir, dataset=dataset)
    assert yaml.safe_load(path.read_text())["dataset"] == dataset
    assert load_spec("trial@v1", sets_dir).dataset == dataset
