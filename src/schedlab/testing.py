"""A conformance suite for schedulers, to use in your own tests.

    from schedlab.testing import check_scheduler, parametrize_with_checks

    def test_my_scheduler():
        check_scheduler(lambda: MyScheduler(share=0.5))

    @parametrize_with_checks([MyScheduler])
    def test_my_scheduler_conforms(scheduler, preset, check):
        check(scheduler, preset)

Like scikit-learn's ``check_estimator`` and ``parametrize_with_checks``: each check runs the
scheduler on a small version of a scenario and raises :class:`SchedulerCheckError` naming
what failed. The checks (:data:`CHECKS`):

- :func:`check_trace_ok`: every job finishes and the trace passes every trace check;
- :func:`check_deterministic`: two runs with one seed give the same trace;
- :func:`check_reusable`: one scheduler object reused for two episodes gives the same traces
  as a fresh object per episode (``reset`` clears the per-episode state);
- :func:`check_refuses_other_families`: running it on a family it does not declare is one
  clear :class:`~schedlab.errors.ConfigError`.

A scheduler is given as a *factory*: anything that returns a fresh scheduler when called (its
class, a ``lambda``, a ``functools.partial``). Scenarios are shrunk by :func:`small_scenario`
so that a check takes a fraction of a second.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from schedlab.errors import SchedlabError

__all__ = [
    "SchedulerCheckError",
    "check_scheduler",
    "check_trace_ok",
    "check_deterministic",
    "check_reusable",
    "check_refuses_other_families",
    "CHECKS",
    "Case",
    "small_scenario",
    "iter_checks",
    "parametrize_with_checks",
]

#: What :func:`small_scenario` shrinks: integer fields of these names, anywhere in the scenario
#: (``workload.jobs``, ``workload.phases[i].tasks``, ``workload.batches[i].tasks``).
SIZE_FIELDS = ("jobs", "tasks")
#: Default size: at most this many jobs per ``jobs`` field, and this many tasks per ``tasks``
#: field (a single task is one tiny decision, so more of them are cheap).
SMALL_JOBS = 12
SMALL_ITEMS = 40

Factory = Callable[[], Any]


class SchedulerCheckError(SchedlabError, AssertionError):
    """A scheduler failed a conformance check."""


# -- scenarios -----------------------------------------------------------------------------


def small_scenario(scenario: str | Any, overrides: dict[str, Any] | None = None, *, size: int | None = None) -> Any:
    """A small version of a scenario, for quick checks.

    Integer size fields (see :data:`SIZE_FIELDS`) larger than ``size`` are cut to ``size``
    (default: :data:`SMALL_JOBS` for ``jobs``, :data:`SMALL_ITEMS` for ``tasks``); a ``jobs``
    field left unset (``None``, "the default") is set. ``overrides`` (dotted keys) are applied
    afterwards and win.

    Args:
        scenario: A preset name, a YAML path or a scenario object.
        overrides: Dotted-key overrides, as :func:`schedlab.scenarios.load_scenario` takes.
        size: The most jobs/tasks/requests per size field.
    """
    from schedlab.scenarios import load_scenario, parse_scenario
    from schedlab.scenarios.loader import _set

    sc = load_scenario(scenario) if isinstance(scenario, str) else scenario
    data = sc.model_dump(mode="json")
    _shrink(data, size)
    for key, value in (overrides or {}).items():
        if value is not None:
            _set(data, key, value)
    return parse_scenario(data, source=f"small {getattr(sc, 'name', '')}".strip())


def _shrink(node: Any, size: int | None) -> None:
    if isinstance(node, list):
        for item in node:
            _shrink(item, size)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key in SIZE_FIELDS:
            cap = size if size is not None else SMALL_JOBS if key == "jobs" else SMALL_ITEMS
            if value is None and key == "jobs":
                node[key] = cap
            elif isinstance(value, int) and not isinstance(value, bool) and value > cap:
                node[key] = cap
        else:
            _shrink(value, size)


def _scenario(scenario: str | Any) -> Any:
    return small_scenario(scenario) if isinstance(scenario, str) else scenario


def _name(make: Factory) -> str:
    return getattr(make, "__name__", None) or type(make).__name__


# -- the checks ------------------------------------------------------------------------------


def _run(make: Factory | None, scenario: Any, seed: int, what: str, sched: Any = None) -> Any:
    from schedlab.runs import simulate

    if sched is None:
        sched = make()
    try:
        return simulate(scenario, sched, seed)
    except SchedlabError as e:
        raise SchedulerCheckError(f"{what}: seed {seed}: the run failed: {type(e).__name__}: {e}") from e


def check_trace_ok(make: Factory, scenario: str | Any = "spark-synthetic", *, seeds: Sequence[int] = (0,)) -> None:
    """Every job finishes, and the trace passes every trace check.

    Raises:
        SchedulerCheckError: A job never finished, an action was invalid, or the trace
            breaks an invariant (the first violation is quoted).
    """
    from schedlab.metrics.checker import check_trace

    sc = _scenario(scenario)
    for seed in seeds:
        result = _run(make, sc, seed, "check_trace_ok")
        unfinished = result.metrics.get("unfinished_jobs", 0)
        if unfinished:
            raise SchedulerCheckError(
                f"check_trace_ok: seed {seed}: {unfinished} job(s) never finished (workers left unassigned?)"
            )
        report = check_trace(result.trace)
        if not report.ok:
            v = report.violations[0]
            raise SchedulerCheckError(f"check_trace_ok: seed {seed}: trace violates {v.check}: {v.message}")


def check_deterministic(make: Factory, scenario: str | Any = "spark-synthetic", *, seeds: Sequence[int] = (0,)) -> None:
    """Two runs with one seed, each with a fresh scheduler, give the same trace.

    Raises:
        SchedulerCheckError: The traces differ (randomness not drawn from the ``rng`` that
            ``reset`` gets, or state shared between instances).
    """
    sc = _scenario(scenario)
    for seed in seeds:
        a = _run(make, sc, seed, "check_deterministic").trace.digest()
        b = _run(make, sc, seed, "check_deterministic").trace.digest()
        if a != b:
            raise SchedulerCheckError(
                f"check_deterministic: seed {seed}: two runs gave different traces "
                "(unseeded randomness? draw from the rng that reset() gets)"
            )


def check_reusable(make: Factory, scenario: str | Any = "spark-synthetic", *, seeds: Sequence[int] = (0, 1)) -> None:
    """One scheduler object reused for several episodes gives the traces fresh objects give.

    The object runs ``seeds`` in order, then the first seed again; each trace must equal that
    of a fresh object on the same seed.

    Raises:
        SchedulerCheckError: A trace differs: ``reset`` does not clear per-episode state.
    """
    sc = _scenario(scenario)
    reused = make()
    order = [*seeds, seeds[0]]
    for i, seed in enumerate(order):
        again = _run(None, sc, seed, "check_reusable", reused).trace.digest()
        fresh = _run(make, sc, seed, "check_reusable").trace.digest()
        if again != fresh:
            raise SchedulerCheckError(
                f"check_reusable: episode {i + 1} (seed {seed}) of one reused object differs from a fresh "
                "object's (reset() must clear the state of the previous episode)"
            )


def check_refuses_other_families(make: Factory, scenario: str | Any | None = None, **_: Any) -> None:
    """Running it on a family it does not declare is one clear ``ConfigError``.

    Tries the first preset of every registered family the scheduler does not declare (a
    scheduler declaring every family passes). ``scenario`` is ignored.

    Raises:
        SchedulerCheckError: The run started, or failed otherwise than with a ``ConfigError``
            naming the family.
    """
    from schedlab import plugins
    from schedlab.errors import ConfigError
    from schedlab.runs import simulate
    from schedlab.scenarios import load_scenario

    sched = make()
    declared = tuple(getattr(sched, "families", ()) or ())
    for spec in plugins.specs():
        if spec.name in declared or not spec.preset_names():
            continue
        other = load_scenario(spec.preset_names()[0])
        try:
            simulate(other, make(), 0)
        except ConfigError as e:
            if repr(spec.name) not in str(e) and spec.name not in str(e):
                raise SchedulerCheckError(
                    f"check_refuses_other_families: the error on a {spec.name!r} scenario does not name the family: {e}"
                ) from e
            continue
        except Exception as e:
            raise SchedulerCheckError(
                f"check_refuses_other_families: on a {spec.name!r} scenario it failed with "
                f"{type(e).__name__} ({e}) instead of a ConfigError"
            ) from e
        raise SchedulerCheckError(
            f"check_refuses_other_families: it ran on a {spec.name!r} scenario although it declares "
            f"families={declared!r}"
        )


#: The named checks, in the order :func:`iter_checks` yields them.
CHECKS: tuple[Callable[..., None], ...] = (
    check_trace_ok,
    check_deterministic,
    check_reusable,
    check_refuses_other_families,
)


def check_scheduler(
    make: Factory,
    scenario: str | Any = "spark-synthetic",
    *,
    seeds: Sequence[int] = (0, 1),
    overrides: dict[str, Any] | None = None,
    checks: Sequence[Callable[..., None]] = CHECKS,
) -> None:
    """Run the conformance checks on a scheduler, on one scenario.

    Args:
        make: Returns a fresh scheduler (its class, or a ``lambda``).
        scenario: Preset name, YAML path or scenario object. A name or path is shrunk with
            :func:`small_scenario` (``overrides`` applied after); an object is used as is.
        seeds: Seeds to run.
        overrides: Dotted-key overrides of a named scenario.
        checks: The checks to run (default: all of :data:`CHECKS`).

    Raises:
        SchedulerCheckError: A check failed; the message starts with its name.
    """
    sc = small_scenario(scenario, overrides) if isinstance(scenario, str) else scenario
    for check in checks:
        check(make, sc, seeds=seeds)


# -- parametrizing -------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One (scheduler, preset, check) of the suite.

    Attributes:
        scheduler: The scheduler's name (registered name or class name).
        family: The family of ``preset``.
        preset: Preset name.
        check: The check.
        make: Returns a fresh scheduler.
        skip: Why this case cannot run here (missing data or packages), or None.
    """

    scheduler: str
    family: str
    preset: str
    check: Callable[..., None]
    make: Factory
    skip: str | None = None

    @property
    def id(self) -> str:
        return f"{self.scheduler}[{self.family}]-{self.preset}-{self.check.__name__.removeprefix('check_')}"

    def run(self) -> None:
        """Run the check (on the shrunk preset)."""
        self.check(self.make, self.preset)


