"""Baseline schedulers for the hetero family.

Each answers a batch's arrival with one :class:`~schedlab.sim.actions.Enqueue` per task; the
order of the actions for a node is the order its tasks run in. All of them plan with the
*expected* durations and backlogs the view shows; the nodes then take the actual (noisy)
durations.

- ``random``: each task, in batch order, to a uniformly random node (the generic
  :class:`~schedlab.schedulers.generic.RandomWorker`).
- ``round-robin``: tasks in batch order to nodes 0, 1, 2, ..., the cursor carrying over from
  batch to batch; blind to durations (the generic
  :class:`~schedlab.schedulers.generic.RoundRobinWorker`).
- ``greedy-sjf``: pull-based, as in a cluster where nodes ask for work (the seed's allocator
  scores tasks for a *requesting* node): repeatedly, the node that frees up first (by
  expected backlog) takes the waiting task that is shortest *on that node*. Work-conserving
  and greedy per node: a slow node that frees up first still takes a task.
- ``global-sjf``: min-min list scheduling: repeatedly, over all (waiting task, node) pairs,
  place the pair that would finish earliest. "Shortest first" is judged over all nodes at
  once, so a slow node gets a task only when that task finishes there first.
- ``optimal``: the assignment and order that minimise the batch's sum of expected completion
  times *exactly* (:func:`min_sum_completion`), behind the backlogs already queued. It is
  optimal for one batch at a time with the expected durations; it does not plan for batches
  yet to come, and it minimises the sum of completion times, not the makespan.

With faults, each plans over the live nodes only (``NodeView.alive``) and passes when none is
up; with every node up that is exactly the plan over all of them.
"""

from __future__ import annotations

import numpy as np

from schedlab.families.hetero.model import HeteroView
from schedlab.schedulers.base import Scheduler
from schedlab.sim.actions import Enqueue

__all__ = [
    "GreedySJF",
    "GlobalSJF",
    "OptimalSumCompletion",
    "min_sum_completion",
    "requesting_node_order",
    "earliest_finish_order",
]


def _live_columns(view: HeteroView) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """The expected durations and backlogs of the live nodes, and their ids (column -> node id)."""
    p, ready = view.expected_matrix(), view.backlogs()
    live = [n.id for n in view.workers if n.alive]
    if len(live) < len(view.workers):
        p, ready = p[:, live], ready[live]
    return p, ready, live


class GreedySJF(Scheduler):
    """The node that frees up first takes the waiting task that is shortest on it.

    Repeats until the batch is placed: pick the node with the smallest expected backlog
    (ties to the lowest id), give it the waiting task with the smallest expected duration
    there (ties to the earliest in the batch), and grow its backlog by that duration.
    """

    families = ("hetero",)

    def decide(self, view: HeteroView) -> list[Enqueue]:
        p, ready, live = _live_columns(view)
        if not live:
            return []
        order = requesting_node_order(p, ready)
        return [Enqueue(view.batch[r].id, live[j]) for r, j in order]


class GlobalSJF(Scheduler):
    """Min-min: repeatedly place the (task, node) pair that would finish earliest."""

    families = ("hetero",)

    def decide(self, view: HeteroView) -> list[Enqueue]:
        p, ready, live = _live_columns(view)
        if not live:
            return []
        order = earliest_finish_order(p, ready)
        return [Enqueue(view.batch[r].id, live[j]) for r, j in order]


class OptimalSumCompletion(Scheduler):
    """Exact minimum of the batch's sum of expected completion times (see :func:`min_sum_completion`)."""

    families = ("hetero",)

    def decide(self, view: HeteroView) -> list[Enqueue]:
        p, ready, live = _live_columns(view)
        if not live:
            return []
        order = min_sum_completion(p, ready)
        return [Enqueue(view.batch[r].id, live[j]) for r, j in order]


def requesting_node_order(p: np.ndarray, ready: np.ndarray) -> list[tuple[int, int]]:
    """Pull-based greedy: the earliest-free node takes its shortest waiting task.

    Args:
        p: ``(tasks, nodes)`` durations.
        ready: Per node, when it could start a new task (relative to now).

    Returns:
        ``(task row, node)`` pairs in the order they were placed (the order to enqueue).
    """
    n = p.shape[0]
    ready = np.asarray(ready, dtype=np.float64).copy()
    left = np.ones(n, dtype=bool)
    out = []
    for _ in range(n):
        j = int(np.argmin(ready))
        r = int(np.argmin(np.where(left, p[:, j], np.inf)))
        ready[j] += p[r, j]
        left[r] = False
        out.append((r, j))
    return out


def earliest_finish_order(p: np.ndarray, ready: np.ndarray) -> list[tuple[int, int]]:
    """Min-min list scheduling.

    Args:
        p: ``(tasks, nodes)`` durations.
        ready: Per node, when it could start a new task (relative to now).

    Returns:
        ``(task row, node)`` pairs in the order they were placed (the order to enqueue).
        Ties go to the lowest task row, then the lowest node.
    """
    n = p.shape[0]
    ready = np.asarray(ready, dtype=np.float64).copy()
    left = np.ones(n, dtype=bool)
    out = []
    for _ in range(n):
        finish = ready[None, :] + p
        finish[~left] = np.inf
        r, j = np.unravel_index(int(np.argmin(finish)), finish.shape)
        ready[j] = finish[r, j]
        left[r] = False
        out.append((int(r), int(j)))
    return out


def min_sum_completion(p: np.ndarray, ready: np.ndarray) -> list[tuple[int, int]]:
    """Assign and order tasks on nodes to minimise the sum of their completion times, exactly.

    A node ``j`` that can start at ``ready[j]`` and runs tasks ``i_1, ..., i_k`` in that order
    completes them at ``ready[j] + p[i_1, j] + ... + p[i_q, j]``; summed over its tasks, a task
    in position ``q`` *from the end* contributes ``q * p[i, j]``, and each adds ``ready[j]``
    once. So every schedule is an assignment of tasks to slots ``(j, q)`` with cost
    ``ready[j] + q * p[i, j]``, and the minimum-cost perfect assignment (Hungarian method,
    :func:`scipy.optimize.linear_sum_assignment`) is an optimal schedule (Horn 1973; Bruno,
    Coffman and Sethi 1974, for R||sum C_j). With durations > 0 an optimal assignment fills
    each node's slots from ``q = 1`` without gaps (a gap would let a task move to a cheaper
    slot), so it is a valid schedule.

    Args:
        p: ``(tasks, nodes)`` durations, each > 0.
        ready: Per node, when it could start a new task (relative to now).

    Returns:
        ``(task row, node)`` pairs; per node in the order the tasks should run (larger
        ``q`` first).
    """
    from scipy.optimize import linear_sum_assignment

    n, m = p.shape
    if n == 0:
        return []
    q = np.arange(1, n + 1, dtype=np.float64)
    # Columns are slots (node j, position q from the end), j-major: column j * n + q - 1.
    cost = np.asarray(ready, dtype=np.float64)[None, :, None] + p[:, :, None] * q[None, None, :]
    rows, cols = linear_sum_assignment(cost.reshape(n, m * n))
    node, pos = np.divmod(cols, n)
    order = np.lexsort((node, -pos))  # front of each queue first
    return [(int(rows[k]), int(node[k])) for k in order]
