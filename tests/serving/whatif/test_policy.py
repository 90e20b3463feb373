"""Lever changes over a segment: parsing, constraints, and the bootstrap interval."""

from __future__ import annotations

import numpy as np
import pytest

from serving.whatif import (
    CAUSAL_NOTE,
    ActionSpaceError,
    apply_change,
    parse_change,
    simulate_policy,
)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("9lives = 3", "expected a feature name"),
        ("count_ad_30d ** 2", r"expected an operator .* after 'count_ad_30d', got '\*\* 2'"),
        ("count_ad_30d *= half", "value 'half' is not a number literal"),
        ("count_ad_30d *= 1; import os", "is not a number literal"),
        ("count_ad_30d /= 0", "division by zero"),
        ("count_ad_30d = nan", "value 'nan' is not a number literal"),
    ],
)
def test_bad_expressions_name_the_bad_part(expression, message):
    with pytest.raises(ActionSpaceError, match=message):
        parse_change(expression)


def test_parse_accepts_each_operator():
    parsed = [parse_change(f"x {op} -1.5e1") for op in ("=", "+=", "-=", "*=", "/=")]
    assert [p.operator for p in parsed] == ["=", "+=", "-=", "*=", "/="]
    assert {p.value for p in parsed} == {-15.0}
    assert parse_change("  x*=2 ").feature == "x"


def test_halving_ads_keeps_couplings_integers_and_ratios(product_data, product_space):
    rows, _ = product_data
    after, moved = apply_change(rows[:200], product_space, parse_change("count_ad_30d *= 0.5"))
    before = rows[:200]
    assert (after[:, 1] == before[:, 1] - np.trunc(before[:, 1] * 0.5)).all()
    assert (after[:, 1] == np.round(after[:, 1])).all()
    assert (after[:, 0] <= after[:, 1]).all()
    assert (after[before[:, 0] > after[:, 1], 0] == after[before[:, 0] > after[:, 1], 1]).all()
    assert np.allclose(after[moved, 3], after[moved, 1] / after[moved, 2])
    assert (after[:, [2, 4]] == before[:, [2, 4]]).all()
    assert moved.sum() == (before[:, 1] >= 2).sum()


def test_direction_and_actionability_are_respected(product_data, product_space):
    rows, _ = product_data
    after, moved = apply_change(rows[:50], product_space, parse_change("count_events_30d -= 5"))
    assert not moved.any() and (after == rows[:50]).all()
    with pytest.raises(
        ActionSpaceError, match=r"'tenure_days' is not actionable.*add the lever there"
    ):
        apply_change(rows[:5], product_space, parse_change("tenure_days += 1"))


def test_policy_effect_interval_and_determinism(product_data, product_space):
    rows, booster = product_data
    segment = rows[:400]
    result = simulate_policy(segment, product_space, booster.predict, "count_ad_30d *= 0.5", 4)
    again = simulate_policy(segment, product_space, booster.predict, "count_ad_30d *= 0.5", 4)
    after, _ = apply_change(segment, product_space, result.change)
    expected = float((booster.predict(after) - booster.predict(segment)).sum())
    assert result.expected_extra == pytest.approx(expected)
    assert result.expected_extra > 0, "the model punishes ads, so fewer ads should convert more"
    assert result.interval_low <= result.expected_extra <= result.interval_high
    assert result.interval_low < result.interval_high
    assert (result.interval_low, result.interval_high) == (again.interval_low, again.interval_high)
    assert result.mean_after > result.mean_before
    assert result.n_rows == 400 and 0 < result.n_changed <= 400
    assert result.note == CAUSAL_NOTE
    # What moved with the lever, and on how many rows: the 7-day window and the ratio.
    rows_moved = dict(
        zip(product_space.feature_names, (after != segment).sum(axis=0), strict=True)
    )
    assert dict(result.moved_with) == {
        name: n for name, n in rows_moved.items() if n and name != "count_ad_30d"
    }
    assert [name for name, _ in result.moved_with] == ["count_ad_7d", "share_ad_30d"]
