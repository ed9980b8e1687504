"""Control characters never reach a log line raw (issue 8 §3): messages, arguments and tracebacks are escaped."""

from __future__ import annotations

import io
import logging
import logging.config

from civicswitch.core.logs import EscapeControl, escape_controls, logging_config


def _line(msg: object, *args: object, exc: BaseException | None = None) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(EscapeControl())
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("test.logs")
    logger.handlers, logger.propagate, logger.level = [handler], False, logging.INFO
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    logger.info(msg, *args, exc_info=exc_info)
    return stream.getvalue()


def test_escape_controls__c0_del_c1_and_lone_surrogates() -> None:
    assert escape_controls("a\x1b[31mb\x00\x7f\x9b\n\t\ud800é") == "a\\x1b[31mb\\x00\\x7f\\x9b\\x0a\\x09\\ud800é"


def test_filter__message_and_arguments_escaped() -> None:
    line = _line("GET %s -> %d (%r)", "/a\x1b[2Jb\nFORGED", 404, "x\x07")
    assert line == "GET /a\\x1b[2Jb\\x0aFORGED -> 404 ('x\\\\x07')\n"


def test_filter__objects_keep_their_format_unless_they_hold_controls() -> None:
    assert _line("%r %d", [1, 2], 3) == "[1, 2] 3\n"
    assert _line("failed: %s", ValueError("bad \x1b value")) == "failed: bad \\x1b value\n"


def test_filter__traceback_escaped_but_keeps_its_lines() -> None:
    try:
        raise ValueError("path /x\x1b[31m")
    except ValueError as exc:
        text = _line("boom", exc=exc)
    assert "\x1b" not in text and "ValueError: path /x\\x1b[31m" in text and text.count("\n") > 3


def test_filter__uvicorn_access_arguments_stay_a_tuple() -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5", "GET", "/a\x1b", "1.1", 200), None)  # fmt: skip
    assert EscapeControl().filter(record)
    assert isinstance(record.args, tuple) and len(record.args) == 5
    assert record.getMessage() == '127.0.0.1:5 - "GET /a\\x1b HTTP/1.1" 200'


def test_logging_config__installs_the_filter_on_the_root_handler() -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logging.config.dictConfig(logging_config("info"))
        assert root.level == logging.INFO
        assert any(isinstance(f, EscapeControl) for h in root.handlers for f in h.filters)
        assert logging.getLogger("uvicorn.error").propagate and not logging.getLogger("uvicorn.error").handlers
    finally:
        root.handlers, root.level = saved[0], saved[1]
