"""Event types named by flags (or the demo's default) are checked against the store."""

from __future__ import annotations

import pytest

from analytics.event_types import DEMO_CONVERSION, resolve_event_types, store_event_types
from contracts.errors import UsagecastError
from contracts.workspace import event_store_path
from usagecast_cli.analytics_commands import DEMO_DEFAULT
from usagecast_cli.main import main

from .conftest import at, write_store

KNOWN = frozenset({"purchase", "cancel"})


@pytest.mark.parametrize(
    ("given", "default", "expected"),
    [
        (("purchase",), DEMO_CONVERSION, ("purchase",)),
        (("purchase", "cancel"), None, ("purchase", "cancel")),
        ((), "purchase", ("purchase",)),
    ],
)
def test_given_or_default_event_types_the_store_holds_are_used(given, default, expected):
    got = resolve_event_types(KNOWN, given, command="analytics x", flag="--e", default=default)
    assert got == expected


@pytest.mark.parametrize(
    ("known", "given", "default", "message"),
    [
        (
            KNOWN,
            ("BUY_PREMIUM",),
            None,
            "analytics x: event type 'BUY_PREMIUM' is not in the event store; "
            "known event types: cancel, purchase; pass --e with one of them",
        ),
        (
            KNOWN,
            ("purchase", "refund", "gift"),
            None,
            "analytics x: event types 'refund', 'gift' are not in the event store; "
            "known event types: cancel, purchase; pass --e with one of them",
        ),
        (
            KNOWN,
            (),
            DEMO_CONVERSION,
            "analytics x: no --e given and the event store holds no 'BUY_PREMIUM'; "
            "known event types: cancel, purchase; pass --e EVENT_TYPE",
        ),
        (
            KNOWN,
            (),
            None,
            "analytics x: no --e given; known event types: cancel, purchase; pass --e EVENT_TYPE",
        ),
        (
            frozenset(),
            ("purchase",),
            None,
            "analytics x: event type 'purchase' is not in the event store; "
            "known event types: (none); pass --e with one of them",
        ),
    ],
)
def test_event_types_the_store_does_not_hold_are_refused(known, given, default, message):
    with pytest.raises(UsagecastError) as raised:
        resolve_event_types(known, given, command="analytics x", flag="--e", default=default)
    assert str(raised.value) == message


def test_the_store_event_types_are_every_distinct_type(tiny_store):
    engine = tiny_store(
        [("a", at(0), "ads")],
        [
            ("a", at(1), "purchase", None, 3.0),
            ("a", at(2), "purchase", None, 4.0),
            ("a", at(3), "cancel", None, -3.0),
        ],
    )
    assert store_event_types(engine) == KNOWN


def test_the_cli_help_names_the_same_default():
    assert DEMO_DEFAULT == DEMO_CONVERSION


@pytest.fixture
def shop_store():
    """An invoice-like store: purchases and cancellations, no BUY_PREMIUM."""
    event_store_path().parent.mkdir(parents=True, exist_ok=True)
    write_store(
        event_store_path(),
        [("1", at(0), "UK"), ("2", at(0), "FR")],
        [
            ("1", at(1), "purchase", None, 10.0),
            ("1", at(40), "purchase", None, 5.0),
            ("2", at(2), "cancel", None, -4.0),
        ],
        attributes=("country",),
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["analytics", "channels", "--channel", "country"],
            "error: analytics channels: no --outcome given and the event store holds no "
            "'BUY_PREMIUM'; known event types: cancel, purchase; pass --outcome EVENT_TYPE\n",
        ),
        (
            ["analytics", "channels", "--channel", "country", "--outcome", "BUY_PREMIUM"],
            "error: analytics channels: event type 'BUY_PREMIUM' is not in the event store; "
            "known event types: cancel, purchase; pass --outcome with one of them\n",
        ),
        (
            ["analytics", "ltv", "--channel", "country"],
            "error: analytics ltv: no --purchase-event given and the event store holds no "
            "'BUY_PREMIUM'; known event types: cancel, purchase; pass --purchase-event "
            "EVENT_TYPE\n",
        ),
        (
            ["analytics", "retention", "--activity-event", "purchase", "--activity-event", "x"],
            "error: analytics retention: event type 'x' is not in the event store; "
            "known event types: cancel, purchase; pass --activity-event with one of them\n",
        ),
        (
            ["analytics", "before-conversion", "--event", "buy"],
            "error: analytics before-conversion: event type 'buy' is not in the event store; "
            "known event types: cancel, purchase; pass --event with one of them\n",
        ),
    ],
)
def test_the_cli_refuses_event_types_the_store_lacks(shop_store, capsys, argv, message):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err == message and captured.out == ""


def test_the_cli_uses_the_event_types_passed(shop_store, capsys):
    argv = ["analytics", "channels", "--channel", "country", "--outcome", "purchase"]
    assert main(argv) == 0
    table = capsys.readouterr().out.splitlines()
    header = table[1].split()
    uk = dict(zip(header, table[2].split(), strict=True))
    assert uk["channel"] == "UK" and uk["conversions"] == "1" and uk["revenue"] == "15"
    argv = ["analytics", "ltv", "--channel", "country", "--purchase-event", "purchase"]
    assert main(argv) == 0
    assert main(["analytics", "retention", "--activity-event", "purchase"]) == 0
    assert "* partial week" in capsys.readouterr().out


def test_ab_analyze_refuses_a_metric_event_the_store_lacks(shop_store, capsys):
    assert main(["ab", "assign", "--experiment", "x", "--split", "50/50"]) == 0
    capsys.readouterr()
    assert main(["ab", "analyze", "--experiment", "x", "--metric", "event_within BUY 30d"]) == 2
    assert capsys.readouterr().err == (
        "error: ab analyze: event type 'BUY' is not in the event store; "
        "known event types: cancel, purchase; pass --metric with one of them\n"
    )
