"""What an installed civicswitch needs besides its Python: every data file under src/civicswitch (templates, the
residents' mail templates, static files, catalogs, the demo city) is named by ``[tool.setuptools.package-data]``,
so a wheel or a container image carries it (a file left out fails only when installed, not in a checkout)."""

from __future__ import annotations

import tomllib
from pathlib import Path, PurePosixPath

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "src" / "civicswitch"


def _matches(path: str, glob: str) -> bool:
    found, pattern = PurePosixPath(path), PurePosixPath(glob)
    return len(found.parts) == len(pattern.parts) and found.match(glob)


def test_package_data__names_every_data_file_of_the_package() -> None:
    globs = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["civicswitch"]
    data = [
        p.relative_to(PACKAGE).as_posix()
        for p in PACKAGE.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    ]
    # a setuptools glob's "*" does not cross "/": the same number of parts, each matching its own
    missing = [f for f in data if not any(_matches(f, g) for g in globs)]
    assert missing == [], f"add to package-data in pyproject.toml: {missing}"
