"""The hetero family's nodes, task types and duration model (times in seconds).

Nine nodes, as in the learned-embeddings cluster this family reproduces (docs/hetero.md): a
Raspberry Pi 5, two Raspberry Pi 4 and six x86 containers limited to 0.5-2 CPUs on SSD or HDD.
Four task types take one size parameter each. A task's expected duration on a node is

    startup(node) + work(node, type) * growth(type, size) / growth(type, reference size)

where the reference size is the top of the type's size range, at which the Pi 5 and Pi 4
times were measured (see :data:`MEASURED_S`), and ``growth`` is the type's asymptotic cost:
n^3 for an n x n matrix product, n ln ln n for a sieve of primes up to n, n ln n for sorting
n numbers, n for n file operations. x86 containers are derived from the Pi 5 (see
:func:`expected_duration_s`). Actual durations are the expected ones times mean-one log-normal
noise (:func:`draw_durations`).

Imports only NumPy, like :mod:`schedlab.sim`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "TASK_TYPES",
    "SIZE_RANGES",
    "REFERENCE_SIZE",
    "MEASURED_S",
    "NODE_KINDS",
    "DISKS",
    "Node",
    "Task",
    "DEFAULT_NODES",
    "check_size",
    "complexity",
    "expected_duration_s",
    "expected_durations",
    "sample_tasks",
    "size_bounds",
    "draw_durations",
]

#: Task types, in the order of every per-type table.
TASK_TYPES: tuple[str, ...] = ("matmul", "primes", "sort", "file_io")

#: Per type, the inclusive range of its size parameter: matrix dimension n (an n x n product),
#: upper end of the prime search, array length, number of file operations.
SIZE_RANGES: dict[str, tuple[int, int]] = {
    "matmul": (250, 5000),
    "primes": (240_000, 4_800_000),
    "sort": (500_000, 10_000_000),
    "file_io": (100_000, 2_000_000),
}

#: The size at which :data:`MEASURED_S` was taken: the top of each range. Every range spans
#: exactly a factor 20 below a round benchmark size, which reads as "sizes are 5-100% of the
#: benchmark"; and the Pi 5 figures fit those sizes (a 5000 x 5000 product is 2.5e11 flops,
#: about 20 GFLOP/s over 12.5 s on four Cortex-A76 cores).
REFERENCE_SIZE: dict[str, int] = {t: hi for t, (_, hi) in SIZE_RANGES.items()}

#: Measured seconds per task at :data:`REFERENCE_SIZE`: the middle of the reported ranges
#: (Pi 5 vs Pi 4: matrix 12-13 vs 27-28 s, primes 16-17 vs 37-38 s, sort 7-8 vs 15-16 s,
#: file I/O 6-7 vs 20-21 s).
MEASURED_S: dict[str, dict[str, float]] = {
    "pi5": {"matmul": 12.5, "primes": 16.5, "sort": 7.5, "file_io": 6.5},
    "pi4": {"matmul": 27.5, "primes": 37.5, "sort": 15.5, "file_io": 20.5},
}

#: Node kinds. ``local`` is a worker process of the machine a calibrated profile measured
#: (docs/hetero-live.md): its expected durations come from that profile.
NODE_KINDS: tuple[str, ...] = ("pi5", "pi4", "x86", "local")
DISKS: tuple[str, ...] = ("ssd", "hdd")
#: CPU limits of the x86 containers the model is calibrated for (the seed cluster's range).
X86_CPU_RANGE: tuple[float, float] = (0.5, 2.0)

# Assumptions behind the x86 containers (not measured; docs/hetero.md gives the reasoning).
#: Process start-up before any work (interpreter, imports), in seconds on each Pi. On an
#: x86 container it scales like single-core integer work ("primes").
_STARTUP_S = {"pi5": 0.2, "pi4": 0.45}
#: Cores the Pi 5 used for the measurement: the matrix product is multi-threaded BLAS.
_PI5_CORES = {"matmul": 4.0, "primes": 1.0, "sort": 1.0, "file_io": 1.0}
#: Speed of one x86 core relative to one Pi 5 core, per type: wide SIMD for the matrix
#: product, a higher clock and IPC for integer work, more memory bandwidth for sorting.
_X86_CORE_SPEEDUP = {"matmul": 3.0, "primes": 2.0, "sort": 2.5, "file_io": 2.0}
#: Share of the Pi 5's file-I/O time spent on the CPU (system calls, the loop); the rest
#: waits on storage.
_IO_CPU_SHARE = 0.5
#: Storage wait relative to the Pi 5's: small random operations are seek-bound on an HDD.
_DISK_SLOWDOWN = {"ssd": 0.25, "hdd": 6.0}


@dataclass(frozen=True)
class Node:
    """One node of the cluster.

    Attributes:
        name: Unique name, e.g. ``"x86-1cpu-hdd"``.
        kind: ``"pi5"``, ``"pi4"``, ``"x86"`` or ``"local"`` (a worker process of a
            calibrated profile's machine).
        cpus: CPU limit of an x86 container, 0.5 to 2 (None otherwise).
        disk: ``"ssd"`` or ``"hdd"`` for an x86 container (None otherwise).

    Raises:
        ValueError: Unknown kind, or ``cpus``/``disk`` missing, out of range or given for a Pi.
    """

    name: str
    kind: str
    cpus: float | None = None
    disk: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in NODE_KINDS:
            raise ValueError(f"node {self.name!r}: unknown kind {self.kind!r}, expected one of {', '.join(NODE_KINDS)}")
        if self.kind != "x86":
            if self.cpus is not None or self.disk is not None:
                raise ValueError(
                    f"node {self.name!r}: cpus and disk apply to x86 containers only; a {self.kind} is "
                    "modelled as the whole measured board"
                )
            return
        lo, hi = X86_CPU_RANGE
        if self.cpus is None or not lo <= self.cpus <= hi:
            raise ValueError(f"node {self.name!r}: an x86 container needs cpus in {lo}..{hi}, got {self.cpus!r}")
        if self.disk not in DISKS:
            raise ValueError(f"node {self.name!r}: an x86 container needs disk 'ssd' or 'hdd', got {self.disk!r}")


@dataclass(frozen=True)
class Task:
    """One task of the workload.

    Attributes:
        type: One of :data:`TASK_TYPES`.
        size: Size parameter, within the type's :data:`SIZE_RANGES`.
        arrival_s: Arrival time (s); tasks arriving at the same time form a batch.

    Raises:
        ValueError: Unknown type, size out of range, or negative arrival.
    """

    type: str
    size: float
    arrival_s: float = 0.0

    def __post_init__(self) -> None:
        check_size(self.type, self.size)
        if not (math.isfinite(self.arrival_s) and self.arrival_s >= 0):
            raise ValueError(f"task arrival must be a finite time >= 0 s, got {self.arrival_s!r}")


#: The seed's cluster: one Pi 5, two Pi 4, six x86 containers (2, 1 and 0.5 CPUs, each on
#: SSD and on HDD).
DEFAULT_NODES: tuple[Node, ...] = (
    Node("pi5", "pi5"),
    Node("pi4-a", "pi4"),
    Node("pi4-b", "pi4"),
    Node("x86-2cpu-ssd", "x86", 2.0, "ssd"),
    Node("x86-2cpu-hdd", "x86", 2.0, "hdd"),
    Node("x86-1cpu-ssd", "x86", 1.0, "ssd"),
    Node("x86-1cpu-hdd", "x86", 1.0, "hdd"),
    Node("x86-0.5cpu-ssd", "x86", 0.5, "ssd"),
    Node("x86-0.5cpu-hdd", "x86", 0.5, "hdd"),
)


def check_size(task_type: str, size: float) -> None:
    """Check a task type and size against the calibrated ranges.

    Raises:
        ValueError: Unknown type, or a size outside the type's range (the model only holds
            where it was calibrated).
    """
    if task_type not in SIZE_RANGES:
        raise ValueError(f"unknown task type {task_type!r}, expected one of {', '.join(TASK_TYPES)}")
    lo, hi = SIZE_RANGES[task_type]
    if isinstance(size, bool) or not isinstance(size, (int, float, np.integer, np.floating)) or not lo <= size <= hi:
        raise ValueError(f"size {size!r} of a {task_type} task is outside its range {lo}..{hi}")


def _growth(task_type: str, size: float) -> float:
    n = float(size)
    if task_type == "matmul":
        return n**3
    if task_type == "primes":
        return n * math.log(math.log(n))
    if task_type == "sort":
        return n * math.log(n)
    return n


def complexity(task_type: str, size: float) -> float:
    """A task's asymptotic cost relative to its type's reference size, in (0, 1].

    What the task computes says this much without any profile: an n x n product at half the
    reference n costs an eighth, whatever node runs it.
    """
    return _growth(task_type, size) / _growth(task_type, REFERENCE_SIZE[task_type])


def _reference_work_s(node: Node, task_type: str) -> float:
    """Seconds of work (start-up excluded) at the reference size."""
    if node.kind != "x86":
        return MEASURED_S[node.kind][task_type] - _STARTUP_S[node.kind]
    pi5 = MEASURED_S["pi5"][task_type] - _STARTUP_S["pi5"]
    single = min(node.cpus, 1.0)  # a CPU quota above one core does not speed up one thread
    speed = _X86_CORE_SPEEDUP[task_type]
    if task_type == "matmul":
        return pi5 * _PI5_CORES["matmul"] / (speed * node.cpus)
    if task_type == "file_io":
        return pi5 * _IO_CPU_SHARE / (speed * single) + pi5 * (1 - _IO_CPU_SHARE) * _DISK_SLOWDOWN[node.disk]
    return pi5 / (speed * single)


def _startup_s(node: Node) -> float:
    if node.kind != "x86":
        return _STARTUP_S[node.kind]
    return _STARTUP_S["pi5"] / (_X86_CORE_SPEEDUP["primes"] * min(node.cpus, 1.0))


def expected_duration_s(node: Node, task_type: str, size: float, profile=None) -> float:
    """Expected seconds a task takes on a node (the noise-free model).

    A ``local`` node takes them from ``profile`` (anything with ``expected_s(type, size)``,
    such as :class:`schedlab.families.hetero.live.profile.HeteroProfile`).

    Pis are calibrated on :data:`MEASURED_S` directly. An x86 container with ``c`` CPUs takes
    the Pi 5's work divided by the x86 core speed-up and by ``c`` for the multi-threaded
    matrix product, by ``min(c, 1)`` for the single-threaded types; file I/O splits into a
    CPU part (scaled the same way) and a storage wait scaled by the disk (HDD 6x the Pi 5's,
    SSD a quarter), so an HDD slows file I/O and nothing else.

    Raises:
        ValueError: Unknown task type or size out of range, or a local node without a profile.
    """
    check_size(task_type, size)
    if node.kind == "local":
        if profile is None:
            raise ValueError(f"node {node.name!r} is local: its durations come from a calibrated profile; none given")
        return float(profile.expected_s(task_type, size))
    return _startup_s(node) + _reference_work_s(node, task_type) * complexity(task_type, size)


def expected_durations(nodes: Sequence[Node], tasks: Sequence[Task], profile=None) -> np.ndarray:
    """The ``(tasks, nodes)`` matrix of expected durations (s); ``local`` nodes' from ``profile``.

    Raises:
        ValueError: No node, or a local node without a profile.
    """
    if not nodes:
        raise ValueError("the cluster needs at least one node")
    out = np.empty((len(tasks), len(nodes)))
    for j, node in enumerate(nodes):
        for i, t in enumerate(tasks):
            out[i, j] = expected_duration_s(node, t.type, t.size, profile)
    return out


def sample_tasks(
    rng: np.random.Generator,
    batches: Sequence[tuple[float, int]],
    types: Sequence[str] = TASK_TYPES,
    size_fraction: tuple[float, float] = (0.0, 1.0),
) -> list[Task]:
    """Random tasks: per batch, types uniform over ``types`` and integer sizes uniform in range.

    Args:
        rng: The stream to draw from; per task, the type then the size.
        batches: ``(arrival_s, number_of_tasks)`` pairs.
        types: Task types to draw from.
        size_fraction: The part of each type's size range sizes are drawn from, as fractions
            of it: ``(0, 0.6)`` is the lower 60%, ``(0.6, 1)`` the top 40%.

    Raises:
        ValueError: An unknown type, an empty type list, a negative arrival or count, or a
            size fraction outside ``0 <= low <= high <= 1``.
    """
    if not types:
        raise ValueError("need at least one task type to draw from")
    for t in types:
        if t not in SIZE_RANGES:
            raise ValueError(f"unknown task type {t!r}, expected one of {', '.join(TASK_TYPES)}")
    f0, f1 = size_fraction
    if not 0.0 <= f0 <= f1 <= 1.0:
        raise ValueError(f"size_fraction must satisfy 0 <= low <= high <= 1, got {size_fraction!r}")
    bounds = {t: size_bounds(t, size_fraction) for t in types}
    out = []
    for at, count in batches:
        if count < 0:
            raise ValueError(f"a batch needs a task count >= 0, got {count!r}")
        for _ in range(count):
            t = types[int(rng.integers(len(types)))]
            lo, hi = bounds[t]
            out.append(Task(t, int(rng.integers(lo, hi + 1)), float(at)))
    return out


def size_bounds(task_type: str, size_fraction: tuple[float, float]) -> tuple[int, int]:
    """The integer sizes ``lo..hi`` (inclusive) of a fraction of a type's size range."""
    lo, hi = SIZE_RANGES[task_type]
    span = hi - lo
    a = lo + math.ceil(size_fraction[0] * span)
    b = lo + math.floor(size_fraction[1] * span)
    return a, max(a, b)


def draw_durations(rng: np.random.Generator, expected: np.ndarray, sigma: float) -> np.ndarray:
    """Actual durations: each expected one times independent mean-one log-normal noise.

    One factor is drawn for every (task, node) pair up front, so a task's duration on a node
    depends on the seed alone, never on where the scheduler put it: schedulers compared on a
    seed face the same durations.

    Args:
        rng: The stream to draw from.
        expected: ``(tasks, nodes)`` expected durations (s).
        sigma: Standard deviation of the log of the factor; 0 gives the expected durations.

    Raises:
        ValueError: ``sigma`` negative or not finite.
    """
    if not (math.isfinite(sigma) and sigma >= 0):
        raise ValueError(f"noise sigma must be a finite number >= 0, got {sigma!r}")
    z = rng.standard_normal(expected.shape)
    return expected * np.exp(sigma * z - 0.5 * sigma * sigma)
