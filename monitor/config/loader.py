"""The one place that reads configuration files and the environment.

``load_config(directory)`` reads ``chains.yaml``, ``sources.yaml``, ``settings.yaml``
and ``alerts.yaml``, expands ``${VAR}`` / ``${VAR:-default}`` in string values, validates
everything with the pydantic models and returns a :class:`~monitor.config.models.Config`.
Every problem is reported as one line naming file and field path, e.g.
``chains.yaml: chains[2].nodes[1].hs_codes[0]: '85A1' is not an HS code``.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, SecretStr, ValidationError

from monitor.config.models import (
    AlertsFile,
    Catalog,
    Config,
    NodeBufferSettings,
    ServiceSettings,
    SourcesFile,
)
from monitor.config.scenarios import Scenario

CONFIG_FILES: dict[str, type[BaseModel]] = {
    "chains.yaml": Catalog,
    "sources.yaml": SourcesFile,
    "settings.yaml": ServiceSettings,
    "alerts.yaml": AlertsFile,
}
_OPTIONAL_FILES = {"settings.yaml"}
_UNION_TAGS = {"demo", "comtrade", "fred", "worldbank", "eurostat", "census", "comext", "file", "usgs", "eto_chips",
               "webhook", "alertmanager", "slack", "feishu", "dingtalk", "wecom"}
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_PATH_PREFIX = re.compile(r"^((?:[A-Za-z_]\w*|\[\d+\])(?:\.?[A-Za-z_]\w*|\[\d+\])*): (.*)$", re.S)


class ConfigError(ValueError):
    """The configuration is invalid; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


def default_config_dir(local: bool = True) -> Path:
    """``./config`` if present (and ``local``), else the configuration shipped with chainwatch."""
    here = Path.cwd() / "config"
    if local and (here / "chains.yaml").is_file():
        return here
    packaged = resources.files("monitor").joinpath("default_config")
    if packaged.is_dir():
        return Path(str(packaged))
    # Source checkout or editable install: config/ sits beside the monitor package.
    return Path(__file__).resolve().parents[2] / "config"


#: Set by :func:`load_config` to the config directory, for ``${CHAINWATCH_CONFIG_DIR}/…`` paths in YAML.
CONFIG_DIR_VARIABLE = "CHAINWATCH_CONFIG_DIR"

#: Profiles shipped with chainwatch besides the default, by name (``--config snapshot``).
PACKAGED_PROFILES = ("live", "snapshot")


def resolve_config_dir(directory: Path | str | None) -> Path:
    """The config directory: as given; a packaged profile's when given its bare name and no
    such local directory exists (``--config snapshot``); else the default."""
    if directory is None:
        return default_config_dir()
    path = Path(directory)
    if not path.exists() and str(directory) in PACKAGED_PROFILES:
        packaged = default_config_dir(local=False) / str(directory)
        if packaged.is_dir():
            return packaged
    return path


