"""Keyed pseudonyms: normalisation of values before the MAC, empties, key length."""

from __future__ import annotations

import hashlib
import hmac
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.privacy import Pseudonymizer

KEY = b"privacy-test-key-0123456789"
HEX32 = re.compile(r"[0-9a-f]{32}")


def pseudo(values, field="caller_phone", *, phone=False, key=KEY) -> list:
    out = Pseudonymizer(key).pseudonymize(field, np.array(values, dtype=object), phone=phone)
    return out.tolist()


def test_pseudonym_is_the_truncated_hmac_of_field_and_value():
    want = hmac.new(KEY, b"device_id\x00dev-1", hashlib.sha256).hexdigest()[:32]
    assert pseudo(["dev-1"], "device_id") == [want]


def test_phone_spellings_of_one_number_share_a_pseudonym():
    spellings = [
        "13800138000",
        "138 0013 8000",
        "138-0013-8000",
        " 138.0013.8000 ",
        "(138) 0013-8000",
        "138\t0013\u00a08000",
    ]
    out = pseudo(spellings, phone=True)
    assert len(set(out)) == 1 and HEX32.fullmatch(out[0])


def test_phone_country_prefix_is_kept_not_stripped():
    """Only non-digits go: '+86' and '0086' stay digits of the number, so they differ from the
    national form (and from each other), while '+86' and '86' agree."""
    national, plus, bare, zeros = pseudo(
        ["13800138000", "+86 138 0013 8000", "8613800138000", "0086 13800138000"], phone=True
    )
    assert plus == bare
    assert len({national, plus, zeros}) == 3


def test_phone_flag_changes_nothing_for_plain_digits():
    assert pseudo(["13800138000"], phone=True) == pseudo(["13800138000"], phone=False)
    assert pseudo(["138 0013 8000"], phone=True) != pseudo(["138 0013 8000"], phone=False)


def test_none_empty_and_blank_become_none():
    assert pseudo([None, "", "   ", "\t"], "device_id") == [None, None, None, None]
    assert pseudo([None, "", " - ", "+()"], phone=True) == [None, None, None, None]


def test_blank_ids_do_not_share_a_pseudonym():
    """Regression: whitespace-only values were MACed as "" and all got one pseudonym."""
    out = pseudo(["  ", "hh-1", " "], "household_id")
    assert out[0] is None and out[2] is None and HEX32.fullmatch(out[1])


def test_surrounding_space_is_ignored_but_inner_text_is_not():
    a, b, c = pseudo(["hh-1", "  hh-1\n", "hh -1"], "household_id")
    assert a == b != c


def test_field_name_salts_the_pseudonym():
    assert pseudo(["x"], "device_id") != pseudo(["x"], "household_id")


def test_different_keys_give_different_pseudonyms():
    assert pseudo(["dev-1"], key=KEY) != pseudo(["dev-1"], key=KEY + b"!")


@pytest.mark.parametrize("key", [b"", b"short", b"x" * 15])
def test_key_shorter_than_16_bytes_is_refused(key):
    with pytest.raises(ValueError, match="at least 16 bytes"):
        Pseudonymizer(key)


def test_key_of_16_bytes_is_enough():
    assert HEX32.fullmatch(pseudo(["a"], key=b"k" * 16)[0])


def test_output_is_an_object_array_of_the_input_length():
    out = Pseudonymizer(KEY).pseudonymize("f", np.array([], dtype=object))
    assert out.dtype == object and len(out) == 0


@settings(max_examples=200, derandomize=True, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=8))
def test_pseudonyms_are_deterministic_and_injective_on_stripped_values(values):
    out = pseudo(values, "device_id")
    assert out == pseudo(values, "device_id")
    for v, p in zip(values, out, strict=True):
        assert (p is None) == (v.strip() == "")
        assert p is None or HEX32.fullmatch(p)
    by_value = {}
    for v, p in zip(values, out, strict=True):
        by_value.setdefault(v.strip(), set()).add(p)
    assert all(len(ps) == 1 for ps in by_value.values())
    distinct = {p for p in out if p is not None}
    assert len(distinct) == len({v.strip() for v in values if v.strip()})
