"""Email in: residents write to the city's 311 address and their mail becomes requests (docs/residents.md).

- ``parse.py``: a raw message read (sender, subject, text, photos, threading headers) and classified (auto-reply,
  bounce);
- ``guess.py``: the service the letter names and the place it gives;
- ``handlers.py``: the use cases: store, handle (file, thread a reply, triage, ignore, rate-limit), and the agent
  console's triage queue (file or dismiss);
- ``smtp.py``: the SMTP listener (aiosmtpd) behind the city's mail relay (``civicswitch mail serve``);
- ``model.py``, ``ports.py``, ``memory.py``, ``sql.py``, ``tables.py``: what is kept of each message, and its store.
"""