def load_config(directory: Path | str | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read, interpolate and validate the configuration in ``directory``.

    Raises
    ------
    ConfigError
        With every problem found, each naming file and field path.
    """
    directory = resolve_config_dir(directory)
    env = os.environ if environ is None else environ
    # Files a profile ships beside its YAML (the snapshot's data) are named relative to it.
    env = {**env, CONFIG_DIR_VARIABLE: str(directory.resolve())}
    problems: list[str] = []
    parsed: dict[str, BaseModel] = {}
    digest = hashlib.sha256()
    if not directory.is_dir():
        raise ConfigError([f"{directory}: config directory does not exist"])
    for filename, model in CONFIG_FILES.items():
        path = directory / filename
        if not path.is_file():
            if filename in _OPTIONAL_FILES:
                parsed[filename] = model()
                continue
            problems.append(f"{filename}: file is missing in {directory}")
            continue
        raw = path.read_bytes()
        digest.update(filename.encode() + b"\0" + raw + b"\0")
        try:
            document = yaml.safe_load(raw.decode("utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as err:
            problems.append(f"{filename}: not valid YAML: {_yaml_problem(err)}")
            continue
        if not isinstance(document, dict):
            problems.append(f"{filename}: top level must be a mapping, got {type(document).__name__}")
            continue
        file_problems: list[str] = []
        document = _interpolate(document, env, filename, "", file_problems)
        if file_problems:
            problems.extend(file_problems)
            continue
        try:
            parsed[filename] = model.model_validate(document)
        except ValidationError as err:
            problems.extend(_format_validation(filename, err))
    if not problems:
        problems.extend(_cross_file_problems(parsed))
        parsed["sources.yaml"] = _with_api_keys(parsed["sources.yaml"], env)  # type: ignore[arg-type]
    if problems:
        raise ConfigError(problems)
    return Config(
        catalog=parsed["chains.yaml"],
        sources=parsed["sources.yaml"],
        settings=parsed["settings.yaml"],
        alerts=parsed["alerts.yaml"],
        config_hash=digest.hexdigest(),
        directory=str(directory),
    )


def _with_api_keys(sources: SourcesFile, env: Mapping[str, str]) -> SourcesFile:
    """Fill each network source's ``api_key`` from the variable its ``api_key_env`` names.

    An explicit ``api_key`` (``${VAR}`` in YAML) wins; an unset or empty variable
    leaves the key unset (the source's key-less mode).
    """
    resolved = []
    for source in sources.sources:
        name = getattr(source, "api_key_env", None)
        if name and getattr(source, "api_key", None) is None and env.get(name):
            source = source.model_copy(update={"api_key": SecretStr(env[name])})
        resolved.append(source)
    return sources.model_copy(update={"sources": resolved})


def _yaml_problem(err: Exception) -> str:
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err)
    if mark is not None:
        return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return problem


def _interpolate(value: Any, env: Mapping[str, str], filename: str, path: str, problems: list[str]) -> Any:
    """Expand ``${VAR}``/``${VAR:-default}`` in every string of a parsed YAML document.

    Done on parsed values rather than raw text so an environment value can never
    change the document's structure.
    """
    if isinstance(value, dict):
        return {
            key: _interpolate(item, env, filename, _join(path, str(key)), problems)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_interpolate(item, env, filename, f"{path}[{i}]", problems) for i, item in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env and env[name] != "":
            return env[name]
        if default is not None:
            return default
        problems.append(f"{filename}: {path}: environment variable {name} is not set and has no default")
        return ""

    return _VAR.sub(replace, value)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _format_validation(filename: str, err: ValidationError) -> list[str]:
    lines = []
    for problem in err.errors(include_url=False, include_input=False):
        path = ""
        for part in problem["loc"]:
            if isinstance(part, int):
                path += f"[{part}]"
            elif part in _UNION_TAGS and problem["type"] != "union_tag_invalid":
                continue  # discriminated-union tag, not a field the user wrote
            else:
                path = _join(path, str(part))
        message = problem["msg"].removeprefix("Value error, ")
        nested = _PATH_PREFIX.match(message)
        if nested:  # a model validator that names the field inside its model
            inner, message = nested.groups()
            path = path + inner if inner.startswith("[") else _join(path, inner)
        if problem["type"] == "extra_forbidden":
            message = "unknown key"
        lines.append(f"{filename}: {path or '(top level)'}: {message}")
    return lines


def _cross_file_problems(parsed: Mapping[str, BaseModel]) -> list[str]:
    catalog: Catalog = parsed["chains.yaml"]  # type: ignore[assignment]
    alerts: AlertsFile = parsed["alerts.yaml"]  # type: ignore[assignment]
    input_problems = [f"chains.yaml: {problem}" for problem in catalog.input_problems()]
    known = {r.name for r in alerts.receivers}
    problems = list(input_problems)
    for i, chain in enumerate(catalog.chains):
        for j, name in enumerate(chain.receivers):
            if name not in known:
                problems.append(
                    f"chains.yaml: chains[{i}].receivers[{j}]: unknown receiver {name!r} "
                    f"(alerts.yaml defines: {', '.join(sorted(known)) or 'none'})"
                )
        for j, contact in enumerate(chain.contacts):
            if contact.receiver is not None and contact.receiver not in known:
                problems.append(
                    f"chains.yaml: chains[{i}].contacts[{j}].receiver: unknown receiver {contact.receiver!r}"
                )
    return problems


API_TOKENS_VARIABLE = "CHAINWATCH_API_TOKENS"


def load_api_tokens(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The HTTP API's bearer tokens: ``CHAINWATCH_API_TOKENS``, comma-separated (blanks dropped).

    Kept out of the YAML files on purpose: tokens are secrets and never land in a
    config directory or a config hash. An empty tuple disables every mutating call.
    """
    env = os.environ if environ is None else environ
    return tuple(t.strip() for t in env.get(API_TOKENS_VARIABLE, "").split(",") if t.strip())


def scenarios_directory(config: Config) -> Path:
    """``settings.stress.scenarios_dir``, relative paths taken from the config directory."""
    path = Path(config.settings.stress.scenarios_dir)
    if not path.is_absolute():
        path = Path(config.directory or default_config_dir()) / path
    return path


def load_scenarios(config: Config, environ: Mapping[str, str] | None = None) -> list[Scenario]:
    """Every ``*.yaml`` scenario of the stress scenarios directory, validated, sorted by file name.

    A missing directory means no scenarios, unless ``stress.scenarios_dir`` was set
    explicitly. Raises :class:`ConfigError` with every problem of every file.
    """
    directory = scenarios_directory(config)
    problems = _settings_buffer_problems(config)  # once, not once per scenario file
    if not directory.is_dir():
        if "scenarios_dir" in config.settings.stress.model_fields_set:
            problems.append(f"settings.yaml: stress.scenarios_dir: {directory} is not a directory")
        if problems:
            raise ConfigError(problems)
        return []
    scenarios = []
    seen: dict[str, str] = {}
    for path in sorted(directory.glob("*.yaml")):
        try:
            scenario = _load_scenario_file(path, config, environ)
        except ConfigError as err:
            problems.extend(err.problems)
            continue
        if scenario.id in seen:
            problems.append(f"{path.name}: id: scenario id {scenario.id!r} is also used by {seen[scenario.id]}")
        seen[scenario.id] = path.name
        if scenario.applies_to(config.catalog.home):  # a scenario written for other home economies is skipped
            scenarios.append(scenario)
    if problems:
        raise ConfigError(problems)
    return scenarios


def load_scenario(path: Path | str, config: Config, environ: Mapping[str, str] | None = None) -> Scenario:
    """Read and validate one stress-test scenario file against ``config``'s catalog.

    Raises
    ------
    ConfigError
        Each problem naming the file and the field, e.g.
        ``embargo.yaml: shocks[0].nodes[0]: 'minerals/cobalt' is not a node of the catalog``,
        and those of the buffer settings (``settings.yaml: stress.buffers.nodes...``).
    """
    problems = _settings_buffer_problems(config)
    try:
        scenario = _load_scenario_file(path, config, environ)
    except ConfigError as err:
        raise ConfigError(problems + err.problems) from None
    if not scenario.applies_to(config.catalog.home):
        problems.append(f"{Path(path).name}: homes: the scenario is written for {', '.join(scenario.homes)}, "
                        f"the catalog's home is {config.catalog.home}")
    if problems:
        raise ConfigError(problems)
    return scenario


def _load_scenario_file(path: Path | str, config: Config, environ: Mapping[str, str] | None) -> Scenario:
    """:func:`load_scenario` without the checks of the buffer settings (shared by every scenario)."""
    path = Path(path)
    name = path.name
    if not path.is_file():
        raise ConfigError([f"{path}: scenario file not found"])
    try:
        document = yaml.safe_load(path.read_bytes().decode("utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise ConfigError([f"{name}: not valid YAML: {_yaml_problem(err)}"]) from None
    if not isinstance(document, dict):
        raise ConfigError([f"{name}: top level must be a mapping, got {type(document).__name__}"])
    problems: list[str] = []
    document = _interpolate(document, os.environ if environ is None else environ, name, "", problems)
    if problems:
        raise ConfigError(problems)
    try:
        scenario = Scenario.model_validate(document)
    except ValidationError as err:
        raise ConfigError(_format_validation(name, err)) from None
    if not scenario.applies_to(config.catalog.home):
        return scenario  # checked against a catalog of its own home economy only
    problems = _scenario_problems(name, scenario, config)
    if problems:
        raise ConfigError(problems)
    return scenario


def _scenario_problems(name: str, scenario: Scenario, config: Config) -> list[str]:
    """Checks of a scenario against the catalog and the buffer settings."""
    catalog = config.catalog
    nodes = {f"{chain.id}/{node.id}": node for chain in catalog.chains for node in chain.nodes}
    chains = {chain.id for chain in catalog.chains}
    codes = {code for node in nodes.values() for code in node.hs_codes}
    problems = [f"{name}: buffers.nodes.{key}: {key!r} is not a node of the catalog (write chain/node)"
                for key in scenario.buffers.nodes if key not in nodes]
    for i, shock in enumerate(scenario.shocks):
        for j, ref in enumerate(shock.nodes):
            if ref not in nodes:
                problems.append(f"{name}: shocks[{i}].nodes[{j}]: {ref!r} is not a node of the catalog "
                                f"(write chain/node; chains: {', '.join(sorted(chains))})")
        for j, chain in enumerate(shock.chains):
            if chain not in chains:
                problems.append(f"{name}: shocks[{i}].chains[{j}]: {chain!r} is not a chain of the catalog")
        for j, code in enumerate(shock.products):
            if not any(c.startswith(code) for c in codes):
                problems.append(f"{name}: shocks[{i}].products[{j}]: no node of the catalog has HS code "
                                f"{code!r} or a code under it")
        if shock.partner is not None and shock.partner == catalog.home:
            problems.append(f"{name}: shocks[{i}].partner: {shock.partner!r} is the home economy "
                            "(chains.yaml home); its exports are not imports of the home economy")
        if shock.kind == "production_drop":
            targets = list(shock.nodes) + [f"{c.id}/{n.id}" for c in catalog.chains if c.id in shock.chains
                                           for n in c.nodes]
            for ref in targets:
                if ref in nodes and (node_buffers(config, scenario, ref).domestic_share or 0.0) <= 0:
                    problems.append(f"{name}: shocks[{i}].nodes: {ref} has domestic_share 0, so a production "
                                    "drop has no effect; set buffers.nodes.<chain/node>.domestic_share")
    return problems


def _settings_buffer_problems(config: Config) -> list[str]:
    """``stress.buffers.nodes`` entries of settings.yaml that name no node of the catalog."""
    nodes = {f"{chain.id}/{node.id}" for chain in config.catalog.chains for node in chain.nodes}
    return [f"settings.yaml: stress.buffers.nodes.{key}: {key!r} is not a node of the catalog (write chain/node)"
            for key in config.settings.stress.buffers.nodes if key not in nodes]


def node_buffers(config: Config, scenario: Scenario | None, ref: str) -> NodeBufferSettings:
    """The buffers of node ``ref`` (``chain/node``): settings default, settings node,
    scenario default, scenario node, each overriding the fields it sets."""
    layers = [config.settings.stress.buffers.default, config.settings.stress.buffers.nodes.get(ref)]
    if scenario is not None:
        layers += [scenario.buffers.default, scenario.buffers.nodes.get(ref)]
    merged: dict[str, Any] = {}
    for layer in layers:
        if layer is not None:
            merged.update({key: getattr(layer, key) for key in layer.model_fields_set})
    return NodeBufferSettings(**merged)
