"""Parsing the dataset YAML: defaults, and errors that name the key path and allowed keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from events.ingest import ConfigError, parse_config

PATH = Path("/data/dataset.yaml")


def _minimal(**extra) -> dict:
    return {
        "events": {
            "files": "e.csv",
            "columns": {"user_id": "u", "timestamp": "t", "event_type": "e"},
        },
        "users": {"files": "u.csv", "columns": {"user_id": "id", "signup_time": "s"}},
        **extra,
    }


def test_defaults():
    config = parse_config(_minimal(), PATH)
    assert config.name == "dataset"
    (events,) = config.events
    assert (events.encoding, events.delimiter, events.decimal, events.timestamp_formats) == (
        "utf-8",
        ",",
        ".",
        ("iso",),
    )
    assert config.items is None
    assert config.rules.allowed_event_types is None
    assert config.base_dir == Path("/data")


@pytest.mark.parametrize(
    ("mutate", "fragments"),
    [
        (lambda c: c.update(extra=1), ["`<top>.extra`", "allowed: name, events, users"]),
        (lambda c: c["events"]["columns"].update(colour="c"), ["events[0].columns.colour"]),
        (
            lambda c: c["events"]["columns"].pop("event_type"),
            ["events[0].columns.event_type", "required"],
        ),
        (lambda c: c["events"].update(encoding="klingon"), ["unknown text encoding"]),
        (lambda c: c["events"].update(timestamp_formats=["dd/mm"]), ["strptime pattern"]),
        (lambda c: c["events"].update(delimiter=";;"), ["one character"]),
        (lambda c: c["events"].update(event_type="LOGIN"), ["do not also map"]),
        (
            lambda c: c["users"].update(attributes={"x": {"column": "x", "kind": "static"}}),
            ["users.attributes.x.dtype", "required"],
        ),
        (
            lambda c: c["users"].update(
                attributes={"x": {"column": "x", "kind": "sometimes", "dtype": "numeric"}}
            ),
            ["allowed: static, snapshot"],
        ),
        (
            lambda c: c["users"].update(
                attributes={"reason": {"column": "r", "kind": "static", "dtype": "numeric"}}
            ),
            ["reserved"],
        ),
        (
            lambda c: c.update(rules={"timestamp_range": {"min": "soon"}}),
            ["rules.timestamp_range.min", "not an ISO date"],
        ),
        (
            lambda c: c.update(rules={"value_range": {"max": "big"}}),
            ["rules.value_range.max", "not a number"],
        ),
        (
            lambda c: c.update(rules={"sentinel_ids": "-1"}),
            ["rules.sentinel_ids", "list of strings"],
        ),
    ],
)
def test_errors_name_the_key_path(mutate, fragments):
    raw = _minimal()
    mutate(raw)
    with pytest.raises(ConfigError) as raised:
        parse_config(raw, PATH)
    message = str(raised.value)
    assert message.startswith(str(PATH))
    for fragment in fragments:
        assert fragment in message


def test_events_as_list_and_constant_type():
    raw = _minimal()
    raw["events"] = [
        raw["events"],
        {"files": "l.csv", "event_type": "LOGIN", "columns": {"user_id": "u", "timestamp": "t"}},
    ]
    config = parse_config(raw, PATH)
    assert [s.event_type for s in config.events] == [None, "LOGIN"]


def test_a_decimal_comma_per_source():
    raw = _minimal(items={"files": "i.csv", "columns": {"item_id": "i"}, "decimal": ","})
    raw["events"]["decimal"] = ","
    config = parse_config(raw, PATH)
    assert [s.decimal for s in (*config.events, config.users, config.items)] == [",", ".", ","]


def test_a_currency_symbol_per_source():
    raw = _minimal()
    raw["events"]["currency_symbol"] = "R$"
    config = parse_config(raw, PATH)
    assert (config.events[0].currency_symbol, config.users.currency_symbol) == ("R$", None)


@pytest.mark.parametrize("value", ["US 1", "-", "€€€€€€", 5, "'", "($)"])
def test_a_currency_symbol_that_could_be_part_of_a_number_is_refused(value):
    raw = _minimal()
    raw["events"]["currency_symbol"] = value
    with pytest.raises(ConfigError) as raised:
        parse_config(raw, PATH)
    assert str(raised.value) == (
        f"{PATH}: `events[0].currency_symbol` is {str(value)!r}; a symbol or code of 1-5 "
        "characters written beside the numbers, none of them a digit, sign, blank, quote or "
        "parenthesis ($, €, USD, kr.)"
    )


@pytest.mark.parametrize("style", ["parentheses", "trailing_minus"])
def test_negatives_written_another_way_per_source(style):
    raw = _minimal()
    raw["users"]["negatives"] = style
    config = parse_config(raw, PATH)
    assert (config.events[0].negatives, config.users.negatives) == ("minus", style)


@pytest.mark.parametrize("value", ["brackets", "(", None, ["parentheses"]])
def test_another_way_of_writing_negatives_is_refused(value):
    raw = _minimal()
    raw["events"]["negatives"] = value
    with pytest.raises(ConfigError) as raised:
        parse_config(raw, PATH)
    assert str(raised.value) == (
        f'{PATH}: `events[0].negatives` is {value!r}; one of "minus", "parentheses", '
        '"trailing_minus" (-49.00 always reads; parentheses: (49.00), trailing_minus: 49.00-)'
    )


@pytest.mark.parametrize(("value", "read"), [(True, True), (False, False), (None, None)])
def test_strip_leading_zeros_is_true_or_false(value, read):
    raw = _minimal()
    raw["rules"] = {} if value is None else {"strip_leading_zeros": value}
    assert parse_config(raw, PATH).rules.strip_leading_zeros is (read or False)


def test_strip_leading_zeros_of_another_kind_is_refused():
    raw = _minimal()
    raw["rules"] = {"strip_leading_zeros": "yes"}
    with pytest.raises(ConfigError) as raised:
        parse_config(raw, PATH)
    assert str(raised.value) == (
        f"{PATH}: `rules.strip_leading_zeros` must be true or false, got 'yes'"
    )


def test_texts_read_as_missing_per_source():
    raw = _minimal()
    raw["events"]["missing_texts"] = ["\\N", "NULL"]
    config = parse_config(raw, PATH)
    assert (config.events[0].missing_texts, config.users.missing_texts) == (("\\N", "NULL"), ())


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            ["NA", None],
            "`events[0].missing_texts[1]` is no text: YAML reads a bare null/Null/NULL/~ as no "
            'value; quote it ("NULL")',
        ),
        (" NA", "`events[0].missing_texts` must be a list of strings, got ' NA'"),
        (
            ["NA "],
            "`events[0].missing_texts[0]` is 'NA '; without blanks around it (fields are trimmed)",
        ),
        ([""], "`events[0].missing_texts[0]` must be a non-empty string, got ''"),
    ],
)
def test_a_missing_text_that_cannot_be_read_is_refused(value, message):
    raw = _minimal()
    raw["events"]["missing_texts"] = value
    with pytest.raises(ConfigError) as raised:
        parse_config(raw, PATH)
    assert str(raised.value) == f"{PATH}: {message}"


@pytest.mark.parametrize(("section", "value"), [("events", ";"), ("users", "comma"), ("users", 1)])
def test_another_decimal_separator_is_refused(section, value):
    raw = _minimal()
    raw[section]["decimal"] = value
    with pytest.raises(ConfigError) as raised:
        parse_config(raw, PATH)
    where = "events[0]" if section == "events" else section
    assert str(raised.value) == (
        f'{PATH}: `{where}.decimal` is {value!r}; allowed: "." or "," (the fraction '
        "separator, as in 4.50 or 4,50)"
    )
