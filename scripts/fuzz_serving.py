"""Send many generated valid and invalid requests to a served model and count what came back.

The grammar (tests/serving/fuzz_requests.py) mixes valid predict/explain/whatif requests with
invalid ones (wrong types, huge numbers, non-finite numbers, duplicate or missing columns,
missing keys, unknown or bad params, missing Content-Type, deep nesting, big bodies). Prints
the 5xx answers, bodies with a stack trace or file path, silent acceptances (200 to a request
the contract refuses), valid requests refused, and /ping failures between batches; exits 1 if
there is any. Against stock `mlflow models serve`, flaws the model cannot see (the server
answers them, or hides them, before the model runs) are printed apart and do not fail the run.

Usage:
    .venv/bin/python scripts/fuzz_serving.py --start stock [--requests 10000] [--seed 0]
    .venv/bin/python scripts/fuzz_serving.py --start front      # `usagecast serve`, if present
    .venv/bin/python scripts/fuzz_serving.py --url http://127.0.0.1:5001 --kind front
With --url the served model must be the tiny test model (tests/serving/conftest.py); the
grammar is built from its features.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for folder in (REPO, REPO / "tests" / "serving"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from conftest import make_tiny_model  # noqa: E402
from fuzz_requests import Case, Grammar, Tally, run  # noqa: E402

from serving.local_server import SERVER_KINDS, FrontDoorUnavailable, running  # noqa: E402


def fuzz(base: str, requests: int, seed: int, stock: bool) -> Tally:
    """Generate `requests` cases from `seed` and send them to `base`."""
    grammar = Grammar(make_tiny_model().metadata, random.Random(seed), whatif=True)

    def cases() -> Iterator[Case]:
        for i in range(requests):
            if i and i % 1000 == 0:
                print(f"  {i} sent", flush=True)
            yield grammar.case()

    return run(base, cases(), stock=stock)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", help="base URL of a running server serving the tiny model")
    target.add_argument("--start", choices=SERVER_KINDS, help="start this server kind itself")
    parser.add_argument(
        "--kind",
        choices=SERVER_KINDS,
        help="what --url is (default stock); stock counts flaws out of the model's sight apart",
    )
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    kind = args.start or args.kind or "stock"
    started = time.perf_counter()
    print(f"fuzzing {kind} serving: {args.requests} requests, seed {args.seed}", flush=True)
    if args.url:
        tally = fuzz(args.url.rstrip("/"), args.requests, args.seed, kind == "stock")
    else:
        try:
            tally = _fuzz_started(kind, args.requests, args.seed)
        except FrontDoorUnavailable as error:
            print(f"SKIPPED: {error}")
            return 0
    for line in tally.report():
        print(line)
    print(f"seconds: {time.perf_counter() - started:.1f}")
    return 1 if tally.failures else 0


def _fuzz_started(kind: str, requests: int, seed: int) -> Tally:
    """Log the tiny model in a scratch MLflow store, start `kind` on it, and fuzz it."""
    import mlflow

    from serving import log_serving_model

    model = make_tiny_model()
    with tempfile.TemporaryDirectory(prefix="fuzz-serving-") as scratch:
        root = Path(scratch)
        env = {
            "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
            "USAGECAST_HOME": str(root / "home"),
        }
        os.environ["MLFLOW_TRACKING_URI"] = env["MLFLOW_TRACKING_URI"]
        os.chdir(root)  # the SQLite store's default artifact root is ./mlruns
        with mlflow.start_run():
            info = log_serving_model(model.model, model.metadata, model.rows)
        with running(kind, info.model_uri, "fuzz", root / "server.log", env) as base:
            return fuzz(base, requests, seed, kind == "stock")


if __name__ == "__main__":
    sys.exit(main())
