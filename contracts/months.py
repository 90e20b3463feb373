"""Calendar months written "YYYY-MM" (a report's event months) as consecutive integers, so
months can be counted and shifted."""

from __future__ import annotations


def month_index(month: str) -> int:
    """ "2024-03" -> 2024 * 12 + 2: consecutive months differ by one."""
    year, number = month.split("-")
    return int(year) * 12 + int(number) - 1


def month_text(index: int) -> str:
    """month_index's inverse: 24290 -> "2024-03"."""
    return f"{index // 12:04d}-{index % 12 + 1:02d}"
