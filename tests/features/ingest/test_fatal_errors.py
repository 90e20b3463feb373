"""Fatal config problems stop the ingest with one line naming file/column; store unchanged."""

from __future__ import annotations

import pytest

from features.errors import UsagecastError
from features.ingest import ConfigError, SourceFileError, ingest_dataset
from usagecast_cli.main import main


def _missing_file(config):
    config["users"]["files"] = "nobody.csv"
    return config


def _glob_matches_nothing(config):
    config["events"][0]["files"] = "exports/*.csv"
    return config


def _column_absent(config):
    config["events"][0]["columns"]["value"] = "duration_ms"
    return config


def _unknown_key(config):
    config["events"][0]["colums"] = {}
    return config


def _unknown_rule(config):
    config["rules"]["event_types"]["alowed"] = ["PLAY"]
    return config


def _bad_encoding(config):
    config["users"]["files"] = "users_latin1.csv"
    return config


def _undecodable_codec(config):
    config["users"]["files"] = "users_latin1.csv"
    config["users"]["encoding"] = "ascii"
    return config


FATAL = [
    (_missing_file, SourceFileError, ["nobody.csv", "users.files", "does not exist"]),
    (_glob_matches_nothing, SourceFileError, ["exports/*.csv", "no file matches"]),
    (_column_absent, SourceFileError, ["events.csv", "'duration_ms'", "events[0]"]),
    (_unknown_key, ConfigError, ["dataset.yaml", "events[0].colums", "allowed: files"]),
    (_unknown_rule, ConfigError, ["rules.event_types.alowed", "allowed: allowed, rename"]),
    (_bad_encoding, SourceFileError, ["users_latin1.csv", "utf-8"]),
    (_undecodable_codec, SourceFileError, ["users_latin1.csv", "ascii", "line 2"]),
]
LATIN1_USERS = "id,registration,city\n1,2014-01-02,Zürich\n".encode("latin-1")


@pytest.mark.parametrize(("breaker", "error_type", "fragments"), FATAL)
def test_fatal_error_names_file_and_leaves_store_unchanged(
    dataset, base_config, store, digest_of, breaker, error_type, fragments
):
    ingest_dataset(dataset(), store, progress=False)
    before = digest_of(store)

    broken = dataset(files={"users_latin1.csv": LATIN1_USERS}, config=breaker(base_config()))
    with pytest.raises(error_type) as raised:
        ingest_dataset(broken, store, progress=False)

    message = str(raised.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message
    assert digest_of(store) == before
    assert sorted(p.name for p in store.parent.iterdir()) == ["events.duckdb"]


def test_fatal_error_on_first_ingest_creates_no_store(dataset, base_config, store):
    with pytest.raises(SourceFileError):
        ingest_dataset(dataset(config=_column_absent(base_config())), store, progress=False)
    assert not store.exists()


def test_invalid_yaml_and_missing_config(tmp_path, store):
    bad = tmp_path / "bad.yaml"
    bad.write_text("events: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.yaml: not valid YAML"):
        ingest_dataset(bad, store, progress=False)
    with pytest.raises(ConfigError, match="does not exist"):
        ingest_dataset(tmp_path / "absent.yaml", store, progress=False)


def test_cli_prints_one_line_and_exits_2(dataset, base_config, capsys):
    code = main(["ingest", str(dataset(config=_column_absent(base_config()))), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "duration_ms" in err


def test_config_errors_are_usagecast_errors():
    assert issubclass(ConfigError, UsagecastError)
    assert issubclass(SourceFileError, UsagecastError)


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        (
            "uid,ts,page,length\n1,2014-04-22,PLAY,1\n" * 1 + "1,2014-04-22,PLAY,1,extra\n",
            ["events.csv", "cannot read as csv"],
        ),
        ("", ["events.csv", "empty"]),
        ("uid,ts,page,length,Ordinality\n1,2014-04-22,PLAY,1,7\n", ["events.csv", "ordinality"]),
    ],
)
def test_broken_files_are_fatal(dataset, store, content, fragments):
    with pytest.raises(SourceFileError) as raised:
        ingest_dataset(dataset(files={"events.csv": content}), store, progress=False)
    message = str(raised.value)
    assert "\n" not in message
    assert all(fragment in message for fragment in fragments)
    assert not store.exists()


def test_a_bad_line_deep_in_a_csv_is_named(dataset, store):
    good = "1,2014-04-22,PLAY,1\n" * 30_000  # past the sniffer's sample
    content = "uid,ts,page,length\n" + good + "1,2014-04-22,PLAY,1,extra\n" + good
    with pytest.raises(
        SourceFileError, match="line 30002: Expected Number of Columns: 4 Found: 5"
    ):
        ingest_dataset(dataset(files={"events.csv": content}), store, progress=False)


def test_semicolon_delimiter(dataset, base_config, store, query):
    config = base_config()
    config["events"][0]["delimiter"] = ";"
    path = dataset(
        files={"events.csv": "uid;ts;page;length\n1;2014-04-22;PLAY;1,5\n"}, config=config
    )
    ingest_dataset(path, store, progress=False)
    assert query(store, "SELECT count(*) FROM quarantine") == [(1,)]  # "1,5" is not a number
