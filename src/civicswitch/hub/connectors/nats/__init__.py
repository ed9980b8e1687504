"""Message bus connector: publishes request events to NATS JetStream for systems that subscribe.

Settings (``check_config`` checks and normalises them):
- ``servers``: NATS URLs (default ``["nats://127.0.0.1:4222"]``; a comma-separated text is taken too);
- ``subject_prefix`` (default ``civicswitch.requests``): each message goes to ``<prefix>.<type>``, e.g.
  ``civicswitch.requests.created``, ``….status_changed``, ``….note``, ``….transferred``;
- ``stream`` (optional): the JetStream stream the subjects must land in (sent as ``Nats-Expected-Stream``);
  ``create_stream`` (default false) creates it, taking ``<prefix>.>``, when it does not exist, with a duplicate
  window of ``duplicate_window_s`` (default 86400: longer than the retry schedule); an existing stream is never
  changed;
- ``timeout_s`` (default 5): connect and publish-acknowledgement timeout;
- ``user`` (optional): log in as this user with the connector's secret as password; with no user, a secret is
  sent as a token;
- ``include_contact`` (default false: the filer's contact data is sent only when the body needs it and this is set).

Each message is the CloudEvent in structured mode (JSON payload, header ``Content-Type:
application/cloudevents+json``) with header ``Nats-Msg-Id`` = the idempotency key, so JetStream stores a resend
only once within the stream's duplicate window.

Outcomes: a publish acknowledgement → delivered (its detail names stream and sequence, and says when the server
had it already); no server reachable, no acknowledgement in time, no stream taking the subject, or a JetStream
5xx → retry; other JetStream errors (e.g. the subject lands in another stream than ``stream``) and a message over
the server's payload limit → failed.
"""

from __future__ import annotations

from civicswitch.hub.connectors.nats.config import check_config, subject_for
from civicswitch.hub.connectors.nats.sender import CONTENT_TYPE, NatsSender
from civicswitch.hub.model import ConnectorKind

KIND = ConnectorKind.NATS

__all__ = ["CONTENT_TYPE", "KIND", "NatsSender", "check_config", "subject_for"]
