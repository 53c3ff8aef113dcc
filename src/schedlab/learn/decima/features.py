"""One Decima decision point as arrays, and many of them as one batch.

A decision point is the graph :func:`~schedlab.families.spark.graph.graph_arrays` builds (Decima's
five stage features, parent -> child edges, node -> job slots, the offered stages) plus what
the policy needs besides:

- each node's *level*, the longest path from it to a leaf of its job's remaining DAG, so that
  messages can go from children to parents one level at a time;
- each job's *base*: the executors already counted for it. The executor head picks a
  job-level parallelism limit ``L`` in ``1 .. num_executors`` (Decima's executor cap); the
  ``Assign`` limit is then ``L - base``. For a job other than the source job the base is its
  ``exec_supply``; the source job's free executors are already in its supply, so its base is
  ``exec_supply - committable``.

The valid limits of a job are ``base .. base + committable`` within ``1 .. num_executors``;
``L = base`` assigns nothing and closes the round (see :func:`limit_bounds`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from schedlab.families.spark.graph import GraphCache, graph_arrays
from schedlab.families.spark.model import SparkView
from schedlab.sim.actions import Assign

__all__ = ["Decision", "Batch", "observe", "node_levels", "limit_bounds", "to_assign", "collate"]


@dataclass
class Decision:
    """One decision point, as plain arrays (cheap to send between processes).

    Attributes:
        x: (n, 5) float32 stage features.
        src: (e,) int64 parent node of each edge.
        dst: (e,) int64 child node of each edge.
        level: (n,) int64 longest path to a leaf.
        node_job: (n,) int64 job slot of each node (slots in arrival order, nodes grouped by job).
        stage_node: (k,) int64 node of each offered stage; action slot ``i`` is node ``stage_node[i]``.
        base: (jobs,) int64 executors already counted for each job slot.
        committable: Executors this decision hands out.
        num_executors: Executors in the cluster.
        can_pass: Every job with an offered stage holds executors (base at least 1), so
            assigning nothing starves none of them; only then may the policy pass.
    """

    x: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    level: np.ndarray
    node_job: np.ndarray
    stage_node: np.ndarray
    base: np.ndarray
    committable: int
    num_executors: int
    can_pass: bool = True

    @property
    def num_jobs(self) -> int:
        """Job slots of the graph."""
        return len(self.base)


def node_levels(n: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Longest path (in edges) from each of ``n`` nodes to a leaf, along parent -> child edges.

    Relaxes all edges at once, as often as the deepest path is long (a DAG has no cycle, so
    it ends within ``n`` rounds).
    """
    level = np.zeros(n, dtype=np.int64)
    if len(src) == 0:
        return level
    for _ in range(n):
        new = level.copy()
        np.maximum.at(new, src, level[dst] + 1)
        if np.array_equal(new, level):
            return level
        level = new
    raise ValueError("the stage graph has a cycle")


def limit_bounds(base: int, committable: int, num_executors: int, pass_limit: bool = True) -> tuple[int, int]:
    """The valid job-level limits ``lo .. hi`` (inclusive, within 1 .. num_executors).

    ``lo`` is the job's base itself when it holds executors already: that limit means the
    job needs no more, and the decision assigns nothing, which closes the round (the free
    executors go back to the common pool, as when a heuristic holds jobs at their share). A
    job without executors must get at least one. Callers pass ``pass_limit`` False where
    passing could starve a job (``Decision.can_pass``). A base at or above the cluster's size (the
    model keeps released executors in a job's supply) leaves that one limit.

    With ``pass_limit=False`` (Decima's published action space) every limit assigns at least
    one executor: ``lo`` is ``base + 1`` (at most ``num_executors``).
    """
    lo = max(1, min(base if pass_limit else base + 1, num_executors))
    hi = max(lo, min(num_executors, base + committable))
    return lo, hi


def to_assign(view: SparkView, d: Decision, slot: int, limit: int) -> Assign | None:
    """The action for stage slot ``slot`` and job-level limit ``limit`` (1-based); None: assign nothing."""
    st = view.schedulable[slot]
    job = int(d.node_job[d.stage_node[slot]])
    n = int(limit) - int(d.base[job])
    if n < 1:
        return None
    return Assign(st.job_id, st.index, min(n, d.committable))


def observe(view: SparkView, cache: GraphCache | None = None) -> Decision:
    """The decision point ``view`` as a :class:`Decision` (pass one cache per episode to go faster).

    Raises:
        ValueError: Nothing is schedulable at ``view``.
    """
    g = graph_arrays(view, cache=cache)
    stage_node = g["stage_node"]
    if len(stage_node) == 0:
        raise ValueError("no stage is schedulable at this decision point")
    edge = g["edge_index"]
    src, dst = edge[0], edge[1]
    x = g["x"]
    committable = view.committable
    src_job = view.source_job
    sid = src_job.id if src_job is not None else -1
    # The graph keeps every job in the system, in arrival order, as view.jobs lists them.
    base = np.fromiter(
        (j.exec_supply - (committable if j.id == sid else 0) for j in view.jobs), dtype=np.int64, count=len(g["job_id"])
    )
    np.maximum(base, 0, out=base)
    node_job = g["node_job"]
    return Decision(
        x=x,
        src=src,
        dst=dst,
        level=node_levels(len(x), src, dst),
        node_job=node_job,
        stage_node=stage_node,
        base=base,
        committable=int(committable),
        num_executors=int(view.num_executors),
        can_pass=bool((base[node_job[stage_node]] >= 1).all()),
    )


