"""Experiment suites: a YAML grid of scenarios x overrides x schedulers x parameters x seeds.

A suite file names scenarios (presets or YAML paths), the schedulers to run on them, the
seeds, and optional grids of scenario overrides (``params``) and scheduler constructor
arguments (``scheduler_params``). :func:`plan_suite` expands it into runs, each with a stable
id (a hash of the scenario data, the scheduler, its parameters and the seed), and checks every
name and field before anything runs. :func:`run_sweep` runs the runs that are not done yet in
local processes or on Ray, appending each finished one to a journal (``runs.jsonl``, one line
per run, flushed and fsynced) so that an interrupted sweep loses no finished run and a rerun
skips them; it then rewrites ``runs.parquet``, ``runs.csv`` and ``summary.json`` from the
journal, in grid order.

Rows are deterministic: the same suite gives the same rows, whether run sequentially, in a
process pool, on Ray, or across interruptions. The only wall-clock values are the columns whose
names start with ``timing.`` (scheduler decision time and the run's duration); the metrics
:func:`schedlab.metrics.summary.summarize` reports in wall-clock seconds are moved there.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from schedlab.errors import ConfigError, SchedlabError, UnknownNameError

__all__ = [
    "Suite",
    "SweepRun",
    "SweepResult",
    "RunFailed",
    "SweepInterrupted",
    "load_suite",
    "parse_suite",
    "plan_suite",
    "run_id",
    "run_sweep",
    "run_cell",
    "read_journal",
    "summarize_sweep",
    "TIMING_METRICS",
    "JOURNAL",
]

#: The journal of finished runs, one JSON object per line, in the output folder.
JOURNAL = "runs.jsonl"

#: Metrics measured in wall-clock time, and the ``timing.`` column each becomes in a sweep's rows.
TIMING_METRICS: dict[str, str] = {
    "decision_time_total_s": "timing.decision_total_s",
    "decision_time_mean_us": "timing.decision_mean_us",
}

_IDENTITY = ("run_id", "scenario", "family", "scheduler", "seed")
#: Most runs one suite may hold (a million runs of the smallest scenario already take days).
MAX_RUNS = 1_000_000


class RunFailed(SchedlabError):
    """One run of a sweep raised a :class:`~schedlab.errors.SchedlabError` (an invalid action, say)."""


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`run_sweep`; says how many runs of the grid the journal holds.

    Attributes:
        done: Runs of the grid finished and saved.
        total: Runs in the grid.
        journal: The journal's path.
    """

    def __init__(self, done: int, total: int, journal: Path) -> None:
        super().__init__(f"{done} of {total} runs are saved in {journal}")
        self.done, self.total, self.journal = done, total, journal


# -- the suite file ---------------------------------------------------------------------------


def _as_values(v: Any, what: str) -> tuple[Any, ...]:
    values = tuple(v) if isinstance(v, list | tuple) else (v,)
    if not values:
        raise ValueError(f"{what} needs at least one value")
    seen: list[str] = []
    for x in values:
        key = json.dumps(x, sort_keys=True, default=str)
        if key in seen:
            raise ValueError(f"{what} lists {x!r} twice")
        seen.append(key)
    return values


