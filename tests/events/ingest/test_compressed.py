"""Gzip-compressed exports (.csv.gz, .jsonl.gz) and zip archives are read as they are, and
every message about a file names the user's file, never a scratch copy the ingest made of it."""

from __future__ import annotations

import gzip
import random
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from messy_exports import FORMATS, MessyDataset, stored_tables, write_messy_dataset

from events.ingest import ingest_dataset
from events.ingest.readers import SourceFileError


def _gzipped(data: bytes) -> bytes:
    """`data` gzip-compressed with a fixed header time, so the same bytes come out on every
    run and every pytest-xdist worker collects the same parameter ids."""
    return gzip.compress(data, mtime=0)


def _copy(
    dataset: MessyDataset, folder: Path, pack: Callable[[Path, dict], str | None]
) -> tuple[Path, dict[str, str]]:
    """The dataset with each data file packed by `pack(file, its source)`, which updates the
    source and returns the name the store will show for the file (None: left as it is);
    returns the new config and {shown name: original name}."""
    folder.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load(dataset.config.read_text(encoding="utf-8"))
    renamed = {}
    for source in [*config["events"], config["users"]]:
        original = dataset.config.parent / source["files"]
        shown = pack(original, source)
        if shown is not None:
            renamed[shown] = original.name
    path = folder / "dataset.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path, renamed


def _gzipped_copy(dataset: MessyDataset, folder: Path) -> tuple[Path, dict[str, str]]:
    """The dataset with every text file gzip-compressed under a `.gz` name."""

    def pack(original: Path, source: dict) -> str | None:
        if original.suffix == ".parquet":
            (folder / original.name).write_bytes(original.read_bytes())
            return None
        compressed = f"{original.name}.gz"
        (folder / compressed).write_bytes(_gzipped(original.read_bytes()))
        source["files"] = compressed
        return compressed

    return _copy(dataset, folder, pack)


def _zipped_copy(dataset: MessyDataset, folder: Path) -> tuple[Path, dict[str, str]]:
    """The dataset with every file a member of one deflated zip archive (in a folder of
    it), each source naming its member."""
    folder.mkdir(parents=True)
    with zipfile.ZipFile(folder / "export.zip", "w", zipfile.ZIP_DEFLATED) as archive:

        def pack(original: Path, source: dict) -> str:
            member = f"export/{original.name}"
            archive.writestr(member, original.read_bytes())
            source.update(files="export.zip", members=member)
            return f"export.zip:{member}"

        return _copy(dataset, folder, pack)


def _renamed(field, renamed: dict[str, str]):
    """A stored value with each compressed file's name (also inside a detail) replaced."""
    if not isinstance(field, str):
        return field
    for compressed, original in renamed.items():
        field = field.replace(compressed, original)
    return field


def _named_as(stored: dict[str, list[tuple]] | str, renamed: dict[str, str]):
    """The stored rows with each compressed file's name replaced by its original's; a refusal
    as the plain file's (an empty file's says it was empty "once decompressed")."""
    if isinstance(stored, str):
        return stored.replace(" once decompressed", "")
    return {
        table: [tuple(_renamed(field, renamed) for field in row) for row in rows]
        for table, rows in stored.items()
    }


@pytest.mark.slow
@pytest.mark.parametrize("packed_copy", [_gzipped_copy, _zipped_copy], ids=["gzip", "zip"])
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rng=st.randoms(use_true_random=False), events_format=st.sampled_from(FORMATS))
def test_packed_messy_exports_store_what_their_plain_files_store(
    packed_copy, rng: random.Random, events_format: str
):
    """Gzip-compressed files, and every file a member of one zip archive, store what the
    plain files store, file names aside."""
    with tempfile.TemporaryDirectory() as folder:
        dataset = write_messy_dataset(rng, Path(folder) / "plain", events_format)
        config, renamed = packed_copy(dataset, Path(folder) / "packed")
        plain = stored_tables(dataset.config, Path(folder) / "plain_store" / "events.duckdb")
        packed = stored_tables(config, Path(folder) / "packed_store" / "events.duckdb")
        assert _named_as(packed, renamed) == plain


