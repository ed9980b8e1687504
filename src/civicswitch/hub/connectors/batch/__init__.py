"""Batch-file connector: for bodies whose systems trade CSV files in folders.

**Out.** Each message becomes one row of the connector's pending batch (``BatchSender.send``); on the schedule
(``flush_every_s``) the batch is closed into the drop folder ``outbox_dir`` as
``<file_prefix>_<YYYYMMDDTHHMMSSZ>_<seq>.csv``, written to a hidden ``.<name>.tmp`` first and renamed, so only
whole files ever appear there. *Delivered* means the row is fsynced into the pending batch: in the department's
drop folder as part of the next file to close (at most ``flush_every_s`` later). A pending batch lives on disk
(see :mod:`.spool`), so a restart or a killed process loses no acknowledged row and leaves no half row. UTF-8,
CRLF line ends, RFC 4180 quoting; the header is :data:`OUTBOUND_COLUMNS`::

    idempotency_key,type,event_time,service_request_id,external_id,service_code,status,external_status,
    description,lat,long,address,zipcode,agency,requested_datetime,expected_datetime,media_url,status_notes,
    note,transferred_to,referred,attributes,areas,contact_first_name,contact_last_name,contact_email,
    contact_phone,language

(one line in the files). Times are UTC ``YYYY-MM-DDTHH:MM:SSZ``; ``attributes`` and ``areas`` are JSON; contact
columns are filled only for connectors with ``include_contact``. A message sent again (a retry) carries the same
``idempotency_key``: copies within one file are dropped, and a receiver drops a key it has seen in an earlier
file. With ``escape_formulas`` (default) resident text starting with ``= + - @`` gets a leading ``'`` so that a
spreadsheet does not run it.

**In.** ``BatchPoller.poll`` reads the department's status-update files, ``*.csv`` in ``inbox_dir`` (and in its
sub-folders, one *source* each), header (any order; case, spaces and hyphens do not matter; a UTF-8 byte-order
mark is fine)::

    update_id,service_request_id,external_id,status,updated_datetime,description,media_url

``status`` and ``updated_datetime`` are required columns, with ``service_request_id`` (ours) and/or
``external_id`` (theirs); ``update_id``, ``description`` and ``media_url`` may be left out. Other header names
can be mapped with ``columns`` (e.g. Chicago's export: ``{"external_id": "sr_number", "updated_datetime":
"last_modified_date"}``). A row needs an id, a time, and a status or a description (no status: a note).
``status`` is the department's own code (``Completed``, ``Closed``…), mapped by the connector's status map by
the caller. Times: ISO 8601 with an offset, or local time in ``timezone`` as ISO (``2021-01-01T00:00:09.000``,
``2011-07-01 01:32:33``) or US month-first (``03/14/2025 01:20:00 PM``, ``3/14/2025 13:20``). With no
``update_id`` the update id is made from the row's hash, so it is the same every time the row comes.

Rows are deduplicated by a hash of their content across overlapping files; the cursor keeps, per source, a
high-water mark and the row hashes within ``dedupe_window_s`` of it (bounded text, see :mod:`.cursor`). Bad rows
(bad or missing time, no id, cells beyond the header, too long…) are written to
``<quarantine_dir>/<file>.<digest>.rejects.csv`` with header ``file,line,reason,row`` (``line``: the file's line
where the row starts, the header being line 1) and the good rows of the file still come through. Files read are
moved to ``archive_dir`` by the next poll (once the caller has stored the cursor that covers them).

**Settings** (``check_config`` checks and normalises them): ``outbox_dir`` and ``inbox_dir`` (absolute; they
must exist); ``archive_dir`` (default ``<inbox_dir>/archive``), ``quarantine_dir`` (default
``<inbox_dir>/quarantine``), ``staging_dir`` (pending batches; default ``<outbox_dir>/.staging``: the department
must take only top-level ``*.csv`` files); ``flush_every_s`` (default 300), ``poll_every_s`` (default 60, read by
the worker), ``settle_s`` (default 30: newer inbox files may still be being written); ``file_prefix`` (default
the connector code); ``escape_formulas`` (default true); ``include_contact`` (default false); ``encoding`` of
inbox files (default ``utf-8-sig``); ``timezone`` for times without an offset (default ``UTC``); ``columns``;
``ignore_unknown_columns`` (default false: a file with a column the connector does not know is quarantined
whole, so a misspelt ``descripton`` is not silently dropped); ``dedupe_window_s`` (default 7 days);
``max_files_per_poll`` (default 20); ``sftp`` (optional: ``host``, ``port`` 22, ``username``, ``known_hosts``,
``key_file``, ``remote_outbox``, ``remote_inbox``, ``remote_archive``, ``timeout_s`` 30; see :mod:`.sftp`).
"""

from __future__ import annotations

from civicswitch.hub.connectors.batch.config import check_config
from civicswitch.hub.connectors.batch.formats import INBOUND_COLUMNS, OUTBOUND_COLUMNS
from civicswitch.hub.connectors.batch.poller import QUARANTINE_COLUMNS, BatchPoller
from civicswitch.hub.connectors.batch.sender import BatchSender
from civicswitch.hub.model import ConnectorKind

KIND = ConnectorKind.BATCH

__all__ = [
    "INBOUND_COLUMNS",
    "KIND",
    "OUTBOUND_COLUMNS",
    "QUARANTINE_COLUMNS",
    "BatchPoller",
    "BatchSender",
    "check_config",
]
