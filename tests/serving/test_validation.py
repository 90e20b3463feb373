"""Request checks of the served model: one rule per param for every mode, and every bad row
refused with a one-line ServingInputError naming the column, row or param."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from serving.validation import ServingInputError, ServingParams, check_request, parse_params

GOOD = {"plays_30d": 20.0, "ads_30d": 3.0, "city": "lima"}


def test_params_become_the_whatif_goal_and_options():
    params = parse_params(
        {"mode": "whatif", "target": 0.6, "k": 2, "max_changes": 1, "budget_ms": 150}
    )
    goal, options = params.whatif_search()
    assert (goal.target, goal.max_cost, options.k, options.max_changes) == (0.6, None, 2, 1)
    assert (options.time_budget_ms, params.seed) == (150.0, 0)


def test_one_default_k_for_every_mode():
    for mode in ("predict", "explain", "whatif"):
        assert parse_params({"mode": mode}).k == ServingParams().k
    assert parse_params({"mode": "whatif"}).whatif_search()[1].k == ServingParams().k


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"target": 0}, "param 'target': must be within (0, 1)"),
        ({"target": 1.0}, "param 'target': must be within (0, 1)"),
        ({"target": math.nan}, "param 'target': must be a finite number"),
        ({"target": math.inf}, "param 'target': must be a finite number"),
        ({"target": "0.5"}, "param 'target': must be a finite number"),
        ({"target": 10**400}, "param 'target': must be a finite number, got 1000"),
        ({"max_cost": -1}, "param 'max_cost': must be >= 0"),
        ({"max_cost": math.nan}, "param 'max_cost': must be a finite number or null"),
        ({"max_cost": True}, "param 'max_cost'"),
        ({"mode": "whatif", "k": 21}, "param 'k': must be within [1, 20]"),
        ({"k": 0}, "param 'k': must be within [1, "),
        ({"k": None}, "param 'k': must be an integer, got None"),
        ({"k": 10**4000}, "param 'k': must be within [1, 2147483647], got 1000"),
        ({"budget_ms": 0}, "param 'budget_ms'"),
        ({"seed": -1}, "param 'seed'"),
        ({"mode": None}, "param 'mode'"),
        ({"topk": 3}, "unknown params ['topk']"),
    ],
)
def test_bad_params_name_the_param(params, fragment):
    with pytest.raises(ServingInputError) as error:
        parse_params(params)
    assert fragment in error.value.message
    assert error.value.error_code == "INVALID_PARAMETER_VALUE"


def test_the_same_k_rule_is_not_applied_to_explain():
    assert parse_params({"mode": "explain", "k": 50}).k == 50


def _refusal(frame: pd.DataFrame, tiny_model) -> str:
    with pytest.raises(ServingInputError) as error:
        check_request(frame, tiny_model.metadata)
    message = error.value.message
    assert "\n" not in message and len(message) < 400, message
    return message


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (10**400, "column 'ads_30d', row 1: number 1000"),
        (-(10**309), "outside the float range"),
        ("x" * 100_000, "numeric feature got 'xxx"),
        ([[[[[1]]]]], "numeric feature got [[[...]]]"),
        ({"a": 1}, "numeric feature got {'a': 1}"),
    ],
)
def test_values_out_of_reach_are_one_line_refusals(tiny_model, value, fragment):
    frame = pd.DataFrame([GOOD, {**GOOD, "ads_30d": value}])
    assert fragment in _refusal(frame, tiny_model)


def test_duplicate_columns_are_refused(tiny_model):
    frame = pd.DataFrame(
        [[20.0, 3.0, 4.0, "lima"]], columns=["plays_30d", "ads_30d", "ads_30d", "city"]
    )
    assert "columns ['ads_30d'] are sent more than once" in _refusal(frame, tiny_model)


@pytest.mark.parametrize("name", [0, None, 1.5])
def test_column_names_must_be_strings(tiny_model, name):
    frame = pd.DataFrame([[20.0, 3.0, "lima", 1]], columns=["plays_30d", "ads_30d", "city", name])
    assert "column names must be strings" in _refusal(frame, tiny_model)


def test_a_huge_unknown_column_name_is_shortened(tiny_model):
    frame = pd.DataFrame([{**GOOD, "y" * 50_000: 1}])
    assert "unknown columns ['yyy" in _refusal(frame, tiny_model)


def test_a_huge_cutoff_string_is_shortened(tiny_model):
    frame = pd.DataFrame([{**GOOD, "cutoff": "2" * 50_000}])
    assert "column 'cutoff', row 0" in _refusal(frame, tiny_model)