def test_compressed_csv_and_jsonl_with_their_line_numbers(dataset, base_config, store, query):
    events = "uid,ts,page,length\n1,2014-04-22 03:53,PLAY,10\n2,not a time,SKIP,3\n"
    orders = (
        '{"u": "1", "t": "2014-04-23", "e": "SKIP"}\n'
        "\n"
        '{"u": "2", "t": "2014-04-24", "e": "Help"}\n'
    )
    users = "id,registration,city\n1,2014-01-02,Zürich\n2,2014-01-03,Besançon\n"
    config = base_config(
        events=[
            {
                "files": "events.csv.gz",
                "columns": {"user_id": "uid", "timestamp": "ts", "event_type": "page"},
            },
            {
                "files": "orders.jsonl.gz",
                "columns": {"user_id": "u", "timestamp": "t", "event_type": "e"},
            },
        ]
    )
    config["users"]["files"] = "users.csv.gz"
    config["users"]["encoding"] = "latin-1"
    path = dataset(
        files={
            "events.csv.gz": _gzipped(events.encode()),
            "orders.jsonl.gz": _gzipped(orders.encode()),
            "users.csv.gz": _gzipped(users.encode("latin-1")),
        },
        config=config,
    )
    summary = ingest_dataset(path, store, progress=False)

    assert summary.tables["events"].read == 4
    assert query(store, "SELECT user_id, event_type FROM events ORDER BY event_time") == [
        ("1", "PLAY"),
        ("1", "SKIP"),
    ]
    assert query(store, "SELECT city FROM users ORDER BY user_id") == [("Zürich",), ("Besançon",)]
    assert query(
        store, "SELECT source_file, source_row, reason FROM quarantine ORDER BY source_file"
    ) == [
        ("events.csv.gz", 2, "unparseable_timestamp"),
        ("orders.jsonl.gz", 2, "dropped_event_type"),
    ]


def test_a_file_of_several_gzip_members_is_read_whole(dataset, base_config, store, query):
    first = _gzipped(b"uid,ts,page,length\n1,2014-04-22,PLAY,1\n")
    second = _gzipped(b"2,2014-04-23,SKIP,2\n")
    config = base_config()
    config["events"][0]["files"] = "events.csv.gz"
    path = dataset(files={"events.csv.gz": first + second}, config=config)
    ingest_dataset(path, store, progress=False)
    assert query(store, "SELECT user_id FROM events ORDER BY user_id") == [("1",), ("2",)]


def _refusal(dataset, base_config, store, name: str, content: bytes, **source) -> str:
    config = base_config()
    config["events"][0].update(files=name, **source)
    path = dataset(files={name: content}, config=config)
    with pytest.raises(SourceFileError) as error:
        ingest_dataset(path, store, progress=False)
    return str(error.value)


def test_a_cut_off_gzip_file_is_fatal_and_named(dataset, base_config, store):
    whole = _gzipped(b"uid,ts,page,length\n" + b"1,2014-04-22,PLAY,1\n" * 1000)
    message = _refusal(dataset, base_config, store, "events.csv.gz", whole[: len(whole) // 2])
    assert message.startswith(str(store.parents[1] / "data" / "events.csv.gz") + ": ")
    assert "not a readable gzip file" in message and "cut off" in message


def test_an_empty_gzip_file_is_fatal(dataset, base_config, store):
    message = _refusal(dataset, base_config, store, "events.csv.gz", _gzipped(b""))
    assert message.endswith(
        "events.csv.gz: the file is empty once decompressed (not even a header)"
    )


def test_a_gz_name_without_a_known_format_asks_for_one(dataset, base_config, store):
    message = _refusal(dataset, base_config, store, "events.gz", _gzipped(b"uid\n"))
    assert "cannot tell the format of events.gz" in message and "`format:`" in message


@pytest.mark.parametrize(
    ("name", "content", "source", "problem"),
    [
        (  # transcoded to UTF-8 first
            "events.csv",
            "uid,ts,uid\n1,2014-04-22,1\n".encode("cp1252"),
            {"encoding": "cp1252"},
            "line 1: the header names column 'uid' more than once",
        ),
        (  # mixed line endings: normalised first
            "events.csv",
            b"uid,ts,uid\r\n1,2014-04-22,1\n",
            {},
            "line 1: the header names column 'uid' more than once",
        ),
        (
            "events.csv.gz",
            _gzipped(b"uid,ts,uid\n1,2014-04-22,1\n"),
            {},
            "line 1: the header names column 'uid' more than once",
        ),
        (
            "events.txt.gz",
            _gzipped(b"uid ts page length\n1 2014-04-22 PLAY\n"),
            {"format": "csv", "delimiter": "whitespace"},
            "line 2: 3 whitespace-separated fields, expected 4",
        ),
        (
            "events.csv.gz",
            _gzipped("uid,ts,page,length\n1,2014-04-22,PLAY,caf\xe9\n".encode("latin-1")),
            {"encoding": "utf-16"},
            "not readable as utf-16",
        ),
        (  # cut inside a character: the decoder fails only at the end
            "events.csv",
            "uid,ts,page,length\n".encode("utf-16-le") + b"1",
            {"encoding": "utf-16-le"},
            "not readable as utf-16-le near line 2: truncated data",
        ),
        (
            "events.jsonl.gz",
            _gzipped(b'{"uid": "1", "ts": "2014-04-22", "page": "PLAY"}\n{"uid": \n'),
            {},
            "cannot read as jsonl",
        ),
    ],
)
def test_messages_name_the_users_file_not_a_scratch_copy(
    dataset, base_config, store, name, content, source, problem
):
    message = _refusal(dataset, base_config, store, name, content, **source)
    assert message.startswith(str(store.parents[1] / "data" / name) + ": ")
    assert problem in message
    assert "usagecast-ingest" not in message and "gunzip_" not in message
