"""The test layers (docs/testing.md) hold what their names promise.

- every test file lives in ``tests/unit/``, ``tests/integration/`` or ``tests/e2e/``;
- a file in ``tests/unit/`` is pure: it imports no database layer (SQLAlchemy, the
  engine and migration helpers), no subprocess or process pool, no sockets, threads or
  HTTP servers (FastAPI's TestClient, the recording webhook receiver, the TCP gate, the
  child-process helpers), and none of its tests or fixtures asks for a database fixture
  (``db_url``, ``sessions`` or the templates behind them).

The check reads the files' syntax trees, so it cannot see a database reached through a
product function that opens one itself; such a call needs a URL or an engine, which a
unit test has no fixture to get.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
LAYERS = ("unit", "integration", "e2e")

FORBIDDEN_IN_UNIT = (
    "sqlalchemy", "alembic", "psycopg", "sqlite3", "monitor.store.database",
    "subprocess", "multiprocessing", "concurrent.futures", "socket", "threading", "http.server",
    "uvicorn", "fastapi.testclient", "starlette.testclient", "dask.distributed", "distributed",
    "tests.webhook_receiver", "tests.tcp_gate", "tests.service_process", "tests.pipeline_process",
    "tests.dispatcher_process",
)
DATABASE_FIXTURES = {"db_url", "sessions", "_sqlite_template", "_postgres_schema"}


def _imports(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def _requested_fixtures(tree: ast.AST) -> set[str]:
    requested: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            requested |= {arg.arg for arg in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]}
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") in {"getfixturevalue", "usefixtures"}:
            requested |= {arg.value for arg in node.args if isinstance(arg, ast.Constant)}
    return requested


def _forbidden(module: str) -> bool:
    return any(module == name or module.startswith(f"{name}.") for name in FORBIDDEN_IN_UNIT)


def test_every_test_file_is_in_a_layer():
    stray = sorted(p.relative_to(TESTS).as_posix() for p in TESTS.rglob("test_*.py")
                   if p.relative_to(TESTS).parts[0] not in LAYERS)
    assert not stray, f"test files outside tests/{{unit,integration,e2e}}/: {stray}"
    for layer in LAYERS:
        assert (TESTS / layer / "__init__.py").is_file(), f"tests/{layer}/ needs an __init__.py"


@pytest.mark.parametrize("path", sorted((TESTS / "unit").glob("test_*.py")), ids=lambda p: p.name)
def test_unit_tests_touch_no_database_process_or_socket(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    imported = sorted(m for m in _imports(tree) if _forbidden(m))
    assert not imported, f"tests/unit/{path.name} imports {imported}: move it to tests/integration or tests/e2e"
    fixtures = sorted(_requested_fixtures(tree) & DATABASE_FIXTURES)
    assert not fixtures, f"tests/unit/{path.name} asks for {fixtures}: move it to tests/integration"


def test_the_check_catches_what_it_forbids():
    tree = ast.parse("import subprocess\nfrom sqlalchemy import select\n"
                     "def test_x(sessions):\n    pass\n")
    assert {m for m in _imports(tree) if _forbidden(m)} >= {"subprocess", "sqlalchemy", "sqlalchemy.select"}
    assert _requested_fixtures(tree) & DATABASE_FIXTURES == {"sessions"}
    assert not _forbidden("indicators.concentration") and not _forbidden("socketserver_like")
