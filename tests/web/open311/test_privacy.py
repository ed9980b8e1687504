"""Contact data never leaves through Open311 GETs (DESIGN §5 Privacy; checklist §2.3 contact fields)."""

from __future__ import annotations

from open311_support import CONTACT, GRAFFITI, POTHOLE, Open311, items, url
from sqlalchemy import text

SECRETS = (*CONTACT.values(), "jane.doe", "555-0100")


def test_contact_data__never_in_any_get__both_formats_with_extensions(api: Open311, fmt: str) -> None:
    """[§2.3][EXT-01] email, phone, first and last name are stored apart and absent from every GET
    response — list, single, token, updates — in both formats, with and without extensions=true."""
    rid = api.create(POTHOLE, **CONTACT, address_string="1 Centre St", description="Big hole")
    token = items(api.post_request({**GRAFFITI, **CONTACT, "service_code": "bulk-pickup"}), "json")[0]["token"]
    assert api.post_request({**GRAFFITI, **CONTACT, "service_code": "tip"}).status_code == 200
    update = {**CONTACT, "title": "Ms"}
    assert api.post_update(rid, "u-1", "IN_PROGRESS", **update).status_code == 200
    with api.engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM request_contacts")).scalar_one() == 3  # stored, apart
    paths = [
        ("requests", {}),
        ("requests", {"extensions": "true"}),
        ("requests", {"service_request_id": rid, "extensions": "true"}),
        (f"requests/{rid}", {}),
        (f"requests/{rid}", {"extensions": "true"}),
        (f"tokens/{token}", {}),
        ("servicerequestupdates", {}),
    ]
    for path, params in paths:
        response = api.client.get(url(path, fmt), params=params)
        assert response.status_code == 200, (path, response.text)
        for secret in SECRETS:
            assert secret not in response.text, (path, params, secret)
