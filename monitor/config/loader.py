"""The one place that reads configuration files and the environment.

``load_config(directory)`` reads ``chains.yaml``, ``sources.yaml``, ``settings.yaml``
and ``alerts.yaml``, expands ``${VAR}`` / ``${VAR:-default}`` in string values, validates
everything with the pydantic models and returns a :class:`~monitor.config.models.Config`.
Every problem is reported as one line naming file and field path, e.g.
``chains.yaml: chains[2].nodes[1].hs_codes[0]: '85A1' is not an HS code``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

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
from monitor.config.yaml_reader import YamlProblem, parse_yaml

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
log = logging.getLogger("chainwatch.config")
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

    Warnings (a literal secret in a file) are logged once.

    Raises
    ------
    ConfigError
        With every problem found, each naming file and field path.
    """
    reading = _read_files(resolve_config_dir(directory), environ)
    if reading.problems:
        raise ConfigError(reading.problems)
    for warning in reading.warnings:
        log.warning("%s", warning)
    assert reading.config is not None
    return reading.config


@dataclass(frozen=True)
class ConfigCheck:
    """Everything ``chainwatch check-config`` reports, found in one pass."""

    config: Config | None  # None when a problem was found
    scenarios: list[Scenario]
    problems: list[str]
    warnings: list[str]


def check_config(directory: Path | str | None = None, environ: Mapping[str, str] | None = None) -> ConfigCheck:
    """Every problem of the config files, across files, and of the stress scenarios, at once.

    Cross-file checks and scenario checks run on whatever files validated, so one run
    names every problem instead of revealing them stage by stage.
    """
    directory = resolve_config_dir(directory)
    reading = _read_files(directory, environ)
    problems = list(reading.problems)
    scenarios: list[Scenario] = []
    config = reading.config
    settings_valid = "settings.yaml" in reading.parsed
    if config is None and "chains.yaml" in reading.parsed:
        # Enough to check the scenarios against the catalog although another file is broken
        # (with default settings if settings.yaml is the broken one).
        settings = reading.parsed.get("settings.yaml") or ServiceSettings()
        config = Config.model_construct(catalog=reading.parsed["chains.yaml"], settings=settings,
                                        directory=str(directory))
    if config is not None:
        try:
            scenarios = load_scenarios(config, environ, settings_valid=settings_valid)
        except ConfigError as err:
            problems.extend(err.problems)
    if problems:
        return ConfigCheck(None, [], problems, reading.warnings)
    return ConfigCheck(reading.config, scenarios, [], reading.warnings)


@dataclass(frozen=True)
class _Reading:
    parsed: dict[str, BaseModel]
    problems: list[str]
    warnings: list[str]
    config: Config | None


def _read_files(directory: Path, environ: Mapping[str, str] | None) -> _Reading:
    env = os.environ if environ is None else environ
    # Files a profile ships beside its YAML (the snapshot's data) are named relative to it.
    env = {**env, CONFIG_DIR_VARIABLE: str(directory.resolve())}
    problems: list[str] = []
    warnings: list[str] = []
    parsed: dict[str, BaseModel] = {}
    digest = hashlib.sha256()
    if not directory.is_dir():
        return _Reading({}, [f"{directory}: config directory does not exist"], [], None)
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
            document = parse_yaml(raw.decode("utf-8")) or {}
        except (YamlProblem, UnicodeDecodeError) as err:
            problems.append(f"{filename}: not valid YAML: {err}")
            continue
        if not isinstance(document, dict):
            problems.append(f"{filename}: top level must be a mapping, got {type(document).__name__}")
            continue
        file_problems: list[str] = []
        unset: list[str] = []
        interpolated = _interpolate(document, env, filename, "", file_problems, unset)
        problems.extend(file_problems)
        try:
            validated = model.model_validate(interpolated)
        except ValidationError as err:
            # A field whose variable is unset was already reported; not again as invalid.
            problems.extend(line for line in _format_validation(filename, err)
                            if not any(_under(line, f"{filename}: {path}") for path in unset))
            continue
        if not file_problems:
            parsed[filename] = validated
            warnings.extend(_literal_secrets(filename, validated, document))
    if {"chains.yaml", "alerts.yaml"} <= parsed.keys():
        problems.extend(_cross_file_problems(parsed))
    if problems:
        return _Reading(parsed, problems, warnings, None)
    config = Config(
        catalog=parsed["chains.yaml"],
        sources=_with_api_keys(parsed["sources.yaml"], env),  # type: ignore[arg-type]
        settings=parsed["settings.yaml"],
        alerts=parsed["alerts.yaml"],
        config_hash=digest.hexdigest(),
        directory=str(directory),
    )
    return _Reading(parsed, [], warnings, config)


