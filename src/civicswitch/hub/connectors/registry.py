"""Which connector kinds exist and how each checks its settings and is sent to."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from civicswitch.core.errors import Invalid
from civicswitch.hub.connectors import Poller, Sender, batch, email, nats, open311, webhook
from civicswitch.hub.model import ConnectorKind


def _manual_config(config: Mapping[str, Any]) -> dict[str, Any]:
    if config:
        raise Invalid(f"manual: takes no settings (got {', '.join(sorted(config))})")
    return {}


CHECKS: dict[ConnectorKind, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    ConnectorKind.WEBHOOK: webhook.check_config,
    ConnectorKind.OPEN311: open311.check_config,
    ConnectorKind.BATCH: batch.check_config,
    ConnectorKind.EMAIL: email.check_config,
    ConnectorKind.NATS: nats.check_config,
    ConnectorKind.MANUAL: _manual_config,
}
# Kinds whose messages are signed with a generated Standard Webhooks secret (the others take theirs, if any).
SIGNED = frozenset({ConnectorKind.WEBHOOK})


def check_config(kind: ConnectorKind, config: Mapping[str, Any]) -> dict[str, Any]:
    check = CHECKS.get(kind)
    if check is None:
        raise Invalid(f"connector kind {kind!s} is not available in this installation")
    return check(config)


def default_senders() -> dict[ConnectorKind, Sender]:
    """One sender per available kind (each keeps its own connections)."""
    return {
        ConnectorKind.WEBHOOK: webhook.WebhookSender(),
        ConnectorKind.OPEN311: open311.Open311Sender(),
        ConnectorKind.BATCH: batch.BatchSender(),
        ConnectorKind.EMAIL: email.EmailSender(),
        ConnectorKind.NATS: nats.NatsSender(),
    }


def default_pollers() -> dict[ConnectorKind, Poller]:
    return {ConnectorKind.OPEN311: open311.Open311Poller(), ConnectorKind.BATCH: batch.BatchPoller()}
