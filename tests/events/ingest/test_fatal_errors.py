"""Fatal config problems stop the ingest with one line naming file/column; store unchanged."""

from __future__ import annotations

import pytest

from contracts.errors import UsagecastError
from events.ingest import ConfigError, SourceFileError, ingest_dataset
from usagecast_cli.main import main

from .conftest import USERS_CSV


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
    files_before = sorted(p.relative_to(store.parent) for p in store.parent.rglob("*"))

    broken = dataset(files={"users_latin1.csv": LATIN1_USERS}, config=breaker(base_config()))
    with pytest.raises(error_type) as raised:
        ingest_dataset(broken, store, progress=False)

    message = str(raised.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message
    assert digest_of(store) == before
    # Nothing left behind: no scratch store, no half-written Parquet copy.
    assert sorted(p.relative_to(store.parent) for p in store.parent.rglob("*")) == files_before


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
    ingest_dataset(path, store, progress=False, allow_partial=True)
    assert query(store, "SELECT count(*) FROM quarantine") == [(1,)]  # "1,5" is not a number


SECRET = "root:x:0:0:SECRET-TOKEN:/root:/bin/bash"


@pytest.mark.parametrize("where", ["relative", "absolute", "symlink"])
def test_files_outside_the_config_folder_need_the_flag(
    dataset, base_config, store, tmp_path, capsys, where
):
    outside = tmp_path / "elsewhere" / "users.csv"
    outside.parent.mkdir()
    outside.write_text(USERS_CSV, encoding="utf-8")
    config = base_config()
    config["users"]["files"] = {
        "relative": "../elsewhere/users.csv",
        "absolute": str(outside),
        "symlink": "linked.csv",
    }[where]
    path = dataset(config=config)
    (path.parent / "linked.csv").symlink_to(outside)

    with pytest.raises(ConfigError) as raised:
        ingest_dataset(path, store, progress=False)
    message = str(raised.value)
    assert "users.files" in message and "outside the config's folder" in message
    assert "--allow-outside-files" in message and "\n" not in message
    assert not store.exists()

    args = ["ingest", str(path), "--no-progress"]
    assert main(args) == 2
    assert main([*args, "--allow-outside-files"]) == 0
    assert ingest_dataset(path, store, progress=False, allow_outside_files=True).dataset


@pytest.mark.parametrize(
    "content",
    [
        f"{SECRET}\nx\n",  # the header is the file's first line
        "uid,ts,page,length\n" + "1,2014-04-22,PLAY,1\n" * 3 + f"1,2014-04-22,PLAY,1,{SECRET}\n",
    ],
)
def test_a_fatal_error_never_prints_the_files_contents(dataset, store, capsys, content):
    path = dataset(files={"events.csv": content})
    assert main(["ingest", str(path), "--no-progress"]) == 2
    error = capsys.readouterr().err
    assert "events.csv" in error and error.count("\n") == 1
    assert "SECRET" not in error
