"""Mail to residents: through the instance's residents' mail connector, the same outbox and worker as departments.

A residents' connector is an ``email`` connector with ``audience=residents``: it has no ``to`` (each message goes
to the resident it is for) and never receives a department's messages. It belongs to a body like every
connector (the city's 311 office, say), whose name appears nowhere in the mail. When an instance has several,
the first by code is used; with none, notices are dropped with a warning, and what depended on them (a follow by
email) stays unconfirmed.

    civicswitch connectors add email --body 311 --code residents-mail \\
        --set from="City 311 <noreply@city.gov>" --set smtp_host=mail.city.gov --set audience=residents
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from civicswitch.hub.model import Connector, ConnectorKind, MessageType
from civicswitch.hub.views import NewDelivery
from civicswitch.requests.model import Notice

log = logging.getLogger(__name__)

RESIDENTS = "residents"
TYPE_PREFIX = "gov.civicswitch.request."
SOURCE = "urn:civicswitch:residents"
_TYPES = {
    "follow_confirmation": MessageType.FOLLOW_CONFIRMATION,
    "update": MessageType.RESIDENT_UPDATE,
    "area_confirmation": MessageType.AREA_FOLLOW_CONFIRMATION,  # people/area_follows
    "area_update": MessageType.AREA_UPDATE,
    "area_digest": MessageType.AREA_DIGEST,
}


def for_residents(connector: Connector) -> bool:
    """Whether a connector writes to residents (and so never takes a department's messages)."""
    return connector.kind == ConnectorKind.EMAIL and connector.config.get("audience") == RESIDENTS


def residents_connector(connectors: Iterable[Connector]) -> Connector | None:
    """The connector that carries mail to residents (enabled or paused: a paused one's rows wait), if any."""
    found = sorted((c for c in connectors if for_residents(c)), key=lambda c: c.code)
    return found[0] if found else None


def notice_envelope(notice: Notice, type_: MessageType, key: str, at: datetime) -> dict[str, Any]:
    """The CloudEvents 1.0 envelope of one notice; ``data.to`` is the resident's address."""
    return {
        "specversion": "1.0",
        "id": key,
        "source": SOURCE,
        "type": TYPE_PREFIX + str(type_),
        "subject": str(notice.request_id) if notice.request_id is not None else "area",
        "time": at.isoformat(),
        "datacontenttype": "application/json",
        "data": {
            **({"service_request_id": str(notice.request_id)} if notice.request_id is not None else {}),
            **notice.data,
            "to": notice.to,
        },
    }


def notice_rows(notices: list[Notice], connectors: Iterable[Connector], at: datetime) -> list[NewDelivery]:
    """Outbox rows for the notices of one unit of work; marks each one taken as ``queued``."""
    if not notices:
        return []
    connector = residents_connector(connectors)
    if connector is None:
        log.warning(
            "%d message(s) to residents not sent: no residents' mail connector "
            "(civicswitch connectors add email … --set audience=residents; see docs/integrations.md)",
            len(notices),
        )
        return []
    rows = []
    for notice in notices:
        type_ = _TYPES.get(notice.kind)
        if type_ is None:  # pragma: no cover - every kind the use cases make is mapped above
            log.error("notice of unknown kind %r for request %s dropped", notice.kind, notice.request_id)
            continue
        key = "cs_" + secrets.token_hex(16)
        rows.append(
            NewDelivery(
                connector.code,
                connector.body_code,
                notice.request_id,
                type_,
                key,
                notice_envelope(notice, type_, key, at),
                at,
            )
        )
        notice.queued = True
    return rows
