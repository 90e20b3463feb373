"""`usagecast dataset new`, `usagecast ingest DATASET.yaml` and `usagecast quality`."""

from __future__ import annotations

import argparse
from pathlib import Path


def _ingest(args: argparse.Namespace) -> int:
    from events.ingest import ingest_dataset

    summary = ingest_dataset(
        args.dataset,
        progress=not args.no_progress,
        allow_outside_files=args.allow_outside_files,
        allow_partial=args.allow_partial,
    )
    print(summary.describe())
    return 0


def _dataset_new(args: argparse.Namespace) -> int:
    from events.ingest.starter import write_starter

    out, starter = write_starter(args.paths, args.out, args.name, progress=not args.no_progress)
    print(f"wrote {out}, guessed from the files' columns and values:")
    print("\n".join(f"  {line}" for line in starter.mapped))
    if starter.checks:
        print("check:")
        print("\n".join(f"  {line}" for line in starter.checks))
    print(f"next: edit it if a guess is wrong, then\n  usagecast ingest {out}")
    return 0


def _quality(args: argparse.Namespace) -> int:
    from events.quality import latest_report_files, show_latest_report

    print(show_latest_report(), end="")
    print(latest_report_files().describe())
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `dataset new`, `ingest` and `quality` subcommands."""
    dataset = subparsers.add_parser(
        "dataset", help="write a starter dataset config from an export's files"
    )
    dataset_commands = dataset.add_subparsers(dest="dataset_command", required=True)
    new = dataset_commands.add_parser(
        "new",
        help="a dataset config guessed from the files' headers and values, to check and edit",
        description="Reads each export file's header and a sample of its values (csv, jsonl, "
        "json, parquet, xlsx, gzip'd or not, loose or in zip archives) and writes a dataset "
        "config: which file is the users table, which columns hold the user id, the device's "
        "anonymous id, time, event type and optional fields (by their names), encodings, "
        "delimiters and time formats. It prints what it guessed and what to check; it never "
        "overwrites a file.",
    )
    new.add_argument("paths", type=Path, nargs="+", help="export files, folders or zip archives")
    new.add_argument(
        "--out",
        type=Path,
        help="the config to write (default: dataset.yaml in the folder given, else beside the "
        "files); every file must lie under its folder",
    )
    new.add_argument("--name", help="the dataset's name (default: the config's folder name)")
    new.add_argument(
        "--no-progress", action="store_true", help="hide the bar of files sampled (shown from 50)"
    )
    new.set_defaults(handler=_dataset_new)
    ingest = subparsers.add_parser(
        "ingest",
        help="load a dataset (YAML config) into the workspace event store",
        description="Validate and load the files a dataset config names; bad rows go to the "
        "quarantine table with a reason. Exits 0 when rows were quarantined, unless a table "
        "kept fewer than rules.min_accepted_share of its rows (default 50%) or none: then "
        "exits 2 and keeps the previous store.",
    )
    ingest.add_argument("dataset", type=Path, help="dataset config YAML")
    ingest.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    ingest.add_argument(
        "--allow-outside-files",
        action="store_true",
        help="read `files:` that resolve outside the config's folder (refused by default)",
    )
    ingest.add_argument(
        "--allow-partial",
        action="store_true",
        help="replace the store even when a table kept fewer than rules.min_accepted_share "
        "of its rows",
    )
    ingest.set_defaults(handler=_ingest)
    quality = subparsers.add_parser(
        "quality",
        help="show the data-quality report of the latest ingest (Markdown; HTML with plots "
        "next to it)",
    )
    quality.set_defaults(handler=_quality)
