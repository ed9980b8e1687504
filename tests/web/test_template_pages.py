"""Response templates over HTTP (SQLite and PostgreSQL): the admin page (list, add, edit, delete after a question;
audited; placeholders checked with the reason shown and the form kept), "Use template" on a request's note form
(filled in server-side, a read, then added through "Add note"), and the two admin gaps: deleting a knowledge
article after a confirmation page, and re-enabling a disabled staff account."""

from __future__ import annotations

import html
import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from civicswitch.agent.handlers import SaveArticle, save_article
from civicswitch.agent.tables import knowledge_articles
from civicswitch.core.clock import FixedClock
from civicswitch.people.handlers import AddUser, add_user, audit_entries
from civicswitch.people.policy import OPERATOR
from civicswitch.requests.commands import SubmitRequest
from civicswitch.requests.handlers import submit_request
from civicswitch.requests.model import Contact
from civicswitch.responses.handlers import SaveTemplate, save_template
from civicswitch.responses.tables import response_templates
from civicswitch.storage.sql import SqlUnitOfWork
from staff_client import csrf_of, sign_in

PASSWORD = "a long enough password"


@pytest.fixture
def staff(engine: Engine, clock: FixedClock, keys: dict[str, str]) -> dict[str, int]:
    ids = {}
    for email, role, scope in (
        ("admin@city.gov", "admin", {}),
        ("dot@city.gov", "department", {"bodies": ("DOT",)}),
        ("exec@city.gov", "executive", {}),
        ("agent@city.gov", "agent", {}),
    ):
        cmd = AddUser(email, role, password=PASSWORD, **scope)  # type: ignore[arg-type]
        user = add_user(SqlUnitOfWork(engine), clock, cmd).user
        assert user.id is not None
        ids[email] = user.id
    return ids


