"""Named schedulers: a registry of specs with lazy entry points and helpful errors.

A spec names its family and a ``"module:attr"`` entry point that is imported only when the
scheduler is made, so listing names never imports torch. Names are normalised ("SRWF",
"srwf" and "s_r_w_f" are the same), duplicates are errors, and an unknown name gets a
"did you mean" suggestion plus the list of valid names. Third-party packages add schedulers
through the ``schedlab.schedulers`` entry-point group; any class is also reachable as
``module:Class`` or ``path/to/file.py:Class`` without registering.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import re
from dataclasses import dataclass, field
from typing import Any

from schedlab.errors import ConfigError, UnknownNameError
from schedlab.schedulers.base import Scheduler

__all__ = ["SchedulerSpec", "register", "make", "spec", "names", "specs", "default_name", "check_name"]

_ENTRY_POINT_GROUP = "schedlab.schedulers"


@dataclass(frozen=True)
class SchedulerSpec:
    """A registered scheduler.

    Attributes:
        name: Canonical name, e.g. ``"fair"``.
        family: Scenario family, e.g. ``"spark"``.
        entry_point: ``"module:attr"`` of the class (or factory) to call.
        summary: One line for ``schedlab list``.
        aliases: Other accepted names.
        kwargs: Default keyword arguments passed to the entry point.
        requires: Optional packages it cannot run without (e.g. ``("torch",)``).
    """

    name: str
    family: str
    entry_point: str
    summary: str = ""
    aliases: tuple[str, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    requires: tuple[str, ...] = ()

    def load(self) -> type[Scheduler]:
        """Import and return the entry point.

        Raises:
            ConfigError: A package in :attr:`requires` is not installed.
        """
        missing = self.missing()
        if missing:
            raise ConfigError(
                f"{self.name} needs {', '.join(missing)} (not installed): pip install 'schedlab[learn]'",
                field="--scheduler",
            )
        return _import(self.entry_point)

    def missing(self) -> list[str]:
        """The packages of :attr:`requires` that are not installed here."""
        out = []
        for package in self.requires:
            try:
                found = importlib.util.find_spec(package) is not None
            except (ImportError, ValueError):
                found = False
            if not found:
                out.append(package)
        return out


_registry: dict[tuple[str, str], SchedulerSpec] = {}
_lookup: dict[tuple[str, str], str] = {}  # (family, normalised alias) -> canonical name
#: Family -> the family spec whose schedulers are registered now (see :func:`_load_family`).
_family_specs: dict[str, Any] = {}
_plugins_loaded = False


def _norm(name: str) -> str:
    return re.sub(r"[-_ .]", "", name.lower())


def register(spec: SchedulerSpec) -> None:
    """Add a scheduler.

    Raises:
        ValueError: The name or an alias is already taken in that family.
    """
    _load_family(spec.family)
    _add(spec)


def _add(spec: SchedulerSpec) -> None:
    for alias in (spec.name, *spec.aliases):
        key = (spec.family, _norm(alias))
        if key in _lookup:
            raise ValueError(
                f"scheduler name {alias!r} is already registered for family {spec.family!r} (as {_lookup[key]!r})"
            )
    _registry[(spec.family, spec.name)] = spec
    for alias in (spec.name, *spec.aliases):
        _lookup[(spec.family, _norm(alias))] = spec.name


def specs(family: str | None = None) -> list[SchedulerSpec]:
    """Registered specs, optionally of one family, in registration order."""
    _load_plugins()
    if family is None:
        from schedlab import plugins

        for name in plugins.names():
            _load_family(name)
    else:
        _load_family(family)
    return [s for (f, _), s in _registry.items() if family is None or f == family]


def names(family: str) -> list[str]:
    """Canonical names of a family's schedulers."""
    return [s.name for s in specs(family)]


def default_names(family: str) -> list[str]:
    """What ``compare`` and sweeps run when no scheduler is named.

    The family's schedulers that need no optional package; those that do (``netllm``) run
    when named.
    """
    return [s.name for s in specs(family) if not s.requires]


def default_name(family: str) -> str:
    """The family's default scheduler: the one its spec names, else the first registered.

    Raises:
        UnknownNameError: The family has no scheduler.
    """
    from schedlab import plugins

    family_specs = specs(family)
    if not family_specs:
        raise UnknownNameError(f"no scheduler is registered for family {family!r}", field="--scheduler")
    return plugins.get(family).default_scheduler or family_specs[0].name


