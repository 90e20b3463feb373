"""The feature-set reference: one parser, one str form, refused text named in the error."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.errors import UsagecastError
from contracts.refs import REF_PATTERN, BuildRef, FeatureSetRef, InvalidRefError


def test_a_reference_parses_into_name_and_version():
    assert FeatureSetRef.parse("premium_30d@v2") == FeatureSetRef("premium_30d", 2)
    assert FeatureSetRef.parse("  premium_30d@v2 ") == FeatureSetRef("premium_30d", 2)
    assert str(FeatureSetRef("premium_30d", 2)) == "premium_30d@v2"


@pytest.mark.parametrize(
    "bad",
    ["premium_30d", "premium_30d@2", "premium_30d@v0", "a b@v1", "2fast@v1", "p@v1/fp", ""],
)
def test_anything_else_is_refused_naming_the_text_and_the_form(bad):
    with pytest.raises(InvalidRefError, match="is not a feature-set reference") as raised:
        FeatureSetRef.parse(bad)
    assert repr(bad) in str(raised.value)
    assert "NAME@vN" in str(raised.value)
    assert issubclass(InvalidRefError, UsagecastError)


@pytest.mark.parametrize(("name", "version"), [("2fast", 1), ("a-b", 1), ("ok", 0), ("ok", "1")])
def test_a_reference_built_directly_checks_its_parts(name, version):
    with pytest.raises(InvalidRefError, match="is not a feature-set reference"):
        FeatureSetRef(name, version)


@given(st.from_regex(REF_PATTERN, fullmatch=True))
def test_parse_and_str_round_trip(text):
    ref = FeatureSetRef.parse(text)
    assert str(ref) == text
    assert FeatureSetRef.parse(str(ref)) == ref


def test_references_sort_by_name_then_version():
    refs = [FeatureSetRef("b", 1), FeatureSetRef("a", 10), FeatureSetRef("a", 2)]
    assert [str(r) for r in sorted(refs)] == ["a@v2", "a@v10", "b@v1"]


def test_a_build_reference_is_the_latest_build_or_one_fingerprint():
    latest = BuildRef.parse("premium_30d@v1")
    assert latest == BuildRef(FeatureSetRef("premium_30d", 1))
    assert str(latest) == "premium_30d@v1"
    one = BuildRef.parse("premium_30d@v1/3f2a9c")
    assert (one.ref, one.fingerprint) == (FeatureSetRef("premium_30d", 1), "3f2a9c")
    assert str(one) == "premium_30d@v1/3f2a9c"
    assert BuildRef.of(FeatureSetRef("premium_30d", 1)) == latest
    assert BuildRef.of(one) is one


@pytest.mark.parametrize("bad", ["premium_30d@v1/", "premium_30d@v1/a/b", "premium_30d/fp"])
def test_a_bad_build_reference_is_refused(bad):
    with pytest.raises(InvalidRefError, match="feature-set"):
        BuildRef.parse(bad)


def test_of_passes_a_reference_through_and_parses_text():
    ref = FeatureSetRef("premium_30d", 1)
    assert FeatureSetRef.of(ref) is ref
    assert FeatureSetRef.of("premium_30d@v1") == ref
