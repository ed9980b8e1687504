"""Catalog domain: attribute values for every datatype, and the construction rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Column

from civicswitch.catalog.model import (
    Attribute,
    AttributeValue,
    Body,
    Datatype,
    InvalidAttributes,
    Service,
    sla_notice,
)
from civicswitch.catalog.tables import bodies, service_attributes, services
from civicswitch.core.errors import Invalid
from civicswitch.core.timefmt import parse_datetime

VALUES = (AttributeValue("small", "Smaller than a plate"), AttributeValue("large", "Larger"))
LANES = (AttributeValue("left", "Left"), AttributeValue("right", "Right"), AttributeValue("both", "Both"))


def attribute(datatype: Datatype, **overrides: object) -> Attribute:
    fields: dict[str, object] = {"code": "a", "datatype": datatype, "description": "An attribute"}
    if datatype == Datatype.SINGLEVALUELIST:
        fields["values"] = VALUES
    if datatype == Datatype.MULTIVALUELIST:
        fields["values"] = LANES
    fields.update(overrides)
    return Attribute(**fields)  # type: ignore[arg-type]


def clean(a: Attribute, *raw: str) -> str | list[str] | None:
    return a.clean(list(raw), parse_datetime=parse_datetime)


POTHOLE = Service(
    code="pothole",
    name="Pothole",
    attributes=(
        Attribute("size", Datatype.SINGLEVALUELIST, "How big?", required=True, order=1, values=VALUES),
        Attribute("lanes", Datatype.MULTIVALUELIST, "Which lanes?", order=2, values=LANES),
        Attribute("depth", Datatype.NUMBER, "Depth in cm", order=3),
        Attribute("seen", Datatype.DATETIME, "When?", order=4),
        Attribute("landmark", Datatype.STRING, "Nearest landmark", order=5),
        Attribute("notes", Datatype.TEXT, "Anything else", order=6),
        Attribute("info", Datatype.STRING, "Fixed within 3 days.", required=True, variable=False, order=7),
    ),
)


def clean_all(submitted: dict[str, list[str]]) -> dict[str, str | list[str]]:
    return POTHOLE.clean_attributes(submitted, parse_datetime=parse_datetime)


# -- required / optional / informational -------------------------------------------------------------------
@pytest.mark.parametrize("datatype", list(Datatype), ids=str)
@pytest.mark.parametrize("raw", [[], [""], ["   "], ["", " "]], ids=["none", "empty", "blank", "blanks"])
def test_attribute__required_and_nothing_given__invalid(datatype: Datatype, raw: list[str]) -> None:
    with pytest.raises(Invalid) as caught:
        attribute(datatype, required=True).clean(raw, parse_datetime=parse_datetime)
    assert caught.value.field == "a"
    assert "required" in caught.value.description


@pytest.mark.parametrize("datatype", list(Datatype), ids=str)
def test_attribute__optional_and_nothing_given__none(datatype: Datatype) -> None:
    assert clean(attribute(datatype), " ") is None


def test_service__informational_attribute__is_never_required_nor_kept() -> None:
    assert clean_all({"size": ["small"], "info": ["typed anyway"]}) == {"size": "small"}


def test_service__unknown_codes__are_ignored() -> None:
    assert clean_all({"size": ["large"], "colour": ["red"], "": ["x"]}) == {"size": "large"}


def test_service__without_attributes__accepts_anything_and_keeps_nothing() -> None:
    plain = Service(code="graffiti", name="Graffiti")
    assert plain.clean_attributes({"x": ["1"]}, parse_datetime=parse_datetime) == {}
    assert plain.metadata is False and POTHOLE.metadata is True


def test_service__every_datatype_valid__cleaned_values() -> None:
    cleaned = clean_all(
        {
            "size": [" small "],
            "lanes": ["left", "right", "left"],
            "depth": ["12.5"],
            "seen": ["2026-11-28T08:00:00-05:00"],
            "landmark": ["Corner of 5th"],
            "notes": ["line one\nline two"],
        }
    )
    assert cleaned == {
        "size": "small",
        "lanes": ["left", "right"],
        "depth": "12.5",
        "seen": "2026-11-28T08:00:00-05:00",
        "landmark": "Corner of 5th",
        "notes": "line one\nline two",
    }


def test_service__several_bad_values__all_reported_together_in_order() -> None:
    with pytest.raises(InvalidAttributes) as caught:
        clean_all({"lanes": ["middle"], "depth": ["deep"], "seen": ["someday"], "landmark": ["a\nb"]})
    fields = [e.field for e in caught.value.errors]
    assert fields == ["size", "lanes", "depth", "seen", "landmark"]
    assert isinstance(caught.value, Invalid)
    for e in caught.value.errors:
        assert e.description in caught.value.description


# -- singlevaluelist ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("raw", ["small", "large", "  large  "])
def test_singlevaluelist__a_key__accepted(raw: str) -> None:
    assert clean(attribute(Datatype.SINGLEVALUELIST), raw) == raw.strip()


@pytest.mark.parametrize("raw", ["Smaller than a plate", "SMALL", "medium", "small,large"])
def test_singlevaluelist__not_a_key__invalid(raw: str) -> None:
    with pytest.raises(Invalid, match="is not one of large, small"):
        clean(attribute(Datatype.SINGLEVALUELIST), raw)


def test_singlevaluelist__two_values__invalid() -> None:
    with pytest.raises(Invalid, match="takes one value, got 2"):
        clean(attribute(Datatype.SINGLEVALUELIST), "small", "large")


# -- multivaluelist ----------------------------------------------------------------------------------------
def test_multivaluelist__keys__kept_in_order_without_repeats() -> None:
    assert clean(attribute(Datatype.MULTIVALUELIST), "right", " left", "right", "") == ["right", "left"]


def test_multivaluelist__one_key__is_a_list() -> None:
    assert clean(attribute(Datatype.MULTIVALUELIST), "both") == ["both"]


def test_multivaluelist__unknown_keys__invalid_naming_each() -> None:
    with pytest.raises(Invalid) as caught:
        clean(attribute(Datatype.MULTIVALUELIST), "left", "up", "down")
    assert "'up'" in caught.value.description and "'down'" in caught.value.description
    assert "'left'" not in caught.value.description


# -- number ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("raw", ["0", "12", "-3", "+4", "12.5", ".5", "5.", "1e3", "-2.5E-2", " 7 "])
def test_number__decimal__accepted_as_given(raw: str) -> None:
    assert clean(attribute(Datatype.NUMBER), raw) == raw.strip()


@pytest.mark.parametrize(
    "raw",
    ["nan", "NaN", "-nan", "inf", "-inf", "Infinity", "+INF", "1e999", "-1e400", "twelve", "12cm", "1,5",
     "0x10", "1_000", "١٢", "１２", "--1", "1e", "."],
)  # fmt: skip
def test_number__not_a_finite_decimal__invalid(raw: str) -> None:
    with pytest.raises(Invalid) as caught:
        clean(attribute(Datatype.NUMBER), raw)
    assert caught.value.field == "a"


def test_number__two_values__invalid() -> None:
    with pytest.raises(Invalid, match="takes one value"):
        clean(attribute(Datatype.NUMBER), "1", "2")


# -- datetime ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("raw", ["2026-11-28T12:00:00Z", "2026-11-28 07:00:00-05:00", "2026-11-28"])
def test_datetime__w3c__accepted_as_given(raw: str) -> None:
    assert clean(attribute(Datatype.DATETIME), raw) == raw


@pytest.mark.parametrize("raw", ["yesterday", "28/11/2026", "2026-02-30", "2026-11-28T25:00:00Z", "1700000000"])
def test_datetime__not_a_date_time__invalid(raw: str) -> None:
    with pytest.raises(Invalid) as caught:
        clean(attribute(Datatype.DATETIME), raw)
    assert caught.value.field == "a"


# -- string and text ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("raw", ["two\nlines", "carriage\rreturn", "crlf\r\nline"])
def test_string__line_break__invalid(raw: str) -> None:
    with pytest.raises(Invalid, match="single line"):
        clean(attribute(Datatype.STRING), raw)


def test_string__surrounding_newlines__stripped_and_accepted() -> None:
    assert clean(attribute(Datatype.STRING), "\n one line \n") == "one line"


def test_text__line_breaks__accepted() -> None:
    assert clean(attribute(Datatype.TEXT), "two\nlines\r\nok") == "two\nlines\r\nok"


@pytest.mark.parametrize("datatype", [Datatype.STRING, Datatype.TEXT], ids=str)
def test_text_and_string__4000_characters__accepted_and_4001_invalid(datatype: Datatype) -> None:
    assert clean(attribute(datatype), "x" * 4000) == "x" * 4000
    with pytest.raises(Invalid, match="longer than 4000"):
        clean(attribute(datatype), "x" * 4001)


# -- construction rules ------------------------------------------------------------------------------------
@pytest.mark.parametrize("datatype", [Datatype.SINGLEVALUELIST, Datatype.MULTIVALUELIST], ids=str)
def test_attribute__list_without_values__invalid(datatype: Datatype) -> None:
    with pytest.raises(Invalid, match="at least one value"):
        Attribute("a", datatype, "A list", values=())


@pytest.mark.parametrize("order", [0, -1])
def test_attribute__order_below_one__invalid(order: int) -> None:
    with pytest.raises(Invalid, match="order"):
        Attribute("a", Datatype.STRING, "A", order=order)


@pytest.mark.parametrize("code", ["", "pot hole", "pot/hole", "pot?", "pot#", "100%"])
def test_service__code_not_url_safe__invalid(code: str) -> None:
    with pytest.raises(Invalid, match="service code"):
        Service(code=code, name="X")


def test_service__repeated_attribute_code__invalid() -> None:
    with pytest.raises(Invalid, match="unique"):
        Service(code="x", name="X", attributes=(attribute(Datatype.STRING), attribute(Datatype.TEXT)))


def test_body__defaults_to_a_department() -> None:
    assert str(Body("DOT", "Transportation").kind) == "department"


@pytest.mark.parametrize(
    ("hours", "notice"),
    [(None, None), (1, "Target response time: 1 hour."), (0.5, "Target response time: 1 hour."),
     (47.5, "Target response time: 48 hours."), (48, "Target response time: 2 days."),
     (72, "Target response time: 3 days."), (49, "Target response time: 3 days.")],
)  # fmt: skip
def test_sla_notice__hours_and_days(hours: float | None, notice: str | None) -> None:
    assert sla_notice(hours) == notice


# -- stored text lengths (PostgreSQL enforces the column lengths, SQLite does not) ---------------------------
@pytest.mark.parametrize(
    ("build", "column"),
    [
        (lambda n: Body("x" * n, "Name"), bodies.c.code),
        (lambda n: Body("DOT", "x" * n), bodies.c.name),
        (lambda n: Service(code="x" * n, name="Name"), services.c.code),
        (lambda n: Service(code="s", name="x" * n), services.c.name),
        (lambda n: Service(code="s", name="Name", group="x" * n), services.c.group),
        (lambda n: Attribute("x" * n, Datatype.STRING, "A"), service_attributes.c.code),
    ],
    ids=["body-code", "body-name", "service-code", "service-name", "service-group", "attribute-code"],
)
def test_catalog__text_over_its_column_length__invalid(build: Callable[[int], object], column: Column[Any]) -> None:
    limit = column.type.length
    assert isinstance(limit, int)
    build(limit)
    with pytest.raises(Invalid, match=f"longer than {limit}"):
        build(limit + 1)


@pytest.mark.parametrize(
    "build",
    [lambda: Body("D\x00T", "Name"), lambda: Service(code="s", name="N\x00"), lambda: Service(code="s\x00", name="N"),
     lambda: Attribute("a", Datatype.STRING, "d\x00")],
    ids=["body", "service-name", "service-code", "attribute"],
)  # fmt: skip
def test_catalog__text_with_nul__invalid(build: Callable[[], object]) -> None:
    with pytest.raises(Invalid, match="NUL"):
        build()


@pytest.mark.parametrize("datatype", list(Datatype), ids=str)
def test_attribute__value_with_nul__invalid(datatype: Datatype) -> None:
    with pytest.raises(Invalid):
        clean(attribute(datatype), "small\x00")
