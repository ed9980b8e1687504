"""The demo city: New York City's real 311 catalog and records (see data/README.md)."""