def _under(line: str, prefix: str) -> bool:
    return line.startswith(prefix) and line[len(prefix):len(prefix) + 1] in (":", ".", "[")


def _literal_secrets(filename: str, model: BaseModel, document: Any) -> list[str]:
    """A warning for each secret field written as a literal instead of ``${VAR}``.

    Secrets belong in the environment (docs/configuration.md): a config directory is
    copied, committed and hashed into run provenance. The value is never shown.
    """
    warnings = []
    for path, raw in _secret_fields(model, document, ""):
        if isinstance(raw, str) and "${" not in raw:
            warnings.append(f"{filename}: {path}: a literal secret; write ${{VAR}} and set the variable "
                            "in the environment")
    return warnings


def _secret_fields(value: Any, raw: Any, path: str) -> list[tuple[str, Any]]:
    """``(path, raw YAML value)`` of every set SecretStr field in a validated model tree."""
    found: list[tuple[str, Any]] = []
    if isinstance(value, BaseModel):
        for name, field in type(value).model_fields.items():
            key = field.alias or name
            item = getattr(value, name)
            raw_item = raw.get(key) if isinstance(raw, dict) else None
            if isinstance(item, SecretStr):
                if key in value.model_fields_set or name in value.model_fields_set:
                    found.append((_join(path, key), raw_item))
            else:
                found.extend(_secret_fields(item, raw_item, _join(path, key)))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            raw_item = raw[i] if isinstance(raw, list) and i < len(raw) else None
            found.extend(_secret_fields(item, raw_item, f"{path}[{i}]"))
    elif isinstance(value, dict):
        for key, item in value.items():
            found.extend(_secret_fields(item, raw.get(key) if isinstance(raw, dict) else None,
                                        _join(path, str(key))))
    return found


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


def _interpolate(value: Any, env: Mapping[str, str], filename: str, path: str, problems: list[str],
                 unset: list[str] | None = None) -> Any:
    """Expand ``${VAR}``/``${VAR:-default}`` in every string of a parsed YAML document.

    Done on parsed values rather than raw text so an environment value can never
    change the document's structure. ``unset`` collects the paths of unset variables.
    """
    if isinstance(value, dict):
        return {
            key: _interpolate(item, env, filename, _join(path, str(key)), problems, unset)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_interpolate(item, env, filename, f"{path}[{i}]", problems, unset)
                for i, item in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env and env[name] != "":
            return env[name]
        if default is not None:
            return default
        problems.append(f"{filename}: {path}: environment variable {name} is not set and has no default")
        if unset is not None:
            unset.append(path)
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


def load_scenarios(config: Config, environ: Mapping[str, str] | None = None, *,
                   settings_valid: bool = True) -> list[Scenario]:
    """Every ``*.yaml`` scenario of the stress scenarios directory, validated, sorted by file name.

    A missing directory means no scenarios, unless ``stress.scenarios_dir`` was set
    explicitly. Raises :class:`ConfigError` with every problem of every file.
    ``settings_valid=False`` (settings.yaml is broken, ``config`` holds its defaults)
    skips the checks that depend on the buffer settings.
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
            scenario = _load_scenario_file(path, config, environ, settings_valid)
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
        scenario = _load_scenario_file(path, config, environ, True)
    except ConfigError as err:
        raise ConfigError(problems + err.problems) from None
    if not scenario.applies_to(config.catalog.home):
        problems.append(f"{Path(path).name}: homes: the scenario is written for {', '.join(scenario.homes)}, "
                        f"the catalog's home is {config.catalog.home}")
    if problems:
        raise ConfigError(problems)
    return scenario


def _load_scenario_file(path: Path | str, config: Config, environ: Mapping[str, str] | None,
                        settings_valid: bool) -> Scenario:
    """:func:`load_scenario` without the checks of the buffer settings (shared by every scenario)."""
    path = Path(path)
    name = path.name
    if not path.is_file():
        raise ConfigError([f"{path}: scenario file not found"])
    try:
        document = parse_yaml(path.read_bytes().decode("utf-8")) or {}
    except (YamlProblem, UnicodeDecodeError) as err:
        raise ConfigError([f"{name}: not valid YAML: {err}"]) from None
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
    problems = _scenario_problems(name, scenario, config, settings_valid)
    if problems:
        raise ConfigError(problems)
    return scenario


def _scenario_problems(name: str, scenario: Scenario, config: Config, settings_valid: bool) -> list[str]:
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
        if shock.kind == "production_drop" and settings_valid:
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
