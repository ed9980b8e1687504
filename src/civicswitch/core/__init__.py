"""Cross-cutting pieces: database, unit of work, clock, errors, auth."""
