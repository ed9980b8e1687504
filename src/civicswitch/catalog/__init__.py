"""The service catalog: bodies, services and their attributes."""