class Suite(BaseModel):
    """An experiment suite: what to run, as written in its YAML file. Unknown keys are errors.

    Attributes:
        name: Names the default output folder ``sweeps/<name>``; defaults to the file's stem.
        description: Free text.
        scenarios: Preset names or scenario YAML paths (relative to the suite file's folder).
        schedulers: A list of names run on every scenario (each must exist in every scenario's
            family), or a mapping family -> names; ``None`` (or a family left out of the
            mapping) runs all of the family's registered schedulers.
        seeds: ``"1-10"``, ``"1,2,5"``, one integer or a list of integers (>= 0).
        params: Grid of scenario overrides: dotted field -> values (a single value is a list of
            one). Every combination runs. To give a list-valued field, write a list of lists.
        scheduler_params: Scheduler name -> grid of constructor keyword arguments (name ->
            values), e.g. ``{"eft": {"patience_s": [60, 600]}}``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", description="suite name (a folder name)")
    description: str = ""
    scenarios: tuple[str, ...] = Field(min_length=1)
    schedulers: tuple[str, ...] | dict[str, tuple[str, ...]] | None = None
    seeds: tuple[int, ...]
    params: dict[str, tuple[Any, ...]] = {}
    scheduler_params: dict[str, dict[str, tuple[Any, ...]]] = {}

    @field_validator("scenarios", mode="before")
    @classmethod
    def _one_scenario(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("schedulers", mode="before")
    @classmethod
    def _schedulers(cls, v: Any) -> Any:
        if v is None or isinstance(v, str):
            return None if v is None else [v]
        if isinstance(v, dict):
            out = {}
            for family, names in v.items():
                names = [names] if isinstance(names, str) else names
                if not isinstance(names, list | tuple) or not names or not all(isinstance(n, str) for n in names):
                    raise ValueError(f"schedulers of family {family!r}: expected a list of names, got {names!r}")
                out[family] = names
            return out
        if isinstance(v, list | tuple):
            if not v or not all(isinstance(n, str) for n in v):
                raise ValueError(f"expected a list of scheduler names or a mapping family -> names, got {v!r}")
            return v
        raise ValueError(f"expected a list of scheduler names or a mapping family -> names, got {v!r}")

    @field_validator("seeds", mode="before")
    @classmethod
    def _seeds(cls, v: Any) -> tuple[int, ...]:
        from schedlab.runs.compare import parse_seeds

        return parse_seeds(v)

    @field_validator("params", mode="before")
    @classmethod
    def _params(cls, v: Any) -> Any:
        if v is None:
            return {}
        if not isinstance(v, dict):
            raise ValueError(f"expected a mapping of dotted fields to lists of values, got {v!r}")
        return {k: _as_values(x, f"params.{k}") for k, x in v.items()}

    @field_validator("scheduler_params", mode="before")
    @classmethod
    def _scheduler_params(cls, v: Any) -> Any:
        if v is None:
            return {}
        if not isinstance(v, dict):
            raise ValueError(f"expected a mapping of scheduler names to parameter grids, got {v!r}")
        out = {}
        for name, grid in v.items():
            if grid is None:
                grid = {}
            if not isinstance(grid, dict):
                raise ValueError(f"{name}: expected a mapping of parameter names to values, got {grid!r}")
            out[name] = {k: _as_values(x, f"scheduler_params.{name}.{k}") for k, x in grid.items()}
        return out


def load_suite(path: str | os.PathLike) -> Suite:
    """Read and validate a suite YAML file.

    Raises:
        ConfigError: The file is missing or malformed, a key is unknown or a value is invalid
            (the message names the file and the field).
    """
    from schedlab.scenarios.files import parse_yaml, read_text

    p = Path(path)
    data = parse_yaml(read_text(p, what="suite file"), source=str(p))
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping at the top level", source=str(p))
    data.setdefault("name", p.stem)
    return parse_suite(data, source=str(p))


def parse_suite(data: dict[str, Any], *, source: str | None = None) -> Suite:
    """Validate a suite mapping (as read from YAML).

    Raises:
        ConfigError: Unknown key or invalid value.
    """
    try:
        return Suite.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key; valid keys: " + ", ".join(Suite.model_fields)
        elif err["type"] == "missing":
            msg = "missing"
        elif "input" in err and not err["type"].startswith("value_error"):
            msg = f"{msg} (got {err['input']!r})"
        raise ConfigError(msg, source=source, field=loc or None) from None


# -- the grid ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepRun:
    """One cell of a suite's grid.

    Attributes:
        run_id: 16 hex digits of SHA-256 over the scenario data (without its description), the
            scheduler, its parameters and the seed: equal runs have equal ids across suites.
        scenario: The scenario's name.
        family: Its family.
        scheduler: Canonical registered name, or a ``module:Class`` path as written.
        seed: Seed of the workload and durations.
        params: The scenario overrides of this cell (dotted field -> value).
        scheduler_params: The scheduler's constructor arguments of this cell.
        scenario_data: The scenario with the overrides applied, as plain JSON data.
    """

    run_id: str
    scenario: str
    family: str
    scheduler: str
    seed: int
    params: dict[str, Any] = field(default_factory=dict)
    scheduler_params: dict[str, Any] = field(default_factory=dict)
    scenario_data: dict[str, Any] = field(default_factory=dict, repr=False)

    def columns(self) -> dict[str, Any]:
        """The identifying columns of this run's row; parameters are ``field`` and ``scheduler.arg`` columns."""
        cols: dict[str, Any] = {k: getattr(self, k) for k in _IDENTITY}
        cols.update({k: _scalar(v) for k, v in self.params.items()})
        cols.update({f"scheduler.{k}": _scalar(v) for k, v in self.scheduler_params.items()})
        return cols

    def label(self) -> str:
        """``scenario [params] / scheduler [params] / seed N``, for messages."""
        return f"{self.scenario}{_kv(self.params)} / {self.scheduler}{_kv(self.scheduler_params)} / seed {self.seed}"


