"""Messages as residents' mail programs send them, for the email-in tests."""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP

# The smallest valid PNG (1×1): passes the photo checks (requests/media.py sniffs the bytes).
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63000100000500010d0a2db40000000049454e44ae426082"
)


def mail(
    *,
    sender: str = "Ana Ruiz <ana@example.org>",
    to: str = "311@city.example.gov",
    subject: str = "Pothole on my street",
    text: str = "There is a deep pothole.\nAddress: 100 Main St\n",
    html: str | None = None,
    message_id: str | None = "<m1@example.org>",
    in_reply_to: str | None = None,
    headers: dict[str, str] | None = None,
    photo: bytes | None = None,
    attachment: tuple[str, str, bytes] | None = None,
) -> bytes:
    msg = EmailMessage(policy=SMTP)
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    if message_id:
        msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(text)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    if photo is not None:
        msg.add_attachment(photo, maintype="image", subtype="png", filename="hole.png")
    if attachment is not None:
        name, kind, data = attachment
        main, sub = kind.split("/")
        msg.add_attachment(data, maintype=main, subtype=sub, filename=name)
    return msg.as_bytes()
