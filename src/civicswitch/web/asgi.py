"""ASGI entry for ``uvicorn civicswitch.web.asgi:app`` and multi-worker ``civicswitch serve``."""

from civicswitch.web.app import create_app

app = create_app()
