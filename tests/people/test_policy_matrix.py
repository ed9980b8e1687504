"""The generated permission matrix (policy_cases.py), run through the real use cases on the in-memory fake."""

from __future__ import annotations

import pytest
from policy_cases import INVOKERS, Case, cases, principal, world

from civicswitch.core.errors import Forbidden
from civicswitch.people.policy import POLICY, Action

CASES = cases()


def test_every_action_has_an_invoker() -> None:
    """A new action needs a row in the policy and an invoker in the matrix (policy_cases.INVOKERS)."""
    assert set(INVOKERS) == set(Action) == set(POLICY)


def test_matrix__covers_every_role_and_both_sides_of_every_scoped_action() -> None:
    denied = [c for c in CASES if not c.allowed]
    allowed = [c for c in CASES if c.allowed]
    assert len(CASES) >= len(Action) * 8 and denied and allowed
    assert {c.side for c in CASES} == {"own", "other", "any"}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_policy_matrix__memory__use_case_allows_or_refuses_as_the_table_says(case: Case) -> None:
    w = world()
    before = w.writes()
    who = principal(case.role)
    if case.allowed:
        INVOKERS[case.action](w, who, case.side)
    else:
        with pytest.raises(Forbidden):
            INVOKERS[case.action](w, who, case.side)
        assert w.writes() == before, "a refused action wrote something"
