"""Items `fill_down`: a product's fields, written on its first row only, read for each of its
rows; checked against a plain-Python reading of the file, row by row."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tiny_datasets import EVENTS_CSV, USERS_CSV, make_config, rows, write_dataset

from events.ingest import ingest_dataset

# (handle or "" for none, vendor or "" for blank, price or "" for blank); the sku is the row's.
ROW = st.tuples(
    st.sampled_from(["mug", "tea", ""]),
    st.sampled_from(["Acme", "Leafco", ""]),
    st.sampled_from(["3", ""]),
)


def expected_items(drawn: list[tuple[str, str, str]]) -> list[tuple]:
    """(sku, vendor, price) as fill_down reads the file: a blank vendor takes the latest one
    above it with the same handle (none without a handle); the price, not listed, never."""
    latest: dict[str, str] = {}
    items = []
    for number, (handle, vendor, price) in enumerate(drawn):
        if handle and vendor:
            latest[handle] = vendor
        filled = vendor or (latest.get(handle) if handle else None)
        items.append((f"s{number:02d}", filled or None, float(price) if price else None))
    return sorted(items)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ROW, min_size=1, max_size=12))
def test_fill_down_reads_each_blank_listed_attribute_from_the_latest_row_of_its_group(drawn):
    lines = "".join(f"{h},s{n:02d},{v},{p}\n" for n, (h, v, p) in enumerate(drawn))
    config = make_config(
        items={
            "files": "items.csv",
            "columns": {"item_id": "sku"},
            "fill_down": {"by": "handle", "attributes": ["vendor"]},
            "attributes": {
                "vendor": {"column": "vendor", "dtype": "categorical"},
                "price": {"column": "price", "dtype": "numeric"},
            },
        }
    )
    files = {
        "users.csv": USERS_CSV,
        "events.csv": EVENTS_CSV,
        "items.csv": "handle,sku,vendor,price\n" + lines,
    }
    with tempfile.TemporaryDirectory() as folder:
        path = write_dataset(Path(folder) / "data", files, config)
        store = Path(folder) / "store" / "events.duckdb"
        summary = ingest_dataset(path, store, progress=False)
        stored = rows(store, "SELECT item_id, vendor, price FROM items ORDER BY item_id")
    assert summary.tables["items"].accepted == len(drawn)
    assert stored == expected_items(drawn)
