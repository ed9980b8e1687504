"""Following an area by email: a layer's area (a community district, say), or one service in it.

A resident gives an address, an area, optionally a service, and how often they want to hear: **every change**
(a message per change, as request followers get), a **daily** or a **weekly** digest (the changes of the period,
grouped by request, newest first; nothing at all when nothing happened). Nothing is sent to the address before its
owner opens the signed link we mail and presses the button (``people/links.py``); every message carries a one-click
"stop these emails" for this follow (``List-Unsubscribe``, RFC 8058).

- ``model.py`` — :class:`AreaFollow`, :class:`Cadence`;
- ``ports.py`` — the store (``sql.py``, ``memory.py``; one contract test holds both);
- the use cases are ``hub/area_follows.py`` (they read requests and write mail through the outbox): follow,
  confirm, stop, what a change says (the outbox writer calls it at commit), and the digests due (the worker).
"""