def _count(engine: Engine, table: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def _ops(engine: Engine, action: str) -> list[str]:
    return [e.detail.get("op", "") for e in audit_entries(SqlUnitOfWork(engine), action=action)]


def _file(engine: Engine, clock: FixedClock, keys: dict[str, str], service: str = "pothole") -> str:
    answers = {"size": ["large"]} if service == "pothole" else {}
    cmd = SubmitRequest(service_code=service, api_key=keys["submit"], lat="40.71", long="-74.0",
                        address_string="12 Elm Street", attributes=answers,
                        contact=Contact(email="rosa@example.org"))  # fmt: skip
    rid = submit_request(SqlUnitOfWork(engine), clock, cmd).service_request_id
    assert rid is not None
    return rid


def _template(engine: Engine, clock: FixedClock, name: str, body: str, service: str = "",
              visibility: str = "public") -> int:  # fmt: skip
    made = save_template(SqlUnitOfWork(engine), clock, SaveTemplate(OPERATOR, name, body, visibility, service))
    assert made.id is not None
    return made.id


# -- the admin page -------------------------------------------------------------------------------------------------
def test_templates_page__admin_adds_edits_and_deletes__each_audited(
    client: TestClient, engine: Engine, staff: dict[str, int]
) -> None:
    csrf = sign_in(client, "admin@city.gov")
    page = client.get("/staff/admin/templates")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert 'href="/staff/admin/templates" aria-current="page"' in page.text and "No templates yet." in page.text
    assert "{due_date}" in page.text  # the placeholders are listed beside the text
    form = {"csrf": csrf, "name": "Crew scheduled", "service": "pothole", "visibility": "public",
            "body": "A crew will fix the pothole at {address} by {due_date}."}  # fmt: skip
    added = client.post("/staff/admin/templates", data=form, follow_redirects=False)
    assert added.status_code == 303 and added.headers["location"] == "/staff/admin/templates?notice=added"
    listing = client.get(added.headers["location"]).text
    assert "Template added." in listing and "Crew scheduled" in listing and "Pothole" in listing
    template_id = int(re.findall(r"/staff/admin/templates/(\d+)/edit", listing)[0])
    editor = client.get(f"/staff/admin/templates/{template_id}/edit").text
    assert "Edit template: Crew scheduled" in editor and "A crew will fix the pothole at {address}" in editor
    form.update(name="Crew booked", service="", visibility="internal", body="Crew booked for {request_id}.")
    saved = client.post(f"/staff/admin/templates/{template_id}/edit", data=form, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"] == "/staff/admin/templates?notice=saved"
    listing = client.get(saved.headers["location"]).text
    assert "Crew booked" in listing and "All services" in listing and "Staff only (internal)" in listing
    question = client.get(f"/staff/admin/templates/{template_id}/delete")
    assert question.status_code == 200 and "Delete “Crew booked”?" in question.text
    assert _count(engine, response_templates) == 1  # asking writes nothing
    gone = client.post(f"/staff/admin/templates/{template_id}/delete", data={"csrf": csrf}, follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"] == "/staff/admin/templates?notice=deleted"
    assert _count(engine, response_templates) == 0
    assert _ops(engine, "template.manage") == ["add", "edit", "delete"]
    (entry,) = audit_entries(SqlUnitOfWork(engine), action="template.manage", limit=1)
    assert entry.principal == f"staff:{staff['admin@city.gov']} admin@city.gov"


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ("Fixed at {adress}.", "unknown placeholder {adress} at line 1, column 10"),
        ("Fixed {address", "an unbalanced “{” at line 1, column 7"),
    ],
)
def test_templates_page__bad_placeholder__400_naming_it_form_kept_nothing_written(
    client: TestClient, engine: Engine, staff: dict[str, int], body: str, said: str
) -> None:
    csrf = sign_in(client, "admin@city.gov")
    before = len(_ops(engine, "template.manage"))
    form = {"csrf": csrf, "name": "Fixed", "service": "graffiti", "visibility": "internal", "body": body}
    reply = client.post("/staff/admin/templates", data=form)
    assert reply.status_code == 400 and said in html.unescape(reply.text)
    assert 'value="Fixed"' in reply.text and f">{html.escape(body)}</textarea>" in reply.text
    assert '<option value="graffiti" selected>' in reply.text and 'value="internal" checked' in reply.text
    assert _count(engine, response_templates) == 0 and len(_ops(engine, "template.manage")) == before


@pytest.mark.parametrize("email", ["dot@city.gov", "agent@city.gov", "exec@city.gov"])
def test_templates_page__not_admin__403_and_nothing_written(
    client: TestClient, engine: Engine, clock: FixedClock, staff: dict[str, int], email: str
) -> None:
    template_id = _template(engine, clock, "Thanks", "Thanks for reporting {address}.")
    csrf = sign_in(client, email)
    assert client.get("/staff/admin/templates").status_code == 403
    assert client.get(f"/staff/admin/templates/{template_id}/edit").status_code == 403
    assert client.get(f"/staff/admin/templates/{template_id}/delete").status_code == 403
    form = {"csrf": csrf, "name": "Other", "visibility": "public", "body": "Hello"}
    assert client.post("/staff/admin/templates", data=form).status_code == 403
    assert client.post(f"/staff/admin/templates/{template_id}/delete", data={"csrf": csrf}).status_code == 403
    assert _count(engine, response_templates) == 1 and _ops(engine, "template.manage") == ["add"]


def test_templates_page__without_csrf__refused_nothing_written(
    client: TestClient, engine: Engine, staff: dict[str, int]
) -> None:
    sign_in(client, "admin@city.gov")
    reply = client.post("/staff/admin/templates", data={"name": "X", "visibility": "public", "body": "Hello"})
    assert reply.status_code == 403 and _count(engine, response_templates) == 0


# -- "Use template" on the request page -----------------------------------------------------------------------------
def test_request_page__use_template__note_filled_server_side_then_added(
    client: TestClient, engine: Engine, clock: FixedClock, keys: dict[str, str], staff: dict[str, int]
) -> None:
    rid = _file(engine, clock, keys)
    crew = _template(engine, clock, "Crew scheduled", "A crew will fix the pothole at {address} ({status}) by "
                     "{due_date}. {body_name}, request {request_id}.", "pothole")  # fmt: skip
    _template(engine, clock, "Thanks", "Thanks for reporting it.", visibility="internal")
    _template(engine, clock, "Paint booked", "Painters are booked.", "graffiti")
    csrf = sign_in(client, "dot@city.gov")
    page = client.get(f"/staff/requests/{rid}").text
    assert '<label for="w-template">Response template</label>' in page and ">Use template</button>" in page
    assert "Crew scheduled (public)" in page and "Thanks (staff only)" in page and "Paint booked" not in page
    before = (len(audit_entries(SqlUnitOfWork(engine), limit=1000)), _count(engine, response_templates))
    filled = client.get(f"/staff/requests/{rid}/note", params={"template": crew})
    assert filled.status_code == 200
    text = ("A crew will fix the pothole at 12 Elm Street (new) by 1 December 2026. Department of Transportation, "
            f"request {rid}.")  # fmt: skip
    assert f'autofocus aria-describedby="w-note-hint">{text}</textarea>' in filled.text
    assert 'name="visibility" value="public" checked' in filled.text
    assert f'<option value="{crew}" selected>' in filled.text
    assert (len(audit_entries(SqlUnitOfWork(engine), limit=1000)), _count(engine, response_templates)) == before
    edited = text + " Thank you!"
    added = client.post(f"/staff/requests/{rid}/note", data={"csrf": csrf, "text": edited, "visibility": "public"},
                        follow_redirects=False)  # fmt: skip
    assert added.status_code == 303 and added.headers["location"].endswith("?done=note")
    timeline = client.get(added.headers["location"]).text
    assert "Note added." in timeline and html.escape(edited) in timeline


def test_request_page__use_template_of_another_service_or_none__400_on_the_page(
    client: TestClient, engine: Engine, clock: FixedClock, keys: dict[str, str], staff: dict[str, int]
) -> None:
    rid = _file(engine, clock, keys)
    paint = _template(engine, clock, "Paint booked", "Painters are booked.", "graffiti")
    sign_in(client, "dot@city.gov")
    other = client.get(f"/staff/requests/{rid}/note", params={"template": paint})
    assert other.status_code == 400 and "is for another service" in html.unescape(other.text)
    assert f"Request {rid}" in other.text
    assert client.get(f"/staff/requests/{rid}/note", params={"template": "x"}).status_code == 400
    missing = client.get(f"/staff/requests/{rid}/note", params={"template": "999999"})
    assert missing.status_code == 404 and "does not exist" in missing.text and f"Request {rid}" in missing.text


def test_request_page__executive__no_templates_offered_and_filling_refused(
    client: TestClient, engine: Engine, clock: FixedClock, keys: dict[str, str], staff: dict[str, int]
) -> None:
    rid = _file(engine, clock, keys)
    thanks = _template(engine, clock, "Thanks", "Thanks for reporting it.")
    sign_in(client, "exec@city.gov")
    page = client.get(f"/staff/requests/{rid}")
    assert page.status_code == 200 and "Response template" not in page.text
    assert client.get(f"/staff/requests/{rid}/note", params={"template": thanks}).status_code == 403


# -- deleting a knowledge article -----------------------------------------------------------------------------------
def test_knowledge__admin_deletes_after_the_question__gone_and_audited(
    client: TestClient, engine: Engine, clock: FixedClock, staff: dict[str, int]
) -> None:
    save_article(SqlUnitOfWork(engine), clock, SaveArticle(OPERATOR, "potholes", "Potholes", "Fixed in 3 days.",
                                                           ("pothole",)))  # fmt: skip
    csrf = sign_in(client, "admin@city.gov")
    article = client.get("/staff/knowledge/potholes").text
    assert 'href="/staff/knowledge/potholes/delete">Delete this article</a>' in article
    question = client.get("/staff/knowledge/potholes/delete")
    assert question.status_code == 200 and "Delete “Potholes”?" in question.text
    assert ">Delete the article</button>" in question.text and _count(engine, knowledge_articles) == 1
    gone = client.post("/staff/knowledge/potholes/delete", data={"csrf": csrf}, follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"] == "/staff/knowledge?done=deleted"
    assert "Article deleted." in client.get(gone.headers["location"]).text
    assert _count(engine, knowledge_articles) == 0
    assert client.get("/staff/knowledge/potholes").status_code == 404
    (entry,) = audit_entries(SqlUnitOfWork(engine), action="knowledge.manage", principal="admin@city.gov")
    assert entry.detail == {"op": "delete", "slug": "potholes", "title": "Potholes"}
    again = client.post("/staff/knowledge/potholes/delete", data={"csrf": csrf})
    assert again.status_code == 404


def test_knowledge__agent__no_delete_link_403_and_nothing_deleted(
    client: TestClient, engine: Engine, clock: FixedClock, staff: dict[str, int]
) -> None:
    save_article(SqlUnitOfWork(engine), clock, SaveArticle(OPERATOR, "potholes", "Potholes", "Fixed in 3 days."))
    csrf = sign_in(client, "agent@city.gov")
    assert "/delete" not in client.get("/staff/knowledge/potholes").text
    assert client.get("/staff/knowledge/potholes/delete").status_code == 403
    assert client.post("/staff/knowledge/potholes/delete", data={"csrf": csrf}).status_code == 403
    assert client.post("/staff/knowledge/potholes/delete", data={}).status_code == 403  # no CSRF token either
    assert _count(engine, knowledge_articles) == 1


# -- re-enabling a staff account ------------------------------------------------------------------------------------
def test_users__enable_a_disabled_account__new_one_time_password_and_audited(
    client: TestClient, engine: Engine, staff: dict[str, int], app: FastAPI
) -> None:
    with TestClient(app) as dot:
        sign_in(dot, "dot@city.gov")
        csrf = sign_in(client, "admin@city.gov")
        client.post("/staff/admin/users/disable", data={"email": "dot@city.gov", "csrf": csrf})
        listing = client.get("/staff/admin/users").text
        assert 'aria-label="Enable dot@city.gov">Enable</button>' in listing
        enabled = client.post("/staff/admin/users/enable", data={"email": "dot@city.gov", "csrf": csrf})
        assert enabled.status_code == 200 and enabled.headers["cache-control"] == "no-store"
        found = re.search(r'<code id="one-time-password"[^>]*>([^<]+)</code>', enabled.text)
        assert found and "One-time password for dot@city.gov" in enabled.text
        assert "Active (one-time password)" in enabled.text
        # the session it had before it was disabled stays ended; the old password no longer signs in
        assert dot.get("/staff/queue", follow_redirects=False).status_code == 303
        form = dot.get("/staff/login")
        old = dot.post("/staff/login", data={"email": "dot@city.gov", "password": PASSWORD, "csrf": csrf_of(form.text)},
                       follow_redirects=False)  # fmt: skip
        assert old.status_code != 303
        form = dot.get("/staff/login")
        new = dot.post("/staff/login", data={"email": "dot@city.gov", "password": found.group(1),
                                             "csrf": csrf_of(form.text)}, follow_redirects=False)  # fmt: skip
        assert new.status_code == 303 and new.headers["location"] == "/staff/password"
    ops = [e.detail["op"] for e in audit_entries(SqlUnitOfWork(engine), action="user.manage")
           if e.object_id == str(staff["dot@city.gov"])]  # fmt: skip
    assert ops == ["add", "disable", "enable"]


def test_users__enable_an_active_account__400_nothing_written(
    client: TestClient, engine: Engine, staff: dict[str, int]
) -> None:
    csrf = sign_in(client, "admin@city.gov")
    before = len(_ops(engine, "user.manage"))
    reply = client.post("/staff/admin/users/enable", data={"email": "dot@city.gov", "csrf": csrf})
    assert reply.status_code == 400 and "is not disabled" in reply.text and "one-time-password" not in reply.text
    assert len(_ops(engine, "user.manage")) == before


def test_users__enable__not_admin__403(client: TestClient, engine: Engine, staff: dict[str, int]) -> None:
    csrf = sign_in(client, "dot@city.gov")
    reply = client.post("/staff/admin/users/enable", data={"email": "agent@city.gov", "csrf": csrf})
    assert reply.status_code == 403
