"""ASGI entry for ``uvicorn civicswitch.web.asgi:app`` and multi-worker ``civicswitch serve``: each process reads
the configured database's stored settings (overridden by environment variables) once, at start-up."""

import logging

from civicswitch.web.app import NotReady, create_app

try:
    app = create_app()
except NotReady as exc:
    logging.getLogger(__name__).error("cannot start: %s", exc)
    raise SystemExit(f"civicswitch: {exc}") from None
