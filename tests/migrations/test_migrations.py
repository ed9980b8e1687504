"""The migrations build exactly the schema the code declares, and 0003 fills the grid cell of stored requests."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, Engine, MetaData, Table, func, insert, inspect, select, text

from civicswitch.agent.model import MatchedBy
from civicswitch.agent.ports import CallerQuery
from civicswitch.agent.words import ADDRESS_FTS, NAME_FTS, PG_ADDRESS_INDEX, PG_NAME_INDEX
from civicswitch.catalog.calendars import SlaTarget, SlaUnit
from civicswitch.core.db import metadata
from civicswitch.core.migrate import downgrade, upgrade
from civicswitch.requests.model import Status
from civicswitch.requests.queue import QueueFilter, QueueScope
from civicswitch.requests.search import FTS_TABLE, PG_FUNCTION, PG_INDEX, PG_OPEN_INDEX, area_token
from civicswitch.requests.tables import service_requests
from civicswitch.routing.grid import cell_of
from civicswitch.storage.schema import declared
from civicswitch.storage.sql import SqlUnitOfWork

AREA_SQLITE_TRIGGERS = ("request_areas_insert", "request_areas_move", "request_areas_status", "request_areas_delete")
AREA_PG_TRIGGERS = ("request_areas_insert", "request_areas_update")

POINTS = [
    (40.7359, -73.9911),
    (42.3601, -71.0589),
    (-33.8688, 151.2093),
    (0.0, 0.0),
    (41.8781, -87.6298),
    (90.0, 180.0),
]


def test_migrations__head__match_the_declared_tables(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"include_name": declared}), metadata)
    assert diff == []


def test_migration_0003__existing_requests__grid_cell_equals_the_python_cell(engine: Engine) -> None:
    downgrade(engine, "0002")
    now = datetime(2026, 11, 28, tzinfo=UTC)
    with engine.begin() as conn:
        assert "grid_cell" not in {c["name"] for c in inspect(conn).get_columns("service_requests")}
        old = MetaData()
        services, requests = (Table(name, old, autoload_with=conn) for name in ("services", "service_requests"))
        service_id = conn.execute(
            insert(services).values(code="graffiti", name="Graffiti", keywords=[]).returning(services.c.id)
        ).scalar_one()
        conn.execute(
            insert(requests),
            [
                {"service_id": service_id, "status": "new", "lat": lat, "long": long, "requested_at": now,
                 "updated_at": now, "channel": "open311", "attributes": {}, "description": ""}
                for lat, long in [*POINTS, (None, None)]
            ],
        )  # fmt: skip
    upgrade(engine)
    with engine.connect() as conn:
        found = list(
            conn.execute(select(service_requests.c.lat, service_requests.c.long, service_requests.c.grid_cell))
        )
    assert len(found) == len(POINTS) + 1
    assert [cell for _, _, cell in found] == [cell_of(lat, long) for lat, long, _ in found]


def test_migration_0008__stored_sla_hours__become_targets_in_hours_and_back(engine: Engine) -> None:
    downgrade(engine, "0007_cache_validators")
    with engine.begin() as conn:
        old = MetaData()
        services = Table("services", old, autoload_with=conn)
        assert "sla_unit" not in services.c
        conn.execute(
            insert(services),
            [{"code": "pothole", "name": "Pothole", "keywords": [], "sla_hours": 72.0, "service_notice": "x"},
             {"code": "graffiti", "name": "Graffiti", "keywords": [], "sla_hours": None, "service_notice": None}],
        )  # fmt: skip
    upgrade(engine)
    with SqlUnitOfWork(engine, writing=False) as uow:
        pothole, graffiti = uow.catalog.service("pothole"), uow.catalog.service("graffiti")
    assert pothole is not None and graffiti is not None
    assert (pothole.sla, pothole.sla_hours, graffiti.sla) == (SlaTarget(72.0, SlaUnit.HOURS), 72.0, None)
    downgrade(engine, "0007_cache_validators")
    with engine.connect() as conn:
        assert "calendars" not in inspect(conn).get_table_names()
        table = Table("services", MetaData(), autoload_with=conn)
        hours = {code: value for code, value in conn.execute(select(table.c.code, table.c.sla_hours))}
    assert hours == {"pothole": 72.0, "graffiti": None}
    upgrade(engine)


def test_migration_0009__requests_transferred_before__count_their_transfers_from_the_timeline(engine: Engine) -> None:
    downgrade(engine, "0007_cache_validators")
    now = datetime(2026, 11, 28, tzinfo=UTC)
    with engine.begin() as conn:
        assert "transfers" not in {c["name"] for c in inspect(conn).get_columns("service_requests")}
        old = MetaData()
        services, requests, events = (
            Table(name, old, autoload_with=conn) for name in ("services", "service_requests", "request_events")
        )
        service_id = conn.execute(
            insert(services).values(code="graffiti", name="Graffiti", keywords=[]).returning(services.c.id)
        ).scalar_one()
        ids = [
            conn.execute(
                insert(requests).values(service_id=service_id, status="new", requested_at=now, updated_at=now,
                                        channel="open311", attributes={}, description="", address="here")
                .returning(requests.c.id)
            ).scalar_one()
            for _ in range(3)
        ]  # fmt: skip
        kinds = {ids[0]: ["submitted"], ids[1]: ["submitted", "transferred"], ids[2]: ["transferred", "transferred"]}
        conn.execute(
            insert(events),
            [{"request_id": rid, "at": now, "kind": kind, "data": {}} for rid, seq in kinds.items() for kind in seq],
        )
    upgrade(engine)
    with engine.connect() as conn:
        found = dict(conn.execute(select(service_requests.c.id, service_requests.c.transfers)).all())
        flags = conn.execute(text("SELECT partners_may_close FROM services")).scalars().all()
    assert found == {ids[0]: 0, ids[1]: 1, ids[2]: 2}
    assert flags == [False]


def test_migration_0014__stored_requests__searchable_after_upgrade_and_index_gone_after_downgrade(
    engine: Engine,
) -> None:
    downgrade(engine, "0013_response_templates")
    now = datetime(2026, 11, 28, tzinfo=UTC)
    with engine.begin() as conn:
        assert not [n for n in inspect(conn).get_table_names() if n.startswith(FTS_TABLE)]
        old = MetaData()
        services, requests = (Table(name, old, autoload_with=conn) for name in ("services", "service_requests"))
        service_id = conn.execute(
            insert(services).values(code="pothole", name="Pothole", keywords=[]).returning(services.c.id)
        ).scalar_one()
        conn.execute(
            insert(requests),
            [{"service_id": service_id, "status": status, "requested_at": now, "updated_at": now, "channel": "web",
              "attributes": {}, "description": text_, "address": address}
             for status, text_, address in [("new", "Deep pothole", "1 Main Street"), ("closed", "Graffiti", None),
                                            ("in_progress", "Pothole again", "2 Elm Street")]],
        )  # fmt: skip
    upgrade(engine)
    everything = QueueScope(everything=True)
    with SqlUnitOfWork(engine, writing=False) as uow:
        found = uow.queue.queue(everything, QueueFilter(text="pothole street", statuses=(*Status,)))
        closed = uow.queue.queue(everything, QueueFilter(text="graf*", statuses=(Status.CLOSED,)))
    assert ([r.description for r in found.rows], found.counts) == (
        ["Deep pothole", "Pothole again"],
        {Status.NEW: 1, Status.IN_PROGRESS: 1},
    )
    assert [r.description for r in closed.rows] == ["Graffiti"]
    downgrade(engine, "0013_response_templates")
    with engine.connect() as conn:
        assert not [n for n in inspect(conn).get_table_names() if n.startswith(FTS_TABLE)]
        assert PG_INDEX not in {i["name"] for i in inspect(conn).get_indexes("service_requests")}
        if conn.dialect.name == "sqlite":
            assert conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'").all() == []
    upgrade(engine)


def test_migration_0015__stored_requests__counted_per_body_and_status_after_upgrade_0014_index_after_downgrade(
    engine: Engine,
) -> None:
    """PostgreSQL: 0015 replaces 0014's GIN index (the words) by one on request_search_document() (the words, also
    with each request's body and status), filled from the stored requests; downgrading restores 0014's. SQLite:
    nothing changes (its FTS table holds body and status since 0014)."""
    downgrade(engine, "0014_queue_search")
    now = datetime(2026, 11, 28, tzinfo=UTC)
    postgres = engine.dialect.name == "postgresql"
    with engine.begin() as conn:
        names = {i["name"] for i in inspect(conn).get_indexes("service_requests")}
        assert PG_INDEX not in names
        if postgres:
            assert "ix_service_requests_words" in names
            assert (
                conn.execute(text("SELECT count(*) FROM pg_proc WHERE proname = :f"), {"f": PG_FUNCTION}).scalar() == 0
            )
        old = MetaData()
        bodies, services, requests = (
            Table(n, old, autoload_with=conn) for n in ("bodies", "services", "service_requests")
        )
        dot, dsny = (conn.execute(insert(bodies).values(code=c, name=c).returning(bodies.c.id)).scalar_one()
                     for c in ("DOT", "DSNY"))  # fmt: skip
        service_id = conn.execute(
            insert(services).values(code="pothole", name="Pothole", keywords=[]).returning(services.c.id)
        ).scalar_one()
        conn.execute(
            insert(requests),
            [{"service_id": service_id, "status": status, "requested_at": now, "updated_at": now, "channel": "web",
              "attributes": {}, "description": text_, "address": address, "body_id": body}
             for status, text_, address, body in [("new", "Deep pothole", "1 Main Street", dot),
                                                  ("closed", "Pothole filled", None, dot),
                                                  ("in_progress", "Pothole again", "2 Elm Street", dsny),
                                                  ("in_progress", "Pothole", None, None)]],
        )  # fmt: skip
    upgrade(engine)
    with SqlUnitOfWork(engine, writing=False) as uow:
        dot_found = uow.queue.queue(
            QueueScope(bodies=frozenset({"DOT"})), QueueFilter(text="pot*", statuses=(*Status,))
        )
        everyone = uow.queue.queue(QueueScope(everything=True), QueueFilter(text="pothole"))
    assert ([r.description for r in dot_found.rows], dot_found.counts) == (
        ["Deep pothole", "Pothole filled"],
        {Status.NEW: 1, Status.CLOSED: 1},
    )
    assert (everyone.total, everyone.counts) == (3, {Status.NEW: 1, Status.IN_PROGRESS: 2, Status.CLOSED: 1})
    with engine.connect() as conn:
        names = {i["name"] for i in inspect(conn).get_indexes("service_requests")}
        assert (PG_INDEX in names, PG_OPEN_INDEX in names, "ix_service_requests_words" in names) == (
            postgres,
            postgres,
            False,
        )
    downgrade(engine, "0014_queue_search")
    with engine.connect() as conn:
        names = {i["name"] for i in inspect(conn).get_indexes("service_requests")}
        assert (PG_INDEX in names, PG_OPEN_INDEX in names, "ix_service_requests_words" in names) == (
            False,
            False,
            postgres,
        )
        if postgres:
            assert (
                conn.execute(text("SELECT count(*) FROM pg_proc WHERE proname = :f"), {"f": PG_FUNCTION}).scalar() == 0
            )
        else:
            assert [n for n in inspect(conn).get_table_names() if n == FTS_TABLE]
    upgrade(engine)


def test_migrations__head__the_search_index_is_kept_by_every_write(engine: Engine) -> None:
    """On SQLite the triggers keep the FTS table: a later migration that rebuilds service_requests (a batch
    "recreate") drops them with the old table, and must create them again."""
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            triggers = conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                                            "AND tbl_name = 'service_requests'").scalars().all()  # fmt: skip
            kinds = ("insert", "delete", "update")
            assert sorted(triggers) == sorted([*(f"service_requests_words_{k}" for k in kinds),
                                               *(f"service_requests_address_{k}" for k in kinds),
                                               *AREA_SQLITE_TRIGGERS])  # fmt: skip
            contacts = conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                                            "AND tbl_name = 'request_contacts'").scalars().all()  # fmt: skip
            assert sorted(contacts) == sorted(f"request_contacts_words_{k}" for k in kinds)
        else:
            assert {PG_INDEX, PG_ADDRESS_INDEX} <= {i["name"] for i in inspect(conn).get_indexes("service_requests")}
            triggers = conn.execute(text("SELECT tgname FROM pg_trigger WHERE tgrelid = 'service_requests'::regclass "
                                         "AND NOT tgisinternal")).scalars().all()  # fmt: skip
            assert set(AREA_PG_TRIGGERS) <= set(triggers)
            assert PG_NAME_INDEX in {i["name"] for i in inspect(conn).get_indexes("request_contacts")}


def test_migration_0017__stored_names_and_addresses__found_by_word_after_upgrade_and_indexes_gone_after_downgrade(
    engine: Engine,
) -> None:
    downgrade(engine, "0016_audit_filters")
    now = datetime(2026, 11, 28, tzinfo=UTC)
    with engine.begin() as conn:
        old = MetaData()
        services, requests, contacts = (Table(name, old, autoload_with=conn)
                                        for name in ("services", "service_requests", "request_contacts"))  # fmt: skip
        service_id = conn.execute(
            insert(services).values(code="pothole", name="Pothole", keywords=[]).returning(services.c.id)
        ).scalar_one()
        ids = [conn.execute(insert(requests).values(service_id=service_id, status="new", requested_at=now,
                                                    updated_at=now, channel="web", attributes={}, description="",
                                                    address=address).returning(requests.c.id)).scalar_one()
               for address in ("1 Broadway", "2 Elm Street")]  # fmt: skip
        conn.execute(insert(contacts).values(request_id=ids[1], first_name="Grace", last_name="Okafor"))
    upgrade(engine)
    with SqlUnitOfWork(engine, writing=False) as uow:
        found = {text_: [(r.request_id, r.matched_by) for r in uow.callers.find(CallerQuery.parse(text_)).rows]
                 for text_ in ("broad", "okaf", "grace elm")}  # fmt: skip
    assert found == {"broad": [(ids[0], {MatchedBy.ADDRESS})], "okaf": [(ids[1], {MatchedBy.NAME})], "grace elm": []}
    downgrade(engine, "0016_audit_filters")
    with engine.connect() as conn:
        tables = inspect(conn).get_table_names()
        assert not [n for n in tables if n.startswith((NAME_FTS, ADDRESS_FTS))]
        indexes = {i["name"] for t in ("service_requests", "request_contacts") for i in inspect(conn).get_indexes(t)}
        assert not {PG_NAME_INDEX, PG_ADDRESS_INDEX} & indexes
        if conn.dialect.name == "sqlite":
            triggers = conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'").scalars().all()
            assert sorted(triggers) == sorted(f"service_requests_words_{k}" for k in ("insert", "delete", "update"))
    upgrade(engine)


def _area_rows(engine: Engine) -> list[tuple[int, str, str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT request_id, layer, area_key, status FROM request_areas "
                                 "ORDER BY request_id, layer")).all()  # fmt: skip
    return [(int(r[0]), r[1], r[2], r[3]) for r in rows]


def test_migration_0019__stored_areas__become_rows_kept_by_every_write_and_gone_after_downgrade(
    engine: Engine,
) -> None:
    """0019 fills request_areas from the stored requests' areas; from then on the database keeps it: a new request's
    areas, a changed status (the rows follow), changed areas (replaced), a delete (gone), a bulk insert; a request
    without areas (or with areas that are not an object) has none."""
    downgrade(engine, "0018_filed_by")
    now = datetime(2026, 11, 28, tzinfo=UTC)
    with engine.begin() as conn:
        old = MetaData()
        services, requests = (Table(name, old, autoload_with=conn) for name in ("services", "service_requests"))
        service_id = conn.execute(
            insert(services).values(code="pothole", name="Pothole", keywords=[]).returning(services.c.id)
        ).scalar_one()

        def add(areas: object, status: str = "new") -> int:
            return int(conn.execute(insert(requests).values(service_id=service_id, status=status, requested_at=now,
                                                            updated_at=now, channel="web", attributes={},
                                                            description="", areas=areas)
                                    .returning(requests.c.id)).scalar_one())  # fmt: skip

        stored = add({"boroughs": "Brooklyn", "community_districts": "301"})
        add(None)
    upgrade(engine)
    assert _area_rows(engine) == [
        (stored, "boroughs", "Brooklyn", "new"),
        (stored, "community_districts", "301", "new"),
    ]
    sr = service_requests
    with engine.begin() as conn:
        values = {"service_id": service_id, "requested_at": now, "updated_at": now, "channel": "web",
                  "attributes": {}, "description": ""}  # fmt: skip
        new = conn.execute(insert(sr).values(status="acknowledged", areas={"boroughs": "Queens"}, **values)
                           .returning(sr.c.id)).scalar_one()  # fmt: skip
        conn.execute(insert(sr), [{**values, "status": "new", "areas": areas}
                                  for areas in ({"boroughs": "Bronx"}, [], {"boroughs": None})])  # fmt: skip
        conn.execute(sr.update().where(sr.c.id == stored).values(status="closed"))
        conn.execute(sr.update().where(sr.c.id == new).values(areas={"boroughs": "Manhattan", "wards": "7"}))
    rows = _area_rows(engine)
    assert [r for r in rows if r[0] in (stored, new)] == [
        (stored, "boroughs", "Brooklyn", "closed"),
        (stored, "community_districts", "301", "closed"),
        (new, "boroughs", "Manhattan", "acknowledged"),
        (new, "wards", "7", "acknowledged"),
    ]
    assert [r[1:] for r in rows if r[0] not in (stored, new)] == [("boroughs", "Bronx", "new")]
    with engine.begin() as conn:
        conn.execute(sr.delete().where(sr.c.id == new))
    assert {r[0] for r in _area_rows(engine)} == {stored, new + 1}
    downgrade(engine, "0018_filed_by")
    with engine.connect() as conn:
        assert "request_areas" not in inspect(conn).get_table_names()
        if conn.dialect.name == "sqlite":
            triggers = conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'").scalars().all()
            assert not set(triggers) & set(AREA_SQLITE_TRIGGERS)
    upgrade(engine)


def _fts_count(conn: Connection, match: str) -> int:
    return int(
        conn.exec_driver_sql(f"SELECT count(*) FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ?", (match,)).scalar_one()
    )


def test_migration_0021__stored_requests__found_by_area_after_upgrade_and_0015_index_after_downgrade(
    engine: Engine,
) -> None:
    """0021 indexes each stored request's words with its areas and status (SQLite: the FTS scope column, written
    anew; PostgreSQL: a new document and GIN index, 0015's dropped); from then on a change of areas is indexed too.
    Downgrading restores 0015's index (PostgreSQL) and the scope without areas (SQLite); searches work throughout."""
    downgrade(engine, "0020_partner_queue")
    now = datetime(2026, 11, 28, tzinfo=UTC)
    postgres = engine.dialect.name == "postgresql"
    with engine.begin() as conn:
        old = MetaData()
        services, requests = (Table(name, old, autoload_with=conn) for name in ("services", "service_requests"))
        service_id = conn.execute(
            insert(services).values(code="noise", name="Noise", keywords=[]).returning(services.c.id)
        ).scalar_one()
        conn.execute(
            insert(requests),
            [{"service_id": service_id, "status": status, "requested_at": now, "updated_at": now, "channel": "phone",
              "attributes": {}, "description": "Loud music", "areas": areas}
             for status, areas in [("new", {"community_districts": "112"}), ("closed", {"community_districts": "112"}),
                                   ("new", {"community_districts": "301"}), ("new", None)]],
        )  # fmt: skip
    district = QueueScope(areas=frozenset({("community_districts", "112")}))

    def found(scope: QueueScope = district) -> tuple[int, dict[Status, int]]:
        with SqlUnitOfWork(engine, writing=False) as uow:
            page = uow.queue.queue(scope, QueueFilter(text="loud", statuses=(*Status,)))
        return page.total, page.counts

    upgrade(engine)
    assert found() == (2, {Status.NEW: 1, Status.CLOSED: 1})
    with engine.begin() as conn:
        if not postgres:
            assert _fts_count(conn, f"scope : {area_token('community_districts', '112', 'new')}") == 1
        moved = conn.execute(select(func.max(service_requests.c.id))).scalar_one() - 1  # the one in 301
        conn.execute(service_requests.update().where(service_requests.c.id == moved)
                     .values(areas={"community_districts": "112", "boroughs": "Brooklyn"}))  # fmt: skip
    assert found() == (3, {Status.NEW: 2, Status.CLOSED: 1})
    assert found(QueueScope(areas=frozenset({("community_districts", "301")}))) == (0, {})
    assert found(QueueScope(areas=frozenset({("boroughs", "Brooklyn")}))) == (1, {Status.NEW: 1})
    downgrade(engine, "0020_partner_queue")
    with engine.connect() as conn:
        names = {i["name"] for i in inspect(conn).get_indexes("service_requests")}
        assert (PG_INDEX in names, "ix_service_requests_search" in names) == (False, postgres)
        if not postgres:  # 0014's scope again: body and status, no area
            by_area = _fts_count(conn, f"scope : {area_token('community_districts', '112', 'new')}")
            assert (_fts_count(conn, "words : loud AND scope : snew"), by_area) == (3, 0)
    upgrade(engine)
    assert found() == (3, {Status.NEW: 2, Status.CLOSED: 1})


