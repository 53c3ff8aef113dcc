"""A calibrated profile of this machine's worker processes, and the calibration that makes it.

:func:`calibrate` runs every task type at several sizes on worker processes (the executor of a
live run, :class:`~schedlab.families.hetero.live.executor.LocalExecutor`), and fits per type
the duration model of docs/hetero.md,

    seconds = startup_s + work_s * g(w(size)) / g(w(reference size))

with ``g`` the type's growth law, ``w`` the work size (:func:`~.work.real_size`: the size
times the profile's ``size_scale``) and ``work_s`` the seconds of work at the reference size.
Where the growth law fits poorly (median relative error above :data:`POOR_FIT`) and a power
law ``startup_s + work_s * (size / reference)^exponent`` fits better, the type uses that
instead; both fits are kept in the profile. The noise ``sigma`` is the standard deviation of
the log of measured over fitted seconds.

The profile is plain JSON (:meth:`HeteroProfile.to_json`; never pickle). A scenario names it
in ``cluster.profile``, and its ``kind: local`` nodes take their expected durations from it.
Times are in seconds.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, ValidationError, field_validator, model_validator

from schedlab.errors import ConfigError, DataError
from schedlab.families.hetero.live.work import DEFAULT_SIZE_SCALE, real_size
from schedlab.families.hetero.tasks import REFERENCE_SIZE, SIZE_RANGES, TASK_TYPES
from schedlab.families.hetero.tasks import _growth as growth  # the growth laws of the simulator's model
from schedlab.scenarios.schema import Strict

__all__ = [
    "FORMAT",
    "POOR_FIT",
    "DEFAULT_FRACTIONS",
    "FitStats",
    "TypeProfile",
    "Machine",
    "HeteroProfile",
    "load_profile",
    "fit_type",
    "calibrate",
    "calibration_sizes",
    "write_profile",
]

FORMAT = "schedlab-hetero-profile/1"
#: Median relative error of the growth law above which a better power law takes over.
POOR_FIT = 0.10
#: Default calibration sizes, as fractions of each type's reference size (the top of its range;
#: the bottom is 0.05).
DEFAULT_FRACTIONS: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0)

TaskType = Literal["matmul", "primes", "sort", "file_io"]


class FitStats(Strict):
    """One fitted law and how well it fits the measurements."""

    startup_s: float = Field(ge=0, description="fixed seconds per task (s)")
    work_s: float = Field(ge=0, description="seconds of work at the reference size, start-up excluded (s)")
    exponent: float | None = Field(None, gt=0, le=10, description="power law only: the exponent")
    r2: float | None = Field(None, le=1, description="coefficient of determination of the seconds")
    rel_error_median: float = Field(ge=0, description="median |fitted - measured| / measured")
    rel_error_p90: float = Field(ge=0, description="90th percentile of |fitted - measured| / measured")
    sigma: float = Field(ge=0, description="std of log(measured / fitted)")


class TypeProfile(Strict):
    """What a profile says about one task type."""

    law: Literal["growth", "power"] = Field(description="the law used: the type's growth law, or a power law")
    size_scale: float = Field(gt=0, le=1e6, description="work size per unit of task size (work.real_size)")
    startup_s: float = Field(ge=0, le=1e6, description="fixed seconds per task (s)")
    work_s: float = Field(ge=0, le=1e6, description="seconds of work at the reference size (s)")
    exponent: float | None = Field(None, gt=0, le=10, description="power law only: the exponent")
    sigma: float = Field(ge=0, le=1, description="std of log(measured / expected) (std of log)")
    growth: FitStats = Field(description="the growth-law fit")
    power: FitStats | None = Field(None, description="the power-law fit (three sizes or more)")
    samples: tuple[tuple[float, float], ...] = Field((), description="the measurements: (size, seconds)")

    @model_validator(mode="after")
    def _law(self) -> TypeProfile:
        if (self.law == "power") != (self.exponent is not None):
            raise ValueError("exponent is given exactly when law is 'power'")
        if self.startup_s <= 0 and self.work_s <= 0:
            raise ValueError("startup_s and work_s cannot both be 0: every task would take no time")
        return self


class Machine(Strict):
    """Where and under what load a profile was measured."""

    host: str = ""
    cpus: int = Field(1, ge=1)
    platform: str = ""
    python: str = ""
    numpy: str = ""
    load_before: tuple[float, float, float] | None = Field(None, description="1, 5, 15-minute load averages")
    load_after: tuple[float, float, float] | None = None


class HeteroProfile(Strict):
    """A calibrated profile: per task type, the fitted duration model of this machine's workers."""

    format: Literal["schedlab-hetero-profile/1"] = Field(FORMAT, description="the file format")
    created: str = Field("", description="when it was measured (UTC, ISO 8601)")
    machine: Machine = Field(Machine(), description="where and under what load")
    workers: int = Field(1, ge=1, description="worker processes measured at once")
    repeats: int = Field(1, ge=1, description="measurements per type and size")
    blas_threads: int = Field(1, ge=1, description="BLAS threads per worker process")
    sigma: float = Field(ge=0, le=1, description="the types' sigma pooled: sqrt(mean sigma^2) (std of log)")
    types: dict[TaskType, TypeProfile] = Field(description="per task type, its fit")

    @field_validator("types")
    @classmethod
    def _all_types(cls, types: dict[str, TypeProfile]) -> dict[str, TypeProfile]:
        missing = [t for t in TASK_TYPES if t not in types]
        if missing:
            raise ValueError(f"no fit for {', '.join(missing)}: a profile covers every task type")
        return types

    def expected_s(self, task_type: str, size: float) -> float:
        """Expected seconds of a task on a worker of this profile.

        Raises:
            KeyError: Unknown task type.
        """
        p = self.types[task_type]
        return p.startup_s + p.work_s * _ratio(task_type, size, p.size_scale, p.exponent)

    def size_scale(self) -> dict[str, float]:
        """Per type, the work size per unit of task size."""
        return {t: p.size_scale for t, p in self.types.items()}

    def to_json(self) -> str:
        """The profile as plain JSON text."""
        from schedlab.sim.io import plain_json

        return plain_json(self.model_dump(mode="json"))


