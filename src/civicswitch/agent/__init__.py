"""The agent console's domain: searching callers and their history, information-only calls, knowledge articles."""
