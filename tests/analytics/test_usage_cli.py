"""`usagecast analytics top-features|before-conversion --by ...` on a store without product
areas (a Segment-style export): event types ranked (by default too, noted), and an empty table
explained in one line."""

from __future__ import annotations

import pytest

from analytics import io, runs
from contracts.workspace import event_store_path
from usagecast_cli.main import main

from .conftest import at, write_store

# Segment-style events: no area column mapped, so every area is NULL.
USERS = [("u1", at(0), "ads"), ("u2", at(0), "seo"), ("u3", at(0), "ads")]
EVENTS = [
    ("u1", at(1), "page_viewed", None, None),
    ("u1", at(2), "product_added", None, None),
    ("u1", at(3), "order_completed", None, 30.0),
    ("u2", at(1), "page_viewed", None, None),
    ("u2", at(4), "page_viewed", None, None),
    ("u3", at(2), "page_viewed", None, None),
    ("u3", at(2), "product_added", None, None),
    ("u3", at(6), "order_completed", None, 12.0),
]

NO_AREA = (
    "no event in scope has a product area (the dataset config maps no area column, or every "
    "area is empty); rank event types with --by event_type"
)


BEFORE_BY_TYPE = [
    "analytics",
    "before-conversion",
    "--event",
    "order_completed",
    "--by",
    "event_type",
]


@pytest.fixture
def segment_store():
    event_store_path().parent.mkdir(parents=True, exist_ok=True)
    write_store(event_store_path(), USERS, EVENTS)


def _rows(printed: str) -> list[list[str]]:
    """The printed table's header and rows, split on blanks (the title line left out)."""
    return [line.split() for line in printed.splitlines()[1:]]


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["analytics", "top-features", "--by", "area"], "top-features"),
        (["analytics", "top-features", "--per-event-type", "--by", "area"], "top-features"),
        (
            ["analytics", "before-conversion", "--event", "order_completed", "--by", "area"],
            "before-conversion",
        ),
    ],
)
def test_ranking_areas_of_a_store_without_areas_says_so_in_one_line(
    segment_store, capsys, argv, command
):
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert captured.out == f"analytics {command}: {NO_AREA}\n" and captured.err == ""


CHOSEN_NOTE = (
    "note: no event in scope has a product area, so event types are ranked (--by event_type "
    "says so; --by area asks for areas)"
)


@pytest.mark.parametrize("by", [["--by", "event_type"], []])
def test_top_features_by_event_type_ranks_the_event_types(segment_store, capsys, by):
    assert main(["analytics", "top-features", *by]) == 0
    printed = capsys.readouterr().out
    assert _rows(printed.replace(CHOSEN_NOTE, "").strip()) == [
        ["event_type", "users", "events", "user_share", "rank"],
        ["page_viewed", "3", "4", "1", "1"],
        ["order_completed", "2", "2", "0.6667", "2"],
        ["product_added", "2", "2", "0.6667", "3"],
    ]
    assert (CHOSEN_NOTE in printed) == (not by)  # the default says what it chose


def test_the_default_ranks_event_types_before_a_conversion_and_over_periods(segment_store, capsys):
    assert main(["analytics", "before-conversion", "--event", "order_completed"]) == 0
    printed = capsys.readouterr().out
    assert printed.splitlines()[1].split() == [
        "event_type",
        "converters_using",
        "converter_share",
        "comparison_share",
        "lift",
    ]
    assert CHOSEN_NOTE in printed
    assert main(["analytics", "top-features", "--period", "day"]) == 0
    printed = capsys.readouterr().out
    assert "page_viewed" in printed and CHOSEN_NOTE in printed


def test_before_conversion_by_event_type_leaves_the_conversion_out(segment_store, capsys):
    # Converters u1 (day 3) and u3 (day 6) both viewed and added before. Day 3's group (all
    # three): viewed 3/3, added 2/3; day 6's (u2, u3): viewed 2/2, added 1/2. Added:
    # comparison (2/3 + 1/2) / 2 = 7/12, lift 12/7; viewed: 1 and 1.
    assert main(BEFORE_BY_TYPE) == 0
    assert _rows(capsys.readouterr().out) == [
        ["event_type", "converters_using", "converter_share", "comparison_share", "lift"],
        ["product_added", "2", "1", "0.5833", "1.714"],
        ["page_viewed", "2", "1", "1", "1"],
    ]


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (
            ["analytics", "top-features", "--by", "event_type", "--start", "2030-01-01"],
            "analytics top-features: no event in scope (the time range and segment leave none)",
        ),
        (
            ["analytics", "top-features", "--start", "2030-01-01"],
            "analytics top-features: no event in scope (the time range and segment leave none)",
        ),
        (
            ["analytics", "top-features", "--by", "event_type", "--area", "web"],
            "analytics top-features: no event in scope with an area starting with 'web'",
        ),
        (
            [*BEFORE_BY_TYPE, "--start", "2024-01-05", "--end", "2024-01-06"],
            "analytics before-conversion: no segment user's first order_completed falls in the "
            "time range; no converter to describe",
        ),
        (
            [*BEFORE_BY_TYPE, "--area", "web"],
            "analytics before-conversion: no event with an area starting with 'web' lies in the "
            "30 days before a converter's first order_completed, nor in a comparable "
            "non-converter's window",
        ),
        (
            ["analytics", "top-features", "--log", "--area", "web", "--by", "area"],
            f"analytics top-features: {NO_AREA}; no MLflow run logged",
        ),
        (
            ["analytics", "top-features", "--log", "--area", "web"],
            "analytics top-features: no event in scope with an area starting with 'web'; no "
            "MLflow run logged",
        ),
    ],
)
def test_an_empty_table_for_another_reason_says_which(segment_store, capsys, argv, line):
    assert main(argv) == 0
    assert capsys.readouterr().out == line + "\n"