def _factories(schedulers: Sequence[Any] | None) -> list[tuple[str, tuple[str, ...], Factory, str | None]]:
    """(name, families, factory, why it cannot run here) per scheduler.

    Registered specs, or user classes/factories; the reason is None where it can run.
    """
    from schedlab.schedulers import registry

    if schedulers is None:
        schedulers = registry.specs()
    out = []
    for s in schedulers:
        if isinstance(s, registry.SchedulerSpec):
            missing = s.missing()
            needs = f"{s.name} needs {', '.join(missing)}, not installed here" if missing else None
            out.append((s.name, (s.family,), functools.partial(registry.make, s.name, s.family), needs))
        elif isinstance(s, str):
            raise TypeError(f"give SchedulerSpec objects or scheduler classes/factories, not the string {s!r}")
        else:
            declared = tuple(getattr(s, "families", ()) or ()) or tuple(getattr(s(), "families", ()) or ())
            out.append((_name(s), declared, s, None))
    return out


@functools.cache
def _unavailable(preset: str) -> str | None:
    """Why a preset cannot be built here (its data is missing), or None."""
    import numpy as np

    from schedlab.errors import DataError
    from schedlab.sim.engine import Engine

    try:
        small_scenario(preset).build(Engine(), np.random.default_rng(0))
    except DataError as e:
        return f"preset {preset!r} needs data that is missing here: {e}"
    return None


