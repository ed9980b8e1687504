"""HTTP entry points: parse, check permission, call a use case, render."""
