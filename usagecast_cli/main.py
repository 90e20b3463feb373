"""Entry point of the `usagecast` console script.

Each command module exposes `register(subparsers)`; it parses arguments and calls one library
function. Libraries are imported inside handlers so `usagecast --help` stays fast.

Exit codes, the same for every command (docs/reference/cli.md, "Exit codes"):
  0    done                          1    refused, or a check failed (e.g. promotion gate)
  2    bad input: a UsagecastError (one line on stderr, no stack trace) or bad arguments
  130  interrupted by Ctrl-C/SIGINT  143  terminated by SIGTERM (cleanup code ran first)
  141  stdout closed early (`usagecast ... | head`): the rest of the output is dropped quietly
Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import difflib
import gc
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from contracts.errors import UsagecastError
from features.errors import Interrupted
from features.quiet import quiet_defaults
from usagecast_cli import (
    analytics_commands,
    experiments_commands,
    features_commands,
    ingest_commands,
    monitor_commands,
    recommend_commands,
    registry_commands,
    serve_commands,
    server_commands,
    simulate_commands,
    whatif_commands,
)
from usagecast_cli.options import apply_engine_options, apply_specs_option

# Each helper module adds itself here, in the order `usagecast --help` lists them.
COMMAND_MODULES: tuple = (
    simulate_commands,
    ingest_commands,
    features_commands,
    experiments_commands,
    registry_commands,
    serve_commands,
    server_commands,
    analytics_commands,
    whatif_commands,
    monitor_commands,
    recommend_commands,
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, one subcommand group per module."""
    parser = argparse.ArgumentParser(
        prog="usagecast",
        description="Predict what a product's users will do next from what they already did.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(subparsers)
    for leaf in command_parsers(parser):
        leaf.set_defaults(command_parser=leaf)
    return parser


def command_parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """The parsers that end a command line (`tune`, `features build`, ...), depth first."""
    groups = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not groups:
        yield parser
    for group in groups:
        for child in dict.fromkeys(group.choices.values()):  # aliases share one parser
            yield from command_parsers(child)


def close_options(unknown: Sequence[str], parser: argparse.ArgumentParser) -> dict[str, str]:
    """For each unknown `--option` (or `--option=value`), the nearest option of the command."""
    known = [s for action in parser._actions for s in action.option_strings if s.startswith("--")]
    suggestions = {}
    for word in unknown:
        name = word.split("=", 1)[0]
        if name.startswith("--"):
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
            if close:
                suggestions[name] = close[0]
    return suggestions


def did_you_mean(unknown: Sequence[str], parser: argparse.ArgumentParser) -> str:
    """` (did you mean --trials?)`, one `X instead of Y` per option when several; or ''."""
    suggestions = close_options(unknown, parser)
    if not suggestions:
        return ""
    if len(suggestions) == 1:
        return f" (did you mean {next(iter(suggestions.values()))}?)"
    pairs = ", ".join(f"{right} instead of {wrong}" for wrong, right in suggestions.items())
    return f" (did you mean {pairs}?)"


def parse_command_line(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None
) -> argparse.Namespace:
    """Parse like argparse, but an unknown option names the command's nearest one."""
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        command = args.command_parser
        command.error(
            f"unrecognized arguments: {' '.join(unknown)}{did_you_mean(unknown, command)}"
        )
    return args


EXIT_BAD_INPUT = 2
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE  # what a shell reports for a writer killed by SIGPIPE


def interrupt_exit_code(error: KeyboardInterrupt) -> int:
    """128 + the signal that stopped the command: SIGINT (Ctrl-C) unless it says otherwise."""
    return 128 + (error.signum if isinstance(error, Interrupted) else signal.SIGINT)


def _raise_interrupted(signum: int, frame: object) -> None:
    raise Interrupted(signum)


@contextmanager
def _sigterm_raises() -> Iterator[None]:
    """SIGTERM raises Interrupted (like Ctrl-C) in the block, so `finally` clean-ups run."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _quiet_broken_pipe() -> int:
    """The reader of stdout went away: point stdout at devnull so the final flush at exit
    cannot fail again (the recipe of Python's `signal` docs) and exit without a message."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return EXIT_BROKEN_PIPE


def run_handler(
    handler: Callable[[argparse.Namespace], int | None], args: argparse.Namespace
) -> int:
    """Run one command and map how it ended to the exit-code table above."""
    try:
        with _sigterm_raises():
            code = int(handler(args) or 0)
            sys.stdout.flush()  # a closed pipe shows up here, inside the mapping
            return code
    except UsagecastError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt as error:
        code = interrupt_exit_code(error)
        print(f"stopped: {str(error) or 'received SIGINT'}", file=sys.stderr)
        return code
    except BrokenPipeError:
        return _quiet_broken_pipe()


# The cyclic garbage collector's generation thresholds for a command's process. A command
# imports MLflow, scikit-learn, LightGBM and pandas: about half a million objects that live as
# long as the process. With Python's default first threshold (700 allocations) the collector
# keeps walking them while they load, and each full collection walks all of them again; 10,000
# lets a command start without that and still collects cycles (docs/performance.md, "The
# garbage collector in a command's process").
COMMAND_GC_THRESHOLDS = (10_000, 10, 10)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, dispatch to the chosen handler, and map errors and signals to exit codes."""
    gc.set_threshold(*COMMAND_GC_THRESHOLDS)
    quiet_defaults()
    args = parse_command_line(build_parser(), argv)
    apply_specs_option(args)
    apply_engine_options(args)
    return run_handler(args.handler, args)


if __name__ == "__main__":
    sys.exit(main())
