"""Numbers typed by users (app/inputs.py): ASCII digits with an optional minus, and
numbers far beyond any column refused without converting them."""

from __future__ import annotations

import pytest
from number_spellings import BAD_SPELLINGS, HUGE

from app.inputs import IntegerOutOfRange, NotAnInteger, parse_integer


@pytest.mark.parametrize("text", ["0", "7", "-12", "007", "9223372036854775807"])
def test_parse_integer_takes_ascii_digits(text):
    assert parse_integer(text) == int(text)


@pytest.mark.parametrize("text", BAD_SPELLINGS)
def test_parse_integer_refuses_other_spellings(text):
    with pytest.raises(NotAnInteger):
        parse_integer(text)


@pytest.mark.parametrize("text", HUGE)
def test_parse_integer_calls_long_numbers_out_of_range_without_converting(text):
    with pytest.raises(IntegerOutOfRange):
        parse_integer(text)
