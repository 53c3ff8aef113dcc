"""Spark decision points as graphs: Decima's stage features, DAG edges, job pointers, offered stages.

:func:`graph_arrays` builds, from a :class:`~schedlab.families.spark.model.SparkView`, the
arrays a graph policy reads (documented with :class:`~schedlab.families.spark.env.SparkEnv`,
whose ``graph`` observation pads them); :class:`GraphCache` keeps each job's DAG between
decision points. Only NumPy is needed, so a trained graph policy runs on a core install.
"""

from __future__ import annotations

import math

import numpy as np

from schedlab.families.spark.model import JobView, SparkView, StageView

__all__ = ["GraphCache", "graph_arrays", "STAGE_FEATURES"]

#: Names of a stage's feature columns, in order.
STAGE_FEATURES = ("commit_cap", "source_job", "exec_supply", "remaining_tasks", "remaining_work")

_TASK_SCALE = 200.0
_WORK_SCALE = 1e5
# Features 2-4 are clipped here, so that the environment's box bounds provably hold.
_CLIP = 1e6


class _JobGraph:
    """One job's DAG: static parents; its incomplete stages, their local numbering and edges."""

    __slots__ = ("parents", "active", "rem", "local", "index", "edges")

    def __init__(self, job: JobView) -> None:
        self.parents = tuple(st.parents for st in job.stages)
        self.active: tuple[StageView, ...] = ()
        #: The active stages' unlaunched tasks, as read at the latest :meth:`update`.
        self.rem: list[int] = []
        #: Incomplete stage -> its node within the job. The model keeps one view object per
        #: stage, so the view itself is the key.
        self.local: dict[StageView, int] = {}
        self.index = np.zeros(0, dtype=np.int64)
        self.edges = np.zeros((2, 0), dtype=np.int64)

    def update(self, job: JobView) -> None:
        """Renumber if a stage has completed since the last call; read the unlaunched tasks."""
        active = job.active_stages
        # Stages only ever complete, so the count of incomplete ones identifies the set.
        if len(active) != len(self.active):
            self._refresh(active)
        self.rem = list(map(_remaining, active))

    def _refresh(self, active: tuple[StageView, ...]) -> None:
        self.active = active
        pos = {st.index: p for p, st in enumerate(active)}
        src: list[int] = []
        dst: list[int] = []
        parents = self.parents
        for p, st in enumerate(active):
            for q in parents[st.index]:
                k = pos.get(q)
                if k is not None:
                    src.append(k)
                    dst.append(p)
        self.local = {st: p for p, st in enumerate(active)}
        self.index = np.fromiter(pos, dtype=np.int64, count=len(pos))
        self.edges = np.array((src, dst), dtype=np.int64).reshape(2, len(src))


_remaining = StageView.remaining_tasks.fget
_duration = StageView.duration_estimate_ms.fget


class GraphCache:
    """Per-job DAG structure kept from one decision point to the next.

    A job's parents never change and its incomplete stages change only when one completes,
    so a call reads each incomplete stage's unlaunched tasks and latest duration (the dynamic
    features), and rebuilds a job's node numbering and edges only when one of its stages has
    completed. Jobs are keyed by their view object, which the
    model keeps for the job's life, so one cache serves any number of episodes; jobs that
    have left the system are dropped at each call.
    """

    __slots__ = ("_jobs",)

    def __init__(self) -> None:
        self._jobs: dict[JobView, _JobGraph] = {}

    def entries(self, view: SparkView) -> list[tuple[JobView, _JobGraph]]:
        """Each job in the system, in arrival order, with its DAG structure brought up to date."""
        old = self._jobs
        kept: dict[JobView, _JobGraph] = {}
        out = []
        for job in view.jobs:
            g = old.get(job)
            if g is None:
                g = _JobGraph(job)
            g.update(job)
            kept[job] = g
            out.append((job, g))
        self._jobs = kept
        return out

    def build(
        self,
        view: SparkView,
        max_stages: int | None = None,
        max_nodes: int | None = None,
        max_edges: int | None = None,
    ) -> dict[str, np.ndarray]:
        """The arrays of :func:`graph_arrays`; see there."""
        entries = self.entries(view)
        if max_nodes is not None or max_edges is not None:
            entries = _fit(entries, view.schedulable, max_nodes, max_edges)

        num = view.num_executors
        src = view.source_job
        src_id = src.id if src is not None else None
        graphs: list[_JobGraph] = []
        nodes: list[StageView] = []
        job_ids: list[int] = []
        starts: list[int] = []
        per_job: list[tuple[float, float]] = []
        counts: list[int] = []
        shift: list[int] = []  # per edge, the first node of its job
        n = e = 0
        rem: list[int] = []
        for job, g in entries:
            active = g.active
            k, ke = len(active), g.edges.shape[1]
            jid = job.id
            graphs.append(g)
            nodes += active
            rem += g.rem
            job_ids.append(jid)
            starts.append(n)
            per_job.append((1.0 if jid == src_id else -1.0, min(job.exec_supply / num, _CLIP)))
            counts.append(k)
            if ke:
                shift += [n] * ke
            n += k
            e += ke

        node_job = np.arange(len(job_ids), dtype=np.int64).repeat(counts)
        x = np.empty((n, len(STAGE_FEATURES)), dtype=np.float32)
        x[:, 0] = view.committable / num
        x[:, 1:3] = np.array(per_job, dtype=np.float64).reshape(-1, 2)[node_job]
        _work(x, rem, list(map(_duration, nodes)))

        if e:
            edge_index = np.concatenate([g.edges for g in graphs], axis=1)
            edge_index += np.array(shift, dtype=np.int64)
        else:
            edge_index = np.zeros((2, 0), dtype=np.int64)

        # The view lists schedulable stages job by job in arrival order, as the nodes go, so
        # one walk over both finds each stage's node.
        stage_node: list[int] = []
        j, nj = 0, len(graphs)
        for st in view.schedulable[:max_stages]:
            while j < nj:
                i = graphs[j].local.get(st)
                if i is not None:
                    break
                j += 1
            else:
                # A stage of a job left out (see _fit): the later ones are left out too.
                break
            stage_node.append(starts[j] + i)
        stage_node_a = np.array(stage_node, dtype=np.int64)
        schedulable = np.zeros(n, dtype=bool)
        schedulable[stage_node_a] = True
        return {
            "x": x,
            "edge_index": edge_index,
            "node_job": node_job,
            "schedulable": schedulable,
            "stage_node": stage_node_a,
            "job_id": np.array(job_ids, dtype=np.int64),
            "stage_index": np.concatenate([g.index for g in graphs]) if graphs else np.zeros(0, dtype=np.int64),
        }