@dataclass
class Batch:
    """Many decisions concatenated, graph after graph, with every index shifted (PyG-style).

    Attributes:
        x: (N, 5) features of all nodes.
        src, dst: (E,) edges in global node numbers.
        level: (N,) node levels.
        node_job: (N,) global job index of each node.
        job_dec: (J,) decision of each job.
        stage_node: (S,) global node of each offered stage.
        stage_dec: (S,) decision of each offered stage.
        stage_pos: (S,) slot of each offered stage within its decision.
        num_decisions: D.
        max_slots: The most offered stages of one decision.
        num_executors: (D,) executors per decision.
        lo, hi: (D,) valid limits of the chosen job (only with actions).
        act_slot: (D,) chosen stage slot (only with actions).
        act_job: (D,) global job index of the chosen stage's job (only with actions).
        act_limit: (D,) chosen job-level limit, 1-based (only with actions).
    """

    x: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    level: np.ndarray
    node_job: np.ndarray
    job_dec: np.ndarray
    stage_node: np.ndarray
    stage_dec: np.ndarray
    stage_pos: np.ndarray
    num_decisions: int
    max_slots: int
    num_executors: np.ndarray
    lo: np.ndarray | None = None
    hi: np.ndarray | None = None
    act_slot: np.ndarray | None = None
    act_job: np.ndarray | None = None
    act_limit: np.ndarray | None = None


def collate(decisions: Sequence[Decision], actions: np.ndarray | None = None, pass_limit: bool = True) -> Batch:
    """Concatenate decisions into a :class:`Batch`.

    Args:
        decisions: The decision points.
        actions: (D, 2) int: each decision's stage slot and job-level limit (1-based), or None.
        pass_limit: Whether the limit equal to a job's base (assign nothing) is valid.

    Raises:
        ValueError: No decisions, or actions that do not match them.
    """
    if not decisions:
        raise ValueError("nothing to collate: no decisions")
    n_nodes = np.array([len(d.x) for d in decisions], dtype=np.int64)
    n_jobs = np.array([len(d.base) for d in decisions], dtype=np.int64)
    n_edges = np.array([len(d.src) for d in decisions], dtype=np.int64)
    n_slots = np.array([len(d.stage_node) for d in decisions], dtype=np.int64)
    node_off = np.concatenate(([0], np.cumsum(n_nodes)[:-1]))
    job_off = np.concatenate(([0], np.cumsum(n_jobs)[:-1]))
    num_d = len(decisions)
    dec = np.arange(num_d, dtype=np.int64)
    stage_dec = dec.repeat(n_slots)
    slot_off = np.concatenate(([0], np.cumsum(n_slots)[:-1]))
    batch = Batch(
        x=np.concatenate([d.x for d in decisions]),
        src=np.concatenate([d.src for d in decisions]) + node_off.repeat(n_edges),
        dst=np.concatenate([d.dst for d in decisions]) + node_off.repeat(n_edges),
        level=np.concatenate([d.level for d in decisions]),
        node_job=np.concatenate([d.node_job for d in decisions]) + job_off.repeat(n_nodes),
        job_dec=dec.repeat(n_jobs),
        stage_node=np.concatenate([d.stage_node for d in decisions]) + node_off.repeat(n_slots),
        stage_dec=stage_dec,
        stage_pos=np.arange(len(stage_dec), dtype=np.int64) - slot_off.repeat(n_slots),
        num_decisions=num_d,
        max_slots=int(n_slots.max()),
        num_executors=np.array([d.num_executors for d in decisions], dtype=np.int64),
    )
    if actions is not None:
        actions = np.asarray(actions, dtype=np.int64).reshape(-1, 2)
        if len(actions) != num_d:
            raise ValueError(f"{len(actions)} actions for {num_d} decisions")
        slot, limit = actions[:, 0], actions[:, 1]
        if np.any(slot < 0) or np.any(slot >= n_slots):
            raise ValueError("a stage slot lies outside its decision's offered stages")
        local_job = np.array([d.node_job[d.stage_node[s]] for d, s in zip(decisions, slot)], dtype=np.int64)
        bounds = np.array(
            [
                limit_bounds(int(d.base[j]), d.committable, d.num_executors, pass_limit and d.can_pass)
                for d, j in zip(decisions, local_job)
            ],
            dtype=np.int64,
        ).reshape(-1, 2)
        batch.lo, batch.hi = bounds[:, 0], bounds[:, 1]
        batch.act_slot = slot
        batch.act_job = local_job + job_off
        batch.act_limit = np.clip(limit, batch.lo, batch.hi)
    return batch
