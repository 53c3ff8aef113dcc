"""The four hetero task types as real work, in the process that calls them.

A task of type ``t`` and size ``n`` does the work of size :func:`real_size` ``(t, n, scale)``
= ``round(n * scale)``: the documented size ranges (docs/hetero.md) were set for Raspberry Pi
boards, and on an x86 core the file operations of the top of the range would take minutes
while the smallest prime sieve takes a millisecond. :data:`DEFAULT_SIZE_SCALE` maps each range
to roughly 10 ms - 1 s of work on a 2020s x86 core; a profile (:mod:`.profile`) records the
scale it was measured at, and a live run uses that same scale.

- ``matmul``: the product of two ``n x n`` matrices of uniform random floats (NumPy, BLAS).
- ``primes``: the primes up to ``n`` with a sieve of Eratosthenes (NumPy boolean array).
- ``sort``: sorting ``n`` uniform random floats (``numpy.sort``).
- ``file_io``: ``n`` small file operations in a fresh temporary folder, in turn: write a
  256-byte file, read it back, delete it; the folder is removed afterwards.

Times are wall seconds (``time.perf_counter``).
"""

from __future__ import annotations

import math
import os
import tempfile
import time

import numpy as np

from schedlab.families.hetero.tasks import TASK_TYPES

__all__ = [
    "DEFAULT_SIZE_SCALE",
    "MIN_REAL_SIZE",
    "FILE_BYTES",
    "real_size",
    "do_work",
    "timed_work",
    "matmul",
    "primes",
    "sort",
    "file_io",
]

#: Per type, the factor from a task's size to the size of the work a live run does. With it
#: the documented ranges (matmul 250-5000, primes 0.24-4.8 M, sort 0.5-10 M, file I/O
#: 0.1-2 M) become matrices of 100-2000, sieves up to 0.96-19.2 M, sorts of 0.5-10 M numbers
#: and 2,000-40,000 file operations.
DEFAULT_SIZE_SCALE: dict[str, float] = {"matmul": 0.4, "primes": 4.0, "sort": 1.0, "file_io": 0.02}

#: Per type, the smallest work size: a sieve below 16 has a growth law ``n ln ln n`` of at
#: most 0, and a sort of one number has ``n ln n`` = 0.
MIN_REAL_SIZE: dict[str, int] = {"matmul": 1, "primes": 16, "sort": 2, "file_io": 1}

#: Bytes in each small file of ``file_io``.
FILE_BYTES = 256


def real_size(task_type: str, size: float, scale: float) -> int:
    """The work size of a task: ``round(size * scale)``, at least :data:`MIN_REAL_SIZE`.

    Raises:
        ValueError: Unknown type, or a size or scale that is not a finite number > 0.
    """
    if task_type not in MIN_REAL_SIZE:
        raise ValueError(f"unknown task type {task_type!r}, expected one of {', '.join(TASK_TYPES)}")
    for what, v in (("size", size), ("scale", scale)):
        if (
            isinstance(v, bool)
            or not isinstance(v, (int, float, np.integer, np.floating))
            or not (math.isfinite(v) and v > 0)
        ):
            raise ValueError(f"a {task_type} task's {what} must be a finite number > 0, got {v!r}")
    return max(MIN_REAL_SIZE[task_type], round(float(size) * float(scale)))


def matmul(n: int) -> float:
    """The product of two ``n x n`` random matrices; returns its trace (a checksum)."""
    rng = np.random.default_rng(n)
    a = rng.random((n, n))
    b = rng.random((n, n))
    return float(np.trace(a @ b))


def primes(n: int) -> int:
    """The number of primes up to ``n`` (inclusive), by a sieve of Eratosthenes."""
    if n < 2:
        return 0
    sieve = np.ones(n + 1, dtype=bool)
    sieve[:2] = False
    for i in range(2, math.isqrt(n) + 1):
        if sieve[i]:
            sieve[i * i :: i] = False
    return int(np.count_nonzero(sieve))


def sort(n: int) -> float:
    """Sort ``n`` random floats; returns the smallest (a checksum)."""
    a = np.random.default_rng(n).random(n)
    return float(np.sort(a)[0])


def file_io(n: int, folder: str | None = None) -> int:
    """``n`` small file operations (write, read, delete in turn) in a temporary folder.

    Args:
        n: Operations; operation ``k`` writes file ``k // 3`` when ``k % 3 == 0``, reads it
            back when 1, deletes it when 2.
        folder: Where the temporary folder goes (default: the system's).

    Returns:
        The bytes read back (a checksum).
    """
    data = b"x" * FILE_BYTES
    read = 0
    with tempfile.TemporaryDirectory(prefix="schedlab-file-io-", dir=folder) as d:
        for k in range(n):
            path = os.path.join(d, f"f{k // 3}")
            op = k % 3
            if op == 0:
                with open(path, "wb") as f:
                    f.write(data)
            elif op == 1:
                with open(path, "rb") as f:
                    read += len(f.read())
            else:
                os.remove(path)
    return read


_WORK = {"matmul": matmul, "primes": primes, "sort": sort, "file_io": file_io}


def do_work(task_type: str, n: int) -> float | int:
    """Do the work of one task of ``task_type`` at work size ``n`` (already scaled).

    Raises:
        ValueError: Unknown type or a work size below 1.
    """
    if task_type not in _WORK:
        raise ValueError(f"unknown task type {task_type!r}, expected one of {', '.join(TASK_TYPES)}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"a work size is an integer >= 1, got {n!r}")
    return _WORK[task_type](int(n))


def timed_work(task_type: str, n: int) -> float:
    """Wall seconds :func:`do_work` takes for ``(task_type, n)``."""
    t0 = time.perf_counter()
    do_work(task_type, n)
    return time.perf_counter() - t0
