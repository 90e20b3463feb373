"""Ingest many generated messy exports and count what happened (the full run of the fuzz test).

Each case writes a messy users.csv and one messy events file (csv, jsonl, parquet in turn; see
tests/events/ingest/messy_exports.py) and ingests them into a fresh store; a dataset that
ingested is then ingested again with the config `usagecast dataset new` drafts from its files.
Prints files generated, datasets ingested, refusals by kind, and failures (an accounting
invariant broken, a drafted config refused, or an exception other than a UsagecastError);
exits 1 if there is any failure.
Usage: .venv/bin/python scripts/fuzz_ingest.py [--files 1000] [--seed 0]
"""

from __future__ import annotations

import argparse
import collections
import random
import sys
import tempfile
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for folder in (REPO, REPO / "tests" / "events" / "ingest"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from messy_exports import FORMATS, check_ingest, check_starter, write_messy_dataset  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000, help="messy events files to ingest")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    ingested = 0
    refused: collections.Counter[str] = collections.Counter()
    not_drafted: collections.Counter[str] = collections.Counter()
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="fuzz-ingest-") as scratch:
        for case in range(args.files):
            rng = random.Random(f"{args.seed}-{case}")
            folder = Path(scratch) / f"case{case:05d}"
            dataset = write_messy_dataset(rng, folder / "data", FORMATS[case % len(FORMATS)])
            try:
                kind = check_ingest(dataset, folder / "store" / "events.duckdb")
                drafted = None if kind else check_starter(dataset, folder / "drafted.duckdb")
            except Exception:  # a crash or a broken invariant: what this script counts
                failures.append(f"case {case}: {traceback.format_exc(limit=2).splitlines()[-1]}")
                continue
            if kind is None:
                ingested += 1
            else:
                refused[kind] += 1
            if drafted is not None:
                not_drafted[drafted] += 1
    print(
        f"files generated: {2 * args.files} ({args.files} events files "
        f"in {', '.join(FORMATS)} + {args.files} users files), seed {args.seed}"
    )
    print(f"datasets ingested: {ingested}")
    print(f"datasets refused: {sum(refused.values())}")
    for kind, n in refused.most_common():
        print(f"  {n:5d}  {kind}")
    print(f"of those ingested, no config drafted by `dataset new`: {sum(not_drafted.values())}")
    for kind, n in not_drafted.most_common():
        print(f"  {n:5d}  {kind}")
    print(f"accounting failures / drafted configs refused / crashes: {len(failures)}")
    for line in failures[:20]:
        print(f"  {line}")
    print(f"seconds: {time.perf_counter() - started:.1f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