def test_before_conversion_with_areas_but_no_use_in_the_windows_says_so(capsys):
    event_store_path().parent.mkdir(parents=True, exist_ok=True)
    events = [
        (*row[:3], "shop" if row[2] == "order_completed" else None, row[4]) for row in EVENTS
    ]
    write_store(event_store_path(), USERS, events)
    assert main(["analytics", "before-conversion", "--event", "order_completed"]) == 0
    assert capsys.readouterr().out == (
        "analytics before-conversion: no event with a product area lies in the 30 days before "
        "a converter's first order_completed, nor in a comparable non-converter's window\n"
    )


def test_areas_on_a_minority_of_the_events_are_ranked_with_a_note(capsys):
    """Only the orders carry an area (their plan): 2 of the 8 events."""
    event_store_path().parent.mkdir(parents=True, exist_ok=True)
    events = [
        (*row[:3], "shop" if row[2] == "order_completed" else None, row[4]) for row in EVENTS
    ]
    write_store(event_store_path(), USERS, events)
    assert main(["analytics", "top-features"]) == 0
    printed = capsys.readouterr().out
    assert _rows(printed)[1] == ["shop", "2", "2", "0.6667", "1"]
    assert printed.endswith(
        "note: product areas are set on 2 of the 8 events in scope (25.0%): the ranking speaks "
        "for those events only; --by event_type ranks the types of every event\n"
    )
    assert main(["analytics", "top-features", "--by", "event_type"]) == 0
    assert "note:" not in capsys.readouterr().out


def test_per_event_type_with_by_event_type_is_refused_in_one_line(segment_store, capsys):
    argv = ["analytics", "top-features", "--per-event-type", "--by", "event_type"]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == (
        "error: top-features: --per-event-type ranks product areas within each event type and "
        "cannot go with --by event_type, which ranks the event types themselves\n"
    )


@pytest.mark.parametrize("by", ["user_id", "item:"])
def test_by_takes_area_event_type_or_an_item_attribute_only(segment_store, capsys, by):
    with pytest.raises(SystemExit) as raised:
        main(["analytics", "top-features", "--by", by])
    assert raised.value.code == 2
    error = capsys.readouterr().err
    assert f"argument --by: invalid choice: {by!r}" in error and "item:ATTR" in error


def test_top_features_by_an_item_attribute_ranks_its_values(capsys):
    """A shop's orders by product type: the items' genre as of each order."""
    event_store_path().parent.mkdir(parents=True, exist_ok=True)
    kinds = ["a", "b", "b", "a", "c", None, "c", None]
    orders = [(*event, item) for event, item in zip(EVENTS, kinds, strict=True)]
    items = [("a", "mugs", None, None), ("b", "tea", None, None), ("c", "tea", None, None)]
    write_store(event_store_path(), USERS, orders, items=items)
    assert main(["analytics", "top-features", "--by", "item:genre"]) == 0
    assert _rows(capsys.readouterr().out) == [
        ["item_genre", "users", "events", "user_share", "rank"],
        ["tea", "3", "4", "1", "1"],
        ["mugs", "2", "2", "0.6667", "2"],
    ]
    assert main(["analytics", "top-features", "--by", "item:colour"]) == 2
    assert capsys.readouterr().err == (
        "error: by: item:colour is not a categorical attribute of the store's items "
        "(categorical item attributes: genre)\n"
    )


@pytest.mark.parametrize(
    ("argv", "title", "ylabel"),
    [
        (["analytics", "top-features", "--by", "event_type"], "Top event types", "event type"),
        (
            BEFORE_BY_TYPE,
            "Event types' lift before order_completed",
            "event type",
        ),
    ],
)
def test_the_logged_plot_and_parameters_name_the_grouping(
    segment_store, monkeypatch, capsys, argv, title, ylabel
):
    logged = {}

    def log_run(model, tables, figures, params):
        logged.update(tables=tables, figures=figures, params=params)
        return io.LoggedRun("run-1", "analytics")

    monkeypatch.setattr(io, "log_run", log_run)
    monkeypatch.setattr(runs, "describe_run_artifacts", lambda what, run_id: f"{what}: {run_id}")
    assert main([*argv, "--log"]) == 0
    (table,) = logged["tables"].values()
    (figure,) = logged["figures"].values()
    (axes,) = figure.axes
    assert table.columns[0] == "event_type" and logged["params"]["by"] == "event_type"
    assert axes.get_title() == title and axes.get_ylabel() == ylabel
    labels = [label.get_text() for label in axes.get_yticklabels()]
    assert labels == table["event_type"].tolist()
    assert "logged MLflow run run-1" in capsys.readouterr().out
