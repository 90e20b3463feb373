"""The rules for user-given names: those that become file names (a table of accepted and
refused), and the plain names a feature-set spec gives to the data."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.errors import UsagecastError
from contracts.names import (
    NAME_MAX_LENGTH,
    InvalidNameError,
    check_name,
    is_spec_name,
    is_valid_name,
    plain_name_for,
)
from contracts.refs import REF_PATTERN

ACCEPTED = [
    "paywall",
    "premium_30d",
    "A",
    "7",
    "exp-2024.01",
    "v1.2-rc_3",
    "x" * NAME_MAX_LENGTH,
]
REFUSED = [
    "",  # empty
    "../../x",  # traversal
    "..",
    "a..b",
    "a/b",  # separators
    "a\\b",
    "/etc/passwd",  # absolute
    "/tmp/x",
    "~",
    ".hidden",  # must start with a letter or digit
    "-rf",
    "_x",
    "x" * (NAME_MAX_LENGTH + 1),  # too long
    "has space",
    "tab\tname",
    "new\nline",
    "trailing\n",
    "nul\x00byte",
    "café",  # letters outside ASCII
    "a:b",
    "a*b",
]


@pytest.mark.parametrize("name", ACCEPTED)
def test_accepted_names(name):
    assert is_valid_name(name)
    assert check_name(name, "experiment name") == name


@pytest.mark.parametrize("name", REFUSED)
def test_refused_names_name_the_argument_on_one_line(name):
    assert not is_valid_name(name)
    with pytest.raises(InvalidNameError) as raised:
        check_name(name, "experiment name")
    message = str(raised.value)
    assert message.startswith(f"experiment name {name!r} is not allowed")
    assert "\n" not in message
    assert issubclass(InvalidNameError, UsagecastError)


@given(st.from_regex(REF_PATTERN, fullmatch=True))
def test_every_feature_set_reference_names_a_valid_name(ref):
    name = REF_PATTERN.fullmatch(ref)["name"]
    assert is_valid_name(name)


@given(st.text(max_size=40))
def test_a_valid_name_is_one_plain_path_component(name):
    if is_valid_name(name):
        assert "/" not in name and "\\" not in name and ".." not in name
        assert name not in (".", "..") and not name.startswith((".", "-"))


@pytest.mark.parametrize(
    ("name", "plain"),
    [
        ("PLAY", "PLAY"),
        ("song_play", "song_play"),
        ("Add to Cart", "Add_to_Cart"),
        ("[Amplitude] Page Viewed", "Amplitude_Page_Viewed"),
        ("page-view", "page_view"),
        ("2FA done", "e_2FA_done"),
        ("_private", "private"),
        ("café", "cafe"),
        ("Öffnen", "Offnen"),
        ("Straße öffnen", "Stra_e_offnen"),
        ("***", "e_"),
    ],
)
def test_plain_name_for_proposes_a_spec_name(name, plain):
    assert plain_name_for(name) == plain


@given(st.text(max_size=30))
def test_a_proposed_name_is_a_spec_name_and_a_spec_name_is_kept(name):
    plain = plain_name_for(name)
    assert is_spec_name(plain)
    if is_spec_name(name):
        assert plain == name