def _ratio(task_type: str, size: float, scale: float, exponent: float | None) -> float:
    """``g(w(size)) / g(w(ref))`` for the growth law, ``(size / ref)^exponent`` for a power law."""
    ref = REFERENCE_SIZE[task_type]
    if exponent is not None:
        return (float(size) / ref) ** exponent
    return growth(task_type, real_size(task_type, size, scale)) / growth(task_type, real_size(task_type, ref, scale))


def load_profile(path: str | os.PathLike) -> HeteroProfile:
    """Read and check a profile file.

    Raises:
        DataError: The file cannot be read, is not JSON, or is not a valid profile (the
            message names the file and the field).
    """
    from schedlab.scenarios.files import read_text

    text = read_text(path, what="hetero profile", error=DataError)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(f"not JSON ({e.msg}, line {e.lineno})", source=str(path)) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise DataError(
            f"not a hetero profile (expected format {FORMAT!r}; schedlab hetero calibrate writes one)",
            source=str(path),
            field="format",
        )
    try:
        return HeteroProfile.model_validate(doc)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or None
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"].removeprefix("Value error, ")
        raise DataError(msg, source=str(path), field=loc) from None


# -- fitting ----------------------------------------------------------------------------------


def _fit(x: np.ndarray, d: np.ndarray) -> tuple[float, float, np.ndarray]:
    """``a, b >= 0`` minimising the relative squared error of ``a + b x`` against ``d``."""
    from scipy.optimize import lsq_linear

    a = np.column_stack([np.ones_like(x), x]) / d[:, None]
    res = lsq_linear(a, np.ones_like(d), bounds=([0.0, 0.0], [np.inf, np.inf]))
    startup, work = (float(v) for v in res.x)
    return startup, work, startup + work * x


