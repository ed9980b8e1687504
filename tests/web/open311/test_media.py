"""Media on POST (checklist [POST-04], v2.1 draft §3.4): multipart uploads served back at their media_url."""

from __future__ import annotations

from typing import Any

import pytest
from open311_support import GRAFFITI, Open311, assert_error, items, png_bytes, url

PNG = png_bytes()


def upload(api: Open311, fmt: str, files: Any, **fields: str) -> Any:
    return api.post_request({**GRAFFITI, **fields}, fmt, files=files)


@pytest.mark.parametrize("field", ["media", "media[]", "photo1", "file_0"])
def test_post_request__png_upload__served_at_media_url(api: Open311, fmt: str, field: str) -> None:
    """[POST-04] a PNG sent as ``media`` (GeoReporter, Bloomington), ``media[]`` (v2.1) or FMS-style
    ``photo1``/``file_*`` is stored; GET shows an absolute media_url that serves the same bytes as image/png."""
    created = items(upload(api, fmt, {field: ("media.png", PNG, "image/png")}), fmt)
    rid = created[0]["service_request_id"]
    media_url = api.request(rid, fmt)["media_url"]
    assert media_url.startswith("http://testserver/media/") and media_url.endswith(".png")
    assert api.requests("json")[0]["media_url"] == media_url  # the database-rendered list agrees
    served = api.client.get(media_url)
    assert served.status_code == 200
    assert served.content == PNG
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert api.counts()["media"] == 1


def test_post_request__upload_and_media_url__file_wins_url_kept(api: Open311, fmt: str) -> None:
    """[§3.4] with both a file and media_url the file is the media_url; the URL stays on the timeline."""
    response = upload(api, fmt, {"media": ("m.png", PNG, "image/png")}, media_url="https://img.example.org/x.jpg")
    rid = items(response, fmt)[0]["service_request_id"]
    got = api.request(rid, "json", extensions="true")
    assert "/media/" in got["media_url"]
    assert "https://img.example.org/x.jpg" in [n["media_url"] for n in got["notes"]]


def test_post_request__multipart_without_file__accepted(api: Open311, fmt: str) -> None:
    """[POST-04] a multipart body with only text fields is read like a urlencoded one."""
    response = api.post_request(GRAFFITI, fmt, files={"unrelated": ("", b"", "application/octet-stream")})
    rid = items(response, fmt)[0]["service_request_id"]
    assert api.request(rid)["media_url"] is None


def test_post_request__upload_over_media_limit__413_nothing_written(api: Open311, fmt: str) -> None:
    """[ERR-03] an image over max_media_bytes (256 KiB in tests) is 413 in the suffix's format; no row at all."""
    api.create(GRAFFITI)
    before = api.counts()
    big = PNG + b"\x00" * (256 * 1024)
    description = assert_error(upload(api, fmt, {"media": ("big.png", big, "image/png")}), fmt, 413)
    assert "limit" in description
    assert api.counts() == before


@pytest.mark.parametrize(
    ("name", "data", "declared"),
    [("notes.txt", b"just some text", "text/plain"), ("fake.png", b"<svg xmlns='http://www.w3.org/2000/svg'/>",
     "image/png"), ("doc.pdf", b"%PDF-1.4 ...", "application/pdf")],
    ids=["text", "svg_declared_png", "pdf"],
)  # fmt: skip
def test_post_request__non_image_upload__415_nothing_written(
    api: Open311, fmt: str, name: str, data: bytes, declared: str
) -> None:
    """[ERR-03] the type is read from the bytes: a non-image (whatever its declared type) is 415."""
    before = api.counts()
    description = assert_error(upload(api, fmt, {"media": (name, data, declared)}), fmt, 415)
    assert "image" in description
    assert api.counts() == before


def test_post_request__second_file_bad__nothing_written(api: Open311, fmt: str) -> None:
    """[POST-04] one bad file among good ones refuses the whole POST: no request, no stored media."""
    before = api.counts()
    files = [("media[]", ("a.png", PNG, "image/png")), ("media[]", ("b.txt", b"text", "text/plain"))]
    assert_error(upload(api, fmt, files), fmt, 415)
    assert api.counts() == before


def test_post_request__empty_named_file__400(api: Open311, fmt: str) -> None:
    """[POST-04] an empty file that has a name is a client error."""
    before = api.counts()
    assert "empty" in assert_error(upload(api, fmt, {"media": ("empty.png", b"", "image/png")}), fmt, 400)
    assert api.counts() == before


def test_post_request__upload_with_invalid_field__nothing_stored(api: Open311, fmt: str) -> None:
    """[POST-01][POST-04] a good image on an otherwise invalid POST is not kept."""
    before = api.counts()
    response = api.post_request({"service_code": "graffiti"}, fmt, files={"media": ("m.png", PNG, "image/png")})
    assert_error(response, fmt, 400)
    assert api.counts() == before


def test_media__unknown_id__404(api: Open311) -> None:
    """[ERR-02] an unknown media id is 404."""
    assert api.client.get("/media/0123456789abcdef.png").status_code == 404


def test_post_update__photo_upload__media_url_in_update_list(api: Open311, fmt: str) -> None:
    """[§3.6b] FMS update POSTs may carry photo files; the update's media_url serves them."""
    rid = api.create(GRAFFITI)
    response = api.client.post(
        url("servicerequestupdates", fmt),
        data={"api_key": api.keys["update_dsny"], "service_request_id": rid, "update_id": "p-1", "status": "FIXED",
              "updated_datetime": "2026-11-28T12:00:00Z", "description": "After"},
        files={"photo1": ("after.png", PNG, "image/png")},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    found = items(api.client.get(url("servicerequestupdates", fmt)), fmt, "service_request_updates")
    served = api.client.get(found[0]["media_url"])
    assert served.status_code == 200 and served.content == PNG
