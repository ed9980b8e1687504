"""Catalog tests (a package, so its test_model.py does not clash with tests/requests/test_model.py)."""
