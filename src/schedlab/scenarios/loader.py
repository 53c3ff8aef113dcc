"""Find a scenario by preset name or YAML path, validate it, and apply overrides."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from schedlab import families
from schedlab.errors import ConfigError, UnknownNameError

__all__ = ["load_scenario", "preset_names", "parse_scenario"]


def preset_names() -> list[str]:
    """Names of the presets of every registered family."""
    return sorted(_presets())


def _presets() -> dict[str, families.FamilySpec]:
    """Preset name -> the family that ships it."""
    return {name: spec for spec in families.specs() for name in spec.preset_names()}


def load_scenario(name_or_path: str, overrides: dict[str, Any] | None = None):
    """Load a preset (by name) or a YAML file (by path), then apply dotted-key overrides.

    Args:
        name_or_path: A preset name such as ``spark-tpch``, or a path to a YAML file.
        overrides: ``{"cluster.executors": 20, ...}``; ``None`` values are skipped.

    Raises:
        UnknownNameError: Neither a preset nor an existing file.
        ConfigError: The YAML is malformed or a field is invalid (the message names the file
            and the field).
    """
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml", ".json") or path.is_file():
        if not path.is_file():
            raise ConfigError("no such scenario file", source=str(path))
        text, source = path.read_text(), str(path)
    else:
        presets = _presets()
        if name_or_path not in presets:
            close = difflib.get_close_matches(name_or_path, sorted(presets), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise UnknownNameError(
                f"unknown scenario {name_or_path!r}.{hint} Presets: {', '.join(preset_names())}; or give a YAML path",
                field="SCENARIO",
            )
        source = f"preset {name_or_path}"
        text = presets[name_or_path].preset_text(name_or_path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        raise ConfigError(f"{where}malformed YAML ({getattr(e, 'problem', None) or e})", source=source) from None
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping at the top level", source=source)
    for key, value in (overrides or {}).items():
        if value is not None:
            _set(data, key, value)
    return parse_scenario(data, source=source)


def parse_scenario(data: dict[str, Any], *, source: str | None = None):
    """Validate a scenario mapping.

    Raises:
        ConfigError: Unknown family, unknown key or invalid value.
    """
    try:
        cls = families.get(data.get("family")).scenario_class()
    except UnknownNameError as e:
        raise ConfigError(e.problem, source=source, field="family") from None
    try:
        return cls.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(p) for p in err["loc"] if not (isinstance(p, str) and p in ("tpch", "synthetic")))
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif "input" in err and err["type"] not in ("missing",):
            msg = f"{msg} (got {err['input']!r})"
        more = f" (and {e.error_count() - 1} more)" if e.error_count() > 1 else ""
        raise ConfigError(msg + more, source=source, field=loc or None) from None


def _set(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    node = data
    for p in parents:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise ConfigError(f"cannot set {dotted}: {p} is not a mapping", field=dotted)
    node[last] = value
