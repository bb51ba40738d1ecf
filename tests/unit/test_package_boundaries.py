"""Package boundaries and the stage order (docs/architecture.md).

``indicators/`` is pure computation and ``alerts/`` plain data in, notifications out;
``monitor/`` is a stack of stage packages whose imports run one way: a module may
import its own stage and the stages below it, never one above.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FORBIDDEN = {
    # pure computation: no project wiring, no I/O libraries
    "indicators": {"monitor", "alerts", "httpx", "requests", "sqlalchemy", "apscheduler", "yaml",
                   "fastapi", "prometheus_client", "urllib", "socket"},
    # plain data in, notifications out: no storage, collectors or statistics
    "alerts": {"monitor", "indicators", "sqlalchemy", "pandas", "statsmodels"},
}
#: Modules a package may import although their package is forbidden to it. The shared
#: vocabulary (levels, columns, partner codes) lives in indicators/ and imports nothing
#: at all, so alerts/ reads the same words without pulling in pandas or statistics.
CARVE_OUTS = {"alerts": {"indicators.vocabulary"}}
SHARED_VOCABULARY = REPO / "indicators" / "vocabulary.py"

#: monitor/'s stages, lowest first: the order data flows, and the only direction imports run.
STAGES = ("clock", "records", "config", "store", "telemetry", "collect", "assess", "stress", "notify", "report", "app",
          "serve", "cli")


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            if node.module == "monitor":  # from monitor import x
                names += [f"monitor.{alias.name}" for alias in node.names]
    return names


def _stage(module: str) -> str | None:
    """The stage of a dotted ``monitor.*`` module name (None for the package root itself)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in STAGES else None


@pytest.mark.parametrize(
    "path", sorted(p for package in FORBIDDEN for p in (REPO / package).glob("*.py")),
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_module_respects_its_package_boundary(path):
    forbidden = FORBIDDEN[path.parent.name]
    allowed = CARVE_OUTS.get(path.parent.name, set())
    bad = [name for name in _imports(path) if name.split(".")[0] in forbidden and name not in allowed]
    assert not bad, f"{path.parent.name}/{path.name} imports {bad}"


MONITOR_MODULES = sorted(p for p in (REPO / "monitor").rglob("*.py")
                         if "migrations" not in p.parts and p.name != "__init__.py")


def test_every_monitor_module_belongs_to_a_stage():
    stray = [str(p.relative_to(REPO)) for p in MONITOR_MODULES
             if _stage(".".join(p.relative_to(REPO).with_suffix("").parts)) is None]
    assert not stray, f"modules outside the stage packages {STAGES}: {stray}"


@pytest.mark.parametrize("path", MONITOR_MODULES, ids=lambda p: str(p.relative_to(REPO)))
def test_monitor_imports_run_down_the_stage_order(path):
    own = STAGES.index(_stage(".".join(path.relative_to(REPO).with_suffix("").parts)))
    upward = [name for name in _imports(path) if name.startswith("monitor.") and _stage(name)
              and STAGES.index(_stage(name)) > own]
    assert not upward, f"{path.relative_to(REPO)} (stage {STAGES[own]}) imports a later stage: {upward}"


def test_no_catch_all_modules():
    dumps = [p for package in ("monitor", "indicators", "alerts")
             for p in (REPO / package).rglob("*.py") if p.stem in {"utils", "helpers", "misc", "common"}]
    assert not dumps, dumps


def test_the_shared_vocabulary_imports_nothing():
    tree = ast.parse(SHARED_VOCABULARY.read_text(encoding="utf-8"))
    imports = [ast.unparse(n) for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert not imports, f"indicators/vocabulary.py must import nothing (alerts/ imports it): {imports}"


PROJECT_PACKAGES = ("monitor", "indicators", "alerts")


def test_no_private_name_is_imported_across_modules():
    """A helper two modules need is a public function of a module named for what it does."""
    crossings = []
    for package in PROJECT_PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                if not (isinstance(node, ast.ImportFrom) and node.module and node.level == 0
                        and node.module.split(".")[0] in PROJECT_PACKAGES):
                    continue
                crossings += [f"{path.relative_to(REPO)}: from {node.module} import {alias.name}"
                              for alias in node.names
                              if alias.name.startswith("_") and not alias.name.startswith("__")]
    assert not crossings, "private names imported across modules:\n" + "\n".join(crossings)
