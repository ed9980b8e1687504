"""Importing a city's history: another system's export (CSV, Open311 JSON) read through a mapping, converted to
requests, routed to areas and written in bulk (docs/import.md).

* :mod:`.mapping`: the mapping a file is read through (columns → fields, dates, statuses, services, owners); the
  shipped city profiles are mappings too (``civicswitch/profiles/*.import.yaml``).
* :mod:`.dates`: the mapping's date formats, parsed fast.
* :mod:`.readers`: records streamed out of files of any size (gzip too).
* :mod:`.convert`: one record → one request, or the reason it cannot be one.
* :mod:`.run`: the use case: batches converted, routed and written, each batch its own transaction, idempotent by
  the source's own id, bad records quarantined.
"""
