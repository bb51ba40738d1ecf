"""Package boundaries (DESIGN.md): indicators/ is pure, alerts/ knows no collectors or statistics."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    # pure computation: no project wiring, no I/O libraries
    "indicators": {"monitor", "alerts", "httpx", "requests", "sqlalchemy", "apscheduler", "yaml",
                   "fastapi", "prometheus_client", "urllib", "socket"},
    # plain data in, notifications out: no storage, collectors or statistics
    "alerts": {"monitor", "indicators", "sqlalchemy", "pandas", "statsmodels"},
}


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


@pytest.mark.parametrize(
    "path", sorted(p for package in FORBIDDEN for p in (REPO / package).glob("*.py")),
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_module_respects_its_package_boundary(path):
    forbidden = FORBIDDEN[path.parent.name]
    bad = [name for name in _imports(path) if name.split(".")[0] in forbidden]
    assert not bad, f"{path.parent.name}/{path.name} imports {bad}"


def test_no_catch_all_modules():
    dumps = [p for package in ("monitor", "indicators", "alerts")
             for p in (REPO / package).rglob("*.py") if p.stem in {"utils", "helpers", "misc", "common"}]
    assert not dumps, dumps
