"""DIR/dataset.yaml follows the documented dataset-config schema and fits the files."""

from __future__ import annotations

import pytest
import yaml

from contracts.errors import UsagecastError
from events.ingest import read_config
from simulator import CITIES, load_simulation_config


def test_dataset_yaml_has_the_documented_keys(tiny_export):
    folder, _ = tiny_export
    document = yaml.safe_load((folder / "dataset.yaml").read_text(encoding="utf-8"))
    assert set(document) == {"name", "events", "users", "items", "rules"}
    assert {source["files"] for source in document["events"]} == {
        "events/*.csv",
        "purchases.jsonl",
        "logins.csv",
    }
    logins = next(s for s in document["events"] if s["files"] == "logins.csv")
    assert logins["event_type"] == "LOGIN"
    assert set(logins["columns"]) == {"user_id", "timestamp"}
    assert document["users"]["encoding"] == "latin-1"
    kinds = {name: spec["kind"] for name, spec in document["users"]["attributes"].items()}
    assert kinds["last_login"] == "snapshot" and kinds["city"] == "static"
    assert document["rules"]["event_types"]["rename"] == {"NextSong": "PLAY"}
    assert set(document["rules"]) == {
        "event_types",
        "sentinel_ids",
        "timestamp_range",
        "value_range",
    }


def test_dataset_yaml_is_accepted_by_the_ingest_config_parser(tiny_export):
    folder, _ = tiny_export
    config = read_config(folder / "dataset.yaml")
    assert config.name == "music_demo"


def test_users_file_is_latin1_with_non_ascii_cities(tiny_export):
    folder, _ = tiny_export
    raw = (folder / "users.csv").read_bytes()
    non_ascii = [city for city in CITIES if not city.isascii()]
    assert any(city.encode("latin-1") in raw for city in non_ascii)
    text = raw.decode("latin-1")
    assert text.splitlines()[0].startswith("id,registration,location,channel")


def test_simulation_config_is_found_again_from_the_dataset_yaml(tiny_export, tiny_config):
    folder, _ = tiny_export
    assert load_simulation_config(folder / "dataset.yaml") == tiny_config
    assert load_simulation_config(folder) == tiny_config


def test_a_folder_without_simulation_json_is_refused(tmp_path):
    with pytest.raises(UsagecastError, match=r"simulation\.json"):
        load_simulation_config(tmp_path)
