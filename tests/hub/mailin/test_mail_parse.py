"""Reading residents' mail (hub/mailin/parse.py) and what it is about (guess.py): text, photos, threading headers,
auto-replies and bounces, quoted text, the service named and the place given."""

from __future__ import annotations

import pytest
from mailbuild import PNG, mail

from civicswitch.catalog.model import Service
from civicswitch.hub.mailin.guess import find_place, named_services
from civicswitch.hub.mailin.parse import html_to_text, parse_mail, split_name, strip_quoted


def test_parse__plain_message__sender_subject_text_and_ids() -> None:
    found = parse_mail(mail(photo=PNG, in_reply_to="<cs_0123@city>"))
    assert (found.sender, found.name, found.subject) == ("ana@example.org", "Ana Ruiz", "Pothole on my street")
    assert "deep pothole" in found.text and found.message_id == "m1@example.org"
    assert found.in_reply_to == ("cs_0123@city",)
    assert [(a.filename, a.content_type, a.data) for a in found.attachments] == [("hole.png", "image/png", PNG)]
    assert found.automatic is None and found.recipients == ("311@city.example.gov",)


def test_parse__html_only__text_without_tags_or_scripts() -> None:
    raw = mail(text="", html="<html><head><style>p{}</style><script>alert(1)</script></head><body><p>Broken "
               "<b>light</b></p><div>Address: 5 Elm St</div></body></html>")  # fmt: skip
    # text/plain is preferred; an empty one here, so the HTML alternative is read
    assert parse_mail(raw).text == "Broken light\n\nAddress: 5 Elm St"
    assert html_to_text("<p>Broken <b>light</b></p><script>x()</script><blockquote>old</blockquote>") == (
        "Broken light\n\n> old"
    )


def test_parse__no_message_id__one_made_from_the_bytes() -> None:
    raw = mail(message_id=None)
    assert parse_mail(raw).message_id == parse_mail(raw).message_id != parse_mail(mail(message_id=None, text="x"))


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto-Submitted": "auto-replied"},
        {"X-Autoreply": "yes"},
        {"X-Autorespond": "vacation"},
        {"Precedence": "bulk"},
        {"Precedence": "auto_reply"},
        {"Return-Path": "<>"},
        {"Return-Path": "<MAILER-DAEMON@mx.example.org>"},
    ],
)
def test_parse__auto_reply_or_bounce_headers__automatic(headers: dict[str, str]) -> None:
    assert parse_mail(mail(headers=headers)).automatic


def test_parse__delivery_report__automatic() -> None:
    raw = (b"From: Mail Delivery System <mailer@mx.example.org>\r\nTo: 311@city.example.gov\r\nSubject: Undelivered\r\n"
           b"Message-ID: <dsn1@mx>\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=XX\r\n\r\n"
           b"--XX\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--XX--\r\n")  # fmt: skip
    assert "delivery-status" in (parse_mail(raw).automatic or "")


def test_parse__out_of_office_subject_alone__a_person_wrote_it() -> None:
    assert parse_mail(mail(subject="Out of office: pothole")).automatic is None
    assert parse_mail(mail(subject="Out of Office", headers={"X-Auto-Response-Suppress": "All"})).automatic


def test_strip_quoted__english_and_spanish_replies__new_part_only() -> None:
    english = "Still there, bigger now.\n\nOn Mon, Dec 7, 2026 at 10:00 AM City 311 <311@city.gov> wrote:\n> old\n"
    spanish = "Sigue igual.\n\nEl lun, 7 dic 2026 a las 10:00, City 311 (<311@city.gov>)\nescribió:\n> Hola\n"
    outlook = "Thanks!\n\n-----Original Message-----\nFrom: City 311\nSent: Monday\n"
    assert strip_quoted(english) == "Still there, bigger now."
    assert strip_quoted(spanish) == "Sigue igual."
    assert strip_quoted(outlook) == "Thanks!"
    assert strip_quoted("> all quoted\n> here\n") == ""


def test_split_name__display_names() -> None:
    assert split_name("Ana María Ruiz") == ("Ana María", "Ruiz")
    assert split_name("Ana") == ("Ana", None) and split_name("") == (None, None)


def test_find_place__address_lines_points_and_map_links() -> None:
    assert find_place("Hi\nAddress: 100 Main St, Apt 2.\nthanks").address == "100 Main St, Apt 2"
    assert find_place("Dirección: Calle Mayor 5").address == "Calle Mayor 5"
    assert find_place("it is at\n250 Elm Street near the school").address == "250 Elm Street near the school"
    point = find_place("see 40.71280, -74.00600 please")
    assert (point.lat, point.long, point.address) == ("40.71280", "-74.00600", None)
    assert find_place("https://www.openstreetmap.org/?mlat=40.7001&mlon=-74.0102#map=18").lat == "40.7001"
    assert find_place("https://maps.example.com/@40.7001,-74.0102,17z").long == "-74.0102"
    assert not find_place("I called 3 times about 2 weeks ago").found
    assert not find_place("version 1.2345 and 99.1234, 200.1234").found  # out of range: not a point


def test_named_services__whole_words_plurals_and_translations() -> None:
    services = [
        Service("pothole", "Pothole", keywords=("road hole",), translations=(("es", "name", "Bache"),)),
        Service("graffiti", "Graffiti"),
        Service("light", "Street light", active=False),
    ]
    assert [s.code for s in named_services(services, "Potholes!", "")] == ["pothole"]
    assert [s.code for s in named_services(services, "Un bache", "en la calle")] == ["pothole"]
    assert [s.code for s in named_services(services, "", "a road hole and graffiti")] == ["pothole", "graffiti"]
    assert named_services(services, "potholed", "street light out") == []  # not a whole word; inactive
