"""The agent console's mail triage in Chromium, by keyboard alone: the waiting mail listed, opened with its photo,
the service chosen, the place typed and the request filed; another marked as not a request. axe on every page."""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP
from typing import Any

import pytest
from sqlalchemy import Engine

from civicswitch.core.clock import FixedClock
from civicswitch.hub.mailin.handlers import MailSettings, receive_mail
from civicswitch.hub.mailin.model import MailState
from civicswitch.people.handlers import AddUser, add_user
from civicswitch.storage.sql import SqlUnitOfWork
from conftest import axe_violations, screenshot, sign_in
from conftest import tab_to as _tab_to

PASSWORD = "a long enough password"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082"
)


def _mail(subject: str, text: str, message_id: str, photo: bool = False) -> bytes:
    msg = EmailMessage(policy=SMTP)
    msg["From"], msg["To"], msg["Subject"], msg["Message-ID"] = (
        "Ana Ruiz <ana@example.org>",
        "311@city.gov",
        subject,
        message_id,
    )
    msg.set_content(text)
    if photo:
        msg.add_attachment(PNG, maintype="image", subtype="png", filename="wall.png")
    return msg.as_bytes()


@pytest.fixture
def waiting(engine: Engine, clock: FixedClock, keys: dict[str, str]) -> list[int]:
    """Two mails no service was clear for, and an agent."""
    ids = []
    for raw in (_mail("Help please", "Somebody painted all over the wall by the park.", "<b1@example.org>", True),
                _mail("Cheap watches", "Buy now!", "<b2@example.org>")):  # fmt: skip
        record = receive_mail(SqlUnitOfWork(engine), clock, raw, MailSettings()).record
        assert record.state is MailState.TRIAGE and record.id is not None
        ids.append(record.id)
    add_user(SqlUnitOfWork(engine), clock, AddUser("ana@city.gov", "agent", name="Ana", password=PASSWORD))
    return ids


def _press_enter(page: Any) -> None:
    with page.expect_navigation():
        page.keyboard.press("Enter")


def test_mail_triage__by_keyboard__open_choose_service_file_and_dismiss(
    page: Any, served: str, waiting: list[int], engine: Engine
) -> None:
    sign_in(page, served, "ana@city.gov", PASSWORD, "/staff/agent/mail")
    assert page.get_by_role("heading", name="Mail triage").is_visible()
    assert page.locator("tbody tr").count() == 2
    assert axe_violations(page) == []
    screenshot(page, "staff-mail-triage")

    _tab_to(page, f"Help please (mail {waiting[0]})")
    _press_enter(page)
    assert page.get_by_role("heading", name=f"Mail {waiting[0]}: Help please").is_visible()
    assert "Somebody painted" in page.content()
    image = page.get_by_role("img", name="Attachment 1 of the mail: wall.png")
    assert image.is_visible() and page.evaluate("document.querySelector('.mail-photos img').naturalWidth") == 1
    assert axe_violations(page) == []
    screenshot(page, "staff-mail-item")

    _tab_to(page, "Service")
    page.keyboard.type("Graffiti")  # type-ahead picks the option
    _tab_to(page, "Use this service")
    _press_enter(page)
    assert "Filed as Graffiti" in page.locator("form.filing").inner_text()
    _tab_to(page, "Address")
    page.keyboard.type("1 Park Row")
    _tab_to(page, "File the request")
    _press_enter(page)
    status = page.get_by_role("status")
    assert "Mail filed as request" in status.inner_text() and page.locator("tbody tr").count() == 1
    assert axe_violations(page) == []
    screenshot(page, "staff-mail-triage-filed")

    _tab_to(page, f"Cheap watches (mail {waiting[1]})")
    _press_enter(page)
    _tab_to(page, "Why it is not a request")
    page.keyboard.type("Spam")
    _press_enter(page)  # submits the form the field is in
    assert "Mail marked as not a request." in page.get_by_role("status").inner_text()
    assert "No mail is waiting" in page.content()
    assert axe_violations(page) == []
    with SqlUnitOfWork(engine) as uow:
        states = [uow.mail.get(i, raw=False).state for i in waiting]  # type: ignore[union-attr]
    assert states == [MailState.FILED_FROM_TRIAGE, MailState.DISMISSED]
