"""Open311 client connector: for a department that runs its own Open311 GeoReport v2 server.

Sending (:class:`Open311Sender`):

- ``created`` → ``POST {endpoint}/requests.json``, form-encoded: ``service_code`` (through ``service_code_map``),
  ``lat``/``long``, ``address_string``, ``zipcode``, ``description``, ``media_url`` (absolute http(s) URLs only),
  ``attribute[code]`` (and ``attribute[code][]`` repeated for lists), the contact fields when ``include_contact``
  is set, ``api_key`` (the connector's secret) and ``jurisdiction_id``. A ``service_request_id`` in the reply is
  the request's external id.
  A reply with only a ``token`` is followed (``GET tokens/{token}.json``, a few times within ``timeout_s``); if
  no id comes, the message is still delivered (a retry would file the request twice) and the token is in the
  detail (:func:`token_in`): remember it in the poll cursor (:func:`remember_token`) and the poller reports the
  id when the department assigns it.
- ``status_changed`` / ``note`` → ``POST {endpoint}/servicerequestupdates.json`` (FixMyStreet's extension) when
  ``updates_supported`` is set and the department's id is known; upper-case FixMyStreet statuses (the
  connector's outbound status map first); ``update_id`` is the message's idempotency key. Without
  ``updates_supported`` the message is delivered with the detail "not supported by this endpoint".
- ``transferred`` has no Open311 equivalent: delivered, not sent.

HTTP: 2xx delivered; 408, 429, 5xx, connection errors, timeouts and 2xx replies that are not Open311 JSON are
retried (``Retry-After`` seconds or HTTP date honoured); 410 gone; other 3xx/4xx failed, with the server's Open311
error description in the detail.

Polling (:class:`Open311Poller`): see :mod:`civicswitch.hub.connectors.open311.poller`.
"""

from __future__ import annotations

from civicswitch.hub.connectors.open311.config import Open311Settings, check_config
from civicswitch.hub.connectors.open311.poller import TOKEN_UPDATE_PREFIX, Open311Poller, PollFailed, remember_token
from civicswitch.hub.connectors.open311.sender import Open311Sender, token_in
from civicswitch.hub.model import ConnectorKind

KIND = ConnectorKind.OPEN311

__all__ = [
    "KIND",
    "TOKEN_UPDATE_PREFIX",
    "Open311Poller",
    "Open311Sender",
    "Open311Settings",
    "PollFailed",
    "check_config",
    "remember_token",
    "token_in",
]