def _stats(startup: float, work: float, exponent: float | None, pred: np.ndarray, d: np.ndarray) -> FitStats:
    rel = np.abs(pred - d) / d
    ss_tot = float(((d - d.mean()) ** 2).sum())
    r2 = 1.0 - float(((d - pred) ** 2).sum()) / ss_tot if ss_tot > 0 else None
    log_res = np.log(d / np.maximum(pred, 1e-12))
    return FitStats(
        startup_s=startup,
        work_s=work,
        exponent=exponent,
        r2=r2,
        rel_error_median=float(np.median(rel)),
        rel_error_p90=float(np.quantile(rel, 0.9)),
        sigma=float(np.std(log_res)),
    )


def fit_type(task_type: str, sizes: Sequence[float], seconds: Sequence[float], size_scale: float) -> TypeProfile:
    """Fit one type's measurements: the growth law, a power law, and pick one (see module doc).

    Args:
        task_type: The type.
        sizes: Task sizes (in the documented range), one per measurement.
        seconds: Measured seconds, one per measurement, each > 0.
        size_scale: Work size per unit of task size, as measured.

    Raises:
        ValueError: Fewer than two distinct sizes, mismatched lengths, or a time <= 0.
    """
    n = np.asarray(sizes, dtype=np.float64)
    d = np.asarray(seconds, dtype=np.float64)
    if n.shape != d.shape:
        raise ValueError(f"{len(n)} sizes but {len(d)} times")
    if len(np.unique(n)) < 2:
        raise ValueError(f"fitting {task_type} needs at least two distinct sizes")
    if not (np.isfinite(d).all() and (d > 0).all()):
        raise ValueError(f"measured times of {task_type} must be finite and > 0")
    xg = np.array([_ratio(task_type, s, size_scale, None) for s in n])
    a, b, pred = _fit(xg, d)
    g_stats = _stats(a, b, None, pred, d)
    p_stats = None
    if len(np.unique(n)) >= 3:
        r = n / REFERENCE_SIZE[task_type]
        best = None
        # A grid over the exponent, each point an exact linear fit: robust and fast enough.
        for k in np.round(np.arange(0.25, 4.0001, 0.01), 2):
            pa, pb, ppred = _fit(r**k, d)
            err = float((((ppred - d) / d) ** 2).sum())
            if best is None or err < best[0]:
                best = (err, float(k), pa, pb, ppred)
        _, k, pa, pb, ppred = best
        p_stats = _stats(pa, pb, k, ppred, d)
    use_power = (
        p_stats is not None
        and g_stats.rel_error_median > POOR_FIT
        and p_stats.rel_error_median < g_stats.rel_error_median
    )
    chosen = p_stats if use_power else g_stats
    return TypeProfile(
        law="power" if use_power else "growth",
        size_scale=size_scale,
        startup_s=chosen.startup_s,
        work_s=chosen.work_s,
        exponent=chosen.exponent,
        sigma=min(1.0, chosen.sigma),
        growth=g_stats,
        power=p_stats,
        samples=tuple((float(s), float(t)) for s, t in zip(n, d)),
    )


# -- calibration --------------------------------------------------------------------------------


def calibration_sizes(fractions: Sequence[float]) -> dict[str, list[int]]:
    """Per type, the task sizes of ``fractions`` of its reference size, each in range.

    Raises:
        ConfigError: A fraction outside 0.05..1, or fewer than two distinct sizes.
    """
    fr = sorted(set(float(f) for f in fractions))
    bad = [f for f in fr if not (math.isfinite(f) and 0.05 <= f <= 1.0)]
    if bad:
        raise ConfigError(
            f"size fractions are of the reference size (the top of each range) and lie in 0.05..1; got {bad[0]:g}",
            field="--sizes",
        )
    if len(fr) < 2:
        raise ConfigError("give at least two size fractions to fit start-up and work", field="--sizes")
    out = {}
    for t in TASK_TYPES:
        lo, hi = SIZE_RANGES[t]
        out[t] = sorted({min(hi, max(lo, round(f * REFERENCE_SIZE[t]))) for f in fr})
    return out


