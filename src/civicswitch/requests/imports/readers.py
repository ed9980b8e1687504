"""Records streamed out of export files of any size: CSV (gzip too, found by its magic bytes, not its name) row by
row, in constant memory; Open311 JSON (an array of requests, as ``requests.json`` answers, or a saved response that
wraps it) read whole — one page of a server's answer.

Every record comes out as a list of strings in the order of :attr:`Source.header`, so the converter reads each
field by position whatever the format."""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import orjson

from civicswitch.core.errors import Invalid

GZIP_MAGIC = b"\x1f\x8b"
# A record's field may be long (a resident's description, a resolution text); csv's default limit is 128 KiB.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


@dataclass
class Source:
    """One open file: its header, its records (line, fields) and how far into the file they have got."""

    path: Path
    header: list[str]
    records: Iterator[tuple[int, list[str]]]
    size: int  # bytes on disk
    _raw: IO[bytes] | None = field(default=None, repr=False)

    @property
    def position(self) -> int:
        """Bytes of the file read so far (of the compressed file, for gzip): the progress bar's measure."""
        if self._raw is None or self._raw.closed:
            return self.size
        return self._raw.tell()

    def close(self) -> None:
        if self._raw is not None:
            self._raw.close()


def _open(path: Path) -> tuple[IO[bytes], IO[bytes]]:
    try:
        raw = path.open("rb")
    except OSError as exc:
        raise Invalid(f"{path}: cannot read it: {exc.strerror}", field="file") from None
    head = raw.peek(2)[:2] if isinstance(raw, io.BufferedReader) else b""
    if head == GZIP_MAGIC:
        return raw, gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    return raw, raw


def open_csv(path: Path, *, delimiter: str = ",", encoding: str = "utf-8-sig") -> Source:
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise Invalid(f"unknown encoding {encoding!r}", field="encoding") from None
    raw, data = _open(path)
    text = io.TextIOWrapper(data, encoding=encoding, errors="strict", newline="")
    reader = csv.reader(text, delimiter=delimiter)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raw.close()
        raise Invalid(f"{path}: the file is empty (no header row)", field="file") from None
    except (UnicodeDecodeError, OSError, EOFError, csv.Error) as exc:
        raw.close()
        raise Invalid(f"{path}: cannot read its header: {exc}", field="file") from None

    def records() -> Iterator[tuple[int, list[str]]]:
        line = reader.line_num + 1
        try:
            for row in reader:
                if row:  # a blank line is no record
                    yield line, row
                line = reader.line_num + 1
        except UnicodeDecodeError as exc:
            raise Invalid(f"{path}: line {line}: not {encoding} ({exc.reason}); set the mapping's encoding",
                          field="file") from None  # fmt: skip
        except (OSError, EOFError, csv.Error) as exc:
            raise Invalid(f"{path}: line {line}: cannot read on: {exc}", field="file") from None
        finally:
            raw.close()

    return Source(path, header, records(), path.stat().st_size, raw)


def _requests_of(document: Any, path: Path) -> list[Any]:
    if isinstance(document, dict):
        if isinstance(document.get("body"), str):  # a saved HTTP response: {statusCode, headers, body}
            return _requests_of(orjson.loads(document["body"]), path)
        for key in ("service_requests", "requests", "request"):
            if isinstance(document.get(key), list):
                return list(document[key])
    if isinstance(document, list):
        return document
    raise Invalid(f"{path}: an Open311 export is a JSON array of requests", field="file")


def open_json(path: Path, columns: Sequence[str]) -> Source:
    """An Open311 JSON export. Its records are given as the values of ``columns`` (the mapping's), as text."""
    raw, data = _open(path)
    try:
        document = orjson.loads(data.read())
    except (orjson.JSONDecodeError, OSError, EOFError) as exc:
        raise Invalid(f"{path}: not valid JSON: {exc}", field="file") from None
    finally:
        raw.close()
    items = _requests_of(document, path)
    header = list(dict.fromkeys(columns))

    def text(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return repr(value)
        return orjson.dumps(value).decode()

    def records() -> Iterator[tuple[int, list[str]]]:
        for number, item in enumerate(items, start=1):
            if not isinstance(item, dict):
                yield number, []
                continue
            yield number, [text(item.get(name)) for name in header]

    return Source(path, header, records(), path.stat().st_size, None)
