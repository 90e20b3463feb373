"""Peak resident memory of the calling process, as the benchmarks' child processes report it."""

from __future__ import annotations

from pathlib import Path


def peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM), in MiB.

    getrusage's ru_maxrss would not do: Linux carries it over from the forked parent across
    exec, so a child would report the parent's peak (e.g. a benchmark that generated its data
    in-process) whenever that is higher than its own.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")