def calibrate(
    *,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    repeats: int = 3,
    workers: int = 1,
    size_scale: Mapping[str, float] | None = None,
    threads: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> HeteroProfile:
    """Measure every type at several sizes on ``workers`` worker processes and fit a profile.

    The measurements run in a shuffled order (seed 0), each on the next worker that is free,
    so that a drift in the machine's load spreads over all types and sizes.

    Args:
        fractions: Sizes as fractions of each type's reference size (0.05..1).
        repeats: Measurements per type and size.
        workers: Worker processes measuring at once; calibrate with as many as the live runs
            will use, so that the profile includes their contention.
        size_scale: Per type, work size per unit of task size (default
            :data:`~.work.DEFAULT_SIZE_SCALE`; types left out keep theirs).
        threads: BLAS threads per worker.
        progress: Called with (measurements done, total) after each.

    Raises:
        ConfigError: Bad fractions, repeats or workers, or an unknown type in ``size_scale``.
        LiveError: A worker died or a task failed.
    """
    import datetime
    import platform
    import socket

    from schedlab.families.hetero.live.executor import LocalExecutor

    if repeats < 1:
        raise ConfigError(f"must be at least 1, got {repeats}", field="--repeats")
    if workers < 1:
        raise ConfigError(f"must be at least 1, got {workers}", field="--workers")
    scale = dict(DEFAULT_SIZE_SCALE)
    for t, v in (size_scale or {}).items():
        if t not in scale:
            raise ConfigError(f"unknown task type {t!r}, expected one of {', '.join(TASK_TYPES)}", field="--scale")
        if not (math.isfinite(v) and 0 < v <= 1e6):
            raise ConfigError(f"a scale is a number in (0, 1e6], got {v!r} for {t}", field="--scale")
        scale[t] = float(v)
    sizes = calibration_sizes(fractions)
    jobs = [(t, n) for t in TASK_TYPES for n in sizes[t] for _ in range(repeats)]
    order = np.random.default_rng(0).permutation(len(jobs))
    queue = [jobs[k] for k in order]
    results: dict[str, list[tuple[int, float]]] = {t: [] for t in TASK_TYPES}
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    with LocalExecutor(workers, threads=threads) as ex:
        idle = list(range(workers))
        running: dict[int, tuple[str, int]] = {}
        done = 0
        while queue or running:
            while idle and queue:
                node, job = idle.pop(0), queue.pop(0)
                running[node] = job
                ex.submit(node, node, job[0], real_size(job[0], job[1], scale[job[0]]))
            for d in ex.wait(None):
                t, n = running.pop(d.node)
                results[t].append((n, d.seconds))
                idle.append(d.node)
                done += 1
                if progress is not None:
                    progress(done, len(jobs))
    load_after = os.getloadavg() if hasattr(os, "getloadavg") else None
    fits = {t: fit_type(t, [n for n, _ in r], [s for _, s in r], scale[t]) for t, r in results.items()}
    return HeteroProfile(
        created=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        machine=Machine(
            host=socket.gethostname(),
            cpus=os.cpu_count() or 1,
            platform=platform.platform(),
            python=platform.python_version(),
            numpy=np.__version__,
            load_before=load_before,
            load_after=load_after,
        ),
        workers=workers,
        repeats=repeats,
        blas_threads=threads,
        sigma=math.sqrt(sum(f.sigma**2 for f in fits.values()) / len(fits)),
        types=fits,
    )


def write_profile(profile: HeteroProfile, path: str | os.PathLike) -> None:
    """Write a profile as plain JSON, atomically (:func:`schedlab.sim.io.write_atomic`)."""
    from schedlab.sim.io import write_atomic

    write_atomic(Path(path), profile.to_json().encode())
