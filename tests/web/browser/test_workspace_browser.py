"""The staff queue and request page in Chromium: a department clerk's flow by keyboard alone (including the SLA
states and a bulk acknowledge), a partner's and a liaison's, the filter form without JavaScript, and axe on every
page."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import shapely
from sqlalchemy import Engine
from sqlalchemy import text as sql

from civicswitch.catalog.areas import Area, AreaLayer
from civicswitch.catalog.model import Body, BodyKind
from civicswitch.core.clock import FixedClock
from civicswitch.people.handlers import AddUser, add_user
from civicswitch.people.policy import OPERATOR
from civicswitch.requests.commands import PartnerStep, PartnerWork, SubmitRequest
from civicswitch.requests.handlers import submit_request
from civicswitch.requests.model import Contact
from civicswitch.requests.staff import assign_request
from civicswitch.requests.work import partner_work
from civicswitch.storage.sql import SqlUnitOfWork
from conftest import axe_violations, screenshot, sign_in
from conftest import tab_to as _tab_to

PASSWORD = "a long enough password"
# Every flow on both databases (the issue: "end to end in Chromium on SQLite and PostgreSQL"): the conftest's
# database_url runs SQLite always and PostgreSQL where CIVICSWITCH_TEST_POSTGRES_URL names one.


@pytest.fixture
def clerk(engine: Engine, clock: FixedClock, keys: dict[str, str]) -> str:
    for i, (service, text) in enumerate(
        [("pothole", "Deep hole by the bus stop"), ("pothole", "Crater in the bike lane"),
         ("graffiti", "Tags on the school wall")]
    ):  # fmt: skip
        answers = {"size": ["large"]} if service == "pothole" else {}
        cmd = SubmitRequest(service_code=service, api_key=keys["submit"], lat="40.71", long="-74.0", description=text,
                            address_string=f"{100 + i} Main Street", attributes=answers,
                            contact=Contact(first_name="Rosa", phone="555-0100"))  # fmt: skip
        submit_request(SqlUnitOfWork(engine), clock, cmd)
    add_user(SqlUnitOfWork(engine), clock, AddUser("ana@city.gov", "department", bodies=("DOT",), name="Ana Ruiz",
                                                  password=PASSWORD))  # fmt: skip
    return "ana@city.gov"


def _sign_in(page: Any, base: str, email: str, next_: str) -> None:
    sign_in(page, base, email, PASSWORD, next_)


def test_queue__department_clerk_by_keyboard__filter_open_a_request_show_contact(
    page: Any, served: str, clerk: str
) -> None:
    _sign_in(page, served, clerk, "/staff/queue")
    assert page.url.endswith("/staff/queue")
    assert page.get_by_role("heading", name="Queue", exact=True).is_visible()
    rows = page.locator("tbody tr")
    assert rows.count() == 2  # DOT's two potholes; DSNY's graffiti is not this clerk's
    assert axe_violations(page) == []
    screenshot(page, "staff-queue")

    _tab_to(page, "Search")
    page.keyboard.type("bike")
    page.keyboard.press("Enter")  # submits the filter form
    page.wait_for_url("**/staff/queue?*")
    assert page.locator("tbody tr").count() == 1 and "Crater in the bike lane" in page.content()
    assert page.input_value("#f-q") == "bike"  # the filter is kept on the page
    assert axe_violations(page) == []

    page.goto(f"{served}/staff/queue")
    _tab_to(page, page.locator("tbody tr").first.locator("a").inner_text())
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/staff/requests/" in page.url
    assert page.get_by_role("heading", name="Timeline").is_visible()
    assert "555-0100" not in page.content()
    assert axe_violations(page) == []
    screenshot(page, "staff-request")

    _tab_to(page, "Why you need it")
    page.keyboard.type("to arrange access")
    _tab_to(page, "Show contact")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "555-0100" in page.content() and "recorded in the audit log" in page.content()
    assert axe_violations(page) == []
    screenshot(page, "staff-request-contact")


def test_queue__without_javascript__the_filter_form_works(browser: Any, served: str, clerk: str) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        _sign_in(page, served, clerk, "/staff/queue")
        page.get_by_label("Service").select_option(label="Pothole")
        page.get_by_label("Sort by").select_option(label="Newest first")
        with page.expect_navigation():
            page.get_by_role("button", name="Filter").click()
        assert "service=pothole" in page.url and "sort=newest" in page.url
        assert page.locator("tbody tr").count() == 2
        assert "Crater in the bike lane" in page.locator("tbody tr").first.inner_text()
    finally:
        context.close()


def test_request_page__another_bodys_request__refused_page_is_axe_clean(
    page: Any, served: str, clerk: str, engine: Engine
) -> None:
    with SqlUnitOfWork(engine) as uow:
        graffiti = max(r.id for r in uow.queue.queue(*_everything()).rows if r.service_code == "graffiti")
    _sign_in(page, served, clerk, f"/staff/requests/{graffiti}")
    assert page.get_by_role("alert").is_visible()
    assert "only on requests owned by DOT" in page.get_by_role("alert").inner_text()
    assert "Tags on the school wall" not in page.content()
    assert axe_violations(page) == []
    screenshot(page, "staff-request-refused")


def _everything() -> tuple[Any, Any]:
    from civicswitch.requests.queue import QueueFilter, QueueScope

    return QueueScope(everything=True), QueueFilter()


def test_bridge__clerk_by_keyboard__claim_record_reference_and_minutes(page: Any, served: str, clerk: str) -> None:
    _sign_in(page, served, clerk, "/staff/bridge")
    assert page.get_by_role("heading", name="Manual bridge").is_visible()
    assert page.locator("tbody tr").count() == 2  # DOT's two potholes wait for a person (no DOT connector)
    assert axe_violations(page) == []
    screenshot(page, "staff-bridge")
    first = page.locator("tbody tr").first.locator("a").first.inner_text()  # "Task N"
    _tab_to(page, "Claim")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.get_by_role("heading", name=f"Manual {first.lower()}", exact=False).is_visible()
    assert "by you" in page.content()
    assert axe_violations(page) == []
    _tab_to(page, "Department's reference")
    page.keyboard.type("WO-4411")
    _tab_to(page, "Minutes spent")
    page.keyboard.type("7")
    screenshot(page, "staff-bridge-task")
    _tab_to(page, "Mark as entered")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.get_by_role("status").inner_text().startswith("Recorded")
    assert page.locator("tbody tr").count() == 1 + 1  # one task left, and the week's table: DOT, 1 task
    assert axe_violations(page) == []
    screenshot(page, "staff-bridge-done")


def test_request_page__clerk_by_keyboard__acknowledge_hold_and_note(page: Any, served: str, clerk: str) -> None:
    _sign_in(page, served, clerk, "/staff/queue")
    href = page.locator("tbody tr").first.locator("a").get_attribute("href")
    page.goto(f"{served}{href}")
    assert page.get_by_role("heading", name="Work on it").is_visible()
    assert axe_violations(page) == []
    _tab_to(page, "Acknowledge")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.get_by_role("status").inner_text() == "Acknowledged."
    _tab_to(page, "Reason for the hold")
    page.keyboard.type("Waiting for the gas company")
    page.keyboard.press("Enter")  # submits the hold form
    page.wait_for_url("**done=hold")
    assert "On hold" in page.locator("dl").first.inner_text()
    _tab_to(page, "Note")
    page.keyboard.type("Called the gas company, visit on Tuesday")
    _tab_to(page, "Add note")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    timeline = page.locator("ol.timeline").inner_text()
    assert "Staff only · note" in timeline and "visit on Tuesday" in timeline
    assert "Public · status changed: On hold" in timeline
    assert axe_violations(page) == []
    screenshot(page, "staff-request-worked")


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def field(engine: Engine, clock: FixedClock, clerk: str) -> dict[str, str]:
    """The clerk's city, plus partner FIXIT working the first pothole and a liaison for district A (both potholes).
    The partner reported the second pothole's work complete: the liaison may check it."""
    with SqlUnitOfWork(engine) as uow:
        uow.catalog.add_body(Body(code="FIXIT", name="Fixit Contractors", kind=BodyKind.PARTNER))
        district = Area("districts", "A", "District A", shapely.box(-74.05, 40.69, -73.95, 40.73))
        uow.catalog.add_layer_version(AreaLayer("districts", "key"), [district], None)
        rows = uow.queue.queue(*_everything()).rows
        potholes = [str(r.id) for r in rows if r.service_code == "pothole"]
        for rid in potholes:
            found = uow.requests.get(int(rid))
            assert found is not None
            found.areas = {"districts": "A"}
            uow.requests.save(found)
        uow.commit()
    assign_request(SqlUnitOfWork(engine), clock, potholes[0], "FIXIT", who=OPERATOR)
    partner_work(SqlUnitOfWork(engine), clock, PartnerWork(OPERATOR, potholes[1], PartnerStep.COMPLETE))
    add_user(SqlUnitOfWork(engine), clock, AddUser("crew@fixit.example", "partner", org="FIXIT", name="Fixit crew",
                                                  password=PASSWORD))  # fmt: skip
    add_user(SqlUnitOfWork(engine), clock, AddUser("vol@city.gov", "liaison", areas=("districts:A",),
                                                  name="Lee Volunteer", password=PASSWORD))  # fmt: skip
    return {"partner": potholes[0], "checked": potholes[1]}


