"""docs/security.md prints the policy table as the code has it."""

from __future__ import annotations

from pathlib import Path

from civicswitch.people.policy import policy_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"


def test_security_doc__policy_table__equals_the_code() -> None:
    text = DOC.read_text(encoding="utf-8")
    table = text.split("<!-- policy-table:start -->\n", 1)[1].split("\n<!-- policy-table:end -->", 1)[0]
    assert table == policy_markdown(), (
        "regenerate: python -c 'from civicswitch.people.policy import policy_markdown; print(policy_markdown())'"
    )