def test_migration_0027__stored_deliveries_kept__area_mail_without_a_request__dropped_on_downgrade(
    engine: Engine,
) -> None:
    """0027 makes ``deliveries.request_id`` optional (SQLite copies the table): the rows stored before are kept as they
    were, the claim's partial index is there again, a row about no request can be written; a downgrade drops those
    rows (mail about an area) and the table of area follows, and keeps the rest."""
    downgrade(engine, "0026_fix_answers")
    now = datetime(2026, 12, 7, tzinfo=UTC)
    with engine.begin() as conn:
        old = MetaData()
        names = ("bodies", "services", "service_requests", "deliveries")
        bodies, services, requests, deliveries = (Table(n, old, autoload_with=conn) for n in names)
        body_id = conn.execute(insert(bodies).values(code="DOT", name="DOT", kind="department")
                               .returning(bodies.c.id)).scalar_one()  # fmt: skip
        service_id = conn.execute(insert(services).values(code="pothole", name="Pothole", keywords=[])
                                  .returning(services.c.id)).scalar_one()  # fmt: skip
        request_id = conn.execute(insert(requests).values(service_id=service_id, status="new", requested_at=now,
                                                          updated_at=now, channel="web", attributes={}, description="")
                                  .returning(requests.c.id)).scalar_one()  # fmt: skip
        row = {"body_id": body_id, "type": "created", "payload": {"a": 1}, "state": "pending", "attempts": 0,
               "next_attempt_at": now, "created_at": now}  # fmt: skip
        conn.execute(insert(deliveries).values(request_id=request_id, idempotency_key="cs_kept", **row))
    upgrade(engine)
    with engine.begin() as conn:
        table = Table("deliveries", MetaData(), autoload_with=conn)
        assert conn.execute(select(table.c.request_id, table.c.idempotency_key, table.c.payload)).all() == [
            (request_id, "cs_kept", {"a": 1})]  # fmt: skip
        conn.execute(insert(table).values(request_id=None, idempotency_key="cs_area", **row))
        assert "ix_deliveries_waiting" in {i["name"] for i in inspect(conn).get_indexes("deliveries")}
    downgrade(engine, "0026_fix_answers")
    with engine.begin() as conn:
        table = Table("deliveries", MetaData(), autoload_with=conn)
        assert conn.execute(select(table.c.idempotency_key)).scalars().all() == ["cs_kept"]
        assert "area_follows" not in inspect(conn).get_table_names()
    upgrade(engine)
