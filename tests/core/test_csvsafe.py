"""CSV formula injection: one rule for every CSV the project writes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from civicswitch.core.csvsafe import neutralise, restore


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ('=HYPERLINK("http://x.example")', '\'=HYPERLINK("http://x.example")'),
        ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("'=1", "''=1"),
    ],
)
def test_neutralise__a_cell_a_spreadsheet_would_run__gets_an_apostrophe(value: str, written: str) -> None:
    assert neutralise(value) == written


@pytest.mark.parametrize("value", ["-73.9857", "+1", "40.7", "1e5", "10027", "Main St", "", "'quoted'"])
def test_neutralise__numbers_and_plain_text__unchanged(value: str) -> None:
    assert neutralise(value) == value


def test_neutralise__none__empty_cell() -> None:
    assert neutralise(None) == ""


@given(st.text())
def test_restore__after_neutralise__the_value_given(value: str) -> None:
    assert restore(neutralise(value)) == value