def iter_checks(
    schedulers: Sequence[Any] | None = None,
    *,
    presets: Sequence[str] | None = None,
    checks: Sequence[Callable[..., None]] = CHECKS,
) -> Iterator[Case]:
    """Every (scheduler, preset, check) of the suite.

    Args:
        schedulers: Registered :class:`~schedlab.schedulers.SchedulerSpec` objects, or
            scheduler classes/factories (whose ``families`` say where they run); default:
            every registered scheduler, entry-point plugins included.
        presets: Restrict to these presets (default: every preset of each family the
            scheduler declares).
        checks: The checks (default :data:`CHECKS`). The family check runs once per
            scheduler, on its first preset.
    """
    from schedlab import plugins

    for name, declared, make, needs in _factories(schedulers):
        first = True
        for family in declared:
            spec = plugins.find(family)
            if spec is None:
                continue
            for preset in spec.preset_names():
                if presets is not None and preset not in presets:
                    continue
                skip = needs or _unavailable(preset)
                for check in checks:
                    if check is check_refuses_other_families and not first:
                        continue
                    yield Case(name, family, preset, check, make, skip)
                first = False


def parametrize_with_checks(
    schedulers: Sequence[Any] | None = None,
    *,
    presets: Sequence[str] | None = None,
    checks: Sequence[Callable[..., None]] = CHECKS,
):
    """A ``pytest.mark.parametrize`` decorator over :func:`iter_checks`.

    The test takes ``scheduler`` (a factory), ``preset`` (a preset name) and ``check``, and
    calls ``check(scheduler, preset)``. Cases whose preset lacks its data, or whose scheduler
    lacks a package, are skipped with the reason; the arguments are those of :func:`iter_checks`.
    """
    import pytest

    params = [
        pytest.param(c.make, c.preset, c.check, id=c.id, marks=[pytest.mark.skip(reason=c.skip)] if c.skip else [])
        for c in iter_checks(schedulers, presets=presets, checks=checks)
    ]
    return pytest.mark.parametrize(("scheduler", "preset", "check"), params)