def _scalar(v: Any) -> Any:
    return v if v is None or isinstance(v, bool | int | float | str) else json.dumps(v, sort_keys=True)


def _kv(d: dict[str, Any]) -> str:
    return " [" + ", ".join(f"{k}={v}" for k, v in d.items()) + "]" if d else ""


def run_id(scenario_data: dict[str, Any], scheduler: str, scheduler_params: dict[str, Any], seed: int) -> str:
    """The stable id of a run (see :class:`SweepRun`)."""
    data = {k: v for k, v in scenario_data.items() if k != "description"}
    blob = json.dumps(
        {"scenario": data, "scheduler": scheduler, "scheduler_params": scheduler_params, "seed": seed},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def plan_suite(suite: Suite, *, source: str | None = None, base_dir: str | os.PathLike | None = None) -> list[SweepRun]:
    """Expand a suite into its runs, in grid order, checking every name and field first.

    The order is scenario, then ``params`` combination, then scheduler, then
    ``scheduler_params`` combination, then seed (innermost). Nothing runs here, but each
    scenario is loaded and each scheduler built once, so that any mistake surfaces before the
    first run.

    Args:
        suite: The validated suite.
        source: The suite file, named in errors.
        base_dir: Folder that relative scenario paths are resolved against first (the suite
            file's folder); the current directory is tried next.

    Raises:
        ConfigError: A scenario lacks a ``params`` field, an override is invalid, or the grid
            repeats a run.
        UnknownNameError: An unknown scenario, family or scheduler (with a suggestion).
    """
    from schedlab import plugins as registry
    from schedlab.scenarios import load_scenario

    refs = [_resolve_ref(ref, base_dir) for ref in suite.scenarios]
    bases = []
    for i, ref in enumerate(refs):
        if _looks_like_path(ref) and not Path(ref).is_file():
            where = f" (looked in {base_dir} and the current folder)" if base_dir is not None else ""
            raise ConfigError(f"no such scenario file {ref}{where}", source=source, field=f"scenarios.{i}")
        try:
            bases.append(load_scenario(ref))
        except UnknownNameError as e:
            raise UnknownNameError(e.problem, source=source, field=f"scenarios.{i}") from None
    for i, b in enumerate(bases):
        twin = next((j for j in range(i) if bases[j].name == b.name and refs[j] != refs[i]), None)
        if twin is not None:
            raise ConfigError(
                f"{suite.scenarios[twin]!r} and {suite.scenarios[i]!r} are both named {b.name!r}; "
                "rows tell scenarios apart by name, so give each its own",
                source=source,
                field=f"scenarios.{i}",
            )
    families = list(dict.fromkeys(b.family for b in bases))
    if isinstance(suite.schedulers, dict):
        for family in suite.schedulers:
            if family not in registry.names():
                known = registry.names()
                raise UnknownNameError(
                    f"unknown family {family!r}.{_hint(family, known)} Valid: {', '.join(known)}",
                    source=source,
                    field=f"schedulers.{family}",
                )
            if family not in families:
                raise ConfigError(
                    f"no scenario of this suite is of family {family!r} (its families: {', '.join(families)})",
                    source=source,
                    field=f"schedulers.{family}",
                )
    chosen = {family: _schedulers_of(suite, family, source, base_dir) for family in families}
    sched_grids = _scheduler_grids(suite, chosen, source)

    keys = list(suite.params)
    # Counted before anything is built: a few long value lists multiply to more runs than any
    # machine finishes, and listing them would hang before the first run.
    combos = math.prod(len(v) for v in suite.params.values())
    total = sum(
        combos * sum(len(sched_grids[(b.family, s)]) for s in chosen[b.family]) * len(suite.seeds) for b in bases
    )
    if total > MAX_RUNS:
        raise ConfigError(
            f"the grid holds {total:.3g} runs, more than the {MAX_RUNS:,} a sweep may hold; "
            "list fewer scenarios, params values, schedulers or seeds",
            source=source,
        )
    runs: list[SweepRun] = []
    for ref, base in zip(refs, bases):
        for key in keys:
            if not _has_field(base, key):
                raise ConfigError(f"scenario {base.name!r} has no setting {key}", source=source, field=f"params.{key}")
        for combo in itertools.product(*(suite.params[k] for k in keys)):
            params = dict(zip(keys, combo))
            try:
                sc = load_scenario(ref, params) if params else base
            except ConfigError as e:
                raise ConfigError(
                    f"scenario {base.name!r} with{_kv(params)}: {e.field + ': ' if e.field else ''}{e.problem}",
                    source=source,
                    field="params",
                ) from None
            if sc.family != base.family:
                raise ConfigError("params cannot change a scenario's family", source=source, field="params.family")
            data = sc.model_dump(mode="json")
            for sched in chosen[sc.family]:
                for kwargs in sched_grids[(sc.family, sched)]:
                    for seed in suite.seeds:
                        rid = run_id(data, sched, kwargs, seed)
                        runs.append(SweepRun(rid, sc.name, sc.family, sched, seed, params, kwargs, data))
    seen: dict[str, SweepRun] = {}
    for r in runs:
        if r.run_id in seen:
            raise ConfigError(
                f"the grid runs the same thing twice: {seen[r.run_id].label()} and {r.label()}",
                source=source,
                field="scenarios" if seen[r.run_id].params == r.params else "params",
            )
        seen[r.run_id] = r
    return runs


def _looks_like_path(ref: str) -> bool:
    return Path(ref).suffix in (".yaml", ".yml", ".json") or "/" in ref or os.sep in ref


def _resolve_ref(ref: str, base_dir: str | os.PathLike | None, *, is_path: bool = False) -> str:
    p = Path(ref)
    is_path = is_path or _looks_like_path(ref)
    if is_path and not p.is_absolute() and base_dir is not None and (Path(base_dir) / p).is_file():
        return str(Path(base_dir) / p)
    return ref


def _hint(name: str, valid: Sequence[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name.lower(), list(valid), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def _schedulers_of(suite: Suite, family: str, source: str | None, base_dir: str | os.PathLike | None) -> list[str]:
    from schedlab.schedulers import default_names, make, spec

    if suite.schedulers is None:
        return default_names(family)
    if isinstance(suite.schedulers, dict):
        if family not in suite.schedulers:
            return default_names(family)
        given, where = suite.schedulers[family], f"schedulers.{family}"
    else:
        given, where = suite.schedulers, "schedulers"
    out: list[str] = []
    for i, name in enumerate(given):
        if ":" in name:
            module, _, attr = name.rpartition(":")
            if module.endswith(".py"):  # a scheduler file, relative to the suite file's folder first
                canonical = f"{_resolve_ref(module, base_dir, is_path=True)}:{attr}"
            else:
                canonical = name
            try:
                make(canonical, family)  # imports it: a wrong path fails now, not in every run
            except ConfigError as e:
                raise ConfigError(e.problem, source=source, field=f"{where}.{i}") from None
        else:
            try:
                canonical = spec(name, family).name
            except UnknownNameError as e:
                fix = "" if where != "schedulers" else "; to run other schedulers per family, map family -> names"
                raise UnknownNameError(e.problem + fix, source=source, field=f"{where}.{i}") from None
        if canonical in out:
            raise ConfigError(f"{name!r} is {canonical!r}, listed twice", source=source, field=f"{where}.{i}")
        out.append(canonical)
    return out


def _scheduler_grids(
    suite: Suite, chosen: dict[str, list[str]], source: str | None
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """(family, scheduler) -> its constructor-argument combinations, each checked by building it once."""
    import inspect

    from schedlab.schedulers import make, spec

    def canonical(name: str, family: str) -> str | None:
        if ":" in name:
            return name
        try:
            return spec(name, family).name
        except UnknownNameError:
            return None

    grids: dict[tuple[str, str], list[dict[str, Any]]] = {(f, s): [{}] for f, scheds in chosen.items() for s in scheds}
    for name, grid in suite.scheduler_params.items():
        targets = [(f, s) for f, scheds in chosen.items() for s in scheds if canonical(name, f) == s]
        if not targets:
            every = sorted({s for scheds in chosen.values() for s in scheds})
            raise UnknownNameError(
                f"{name!r} is not one of this suite's schedulers.{_hint(name, every)} They are: {', '.join(every)}",
                source=source,
                field=f"scheduler_params.{name}",
            )
        keys = list(grid)
        if math.prod(len(grid[k]) for k in keys) > MAX_RUNS:
            raise ConfigError(f"more than {MAX_RUNS:,} combinations of parameters", source=source,
                              field=f"scheduler_params.{name}")  # fmt: skip
        combos = [dict(zip(keys, c)) for c in itertools.product(*(grid[k] for k in keys))]
        for family, sched in targets:
            for kwargs in combos:
                try:
                    make(sched, family, **kwargs)
                except TypeError as e:
                    cls = spec(sched, family).load() if ":" not in sched else None
                    valid = [p for p in inspect.signature(cls).parameters] if cls is not None else []
                    takes = f"; it takes: {', '.join(valid)}" if valid else "; it takes no parameters"
                    raise ConfigError(
                        f"{sched} ({family}) rejects{_kv(kwargs)} ({e}){takes}",
                        source=source,
                        field=f"scheduler_params.{name}",
                    ) from None
                except ValueError as e:
                    if isinstance(e, SchedlabError):
                        raise
                    raise ConfigError(
                        f"{sched} ({family}) rejects{_kv(kwargs)}: {e}", source=source, field=f"scheduler_params.{name}"
                    ) from None
            grids[(family, sched)] = combos
    return grids


def _has_field(scenario: Any, dotted: str) -> bool:
    from schedlab.scenarios.schema import renamed_key

    # a deprecated name counts (loading the scenario warns about it)
    dotted = renamed_key(dotted, getattr(type(scenario), "renamed_fields", {}), warn=False)
    *path, last = dotted.split(".")
    node = scenario
    for part in path:
        node = getattr(node, part, None) if isinstance(node, BaseModel) else None
    return isinstance(node, BaseModel) and last in type(node).model_fields


# -- one run ----------------------------------------------------------------------------------


def run_cell(
    scenario_data: dict[str, Any], scheduler: str, seed: int, scheduler_params: dict[str, Any]
) -> dict[str, Any]:
    """Run one cell through :func:`schedlab.runs.compare.run_one`; return its result columns.

    The result is ``trace_ok``, the metrics, and last the wall-clock columns: the metrics of
    :data:`TIMING_METRICS` under their ``timing.`` names and ``timing.run_s``, the seconds the
    whole run took (simulation, metrics and check).
    """
    from schedlab.runs.compare import run_one

    t0 = time.perf_counter()
    row = run_one(scenario_data, scheduler, seed, scheduler_params=scheduler_params or None)
    elapsed = time.perf_counter() - t0
    result: dict[str, Any] = {}
    timing: dict[str, Any] = {}
    for k, v in row.items():
        if k in ("scenario", "family", "scheduler", "seed"):
            continue
        if k in TIMING_METRICS:
            timing[TIMING_METRICS[k]] = v
        else:
            result[k] = v
    return {**result, **timing, "timing.run_s": elapsed}


def _sequential(pending: Sequence[SweepRun]) -> Iterator[tuple[SweepRun, dict[str, Any]]]:
    for r in pending:
        yield r, _checked(r, lambda r=r: run_cell(*_args(r)))


def _pool(pending: Sequence[SweepRun], workers: int) -> Iterator[tuple[SweepRun, dict[str, Any]]]:
    from concurrent.futures import CancelledError, ProcessPoolExecutor, as_completed

    pool = ProcessPoolExecutor(max_workers=min(workers, len(pending)), initializer=_ignore_sigint)
    failure: Exception | None = None
    try:
        futures = {pool.submit(run_cell, *_args(r)): r for r in pending}
        for f in as_completed(futures):
            if f.cancelled():
                continue
            try:
                result = _checked(futures[f], f.result)
            except (Exception, CancelledError) as e:
                if failure is None:
                    # Start no more runs, but keep those already running: they finish and are kept.
                    failure = e
                    pool.shutdown(wait=False, cancel_futures=True)
                continue
            yield futures[f], result
    finally:
        # On Ctrl-C too: cancel what has not started, and leave no worker behind.
        pool.shutdown(wait=True, cancel_futures=True)
    if failure is not None:
        raise failure


def _ignore_sigint() -> None:
    # Ctrl-C reaches the whole process group. Only the sweep handles it (it cancels what has not
    # started and waits for the running runs); a worker would print a traceback per process.
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _ray(pending: Sequence[SweepRun], workers: int, address: str | None) -> Iterator[tuple[SweepRun, dict[str, Any]]]:
    ray = _import_ray()
    started = not ray.is_initialized()
    if started:
        opts: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
        if address:
            ray.init(address=address, **opts)
        else:
            ray.init(num_cpus=workers, **opts)
    waiting: list[Any] = []
    failure: Exception | None = None
    try:
        task = ray.remote(num_cpus=1)(run_cell)
        refs = {task.remote(*_args(r)): r for r in pending}
        waiting = list(refs)
        while waiting:
            done, waiting = ray.wait(waiting, num_returns=1)
            for ref in done:
                try:
                    result = _checked(refs[ref], lambda ref=ref: ray.get(ref))
                except Exception as e:
                    if failure is None:
                        # Cancel the queued tasks (a running one may finish first: it is kept).
                        failure = e
                        for other in waiting:
                            ray.cancel(other)
                    continue
                yield refs[ref], result
    finally:
        if failure is None:
            for ref in waiting:
                ray.cancel(ref)
        if started:
            ray.shutdown()
    if failure is not None:
        raise failure


def _import_ray():
    try:
        import ray
    except ImportError:
        raise ConfigError("Ray is not installed; pip install 'schedlab[ray]'", field="--ray") from None
    return ray


def _args(r: SweepRun) -> tuple[Any, ...]:
    return (r.scenario_data, r.scheduler, r.seed, r.scheduler_params)


def _checked(r: SweepRun, get: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return get()
    except SchedlabError as e:
        raise RunFailed(f"run {r.run_id} ({r.label()}) failed: {e}") from e
    except Exception as e:
        e.add_note(f"in sweep run {r.run_id} ({r.label()})")
        raise


# -- the journal ------------------------------------------------------------------------------


def read_journal(path: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """Finished runs recorded in a journal: run id -> its journal entry (the last, if repeated).

    A torn last line (the process died while writing it) is ignored; any other unreadable
    line is an error.

    Raises:
        DataError: A line before the last is not a journal entry.
    """
    p = Path(path)
    return _parse_journal(p.read_bytes(), str(p)) if p.is_file() else {}


def _parse_journal(data: bytes, source: str) -> dict[str, dict[str, Any]]:
    from schedlab.errors import DataError

    entries: dict[str, dict[str, Any]] = {}
    lines = data.split(b"\n")
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            rid, result = entry["run_id"], entry["result"]
            if not isinstance(result, dict):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            if i == len(lines) - 1:  # no newline yet: written partly when the process died
                break
            raise DataError(f"line {i + 1} is not a journal entry", source=source) from None
        entries[rid] = entry
    return entries


class _Journal:
    """The append side of a journal: one JSON line per finished run, flushed and fsynced."""

    def __init__(self, path: Path, *, fresh: bool) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.source = str(path)
        created = not path.exists()
        self.file = open(path, "ab+")  # noqa: SIM115 - closed by close()
        try:
            self._lock(path)
            if fresh:
                self.file.truncate(0)
            else:
                self._drop_torn_line()
        except BaseException:
            self.file.close()
            raise
        if created:
            _fsync_dir(path.parent)

    def _lock(self, path: Path) -> None:
        try:
            import fcntl
        except ImportError:  # not on POSIX: no protection against two sweeps in one folder
            return
        try:
            # A POSIX record lock, not flock: forked pool workers share the open file but must
            # not inherit the lock (they may outlive a killed sweep for a moment).
            fcntl.lockf(self.file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise ConfigError("another sweep is writing to this folder", source=str(path.parent)) from None

    def _drop_torn_line(self) -> None:
        self.file.seek(0)
        data = self.file.read()
        if data and not data.endswith(b"\n"):
            self.file.truncate(data.rfind(b"\n") + 1)

    def load(self) -> dict[str, dict[str, Any]]:
        """The entries so far (see :func:`read_journal`).

        Read through this handle: closing any other descriptor of the file would drop the lock.
        """
        self.file.seek(0)
        return _parse_journal(self.file.read(), self.source)

    def append(self, entry: dict[str, Any]) -> None:
        self.file.write((json.dumps(entry, separators=(",", ":")) + "\n").encode())
        self.file.flush()
        os.fsync(self.file.fileno())

    def close(self) -> None:
        self.file.close()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# -- running a sweep --------------------------------------------------------------------------


@dataclass
class SweepResult:
    """What :func:`run_sweep` did.

    Attributes:
        out_dir: The output folder.
        runs: The grid, in order.
        rows: One row per run, in grid order (identity, parameter, result and timing columns).
        ran: Runs executed by this call.
        reused: Runs found done in the journal and not run again.
        summary: Per group of seeds: mean and 95% CI per metric (see :func:`summarize_sweep`).
    """

    out_dir: Path
    runs: list[SweepRun]
    rows: list[dict[str, Any]]
    ran: int
    reused: int
    summary: list[dict[str, Any]]

    @property
    def failed_checks(self) -> int:
        """Runs whose trace failed the checker."""
        return sum(1 for r in self.rows if not r.get("trace_ok"))


def run_sweep(
    suite: Suite,
    out_dir: str | os.PathLike,
    *,
    source: str | None = None,
    base_dir: str | os.PathLike | None = None,
    workers: int = 2,
    use_ray: bool = False,
    ray_address: str | None = None,
    fresh: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> SweepResult:
    """Run the runs of a suite that are not done yet, then write its results.

    Each finished run is appended to ``out_dir/runs.jsonl`` at once (flushed and fsynced), so
    an interruption loses no finished run. At the end ``runs.parquet``, ``runs.csv`` and
    ``summary.json`` are rewritten (each atomically) from every finished run of the grid, in
    grid order. Runs of the journal that the grid no longer has stay in the journal but not in
    the outputs.

    Args:
        suite: The validated suite.
        out_dir: The output folder (created if needed).
        source: The suite file, named in errors.
        base_dir: Folder of the suite file, for relative scenario paths.
        workers: Processes (or Ray CPUs); 1 runs in this process.
        use_ray: Run each run as a Ray task on a local Ray with ``workers`` CPUs.
        ray_address: Run on the existing Ray cluster at this address (implies ``use_ray``).
        fresh: Forget the journal and run everything.
        on_progress: Called with ``(done, total)`` before the first run and after each.

    Raises:
        ConfigError: Invalid suite (before anything runs or is written), Ray missing, or
            another sweep writing to ``out_dir``.
        RunFailed: A run raised a SchedlabError; the runs finished before stay in the journal.
        SweepInterrupted: Ctrl-C; the runs finished before stay in the journal.
    """
    from schedlab.sim.io import write_atomic

    runs = plan_suite(suite, source=source, base_dir=base_dir)
    use_ray = use_ray or bool(ray_address)
    if use_ray:
        _import_ray()  # fail before writing anything
    out = Path(out_dir)
    journal = _Journal(out / JOURNAL, fresh=fresh)
    try:
        if fresh:
            for name in ("runs.parquet", "runs.csv", "summary.json"):
                (out / name).unlink(missing_ok=True)
        manifest = {"suite": suite.model_dump(mode="json"), "runs": len(runs)}
        write_atomic(out / "suite.json", (json.dumps(manifest, indent=2) + "\n").encode())
        done = journal.load()
        pending = [r for r in runs if r.run_id not in done]
        reused = len(runs) - len(pending)
        count = reused
        if on_progress:
            on_progress(count, len(runs))
        if pending:
            if use_ray:
                results = _ray(pending, workers, ray_address)
            elif workers > 1 and len(pending) > 1:
                results = _pool(pending, workers)
            else:
                results = _sequential(pending)
            for r, result in results:
                entry = {
                    "run_id": r.run_id,
                    "scenario": r.scenario,
                    "family": r.family,
                    "scheduler": r.scheduler,
                    "seed": r.seed,
                    "params": r.params,
                    "scheduler_params": r.scheduler_params,
                    "result": result,
                }
                journal.append(entry)
                done[r.run_id] = json.loads(json.dumps(entry))  # the same values a later resume reads
                count += 1
                if on_progress:
                    on_progress(count, len(runs))
        rows = [{**r.columns(), **done[r.run_id]["result"]} for r in runs]
        summary = summarize_sweep(runs, rows)
        _write_outputs(out, suite, runs, rows, summary)  # still under the journal's lock
    except KeyboardInterrupt:
        saved = journal.load()  # the journal, not a counter that the interruption may have cut short
        raise SweepInterrupted(sum(r.run_id in saved for r in runs), len(runs), out / JOURNAL) from None
    finally:
        journal.close()
    return SweepResult(out, runs, rows, len(runs) - reused, reused, summary)


# -- results ----------------------------------------------------------------------------------


def summarize_sweep(runs: Sequence[SweepRun], rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Group the rows over seeds; mean and 95% CI (Student t) per metric, like ``compare``.

    A group is one scenario with one ``params`` combination and one scheduler with one
    ``scheduler_params`` combination; groups come in grid order. A CI of a single seed is
    ``None``.
    """
    from schedlab.runs.compare import finite_or_none, summarize_grid

    groups: dict[str, dict[str, Any]] = {}
    labelled = []
    for r, row in zip(runs, rows):
        key = json.dumps([r.scenario, r.params, r.scheduler, r.scheduler_params], sort_keys=True, default=str)
        g = groups.setdefault(
            key,
            {
                "scenario": r.scenario,
                "family": r.family,
                "params": r.params,
                "scheduler": r.scheduler,
                "scheduler_params": r.scheduler_params,
                "runs": 0,
                "trace_ok": 0,
            },
        )
        g["runs"] += 1
        g["trace_ok"] += bool(row.get("trace_ok"))
        identity = set(r.columns())
        metrics = {k: v for k, v in row.items() if k not in identity}
        labelled.append({"scenario": key, "scheduler": "", **metrics})
    stats = summarize_grid(labelled)
    out = []
    for key, g in groups.items():
        per = stats[key][""]
        g["metrics"] = {k: {"mean": finite_or_none(m), "ci95": finite_or_none(h)} for k, (m, h) in per.items()}
        out.append(g)
    return out


def _table(runs: Sequence[SweepRun], rows: Sequence[dict[str, Any]]):
    import pyarrow as pa

    # Identity and parameter columns first, then the results, wall-clock columns last,
    # whatever order the families' metrics and the grid's parameters first appear in.
    lead = list(dict.fromkeys(k for r in runs for k in r.columns()))
    rest = [k for k in dict.fromkeys(k for r in rows for k in r) if k not in lead]
    names = lead + [n for n in rest if not n.startswith("timing.")] + [n for n in rest if n.startswith("timing.")]
    arrays = {}
    for n in names:
        values = [r.get(n) for r in rows]
        try:
            arrays[n] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed types (a parameter given as 1 and "a")
            arrays[n] = pa.array([None if v is None else json.dumps(v) for v in values])
    return pa.table(arrays)


def _write_outputs(
    out: Path, suite: Suite, runs: Sequence[SweepRun], rows: Sequence[dict[str, Any]], summary: list[dict[str, Any]]
) -> None:
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from schedlab.sim.io import write_atomic

    table = _table(runs, rows)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    write_atomic(out / "runs.parquet", sink.getvalue().to_pybytes())
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink)
    write_atomic(out / "runs.csv", sink.getvalue().to_pybytes())
    doc = {"suite": suite.name, "runs": len(rows), "groups": summary}
    write_atomic(out / "summary.json", (json.dumps(doc, indent=2, allow_nan=False) + "\n").encode())