def _fit(entries: list, schedulable: tuple[StageView, ...], max_nodes: int | None, max_edges: int | None) -> list:
    """The jobs a graph of at most ``max_nodes`` nodes and ``max_edges`` edges keeps, in arrival order.

    Jobs with schedulable stages come first, in arrival order, up to the first that does not
    fit, so that the offered stages stay a prefix of ``view.schedulable``; the other jobs then
    fill what room is left, earliest first.
    """
    nodes_left = max_nodes if max_nodes is not None else math.inf
    edges_left = max_edges if max_edges is not None else math.inf
    wanted = {st.job_id for st in schedulable}
    chosen: set[int] = set()
    for first in (True, False):
        for i, (job, g) in enumerate(entries):
            if (job.id in wanted) != first:
                continue
            k, ke = len(g.active), g.edges.shape[1]
            if k > nodes_left or ke > edges_left:
                if first:
                    break
                continue
            chosen.add(i)
            nodes_left -= k
            edges_left -= ke
    return [entry for i, entry in enumerate(entries) if i in chosen]


def graph_arrays(
    view: SparkView,
    *,
    max_stages: int | None = None,
    max_nodes: int | None = None,
    max_edges: int | None = None,
    cache: GraphCache | None = None,
) -> dict[str, np.ndarray]:
    """The graph observation of a decision point, unpadded: for learners that drive ``Simulation``.

    Nodes are the incomplete stages of the jobs in the system, job by job in arrival order and
    by stage index within a job; features as in the module docstring.

    Args:
        view: The decision point's view.
        max_stages: Offer at most this many schedulable stages (the first in view order).
        max_nodes: Keep at most this many nodes, leaving jobs out as the module docstring says.
        max_edges: Likewise for edges.
        cache: Keeps each job's DAG structure between calls (see :class:`GraphCache`); pass the
            same one at every decision point to save rebuilding it.

    Returns:
        ``x`` (n, 5) float32; ``edge_index`` (2, e) int64, parent -> child; ``node_job`` (n,)
        the slot of each node's job (its position in ``job_id``); ``schedulable`` (n,) bool,
        the offered stages; ``stage_node`` (k,) the node of each offered stage, in view order
        (action slot ``i`` is node ``stage_node[i]``); ``job_id`` (jobs,) the ids of the jobs
        in the graph, by slot; ``stage_index`` (n,) each node's stage index within its job.
    """
    return (cache if cache is not None else GraphCache()).build(view, max_stages, max_nodes, max_edges)


def _work(x: np.ndarray, rem: list, dur: list) -> None:
    """Fill the features that depend on the stage's tasks (columns 3 and 4), clipped."""
    r = np.array(rem, dtype=np.float64)
    w = r * np.array(dur, dtype=np.float64)
    w /= _WORK_SCALE
    r /= _TASK_SCALE
    x[:, 3] = np.minimum(r, _CLIP, out=r)
    x[:, 4] = np.minimum(w, _CLIP, out=w)
