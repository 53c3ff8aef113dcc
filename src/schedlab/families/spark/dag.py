"""Job templates shared by the DAG workloads: stages, their parents and their duration profiles.

A template is immutable and shared by every job sampled from it; the simulator keeps the
per-job mutable state elsewhere.

A stage's profile follows the Spark measurements in Decima's TPC-H data: task durations in ms
keyed by the number of executors the stage ran on, split into *first wave* (an executor's first
task of the stage), *rest wave* (later tasks on a warm executor) and *fresh* (the first task on
an executor that just moved from another job). :func:`resolve_profile` folds the fallback rules
of the reference simulator into one lookup table per stage, once, so sampling a duration is a
dictionary lookup and a list index.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["EXECUTOR_LEVELS", "StageTemplate", "JobTemplate", "resolve_profile", "check_dag"]

#: Executor counts at which a key is chosen (the reference's interpolation points).
EXECUTOR_LEVELS = (5, 10, 20, 40, 50, 60, 80, 100)

#: One resolved key: (idle list, idle list is the first-wave fallback that pays warm-up,
#: list for a warm executor of the same stage, list for an executor coming from another stage).
Entry = tuple[tuple[int, ...], bool, tuple[int, ...], tuple[int, ...]]


@dataclass(frozen=True, slots=True)
class StageTemplate:
    """One stage of a job template.

    Attributes:
        index: Position of the stage in its job (0-based).
        parents: Indices of the stages that must finish first.
        num_tasks: Number of tasks in the stage.
        rough_duration_ms: Mean of all profiled durations (ms); the stage's initial estimate.
        table: Executor level -> resolved durations (see :data:`Entry`).
    """

    index: int
    parents: tuple[int, ...]
    num_tasks: int
    rough_duration_ms: float
    table: Mapping[int, Entry]


@dataclass(frozen=True, slots=True)
class JobTemplate:
    """A DAG of stages, e.g. one TPC-H query at one input size."""

    name: str
    stages: tuple[StageTemplate, ...]


def resolve_profile(
    first_wave: Mapping[int, Sequence[int]],
    rest_wave: Mapping[int, Sequence[int]],
    fresh: Mapping[int, Sequence[int]],
) -> tuple[dict[int, Entry], float]:
    """Fold one stage's duration lists into a lookup table.

    The rules are the reference simulator's: first-wave lists lose the values that also appear
    among the fresh durations (as a multiset) and an emptied list borrows the next smaller
    key's; a key above the largest profiled one maps to the largest. An idle executor draws a
    fresh duration, or a first-wave one plus warm-up; a warm executor of the same stage draws
    from the rest wave, then first wave, then fresh; any other executor from first wave, then
    fresh.

    Returns:
        The table for every level of :data:`EXECUTOR_LEVELS`, and the stage's rough duration (ms).

    Raises:
        ValueError: The profile has no usable duration for some level.
    """
    keys = sorted(first_wave)
    if not keys:
        raise ValueError("no executor-count keys in first_wave")
    clean: dict[int, list[int]] = {}
    for k in keys:
        left = Counter(fresh.get(k, ()))
        kept = []
        for d in first_wave[k]:
            if left[d] > 0:
                left[d] -= 1
            else:
                kept.append(d)
        clean[k] = kept
    previous: list[int] = []
    for k in keys:
        if not clean[k]:
            clean[k] = previous
        previous = clean[k]

    every = [d for k in fresh for d in fresh[k]]
    every += [d for k in keys for d in clean[k]]
    every += [d for k in rest_wave for d in rest_wave[k]]
    if not every:
        raise ValueError("no task durations at all")
    rough = sum(every) / len(every)

    table: dict[int, Entry] = {}
    for level in EXECUTOR_LEVELS:
        k = level if level in clean else keys[-1]
        fw, rw, fr = tuple(clean[k]), tuple(rest_wave.get(k, ())), tuple(fresh.get(k, ()))
        idle, warm = (fr, False) if fr else (fw, True)
        same = rw or fw or fr
        other = fw or fr
        if not (idle and same and other):
            raise ValueError(f"no durations usable for {level} executors (key {k})")
        table[level] = (idle, warm, same, other)
    return table, rough


def check_dag(num_stages: int, parents: Sequence[Sequence[int]]) -> str | None:
    """Return a description of the first structural problem of a stage DAG, or None."""
    for i, ps in enumerate(parents):
        for p in ps:
            if not 0 <= p < num_stages:
                return f"stage {i} names parent {p}, which does not exist"
            if p == i:
                return f"stage {i} is its own parent"
    state = [0] * num_stages  # 0 new, 1 on the stack, 2 done

    for root in range(num_stages):
        if state[root]:
            continue
        stack = [(root, iter(parents[root]))]
        state[root] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
            elif state[nxt] == 1:
                return f"stages {nxt} and {node} form a cycle"
            elif state[nxt] == 0:
                state[nxt] = 1
                stack.append((nxt, iter(parents[nxt])))
    return None
