"""Logging for every process: one line per record on stderr, with control characters escaped.

A URL, a header or a department's reply can carry an ESC (``%1b``), a newline or a lone surrogate; written raw,
such text recolours an operator's terminal or forges a second log line. :class:`EscapeControl` rewrites the
message, its arguments and any traceback so that every C0/C1 control character, DEL and lone surrogate appears as
``\\x1b``/``\\ud800`` (tracebacks keep their own line breaks). :func:`logging_config` installs it for the root
logger and for uvicorn's loggers; the CLI uses the same configuration, and ``civicswitch serve`` hands it to
uvicorn so that every worker process logs the same way.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

# C0 controls, DEL, C1 controls and lone surrogates (which a UTF-8 stream cannot even write).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL_BUT_NEWLINE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_PLAIN = (int, float, bool, type(None))
FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"
ACCESS_FORMAT = '%(asctime)s %(levelname)s [%(process)d] %(name)s: %(client_addr)s "%(request_line)s" %(status_code)s'


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    """``text`` with every control character written as an escape (``"\\x1b[31m"`` → ``"\\\\x1b[31m"``)."""
    return _CONTROL.sub(_escaped, text)


def _escape_keeping_lines(text: str) -> str:
    return _CONTROL_BUT_NEWLINE.sub(_escaped, text)


def _safe(value: Any) -> Any:
    if isinstance(value, str):
        return escape_controls(value)
    if isinstance(value, _PLAIN):
        return value
    shown = str(value)
    # Objects keep their own formatting (%r, %d) unless their text carries control characters.
    return escape_controls(shown) if _CONTROL.search(shown) else value


class EscapeControl(logging.Filter):
    """A handler filter: control characters in the message, its arguments and its traceback are escaped."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _safe(record.msg)
        if isinstance(record.args, Mapping):
            record.args = {key: _safe(value) for key, value in record.args.items()}
        elif isinstance(record.args, tuple):
            record.args = tuple(_safe(arg) for arg in record.args)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = _escape_keeping_lines(record.exc_text)
        if record.stack_info:
            record.stack_info = _escape_keeping_lines(record.stack_info)
        return True


def logging_config(level: str, *, access: bool = True) -> dict[str, Any]:
    """A :func:`logging.config.dictConfig` document for the web server, applied in every worker process
    (``serve --workers N``): the application's lines and one access line per request (``access``) go to stderr
    at ``level``, each with the process id, through :class:`EscapeControl`."""
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"escape": {"()": EscapeControl}},
        "formatters": {
            "line": {"format": FORMAT},
            "access": {"()": "uvicorn.logging.AccessFormatter", "fmt": ACCESS_FORMAT, "use_colors": False},
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "line",
                "filters": ["escape"],
            },
            "access": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "access",
                "filters": ["escape"],
            },
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            "uvicorn": {"level": level, "handlers": [], "propagate": True},
            "uvicorn.error": {"level": level, "handlers": [], "propagate": True},
            "uvicorn.access": {"level": level if access else "WARNING", "handlers": ["access"], "propagate": False},
            # One line per delivery is noise; failures are logged by the hub itself.
            "httpx": {"level": "WARNING"},
            "alembic": {"level": "WARNING"},  # the schema check at start-up, not a migration
        },
    }


def install_escaping(logger: logging.Logger | None = None) -> None:
    """Add :class:`EscapeControl` to every handler of ``logger`` (default: the root logger) that lacks it."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, EscapeControl) for f in handler.filters):
            handler.addFilter(EscapeControl())
