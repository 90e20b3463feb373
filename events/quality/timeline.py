"""Event months far from all the others: a device clock set years ahead, an epoch of 0 read
as 1970. A few such events move the end (or start) of the data, so every cutoff near the real
end reads as fully observed and its labels as negative, and `features new` proposes cutoffs
over years without events. The quality lines name them with the rule that quarantines them.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.months import month_index, month_text

# Months without events that separate a block of months from the next one.
GAP_MONTHS = 3
# The largest share of all events a block may hold to be named as stray.
STRAY_SHARE = 0.01


@dataclass(frozen=True)
class MonthBlock:
    """Consecutive event months ("YYYY-MM", fewer than GAP_MONTHS empty months apart)."""

    first: str
    last: str
    events: int


@dataclass(frozen=True)
class Timeline:
    """The block holding most events and the small blocks far from it."""

    main: MonthBlock
    strays: tuple[MonthBlock, ...]


def month_blocks(coverage: list[dict]) -> list[MonthBlock]:
    """The report's `timestamp_coverage` ({month, events}, ascending) as blocks."""
    blocks: list[MonthBlock] = []
    for row in coverage:
        month, events = row["month"], row["events"]
        if blocks and month_index(month) - month_index(blocks[-1].last) <= GAP_MONTHS:
            last = blocks[-1]
            blocks[-1] = MonthBlock(last.first, month, last.events + events)
        else:
            blocks.append(MonthBlock(month, month, events))
    return blocks


def timeline(coverage: list[dict]) -> Timeline | None:
    """The main block and the stray ones (each at most STRAY_SHARE of the events); None
    without events."""
    blocks = month_blocks(coverage)
    if not blocks:
        return None
    total = sum(block.events for block in blocks)
    main = max(blocks, key=lambda block: block.events)
    strays = tuple(b for b in blocks if b is not main and b.events <= STRAY_SHARE * total)
    return Timeline(main, strays)


def stray_lines(coverage: list[dict]) -> list[str]:
    """Quality lines naming each stray block and the `rules.timestamp_range` that keeps only
    the main block; none when there are no strays."""
    found = timeline(coverage)
    if found is None or not found.strays:
        return []
    main = found.main
    lines = []
    for stray in found.strays:
        after = month_index(stray.first) > month_index(main.last)
        months = (
            month_index(stray.first) - month_index(main.last)
            if after
            else month_index(main.first) - month_index(stray.last)
        )
        span = stray.first if stray.first == stray.last else f"{stray.first} .. {stray.last}"
        lines.append(
            f"event times: {stray.events:,} event(s) in {span}, {months} months "
            f"{'after' if after else 'before'} the other events ({main.first} .. {main.last}): "
            + (
                "a device clock set ahead? They move the data's end, so the labels of cutoffs "
                "near the real end read as observed"
                if after
                else "a zero epoch or a device clock? They move the data's start"
            )
        )
    end = month_text(month_index(main.last) + 1)
    lines.append(
        "to quarantine them, in the dataset config: rules: {timestamp_range: "
        f'{{min: "{main.first}-01", max: "{end}-01"}}}}'
    )
    return lines


def main_months(coverage: list[dict]) -> tuple[str, ...]:
    """The months of the main block that hold events (all months when there are no
    strays)."""
    found = timeline(coverage)
    if found is None:
        return ()
    first, last = month_index(found.main.first), month_index(found.main.last)
    return tuple(row["month"] for row in coverage if first <= month_index(row["month"]) <= last)
