"""Database engine, schema metadata and the column types both SQLite and PostgreSQL share."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg
from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

from civicswitch.core.errors import Conflict
from civicswitch.core.walsync import AUTOCHECKPOINT_PAGES, SyncingConnection, group_sync_for

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """A UTC instant: ``timestamptz`` on PostgreSQL, naive-UTC text on SQLite; always aware in Python."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def sqlite_time(value: datetime) -> str:
    """An instant as :class:`UTCDateTime` stores it on SQLite: UTC, SQLAlchemy's DATETIME text (for a bulk insert
    through the driver; every stored time has this form, so that they compare as text)."""
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


def normalize_url(url: str) -> str:
    """Accept the plain forms users type and pick the drivers we ship."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.startswith("sqlite://"):
        return "sqlite+pysqlite://" + url[len("sqlite://") :]
    return url


SQLITE_SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")
SQLITE_BUSY_TIMEOUT_S = 10.0  # how long a writer waits for another to finish before it fails


def _sqlite_pragmas(synchronous: str, group_file: str | None) -> Callable[[Any, Any], None]:
    def pragmas(dbapi_connection: Any, _record: Any) -> None:
        _set_pragmas(dbapi_connection, synchronous, group_file)

    return pragmas


def _set_pragmas(dbapi_connection: Any, synchronous: str, group_file: str | None = None) -> None:
    cursor = dbapi_connection.cursor()
    mode = str(cursor.execute("PRAGMA journal_mode=WAL").fetchone()[0]).lower()
    cursor.execute("PRAGMA foreign_keys=ON")
    # FULL (the default): an acknowledged commit is on disk, so it survives a power loss. With group commit (a file
    # database in WAL mode) SQLite itself runs at NORMAL and each commit returns after one fdatasync of the WAL that
    # began after it, shared with the commits around it and run after the writer's turn is let go (core/walsync.py);
    # without it, SQLite syncs the WAL inside every commit.
    # NORMAL syncs only at checkpoints: faster, and the last commits can be lost (never corrupted).
    if (
        group_file is not None
        and synchronous == "FULL"
        and mode == "wal"
        and isinstance(dbapi_connection, SyncingConnection)
    ):
        dbapi_connection.group_sync = group_sync_for(group_file)
        synchronous = "NORMAL"
        cursor.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")  # checkpoints: the group's thread
    cursor.execute(f"PRAGMA synchronous={synchronous}")
    # Writers that go through the unit of work take turns on a writer lock first (storage/writelock.py) and
    # rarely meet a busy database; the busy handler is for everyone else (a shell, a migration).
    cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.close()


def _sqlite_begin(conn: Any) -> None:
    # A writing unit of work takes the write lock at BEGIN, so two writers never deadlock upgrading
    # from a read lock; readers begin deferred and never block anyone (WAL).
    if conn.get_execution_options().get("writing", False):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")


def make_engine(
    url: str, *, echo: bool = False, sqlite_synchronous: str = "FULL", sqlite_group_commit: bool = True
) -> Engine:
    """Engine for an SQLite or PostgreSQL URL, configured the same way everywhere it is used.

    ``sqlite_synchronous``: SQLite's ``PRAGMA synchronous`` (``CIVICSWITCH_SQLITE_SYNCHRONOUS``);
    ``sqlite_group_commit``: at FULL, make commits durable by a shared sync of the WAL (``core/walsync.py``,
    ``CIVICSWITCH_SQLITE_GROUP_COMMIT``) instead of SQLite's sync inside each commit."""
    url = normalize_url(url)
    if url.startswith("sqlite"):
        synchronous = sqlite_synchronous.strip().upper()
        if synchronous not in SQLITE_SYNCHRONOUS:
            raise ValueError(f"sqlite_synchronous must be one of {', '.join(SQLITE_SYNCHRONOUS)}, not {synchronous!r}")
        memory = url.endswith(":memory:") or url.endswith("://")
        # A file database keeps enough open connections for a busy worker's thread pool, so requests do not
        # pay for opening a connection and its PRAGMAs. Last in, first out: each connection keeps its own page
        # cache, which a write through another connection makes stale; handed out in turn (FIFO), every POST
        # got a connection another had written through since and read its ~400 pages again (bench/README.md).
        pooling: dict[str, Any] = (
            {"poolclass": StaticPool} if memory else {"pool_size": 20, "max_overflow": 20, "pool_use_lifo": True}
        )
        database = sqlite_file(url)
        group_file = database if sqlite_group_commit and not memory and database else None
        connect_args: dict[str, Any] = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_S}
        if group_file is not None:
            connect_args["factory"] = SyncingConnection
        engine = create_engine(
            url,
            echo=echo,
            json_serializer=_json_dumps,
            json_deserializer=_sqlite_json_loads,
            connect_args=connect_args,
            **pooling,
        )
        event.listen(engine, "connect", _sqlite_pragmas(synchronous, group_file))

        @event.listens_for(engine, "connect")
        def _no_pysqlite_begin(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves

        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(
        url,
        echo=echo,
        pool_size=10,
        max_overflow=20,
        pool_pre_ping=True,
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
    )


def _sqlite_json_loads(value: Any) -> Any:
    # A JSON column has numeric affinity in SQLite: a bare JSON number comes back as an int or a float.
    return value if isinstance(value, (int, float)) else orjson.loads(value)


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode("utf-8")


@contextmanager
def unique_as_conflict(what: str) -> Iterator[None]:
    """Raise :class:`Conflict` for a unique-constraint violation, as the in-memory stores do.

    Other integrity errors pass through. On PostgreSQL the transaction is aborted: roll the unit of work back.
    """
    try:
        yield
    except psycopg.errors.UniqueViolation as exc:  # through the driver (a COPY): not wrapped by SQLAlchemy
        detail = exc.diag.constraint_name or "unique constraint"
        raise Conflict(f"{what} clashes with one already stored ({detail})") from exc
    except IntegrityError as exc:
        orig = exc.orig
        if getattr(orig, "sqlstate", None) == "23505":  # PostgreSQL unique_violation
            detail = getattr(getattr(orig, "diag", None), "constraint_name", None) or "unique constraint"
        elif "UNIQUE constraint failed" in str(orig):  # SQLite
            detail = str(orig).split(":", 1)[-1].strip()
        else:
            raise
        raise Conflict(f"{what} clashes with one already stored ({detail})") from exc


def storable(text: str) -> bool:
    """Whether a store can hold ``text``: PostgreSQL cannot even compare a NUL, so a key with one finds nothing."""
    return "\x00" not in text


def safe_url(url: str) -> str:
    """The URL without a password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}@{host}"
    return url


def sqlite_file(url: str) -> str | None:
    """The file of an SQLite URL (None for in-memory databases and other kinds)."""
    if not url.startswith("sqlite"):
        return None
    path = url.split(":///", 1)[-1] if ":///" in url else ""
    return None if path in ("", ":memory:") else path
