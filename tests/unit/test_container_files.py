"""``docker-compose.yml`` and the ``Dockerfile``, checked statically.

No Docker engine runs on the development machines or in CI, so the image and the stack
are never built here; these tests read the files and check that what they refer to
exists and agrees: mounted files, the one image, ports, the reports directory, the
Prometheus targets and rule files, Grafana's dashboard path, and the variables the
README's compose command sets.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
SERVICES = COMPOSE["services"]
CHAINWATCH = sorted(name for name, s in SERVICES.items() if s.get("image") == "chainwatch:latest")


def _instructions(keyword: str) -> list[str]:
    """Arguments of every ``keyword`` instruction of the Dockerfile (continuation lines joined)."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    return [line.split(None, 1)[1] for line in joined.splitlines() if line.startswith(keyword + " ")]


def _mounts(service: str) -> list[tuple[str, str]]:
    return [tuple(v.split(":")[:2]) for v in SERVICES[service].get("volumes", [])]


def _workdir() -> str:
    return _instructions("WORKDIR")[-1].strip()


def test_one_image_built_once_and_run_by_every_chainwatch_service():
    assert CHAINWATCH == ["chainwatch-1", "chainwatch-2", "migrate"]
    assert [name for name, s in SERVICES.items() if "build" in s] == ["migrate"]
    assert all(SERVICES[name].get("pull_policy") == "never" for name in CHAINWATCH)


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_mounted_host_path_exists(service):
    for source, _ in _mounts(service):
        if source.startswith("."):
            assert (ROOT / source).exists(), f"{service} mounts {source}, which is not in the repository"


def test_dockerfile_copies_what_the_install_needs():
    copied = {source for args in _instructions("COPY") if not args.startswith("--from")
              for source in shlex.split(args)[:-1]}
    setup = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    directories = {setup["package-dir"].get(p, p.replace(".", "/")) for p in setup["packages"]}
    needed = {"pyproject.toml", "README.md"} | {d.split("/")[0] for d in directories}
    assert needed <= copied
    assert all((ROOT / source).exists() for source in copied)


def test_ports_agree():
    cmd = _instructions("CMD")[-1]
    assert '"--port", "9464"' in cmd and _instructions("EXPOSE") == ["9464"]
    published = {p.split(":")[1] for name in ("chainwatch-1", "chainwatch-2") for p in SERVICES[name]["ports"]}
    assert published == {"9464"}


def test_reports_volume_is_the_directory_the_image_creates_for_its_user():
    settings = yaml.safe_load((ROOT / "config" / "settings.yaml").read_text(encoding="utf-8"))
    reports = f"{_workdir()}/{settings['report']['out_dir']}"
    assert ("reports", reports) in _mounts("chainwatch-1")
    run = " ".join(_instructions("RUN"))
    assert f"install -d -o 10001 -g 10001 -m 0750 {reports}" in run
    assert _instructions("USER") == ["10001"] and "--uid 10001" in run
    # the configuration mounted where `./config` is found from the working directory
    assert ("./config", f"{_workdir()}/config") in _mounts("chainwatch-1")


def test_database_password_is_not_in_the_url():
    environment = SERVICES["chainwatch-1"]["environment"]
    assert "@" in environment["CHAINWATCH_DB_URL"] and ":" not in environment["CHAINWATCH_DB_URL"].split("@")[0][13:]
    assert environment["PGPASSWORD"].startswith("${POSTGRES_PASSWORD")


def test_prometheus_scrapes_both_replicas_and_loads_the_mounted_rules():
    config = yaml.safe_load((ROOT / "config" / "compose" / "prometheus.yml").read_text(encoding="utf-8"))
    targets = config["scrape_configs"][0]["static_configs"][0]["targets"]
    assert targets == ["chainwatch-1:9464", "chainwatch-2:9464"]
    mounted = {target for _, target in _mounts("prometheus")}
    assert {f"/etc/prometheus/{name}" for name in config["rule_files"]} <= mounted


def test_grafana_loads_the_dashboards_from_where_they_are_mounted():
    provider = yaml.safe_load((ROOT / "config" / "grafana" / "provisioning" / "dashboards" / "chainwatch.yml")
                              .read_text(encoding="utf-8"))
    path = provider["providers"][0]["options"]["path"]
    assert ("./config/grafana/dashboards", path) in _mounts("grafana")
    assert list((ROOT / "config" / "grafana" / "dashboards").glob("*.json"))


def test_readme_compose_command_sets_every_required_variable():
    required = set(re.findall(r"\$\{(\w+):\?", (ROOT / "docker-compose.yml").read_text(encoding="utf-8")))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    command = next(line for line in readme.splitlines() if "docker compose up" in line)
    assert required == {"POSTGRES_PASSWORD", "GRAFANA_ADMIN_PASSWORD"}
    assert all(f"{name}=" in command for name in required)
