"""Email connector: for bodies that take email, one readable message per request event, sent through SMTP.

Settings (``check_config`` checks and normalises them):
- ``to``: one address or a list (or a comma-separated text) of at most 20; display names are kept;
- ``from``: the sender address (``City 311 <noreply@city.gov>``); its domain also names the ``Message-ID``;
- ``smtp_host``, ``smtp_port`` (default 25), ``starttls`` (default false: upgrade the connection with STARTTLS and
  verify the server's certificate), ``username`` (log in; the password is the connector's secret), ``timeout_s``
  (default 30);
- ``public_url`` (optional): the request link, ``<public_url>/requests/<id>`` or a URL with ``{id}`` in it;
- ``subject_prefix`` (default ``[311]``), ``html`` (default false: add an HTML alternative), ``include_contact``
  (default false: the filer's contact data is sent only when the body needs it and this is set).

Each email has a subject such as ``[311] New request 1234: pothole — 100 Main St``, every field of the request
the body may see, the request link when ``public_url`` is set, and a line saying replies are not read. Its
``Message-ID`` is made from the idempotency key (a resend carries the same one, so a receiver can drop copies);
headers ``X-Civicswitch-Idempotency-Key``, ``X-Civicswitch-Request-Id``, ``X-Civicswitch-Event-Type``,
``Auto-Submitted: auto-generated`` and ``X-Auto-Response-Suppress: All``. Replies are not expected.

Outcomes: accepted by the server → delivered (some recipients refused while others took it: still delivered, the
detail names the refused ones); 4xx replies, refused or dropped connections, timeouts and TLS errors → retry; 5xx
replies (a refused login included) and a server without STARTTLS or AUTH when the settings need it → failed.
"""

from __future__ import annotations

from civicswitch.hub.connectors.email.config import check_config
from civicswitch.hub.connectors.email.message import build_email
from civicswitch.hub.connectors.email.sender import EmailSender
from civicswitch.hub.model import ConnectorKind

KIND = ConnectorKind.EMAIL

__all__ = ["KIND", "EmailSender", "build_email", "check_config"]