def test_partner__by_keyboard__own_organisations_queue_start_progress_note_work_complete(
    page: Any, served: str, field: dict[str, str]
) -> None:
    _sign_in(page, served, "crew@fixit.example", "/staff/queue")
    assert page.locator("tbody tr").count() == 1  # only the request assigned to FIXIT
    assert "Requests assigned to FIXIT." in page.content()
    assert axe_violations(page) == []
    screenshot(page, "staff-queue-partner")
    _tab_to(page, field["partner"])
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.get_by_role("heading", name="Your organisation's work").is_visible()
    assert page.get_by_role("button", name="Acknowledge").count() == 0  # the department's buttons are not here
    assert axe_violations(page) == []
    screenshot(page, "staff-request-partner")
    _tab_to(page, "Start")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.get_by_role("status").inner_text() == "Started: the request is in progress."
    _tab_to(page, "Progress note")
    page.keyboard.type("Asphalt poured, curing overnight")
    # the photo: the file chooser is the operating system's, not the page's; the field is set as it would leave it
    page.get_by_label("Photo of the progress (optional)").set_input_files(
        files=[{"name": "progress.png", "mimeType": "image/png", "buffer": PNG}]
    )
    _tab_to(page, "Add progress note")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.get_by_role("status").inner_text() == "Progress note added."
    _tab_to(page, "What was done (optional)")
    page.keyboard.type("Hole filled and rolled")
    _tab_to(page, "Work complete")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.get_by_role("status").inner_text() == "Work reported complete."
    timeline = page.locator("ol.timeline").inner_text()
    assert "Public · status changed: In progress" in timeline and "curing overnight" in timeline
    assert "Staff only · work completed" in timeline and "Hole filled and rolled" in timeline
    assert page.locator("ol.timeline a", has_text="Photo").count() == 1
    assert axe_violations(page) == []
    screenshot(page, "staff-request-partner-done")


