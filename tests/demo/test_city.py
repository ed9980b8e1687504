"""Installing the demo city: catalog, requests and the two demo keys, safe to run again."""

from __future__ import annotations

from sqlalchemy import Engine

from civicswitch.core.clock import FixedClock
from civicswitch.demo.city import (
    DEMO_APP,
    DEMO_BACKEND,
    catalog_document,
    install,
    install_knowledge,
    install_templates,
)
from civicswitch.people.auth import authenticate, sign_in
from civicswitch.people.clients import Scope
from civicswitch.people.policy import STAFF_ROLES
from civicswitch.storage.sql import SqlUnitOfWork


def test_install__twice__creates_the_two_demo_keys_once(engine: Engine, clock: FixedClock) -> None:
    first = install(SqlUnitOfWork(engine), clock)
    second = install(SqlUnitOfWork(engine), clock)
    assert first.app_key is not None and first.backend_key is not None
    assert first.app_key != first.backend_key
    assert (second.app_key, second.backend_key) == (None, None)
    with SqlUnitOfWork(engine) as uow:
        clients = uow.clients.all()
        assert sorted(c.name for c in clients) == sorted([DEMO_APP, DEMO_BACKEND])
        assert authenticate(uow, first.app_key, Scope.SUBMIT).name == DEMO_APP
        assert authenticate(uow, first.backend_key, Scope.UPDATE).name == DEMO_BACKEND
    by_name = {c.name: c for c in clients}
    assert by_name[DEMO_APP].scopes == frozenset({Scope.SUBMIT})
    assert by_name[DEMO_BACKEND].scopes == frozenset({Scope.UPDATE})
    assert all(c.created_at == clock.now() and c.active for c in clients)


def test_install__reports_the_catalog_it_loaded(engine: Engine, clock: FixedClock) -> None:
    document = catalog_document()
    result = install(SqlUnitOfWork(engine), clock)
    assert (result.bodies, result.services) == (len(document["bodies"]), len(document["services"]))
    assert result.jurisdiction == document["jurisdiction"]
    with SqlUnitOfWork(engine) as uow:
        assert [s.code for s in uow.catalog.services(include_inactive=True)] == sorted(
            s["code"] for s in document["services"]
        )
        assert uow.requests.count() == result.requests.inserted > 0


def test_install__makes_one_staff_account_per_role_once__each_signs_in_with_its_printed_password(
    engine: Engine, clock: FixedClock
) -> None:
    first = install(SqlUnitOfWork(engine), clock)
    second = install(SqlUnitOfWork(engine), clock)

    assert second.users == ()
    assert sorted({u.role for u in first.users}) == sorted(str(r) for r in STAFF_ROLES)
    for made in first.users:
        user = sign_in(SqlUnitOfWork(engine), clock, made.email, made.password)
        assert str(user.role) == made.role
        assert user.must_change_password  # a one-time password, as `users add` makes
    with SqlUnitOfWork(engine) as uow:
        by_role = {str(u.role): u for u in uow.users.all()}
        partner_org = uow.catalog.body("GREENWAY")
    assert by_role["department"].bodies == frozenset({"DOT"}) or by_role["department"].bodies == frozenset({"DSNY"})
    assert by_role["liaison"].areas == frozenset({("boroughs", "Brooklyn")})
    assert partner_org is not None and str(partner_org.kind) == "partner" and by_role["partner"].org == "GREENWAY"


def test_install__knowledge_articles__once_each_for_services_in_the_catalog(engine: Engine, clock: FixedClock) -> None:
    install(SqlUnitOfWork(engine), clock)
    assert install_knowledge(SqlUnitOfWork(engine), clock) == ()  # already there: left alone
    with SqlUnitOfWork(engine) as uow:
        articles = uow.knowledge.search()
        services = {s.code for s in uow.catalog.services()}
        heat = uow.knowledge.search(service_code="heat-hot-water")
    assert len(articles) == 3
    assert all(a.services and set(a.services) <= services for a in articles)
    assert [a.slug for a in heat] == ["no-heat-or-hot-water"]


def test_install__response_templates__once_each_checked_and_for_services_in_the_catalog(
    engine: Engine, clock: FixedClock
) -> None:
    install(SqlUnitOfWork(engine), clock)
    assert install_templates(SqlUnitOfWork(engine), clock) == ()  # already there: left alone
    with SqlUnitOfWork(engine) as uow:
        templates = uow.templates.all()
        services = {s.code for s in uow.catalog.services()}
        street = [t.name for t in uow.templates.for_service("street-condition")]
    assert len(templates) == 3
    assert all(t.service_code is None or t.service_code in services for t in templates)
    assert street == ["Called the resident", "Street defect: repair scheduled"]
    assert {t.public for t in templates} == {True, False}
