"""Schedulers for the gpu family: GSwarm's Ray-like baseline and earliest finish time.

``ray-like`` reproduces the GSwarm baseline in estimation mode, with its tie-order and gang
switch-cost bugs fixed: one pass over the FIFO ready queue, each node taking GPUs if it fits
now. On GSwarm's configs its executions match the fixed baseline's exactly.

``eft`` plans each node where it would finish earliest, counting model switches, reserves
GPUs for a node that has to wait (so a multi-GPU model is not starved by the small nodes
behind it), batches switches, and by default serves the request with the least work left
first. ``eft-fifo`` is the same in ready-queue order. ``eft-guard`` is ``eft`` with a switch
budget: once the GPU-seconds it has spent switching exceed a fraction of the work it has
placed, it defers every switch that would evict a model with ready work (infinite patience)
until the budget recovers. ``eft-batch`` is ``eft`` that switches a model in only once the
waiting the switch would end outweighs the delay it causes every other request. ``eft-window``
is ``eft-batch`` that, while a model needs every GPU, lets only the first requests in order
(a window growing as the square root of the requests waiting) start nodes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from schedlab.families.gpu.model import GpuView, ReadyNode
from schedlab.schedulers.base import Scheduler
from schedlab.sim.actions import Place

__all__ = ["RayLike", "EarliestFinish", "EftGuard", "EftBatch"]

_EPS = 1e-9


class RayLike(Scheduler):
    """GSwarm's baseline: a FIFO ready queue, scanned whole; each node that fits starts now.

    A one-GPU node takes the lowest-numbered idle GPU that holds its model, else the idle GPU
    that became free earliest (ties: lowest number); an empty GPU is not preferred over one
    holding another model. A k-GPU node takes the first k consecutive idle GPUs, sliding one
    GPU at a time from GPU 0. Nodes that do not fit stay in place and later ones overtake
    them; nothing is reserved, so a multi-GPU node waits until its GPUs happen to be idle
    together.
    """

    families = ("gpu",)

    def decide(self, view: GpuView) -> list[Place]:
        gpus = view.gpus
        idle = [g.idle for g in gpus]
        left = sum(idle)
        if not left:
            return []
        held = [g.model for g in gpus]
        free_at = [g.free_at for g in gpus]
        n = len(gpus)
        acts = []
        for node in view.ready:
            k = node.gpus_required
            if k > left:
                continue
            if k == 1:
                pick = -1
                for g in range(n):
                    if idle[g]:
                        if held[g] == node.model:
                            pick = g
                            break
                        if pick < 0 or free_at[g] < free_at[pick]:
                            pick = g
                gang: tuple[int, ...] = (pick,)
            else:
                gang = ()
                run = 0
                for g in range(n):
                    run = run + 1 if idle[g] else 0
                    if run == k:
                        gang = tuple(range(g - k + 1, g + 1))
                        break
                if not gang:
                    continue
            for g in gang:
                idle[g] = False
            left -= k
            acts.append(Place(node.task, gang))
            if not left:
                break
        return acts


class EarliestFinish(Scheduler):
    """Earliest finish time with model affinity, switch batching and gang reservations.

    Ready nodes are taken in priority order: ``order="srpt"`` serves the request with the
    least estimated work left first (GPU-seconds of its unplaced nodes; ties keep FIFO order),
    which shortens the mean request completion time; ``"fifo"`` keeps the ready queue's order.

    Each node is scored on every aligned gang of GPUs (first GPU a multiple of the gang size,
    so gangs never fragment the GPUs into unusable gaps) by when it would finish there,
    counting the switch each GPU needs from the model it holds: starting now on idle GPUs,
    or later, when the gang comes free in the plan built so far this round. The node starts
    now if that finishes no later than waiting and ends before any reservation on those GPUs;
    otherwise it is planned on the gang it would finish earliest on (a reservation), and later
    nodes may use idle GPUs of that gang only if they finish before the reservation starts
    (backfilling). So a node at the head of the order holds its GPUs as they come free instead
    of waiting until they happen to be idle together (ray-like's starvation of multi-GPU
    models), and a node waits for a GPU that holds its model when switching elsewhere would
    finish later.

    Switch batching: a node that would evict a model from idle GPUs while a ready node of that
    model could start on them with no switch is deferred, up to ``patience_s`` after it became
    ready, so the loaded model keeps running and the deferred nodes later switch together.

    With faults, a dead GPU is busy until it comes back (``free_at``); gangs holding a GPU
    that never comes back are left out, and when that leaves no aligned gang of a size, the
    node is scored on every run of consecutive GPUs that will be up.

    Args:
        order: ``"srpt"`` or ``"fifo"``.
        patience_s: Longest a node is deferred for switch batching (s); 0 turns it off.
        reservations: Most nodes planned ahead per decision; the rest are only started when
            they fit now. Bounds the decision time on long queues.

    Raises:
        ValueError: An unknown order, a negative patience or fewer than 1 reservation.
    """

    families = ("gpu",)

    def __init__(self, order: str = "srpt", patience_s: float = 600.0, reservations: int = 32) -> None:
        if order not in ("fifo", "srpt"):
            raise ValueError(f"order must be 'fifo' or 'srpt', got {order!r}")
        if not patience_s >= 0:
            raise ValueError(f"patience_s must be >= 0, got {patience_s!r}")
        if reservations < 1:
            raise ValueError(f"reservations must be at least 1, got {reservations!r}")
        self.order = order
        self.patience_s = patience_s
        self.reservations = reservations

    def decide(self, view: GpuView) -> list[Place]:
        gpus = view.gpus
        idle = [g.idle for g in gpus]
        left = sum(idle)
        if not left or not view.ready:
            return []
        n = len(gpus)
        now = view.now
        windows = _usable_windows(gpus)
        held = [g.model for g in gpus]  # what each GPU holds now
        plan_free = [max(now, g.free_at) for g in gpus]  # when it is free in the plan
        plan_model = list(held)  # what it holds then
        resv = [math.inf] * n  # earliest reserved start on it
        cost_of: dict[tuple[str | None, str], float] = {}
        ranked = self._ranked(view)
        switch_free_only = self._switch_free_only(view, ranked)
        waiting_models: dict[str, int] = {}  # model -> gang size, for ready nodes not yet placed
        for node in ranked:
            waiting_models[node.model] = node.gpus_required

        def cost(loaded: str | None, model: str) -> float:
            c = cost_of.get((loaded, model))
            if c is None:
                c = cost_of[(loaded, model)] = view.switch_cost(loaded, model)
            return c

        def wanted_here(gang: tuple[int, ...], model: str) -> bool:
            # Whether a ready node of a model held on ``gang`` could start now, switch-free.
            for g in gang:
                m = held[g]
                if m is None or m == model or m not in waiting_models:
                    continue
                for w in _windows(n, waiting_models[m]):
                    if g in w and all(idle[x] and held[x] == m for x in w):
                        return True
            return False

        # Gangs of idle GPUs per gang size, each with the time a node there must end by (its
        # earliest reservation), recomputed after each placement or reservation: most nodes
        # of a long queue are dismissed by one lookup and one comparison here.
        free_gangs: dict[int, list[tuple[tuple[int, ...], float]]] = {}

        def idle_gangs(k: int) -> list[tuple[tuple[int, ...], float]]:
            f = free_gangs.get(k)
            if f is None:
                f = free_gangs[k] = [(w, min(resv[g] for g in w)) for w in windows(k) if all(idle[g] for g in w)]
            return f

        acts = []
        planned = 0
        for node in ranked:
            k, m, est = node.gpus_required, node.model, node.estimated_time
            full = planned >= self.reservations
            if full and (k > left or not idle_gangs(k)):
                continue
            now_fin, now_gang, now_setup = math.inf, (), 0.0
            later_fin, later_gang, later_t0 = math.inf, (), math.inf
            stay = m in switch_free_only
            for gang, end_by in idle_gangs(k):
                if now + est > end_by + _EPS:
                    continue
                if stay and any(held[g] not in (None, m) for g in gang):
                    continue
                setup = max(cost(held[g], m) for g in gang)
                fin = now + setup + est
                if fin < now_fin - _EPS and fin <= end_by + _EPS:
                    now_fin, now_gang, now_setup = fin, gang, setup
            if not full:
                for gang in windows(k):
                    if stay and any(plan_model[g] not in (None, m) for g in gang):
                        continue
                    t0 = max(plan_free[g] for g in gang)
                    fin = t0 + max(cost(plan_model[g], m) for g in gang) + est
                    if fin < later_fin - _EPS:
                        later_fin, later_gang, later_t0 = fin, gang, t0
            if now_gang and now_fin <= later_fin + _EPS:
                if now_setup > 0 and now - node.ready_time < self.patience_s and wanted_here(now_gang, m):
                    continue
                acts.append(Place(node.task, now_gang))
                free_gangs.clear()
                for g in now_gang:
                    idle[g] = False
                    held[g] = m
                    if resv[g] == math.inf:  # a backfill ends before the reservation: plan unchanged
                        plan_free[g] = now_fin
                        plan_model[g] = m
                left -= k
                if not left:
                    break
            elif later_gang:
                planned += 1
                free_gangs.clear()
                for g in later_gang:
                    resv[g] = min(resv[g], later_t0)
                    plan_free[g] = later_fin
                    plan_model[g] = m
        return acts

    def _switch_free_only(self, view: GpuView, ranked: Sequence[ReadyNode]) -> frozenset[str]:
        """Models whose nodes may run only on GPUs that hold them or nothing, this decision."""
        return frozenset()

    def _ranked(self, view: GpuView) -> Sequence[ReadyNode]:
        ready = view.ready
        if self.order == "fifo":
            return ready
        work: dict[int, float] = {}
        for node in ready:
            if node.request not in work:
                work[node.request] = view.request(node.request).work_left_s
        # sorted() is stable, so equal work keeps the ready queue's order.
        return sorted(ready, key=lambda nd: work[nd.request])


class EftGuard(EarliestFinish):
    """``eft`` (least work left first) with a switch budget that guards the makespan.

    Execution times do not depend on the schedule, so the makespan is the work over the GPUs
    plus the GPU-seconds lost to switching and idling. ``eft`` shortens requests by
    switching freely (several times ray-like's switches on GSwarm's data), which costs 1.5 to
    3 % of makespan. This scheduler counts, over its own placements, the switch GPU-seconds
    (the gang's setup times its size) and the execution GPU-seconds it has placed; while the
    first exceeds ``slack`` times the second, it is patient without limit: a node that would
    evict a model from idle GPUs where a ready node of that model could start switch-free
    waits (``eft``'s switch batching with ``patience_s`` = inf), so the loaded models drain
    their ready work and the next switches are batched. Under budget it is ``eft`` with
    ``patience_s``. Decisions depend only on the past and the ready queue (no future
    arrivals).

    Args:
        slack: Switch GPU-seconds allowed per placed execution GPU-second (0.003: 0.3 %).
        patience_s: ``eft``'s patience while under budget (s).
        reservations: As in :class:`EarliestFinish`.

    Raises:
        ValueError: A negative slack, or a bad ``eft`` parameter.
    """

    def __init__(self, slack: float = 0.003, patience_s: float = 600.0, reservations: int = 32) -> None:
        super().__init__(order="srpt", patience_s=patience_s, reservations=reservations)
        if not slack >= 0:
            raise ValueError(f"slack must be >= 0, got {slack!r}")
        self.slack = slack
        self.base_patience_s = patience_s
        self._work = 0.0
        self._switch = 0.0

    def reset(self, rng) -> None:
        self._work = 0.0
        self._switch = 0.0

    def get_params(self) -> dict:
        return {"slack": self.slack, "patience_s": self.base_patience_s, "reservations": self.reservations}

    def decide(self, view: GpuView) -> list[Place]:
        self.patience_s = math.inf if self._switch > self.slack * self._work else self.base_patience_s
        acts = super().decide(view)
        if acts:
            ready = {nd.task: nd for nd in view.ready}
            for a in acts:
                nd = ready[a.task]
                k = nd.gpus_required
                self._work += nd.estimated_time * k
                self._switch += view.setup_time(a.workers, nd.model) * k
        return acts


class EftBatch(EarliestFinish):
    """``eft`` (least work left first) that batches model switches by their cost to everyone.

    A switch costs GPU-seconds (the gang's setup times its size) and, when it evicts a model
    that still has ready nodes, the switch back later; while it runs, every request in the
    system loses that share of the cluster. So a model's nodes run only on GPUs that hold it
    or nothing until the waiting its ready nodes have accumulated reaches ``factor`` times
    its cheapest switch's GPU-seconds over the GPUs times the requests waiting: the rule of
    the economic order quantity, where a setup is worth making once the holding cost it ends
    equals it. Waiting is counted in node-seconds since each node became ready or, for a
    model no GPU holds, since the model last started a node (whichever is later), and only
    for nodes ranked ahead of the first node that can start switch-free now, so nodes that
    least-work-left order would not serve soon anyway do not force switches. A 70B model on
    all GPUs is loaded for a batch of its nodes; a small model evicted for a moment is not.
    A switch onto idle GPUs that no ready node wants (they hold nothing, the model itself, or
    a model with no ready node) delays nobody, so such a gang is never held back: idle GPUs
    do not wait for a batch to fill while there is work they could take.
    Decisions depend only on the past and the ready queue (no future arrivals).

    Window (``window`` > 0, ``eft-window``): where a model needs every GPU, the cluster
    alternates between batches of that model and the rest, and every node run before a
    batch delays the whole batch. Then only the first ``ceil(window * sqrt(R))`` requests in
    least-work-left order may start nodes (R: requests with ready nodes), and a held-back
    model is let in only when nothing in the window can start switch-free. A batch closes
    when its requests fill the window, so batches shrink as the square root of the requests
    left, as the economic order quantity has them; nodes of later requests no longer run
    ahead of the batch because their model happens to be loaded. Without such a model the
    window is off and ``factor`` decides.

    Args:
        factor: Holding cost that pays for a switch, in units of its cost to everyone;
            larger means fewer, larger batches (a shorter makespan, a longer mean).
        patience_s: ``eft``'s switch batching while a model is let in (s).
        reservations: As in :class:`EarliestFinish`.
        window: Requests allowed to start nodes per square root of the requests waiting,
            while a model needs every GPU; 0 turns the window off.

    Raises:
        ValueError: A factor that is not positive, a negative window, or a bad ``eft``
            parameter.
    """

    def __init__(
        self, factor: float = 64.0, patience_s: float = 600.0, reservations: int = 32, window: float = 0.0
    ) -> None:
        super().__init__(order="srpt", patience_s=patience_s, reservations=reservations)
        if not factor > 0:
            raise ValueError(f"factor must be > 0, got {factor!r}")
        if not window >= 0:
            raise ValueError(f"window must be >= 0, got {window!r}")
        self.factor = factor
        self.window = window
        self._started: dict[str, float] = {}  # model -> when it last started a node
        self._windowed: bool | None = None  # known at the first decision of a run

    def reset(self, rng) -> None:
        self._started = {}
        self._windowed = None

    def get_params(self) -> dict:
        return {
            "factor": self.factor,
            "patience_s": self.patience_s,
            "reservations": self.reservations,
            "window": self.window,
        }

    def decide(self, view: GpuView) -> list[Place]:
        acts = super().decide(view)
        if acts:
            model = {nd.task: nd.model for nd in view.ready}
            for a in acts:
                self._started[model[a.task]] = view.now
        return acts

    def _switch_free_only(self, view: GpuView, ranked: Sequence[ReadyNode]) -> frozenset[str]:
        # A model is held to switch-free gangs until the waiting of its nodes ranked ahead of
        # the first node that could start switch-free now pays for its cheapest switch.
        if not ranked:
            return frozenset()
        gpus = view.gpus
        n = len(gpus)
        windows = _usable_windows(gpus)
        held = [g.model for g in gpus]
        idle = [g.idle for g in gpus]
        gang_of = {nd.model: nd.gpus_required for nd in ranked}
        on = set(held)
        cost = {m: self._switch_cost(view, held, windows(k), m, gang_of) for m, k in gang_of.items()}
        startable = {
            m for m, k in gang_of.items() if any(all(idle[g] and held[g] in (None, m) for g in w) for w in windows(k))
        }
        waited: dict[str, float] = {}
        now, started = view.now, self._started
        for nd in ranked:
            if nd.model in startable:
                break
            since = nd.ready_time if nd.model in on else max(nd.ready_time, started.get(nd.model, -math.inf))
            waited[nd.model] = waited.get(nd.model, 0.0) + now - since
        requests = len({nd.request for nd in ranked})
        # In a window, the window bounds how far ahead work runs: no waiting pays for a switch.
        windowed = self._windowed
        stay = frozenset(
            m
            for m, c in cost.items()
            if (windowed or waited.get(m, 0.0) < self.factor * c / n * requests)
            and not _unclaimed_gang(windows(gang_of[m]), gpus, m, gang_of)
        )
        # With nothing running, no event may come to let a model in later.
        if not startable and not any(not g.idle and math.isfinite(g.free_at) for g in gpus):
            return frozenset()
        return stay

    def _ranked(self, view: GpuView) -> Sequence[ReadyNode]:
        ranked = super()._ranked(view)
        if self._windowed is None:
            self._windowed = self.window > 0 and any(m.gpus_required >= view.num_gpus for m in view.models)
        if not self._windowed:
            return ranked
        requests = len({nd.request for nd in ranked})
        size = math.ceil(self.window * math.sqrt(requests))
        inside: set[int] = set()
        out = []
        for nd in ranked:
            if nd.request not in inside:
                if len(inside) == size:
                    break
                inside.add(nd.request)
            out.append(nd)
        return out

    @staticmethod
    def _switch_cost(view: GpuView, held: list, gangs, model: str, gang_of: dict[str, int]) -> float:
        """Least GPU-seconds of switching to run ``model`` on one of ``gangs``, and back.

        An empty GPU or one holding the model costs nothing (a first load happens anyway);
        a model evicted while it has ready nodes adds its own switch back.
        """
        k = gang_of[model]
        best = math.inf
        for gang in gangs:
            if all(held[g] in (None, model) for g in gang):
                continue  # switch-free: nothing to price
            setup = 0.0
            evicted = set()
            for g in gang:
                h = held[g]
                if h is None or h == model:
                    continue
                setup = max(setup, view.switch_cost(h, model))
                if h in gang_of:
                    evicted.add(h)
            c = setup * k + sum(view.switch_cost(model, e) * gang_of[e] for e in evicted)
            best = min(best, c)
        return best


def _unclaimed_gang(gangs, gpus: Sequence, model: str, wanted: dict[str, int]) -> bool:
    """Whether ``model`` could switch onto one of ``gangs`` whose GPUs are idle and unwanted.

    Unwanted: each GPU holds nothing, ``model``, or a model with no ready node (not in
    ``wanted``), and at least one holds another model (else the gang is switch-free).
    """
    for gang in gangs:
        evicts = False
        for g in gang:
            h = gpus[g].model
            if not gpus[g].idle or (h is not None and h != model and h in wanted):
                break
            evicts = evicts or h not in (None, model)
        else:
            if evicts:
                return True
    return False


_WINDOWS: dict[tuple[int, int], tuple[tuple[int, ...], ...]] = {}


def _usable_windows(gpus: Sequence) -> Callable[[int], tuple[tuple[int, ...], ...]]:
    """``windows(k)``: the gangs of k GPUs to plan on, given which GPUs will ever be up.

    Every aligned gang while no GPU is dead for good (the plain :func:`_windows`); otherwise the
    aligned gangs of GPUs that are up or coming back, or, if there is none, every run of k
    consecutive such GPUs.
    """
    n = len(gpus)
    usable = [getattr(g, "alive", True) or math.isfinite(g.free_at) for g in gpus]
    if all(usable):
        return lambda k: _windows(n, k)
    cache: dict[int, tuple[tuple[int, ...], ...]] = {}

    def windows(k: int) -> tuple[tuple[int, ...], ...]:
        w = cache.get(k)
        if w is None:
            w = tuple(x for x in _windows(n, k) if all(usable[g] for g in x))
            if not w:
                w = tuple(tuple(range(s, s + k)) for s in range(n - k + 1) if all(usable[s : s + k]))
            cache[k] = w
        return w

    return windows


def _windows(n: int, k: int) -> tuple[tuple[int, ...], ...]:
    """Aligned gangs of k consecutive GPUs out of n (first GPU a multiple of k), by first GPU."""
    w = _WINDOWS.get((n, k))
    if w is None:
        w = _WINDOWS[(n, k)] = tuple(tuple(range(s, s + k)) for s in range(0, n - k + 1, k))
    return w
