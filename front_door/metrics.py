"""Request counters and a latency histogram, rendered in the Prometheus text format (0.0.4).

Written by hand (no client library): one lock, plain dicts, rendered on each GET /metrics.
"""

from __future__ import annotations

import bisect
import threading
from collections import Counter
from collections.abc import Iterable

# Upper bounds (seconds) of the latency buckets; +Inf is implied.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _labels(**labels: str) -> str:
    escaped = (
        f'{name}="{value.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for name, value in labels.items()
    )
    return "{" + ",".join(escaped) + "}"


class Metrics:
    """Counts of /invocations answers by status and variant, and their latency."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[tuple[str, str]] = Counter()
        self._buckets = [0] * (len(LATENCY_BUCKETS) + 1)
        self._sum = 0.0
        self._count = 0

    def observe(self, status: int, variant: str, seconds: float) -> None:
        """Record one answered request (`variant` is "none" when refused before routing)."""
        with self._lock:
            self._requests[(str(status), variant)] += 1
            self._buckets[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
            self._sum += seconds
            self._count += 1

    def render(self, gauges: Iterable[tuple[str, str, dict[str, str], float]] = ()) -> str:
        """The exposition text; `gauges` adds (name, help, labels, value) samples."""
        with self._lock:
            requests = sorted(self._requests.items())
            buckets, total, count = list(self._buckets), self._sum, self._count
        lines = [
            "# HELP usagecast_requests_total /invocations requests answered, by status and "
            "variant.",
            "# TYPE usagecast_requests_total counter",
            *(
                f"usagecast_requests_total{_labels(status=s, variant=v)} {n}"
                for (s, v), n in requests
            ),
            "# HELP usagecast_request_seconds Time to answer /invocations, from the first byte "
            "read to the response.",
            "# TYPE usagecast_request_seconds histogram",
        ]
        cumulative = 0
        for bound, n in zip((*map(repr, LATENCY_BUCKETS), "+Inf"), buckets, strict=True):
            cumulative += n
            lines.append(f"usagecast_request_seconds_bucket{_labels(le=bound)} {cumulative}")
        lines += [
            f"usagecast_request_seconds_sum {total!r}",
            f"usagecast_request_seconds_count {count}",
        ]
        seen: set[str] = set()
        for name, help_text, labels, value in gauges:
            if name not in seen:
                seen.add(name)
                lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
            lines.append(f"{name}{_labels(**labels) if labels else ''} {value!r}")
        return "\n".join(lines) + "\n"
