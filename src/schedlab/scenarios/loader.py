"""Find a scenario by preset name or YAML path, validate it, and apply overrides.

Deprecated field names (a family's ``renamed_fields``, see :mod:`schedlab.scenarios.schema`)
are read, in files and in overrides, with a ``DeprecationWarning`` naming the file (or the
override), the old and the new name.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from schedlab import plugins
from schedlab.errors import ConfigError, UnknownNameError
from schedlab.scenarios.files import parse_yaml, read_text
from schedlab.scenarios.schema import apply_renames, renamed_key

__all__ = ["load_scenario", "preset_names", "parse_scenario"]


def preset_names() -> list[str]:
    """Names of the presets of every registered family."""
    return sorted(_presets())


def _presets() -> dict[str, plugins.FamilySpec]:
    """Preset name -> the family that ships it."""
    return {name: spec for spec in plugins.specs() for name in spec.preset_names()}


def load_scenario(name_or_path: str, overrides: dict[str, Any] | None = None):
    """Load a preset (by name) or a YAML file (by path), then apply dotted-key overrides.

    Args:
        name_or_path: A preset name such as ``spark-tpch``, or a path to a YAML file.
        overrides: ``{"cluster.executors": 20, ...}``; ``None`` values are skipped. A key may
            use a deprecated field name (it warns and sets the new field).

    Raises:
        UnknownNameError: Neither a preset nor an existing file.
        ConfigError: The YAML is malformed or a field is invalid (the message names the file
            and the field).
    """
    path = Path(name_or_path)
    if "\x00" in name_or_path:
        raise ConfigError(f"a NUL character in the scenario name or path {name_or_path!r}", field="SCENARIO")
    if path.suffix in (".yaml", ".yml", ".json") or path.exists():
        text, source = read_text(path, what="scenario file"), str(path)
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
    data = parse_yaml(text, source=source)
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping at the top level", source=source)
    renames = _renames(data.get("family"))
    if renames:
        try:
            data = apply_renames(data, renames, source=source)
        except ValueError as e:
            raise ConfigError(str(e), source=source) from None
    for key, value in (overrides or {}).items():
        if value is not None:
            _set(data, renamed_key(key, renames, source=f"override {key}") if renames else key, value)
    return parse_scenario(data, source=source)


def _renames(family: Any) -> dict[str, str]:
    """The deprecated top-level field names of a family's scenario (none for an unknown family)."""
    spec = plugins.find(family) if isinstance(family, str) else None
    return dict(getattr(spec.scenario_class(), "renamed_fields", {})) if spec is not None else {}


def parse_scenario(data: dict[str, Any], *, source: str | None = None):
    """Validate a scenario mapping.

    Raises:
        ConfigError: Unknown family, unknown key or invalid value.
    """
    try:
        cls = plugins.get(data.get("family")).scenario_class()
    except UnknownNameError as e:
        raise ConfigError(e.problem, source=source, field="family") from None
    try:
        return cls.model_validate(data, context={"source": source})
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(p) for p in err["loc"] if not (isinstance(p, str) and p in ("tpch", "synthetic")))
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif "input" in err and err["type"] not in ("missing",) and err["loc"] and not isinstance(err["input"], dict):
            # Not a whole mapping (a section's own check names its fields); at most a line's worth.
            got = repr(err["input"])
            msg = f"{msg} (got {got if len(got) <= 80 else got[:60] + f'... ({len(got)} characters)'})"
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
