"""Geography (point → areas → body) and, later, duplicate detection."""
