"""Civic Switchboard: one front door for residents, every back office connected."""

__version__ = "0.1.0"