def test_liaison__by_keyboard__confirms_a_fix_on_site(page: Any, served: str, field: dict[str, str]) -> None:
    _sign_in(page, served, "vol@city.gov", "/staff/queue")
    assert page.locator("tbody tr").count() == 2  # district A's two potholes; the graffiti is elsewhere
    assert axe_violations(page) == []
    _tab_to(page, field["checked"])
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.get_by_role("heading", name="Check the fix on site").is_visible()
    assert axe_violations(page) == []
    screenshot(page, "staff-request-liaison")
    _tab_to(page, "What you saw (optional)")
    page.keyboard.type("Road is smooth again")
    _tab_to(page, "Confirm fix")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.get_by_role("status").inner_text() == "Fix confirmed: your check is on the timeline."
    timeline = page.locator("ol.timeline").inner_text()
    assert "Public · fix confirmed" in timeline and "Road is smooth again" in timeline
    assert axe_violations(page) == []
    screenshot(page, "staff-request-liaison-confirmed")


def _worked(engine: Engine) -> tuple[list[str], int, int]:
    """Every request's status, the timeline entries of all of them, and the audit log's length."""
    with engine.connect() as db:
        statuses = [r[0] for r in db.execute(sql("SELECT status FROM service_requests ORDER BY id"))]
        events = db.execute(sql("SELECT count(*) FROM request_events")).scalar_one()
        audited = db.execute(sql("SELECT count(*) FROM audit_log")).scalar_one()
    return statuses, events, audited


def test_queue__clerk_by_keyboard__overdue_rows_then_bulk_acknowledge(
    page: Any, served: str, clerk: str, clock: FixedClock, engine: Engine
) -> None:
    clock.advance(timedelta(hours=80))  # past the potholes' 72-hour target
    _sign_in(page, served, clerk, "/staff/queue")
    rows = page.locator("tbody tr")
    assert rows.count() == 2 and page.locator("tbody tr.overdue").count() == 2
    assert "Overdue" in rows.first.inner_text()
    assert axe_violations(page) == []
    screenshot(page, "staff-queue-sla")
    for i in range(2):
        number = rows.nth(i).locator("a").first.inner_text()
        _tab_to(page, f"Select request {number}")
        page.keyboard.press("Space")
    assert page.locator("input[name=ids]:checked").count() == 2
    _tab_to(page, "Acknowledge selected")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.get_by_role("heading", name="Acknowledge selected: 2 done, 0 refused").is_visible()
    assert page.get_by_role("status").inner_text().count("Done") == 2
    assert page.locator("tbody tr .status-acknowledged").count() == 2
    assert axe_violations(page) == []
    screenshot(page, "staff-queue-bulk")
    # POST, redirect, GET: the result has its own address; reloading it shows the same outcome and acts on nothing
    assert "/staff/queue/bulk/" in page.url
    done = _worked(engine)
    assert done[0].count("acknowledged") == 2
    page.reload()
    assert "/staff/queue/bulk/" in page.url
    assert page.get_by_role("heading", name="Acknowledge selected: 2 done, 0 refused").is_visible()
    assert page.get_by_role("status").inner_text().count("Done") == 2
    assert "Reloading this page shows it again and does nothing more." in page.content()
    assert _worked(engine) == done  # no status, timeline entry or audit entry more
    assert axe_violations(page) == []
