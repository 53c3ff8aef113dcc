"""Families of systems as plugins: one package per family, named by a :class:`FamilySpec`.

A family package (``schedlab/families/<name>/`` or a third-party package) holds everything
about that family: its model, workloads, scenario schema and presets, views, baselines,
metrics, trace checks and plot hooks. Its ``__init__`` defines one :class:`FamilySpec` whose
hooks are ``"module:attr"`` strings, imported only when used, so listing families imports
nothing heavy. The rest of schedlab asks this registry, never a table of family names.

Built-in families are registered below, one line each; third-party packages add theirs
through the ``schedlab.families`` entry-point group (the value names a ``FamilySpec``), and
tests or notebooks call :func:`register` directly.
"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from schedlab.errors import UnknownNameError

__all__ = ["FamilySpec", "PlotHooks", "register", "unregister", "get", "find", "names", "specs", "resolve"]

_ENTRY_POINT_GROUP = "schedlab.families"

#: Built-in families: name -> ``"module:attr"`` of its spec. One line per family.
_BUILTIN = {
    "spark": "schedlab.families.spark:FAMILY",
    "gpu": "schedlab.families.gpu:FAMILY",
    "edge": "schedlab.families.edge:FAMILY",
    "multiproc": "schedlab.families.multiproc:FAMILY",
    "hetero": "schedlab.families.hetero:FAMILY",
}


@dataclass(frozen=True)
class PlotHooks:
    """How a family's traces are drawn (see :mod:`schedlab.report.plots`).

    Attributes:
        worker: What a worker is called (``"executor"``, ``"GPU"``), singular.
        job: What a job is called (``"job"``, ``"request"``, ``"task"``), singular.
        waiting: What waits in a queue, plural (``"tasks"``, ``"nodes"``).
        display_unit: Time unit of the axes (``"s"`` or ``"ms"``); None: the trace's own.
        worker_labels: ``"module:f"``, ``f(trace) -> list[str] | None``: row labels of the
            Gantt chart, one per worker id (None: the ids).
        waiting_series: ``"module:f"``, ``f(trace, t_end) -> (series, what) | None``: the
            waiting intervals drawn as queue lengths (None: the generic rule).
        figures: ``"module:f"``, ``f(trace) -> dict[str, Figure]``: figures beyond the
            Gantt chart, utilization and queue lengths.
        gantt_ylabel: The Gantt chart's y-axis label (None: the worker noun).
        job_names: ``"module:f"``, ``f(trace) -> dict | None``: job id -> the name the Gantt
            legend shows (None: the ids).
        queue_samples: ``"module:f"``, ``f(trace) -> (lines, what, ylabel) | None``: queue
            lengths as the trace sampled them, drawn as steps instead of the waiting series;
            ``lines`` is ``[(label, times, values)]`` in trace time units (None: not sampled).
    """

    worker: str = "worker"
    job: str = "job"
    waiting: str = "tasks"
    display_unit: str | None = None
    worker_labels: str | None = None
    waiting_series: str | None = None
    figures: str | None = None
    gantt_ylabel: str | None = None
    job_names: str | None = None
    queue_samples: str | None = None


@dataclass(frozen=True)
class FamilySpec:
    """A family of systems: what schedlab needs to load, run, measure, check and draw it.

    Attributes:
        name: The family's name, as scenarios and traces spell it (``"spark"``).
        summary: One line for ``schedlab list``.
        scenario: ``"module:Class"`` of the scenario model (a pydantic model with ``family``,
            ``name`` and ``build(engine, rng)``).
        presets: Package holding the ``presets/*.yaml`` scenario files (None: no presets).
        schedulers: The family's schedulers (:class:`~schedlab.schedulers.SchedulerSpec`),
            registered when the family is first used.
        default_scheduler: The scheduler the command line uses when none is named.
        metrics: ``"module:f"``, ``f(trace) -> dict``: metrics beyond the common ones.
        table_keys: The metric keys a comparison table shows, most important first (four at
            most, so that ``schedlab compare`` fits them side by side in 80 columns; ``--all``
            shows the rest). The first is the default metric that training validates on.
        run_keys: The metric keys ``schedlab run`` prints, in that order: the ones that mean
            something for this family (no moving delay where nothing moves). Empty: every
            metric. ``--all`` and ``--metrics-json`` give every metric either way.
        checks: ``"module:f"`` trace checks beyond the common ones (the signature of
            :func:`schedlab.metrics.checker.check_times`).
        native_format: ``("module:writer", "module:reader")`` of the family's own trace file
            format, if it has one (see :meth:`schedlab.sim.trace.Trace.save`).
        plots: How its traces are drawn.
        completion: What the report calls the completion time of a job of this family.
        env: ``"module:Class"`` of the family's Gymnasium environment, if it has one
            (registered as ``schedlab/<Family>-v0`` by :mod:`schedlab.envs`).
    """

    name: str
    summary: str
    scenario: str
    presets: str | None = None
    schedulers: tuple[Any, ...] = ()
    default_scheduler: str | None = None
    metrics: str | None = None
    table_keys: tuple[str, ...] = ("avg_jct_s", "p95_jct_s", "makespan_s", "executor_utilization")
    run_keys: tuple[str, ...] = ()
    checks: tuple[str, ...] = ()
    native_format: tuple[str, str] | None = None
    plots: PlotHooks = field(default_factory=PlotHooks)
    completion: str = "job completion time"
    env: str | None = None

    def scenario_class(self) -> type:
        """The scenario model."""
        return resolve(self.scenario)

    def preset_names(self) -> list[str]:
        """Names of this family's presets."""
        if self.presets is None:
            return []
        folder = resources.files(self.presets) / "presets"
        if not folder.is_dir():
            return []
        return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))

    def preset_text(self, name: str) -> str:
        """The YAML text of one of this family's presets."""
        return (resources.files(self.presets) / "presets" / f"{name}.yaml").read_text()


_registry: dict[str, FamilySpec | str] = dict(_BUILTIN)
_plugins_loaded = False


def register(spec: FamilySpec) -> None:
    """Add a family.

    Raises:
        ValueError: A family of that name is already registered.
    """
    _load_plugins()
    if spec.name in _registry:
        raise ValueError(f"family {spec.name!r} is already registered")
    _registry[spec.name] = spec


def unregister(name: str) -> None:
    """Remove a family (for tests that register a temporary one); its schedulers go with it."""
    _registry.pop(name, None)


def names() -> list[str]:
    """Names of the registered families, built-in ones first."""
    _load_plugins()
    return list(_registry)


def get(name: str) -> FamilySpec:
    """A family's spec.

    Raises:
        UnknownNameError: No such family; the message suggests a close name.
    """
    _load_plugins()
    spec = _registry.get(name) if isinstance(name, str) else None
    if spec is None:
        close = difflib.get_close_matches(str(name), list(_registry), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise UnknownNameError(f"unknown family {name!r}.{hint} Valid: {', '.join(_registry)}", field="family")
    if isinstance(spec, str):
        spec = _registry[name] = resolve(spec)
    return spec


def find(name: str) -> FamilySpec | None:
    """A family's spec, or None when no such family is registered (a trace from elsewhere)."""
    try:
        return get(name)
    except UnknownNameError:
        return None


def specs() -> list[FamilySpec]:
    """Every registered family's spec."""
    return [get(n) for n in names()]


def resolve(target: str) -> Any:
    """Import ``"module:attr"`` and return the attribute."""
    module, _, attr = target.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    from importlib.metadata import entry_points

    for ep in entry_points(group=_ENTRY_POINT_GROUP):
        spec = ep.load()
        if spec.name in _registry:
            raise ValueError(f"family {spec.name!r} from entry point {ep.value!r} is already registered")
        _registry[spec.name] = spec
