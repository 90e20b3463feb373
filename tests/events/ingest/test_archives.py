"""A zip archive named in `files:` stands for its members: each is read as a file of its own,
named `archive.zip:member` in the store and in every message (events/ingest/archives.py)."""

from __future__ import annotations

import gzip
import zipfile
from io import BytesIO

import pytest

from events.ingest import ingest_dataset
from events.ingest.archives import archive_members, read_member
from events.ingest.readers import SourceFileError

HEADER = "uid,ts,page,length\n"
COLUMNS = {"user_id": "uid", "timestamp": "ts", "event_type": "page"}


def _zip(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip archive of the members (a name ending in / is a folder entry)."""
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _config(base_config, **source):
    config = base_config()
    config["events"][0].update(files="export.zip", **source)
    return config


def _refusal(dataset, base_config, store, archive: bytes, **source) -> str:
    path = dataset(files={"export.zip": archive}, config=_config(base_config, **source))
    with pytest.raises(SourceFileError) as error:
        ingest_dataset(path, store, progress=False)
    return str(error.value)


def test_members_are_read_as_files_with_their_names_and_line_numbers(
    dataset, base_config, store, query
):
    archive = _zip(
        {
            "export/": b"",
            "export/hour_0#0.csv.gz": gzip.compress(
                (HEADER + "1,2014-04-22 03:53,PLAY,1\n2,not a time,SKIP,2\n").encode(), mtime=0
            ),
            "export/hour_1#0.jsonl": b'{"uid": "2", "ts": "2014-04-23", "page": "Help"}\n'
            b'{"uid": "1", "ts": "2014-04-24", "page": "SKIP"}\n',
            "__MACOSX/export/._hour_0#0.csv.gz": b"Finder's resource fork",
            "export/.DS_Store": b"\0\0\0\1Bud1",
        }
    )
    path = dataset(files={"export.zip": archive}, config=_config(base_config))
    summary = ingest_dataset(path, store, progress=False)

    assert summary.tables["events"].read == 4
    assert query(store, "SELECT source_file, user_id FROM events ORDER BY event_time") == [
        ("export.zip:export/hour_0#0.csv.gz", "1"),
        ("export.zip:export/hour_1#0.jsonl", "1"),
    ]
    assert query(store, "SELECT source_file, source_row, reason FROM quarantine ORDER BY 1") == [
        ("export.zip:export/hour_0#0.csv.gz", 2, "unparseable_timestamp"),
        ("export.zip:export/hour_1#0.jsonl", 1, "dropped_event_type"),
    ]


def test_members_picks_the_files_a_source_reads(dataset, base_config, store, query):
    archive = _zip(
        {
            "events.csv": (HEADER + "1,2014-04-22,PLAY,1\n").encode(),
            "README.txt": b"exported by the admin console",
        }
    )
    path = dataset(files={"export.zip": archive}, config=_config(base_config, members="*.csv"))
    ingest_dataset(path, store, progress=False)
    assert query(store, "SELECT source_file FROM events") == [("export.zip:events.csv",)]


def test_a_glob_that_picks_no_member_lists_the_archives_files(dataset, base_config, store):
    archive = _zip({"events.csv": HEADER.encode(), "users/users.csv": b"id\n"})
    message = _refusal(dataset, base_config, store, archive, members="*.json.gz")
    assert message.endswith(
        "export.zip: no member matches `members: *.json.gz` (its files: events.csv, "
        "users/users.csv)"
    )


def test_a_member_of_unknown_format_asks_for_members_or_format(dataset, base_config, store):
    archive = _zip({"events.csv": HEADER.encode(), "README.md": b"notes"})
    message = _refusal(dataset, base_config, store, archive)
    assert "cannot tell the format of " in message and "export.zip:README.md" in message
    assert "`members:`" in message and "`format:`" in message


@pytest.mark.parametrize(
    ("archive", "problem"),
    [
        (_zip({"inner.csv.gz": _zip({"events.csv": b"uid\n"})}), "a zip archive inside a zip"),
        (_zip({"events.csv": b"uid\n"})[:30], "not a readable zip archive"),
        (  # a stored member's bytes changed after its checksum was written
            _zip(
                {"events.csv": (HEADER + "1,2014-04-22,PLAY,1\n").encode()}, zipfile.ZIP_STORED
            ).replace(b"PLAY", b"PLAZ"),
            "Bad CRC-32",
        ),
    ],
    ids=["zip in a zip", "cut off", "damaged member"],
)
def test_an_unreadable_archive_or_member_is_fatal_and_named(
    dataset, base_config, store, archive, problem
):
    message = _refusal(dataset, base_config, store, archive, format="csv")
    assert str(store.parents[1] / "data" / "export.zip") in message
    assert problem in message


def test_a_stored_member_reads_like_a_deflated_one(dataset, base_config, store, query):
    archive = _zip({"events.csv": (HEADER + "1,2014-04-22,PLAY,1\n").encode()}, zipfile.ZIP_STORED)
    path = dataset(files={"export.zip": archive}, config=_config(base_config))
    ingest_dataset(path, store, progress=False)
    assert query(store, "SELECT user_id, event_type FROM events") == [("1", "PLAY")]


def test_an_encrypted_member_is_refused_with_what_to_do(dataset, base_config, store):
    plain = _zip({"events.csv": (HEADER + "1,2014-04-22,PLAY,1\n").encode()})
    # Set the "encrypted" bit of the member's flags, in its local header (byte 6) and in
    # the central directory (byte 8 of its entry), as an encrypting tool does.
    central = plain.index(b"PK\x01\x02")
    flagged = bytearray(plain)
    flagged[6] |= 0x1
    flagged[central + 8] |= 0x1
    message = _refusal(dataset, base_config, store, bytes(flagged))
    assert "export.zip:events.csv: encrypted" in message and "password" in message


def test_members_on_a_plain_file_is_a_config_error(dataset, base_config, store):
    config = base_config()
    config["events"][0]["members"] = "*.csv"
    path = dataset(config=config)
    with pytest.raises(SourceFileError, match=r"events\[0\]\.members: .*not a zip archive"):
        ingest_dataset(path, store, progress=False)


def test_a_glob_of_archives_reads_the_members_of_each(dataset, base_config, store, query):
    march = _zip({"events.csv": (HEADER + "1,2014-04-22,PLAY,1\n").encode()})
    april = _zip({"events.csv": (HEADER + "2,2014-04-23,SKIP,2\n").encode()})
    config = base_config()
    config["events"][0]["files"] = "exports/*.zip"
    path = dataset(
        files={"exports/2014-03.zip": march, "exports/2014-04.zip": april}, config=config
    )
    ingest_dataset(path, store, progress=False)
    assert query(store, "SELECT source_file, user_id FROM events ORDER BY 1") == [
        ("exports/2014-03.zip:events.csv", "1"),
        ("exports/2014-04.zip:events.csv", "2"),
    ]


def test_an_archive_replaced_at_the_same_path_is_read_anew(tmp_path):
    path = tmp_path / "export.zip"
    path.write_bytes(_zip({"march.csv": b"uid\n1\n"}))
    assert (archive_members(path, None), read_member(path, "march.csv")) == (
        ["march.csv"],
        b"uid\n1\n",
    )
    path.write_bytes(_zip({"april.csv": b"uid\n22\n", "may.csv": b"uid\n3\n"}))
    assert archive_members(path, None) == ["april.csv", "may.csv"]
    assert read_member(path, "april.csv") == b"uid\n22\n"
