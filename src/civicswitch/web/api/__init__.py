"""Civic Switchboard's own REST API (``/api/v1``)."""