def spec(name: str, family: str) -> SchedulerSpec:
    """Look a scheduler up by name or alias.

    Raises:
        UnknownNameError: No such scheduler in that family; the message suggests close names.
    """
    _load_plugins()
    _load_family(family)
    canonical = _lookup.get((family, _norm(name)))
    if canonical is None:
        valid = names(family)
        close = difflib.get_close_matches(name.lower(), valid, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UnknownNameError(
            f"unknown {family} scheduler {name!r}.{hint} Valid: {', '.join(valid)}; or give module:Class",
            field="--scheduler",
        )
    return _registry[(family, canonical)]


def check_name(name: str, family: str) -> None:
    """Fail now, before any run, if ``name`` cannot give a scheduler of ``family``.

    ``module:Class`` paths are imported only when made; a policy directory's card is read.

    Raises:
        UnknownNameError: An unknown registered name.
        DataError: A policy directory that is malformed or for another family.
    """
    from schedlab.learn.policy import is_policy_dir, read_card

    if is_policy_dir(name):
        read_card(name, family=family)
    elif ":" not in name:
        spec(name, family)


def make(name: str, family: str, **kwargs: Any) -> Scheduler:
    """Build a scheduler from a registered name or a ``module:Class`` path.

    A path with a ``/`` in it that holds a ``policy.json`` is a trained policy's directory
    (:mod:`schedlab.learn.policy`), run by the scheduler of its algorithm.

    Raises:
        UnknownNameError: The name is unknown.
        ConfigError: A ``module:Class`` path cannot be imported or is not a scheduler.
        DataError: A policy directory is malformed or was trained for another family.
    """
    from schedlab.learn.policy import is_policy_dir, load_policy_scheduler

    if is_policy_dir(name):
        if kwargs:
            raise ConfigError(f"a policy directory takes no parameters, got {', '.join(kwargs)}", field="--param")
        return load_policy_scheduler(name, family)
    if ":" in name:
        cls = _import(name)
        sched = cls(**kwargs)
        if not isinstance(sched, Scheduler) and not callable(getattr(sched, "decide", None)):
            raise ConfigError(f"{name} is not a scheduler (it has no decide method)", field="--scheduler")
        return sched
    s = spec(name, family)
    return s.load()(**{**s.kwargs, **kwargs})


def _import(path: str) -> Any:
    module, _, attr = path.rpartition(":")
    try:
        obj = _load_file(module) if module.endswith(".py") else importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except ImportError as e:
        raise ConfigError(f"cannot import {module!r} ({e})", field="--scheduler") from None
    except AttributeError:
        raise ConfigError(f"module {module!r} has no attribute {attr!r}", field="--scheduler") from None
    return obj


def _load_file(filename: str) -> Any:
    """Import a scheduler file given by path (``my_scheduler.py:MyScheduler``)."""
    import importlib.util
    import sys
    from pathlib import Path

    p = Path(filename)
    if not p.is_file():
        raise ConfigError(f"no such file {filename!r}", field="--scheduler")
    name = f"schedlab_user_{p.stem}"
    spec = importlib.util.spec_from_file_location(name, p)
    if spec is None or spec.loader is None:
        raise ConfigError(f"cannot import {filename!r}: not a Python file", field="--scheduler")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # lets worker processes and dataclasses resolve the module
    try:
        spec.loader.exec_module(module)
    except (SyntaxError, ValueError) as e:
        # A file that does not compile (or holds a NUL byte) is bad input, like a malformed
        # scenario; an exception its own code raises keeps its traceback, for its author.
        del sys.modules[name]
        where = f"line {e.lineno}: " if getattr(e, "lineno", None) else ""
        raise ConfigError(f"{filename}: {where}{type(e).__name__}: {getattr(e, 'msg', None) or e}",
                          field="--scheduler") from None  # fmt: skip
    return module


def _load_family(family: str) -> None:
    """Register the schedulers a family's spec lists, once per spec.

    Checked on every lookup, so that a family registered, removed or replaced at run time (a
    test's temporary family) brings its schedulers and takes them away again.
    """
    from schedlab import plugins

    spec = plugins.find(family)
    old = _family_specs.get(family)
    if old is spec:
        return
    if old is not None:
        for s in old.schedulers:
            _drop(s)
        del _family_specs[family]
    if spec is not None:
        _family_specs[family] = spec
        for s in spec.schedulers:
            _add(s)


def _drop(spec: SchedulerSpec) -> None:
    _registry.pop((spec.family, spec.name), None)
    for alias in (spec.name, *spec.aliases):
        _lookup.pop((spec.family, _norm(alias)), None)


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    from importlib.metadata import entry_points

    for ep in entry_points(group=_ENTRY_POINT_GROUP):
        # An entry point's value names a SchedulerSpec (or a list of them) to register.
        obj = ep.load()
        for s in obj if isinstance(obj, (list, tuple)) else [obj]:
            _load_family(s.family)
            _add(s)
