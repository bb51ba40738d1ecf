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
from pydantic import BaseModel, ValidationError

from monitor.config.models import AlertsFile, Catalog, Config, ServiceSettings, SourcesFile

CONFIG_FILES: dict[str, type[BaseModel]] = {
    "chains.yaml": Catalog,
    "sources.yaml": SourcesFile,
    "settings.yaml": ServiceSettings,
    "alerts.yaml": AlertsFile,
}
_OPTIONAL_FILES = {"settings.yaml"}
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_PATH_PREFIX = re.compile(r"^((?:[A-Za-z_]\w*|\[\d+\])(?:\.?[A-Za-z_]\w*|\[\d+\])*): (.*)$", re.S)


class ConfigError(ValueError):
    """The configuration is invalid; ``problems`` holds one line per problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


def default_config_dir() -> Path:
    """``./config`` if present, else the configuration shipped with chainwatch."""
    local = Path.cwd() / "config"
    if (local / "chains.yaml").is_file():
        return local
    packaged = resources.files("monitor").joinpath("default_config")
    if packaged.is_dir():
        return Path(str(packaged))
    # Source checkout or editable install: config/ sits beside the monitor package.
    return Path(__file__).resolve().parents[2] / "config"


def load_config(directory: Path | str | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read, interpolate and validate the configuration in ``directory``.

    Raises
    ------
    ConfigError
        With every problem found, each naming file and field path.
    """
    directory = Path(directory) if directory is not None else default_config_dir()
    env = os.environ if environ is None else environ
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
    if problems:
        raise ConfigError(problems)
    return Config(
        catalog=parsed["chains.yaml"],
        sources=parsed["sources.yaml"],
        settings=parsed["settings.yaml"],
        alerts=parsed["alerts.yaml"],
        config_hash=digest.hexdigest(),
    )


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
            elif part in {"demo", "webhook", "alertmanager", "slack", "feishu", "dingtalk", "wecom"} and problem["type"] != "union_tag_invalid":
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
    known = {r.name for r in alerts.receivers}
    problems = []
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
