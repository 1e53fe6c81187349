"""The arrows of docs/DESIGN.md, checked on the source: the OCLC side never imports the Alma
side, and the Alma side reaches OCLC only through files and the WorldCat Metadata API client
(profiles never imports datasync)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(app: str) -> dict[str, set[str]]:
    """File -> the top-level packages it imports (migrations left out: Django writes those)."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / app).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


@pytest.mark.parametrize(
    ("app", "forbidden"),
    [
        ("datasync", {"records", "profiles", "ftp"}),
        ("profiles", {"datasync"}),
        ("records", {"profiles", "ftp", "datasync"}),
    ],
)
def test_an_app_never_imports_what_its_arrows_forbid(app, forbidden):
    offenders = {
        f: sorted(n & forbidden) for f, n in imported_modules(app).items() if n & forbidden
    }
    assert not offenders, offenders
    # The scan sees imports at all (it would pass vacuously otherwise).
    assert any("django" in names for names in imported_modules(app).values())
