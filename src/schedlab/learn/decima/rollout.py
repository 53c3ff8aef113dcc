"""Episodes for Decima's learner: run by the policy or by a heuristic, recorded decision by decision.

:func:`run_episode` runs one episode of a spark scenario in this process and returns plain
arrays (they cross process boundaries cheaply): every decision point as a
:class:`~schedlab.learn.decima.features.Decision`, the action taken, its log-probability, the
decision times, the jobs' arrivals and completions, and where the time went. The learner turns
them into discounted returns with :func:`discounted_returns` and into advantages against the
other rollouts of the same episode seed with :func:`baselines`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["run_episode", "discounted_returns", "baselines", "heuristic_action", "init_worker"]


def init_worker() -> None:
    """Per worker process: one thread for PyTorch and NumPy's BLAS, as the workers share the cores."""
    import os

    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # inference needs NumPy only
        pass


def heuristic_action(view, d, actions, pass_limit: bool = True) -> tuple[int, int] | None:
    """A heuristic's answer as (stage slot, job-level limit), or None when it cannot be expressed.

    The heuristic's ``Assign(job, stage, limit)`` becomes the stage's slot among the offered
    stages and the job-level limit ``base + limit`` (clipped to the valid ones), so that
    :func:`~schedlab.learn.decima.features.to_assign` gives the same action back. Assigning
    nothing becomes the first offered stage with its job's base as the limit (the policy's
    way to end the round), when ``pass_limit`` and passing is allowed there
    (``Decision.can_pass``); otherwise None.
    """
    from schedlab.learn.decima.features import limit_bounds

    if not actions:
        if not (pass_limit and d.can_pass):
            return None
        job = int(d.node_job[d.stage_node[0]])
        base = int(d.base[job])
        return (0, base) if base >= 1 and base <= d.num_executors else None
    a = actions[0]
    slot = next((i for i, st in enumerate(view.schedulable) if st.job_id == a.job and st.index == a.stage), None)
    if slot is None:
        return None
    job = int(d.node_job[d.stage_node[slot]])
    base = int(d.base[job])
    lo, hi = limit_bounds(base, d.committable, d.num_executors, pass_limit and d.can_pass)
    return slot, max(lo, min(hi, base + int(a.limit)))


def run_episode(
    scenario_data: Mapping[str, Any],
    seed: int,
    *,
    weights: Mapping[str, np.ndarray] | None = None,
    arch: Mapping[str, Any] | None = None,
    heuristic: str | None = None,
    actor: str | None = None,
    sample_seed: int | None = None,
    time_limit_ms: float = math.inf,
    greedy: bool = False,
) -> dict[str, Any]:
    """Run one episode and record every decision.

    Args:
        scenario_data: The scenario as a mapping (``model_dump(mode="json")``).
        seed: The episode seed (workload and durations).
        weights: The policy's weights; with them the policy samples every action.
        arch: The architecture of ``weights``.
        heuristic: A registered spark scheduler whose decisions are recorded as (slot,
            limit) (behaviour cloning); those it cannot express are not recorded. Without
            ``weights`` it also acts; with them the policy acts and the heuristic only labels
            the decision points the policy reaches (DAgger).
        actor: A spark scheduler (name, ``module:Class`` or policy folder) that acts while
            ``heuristic`` only labels (DAgger with any student). The actor gets the run's
            scheduler stream, so the episode is exactly its plain run; the labeller draws
            from a stream of its own.
        sample_seed: Seeds the policy's samples (a different one per rollout of a seed).
        time_limit_ms: Stop at the first decision point past this simulated time.
        greedy: The policy takes its most probable actions instead of sampling.

    Returns:
        ``decisions``, ``actions`` (D, 2) int64, ``logp`` (D,) float64, ``times_ms`` (D,),
        ``arrival_ms`` and ``completion_ms`` (jobs,; NaN: not completed), ``end_ms`` (when the
        episode stopped), ``avg_jct_s`` (NaN when cut short), ``skipped`` (decision points
        whose heuristic answer the encoding cannot express, left unrecorded) and ``timing``
        (seconds spent simulating, observing and choosing); with an ``actor``, ``acted``
        (D, 2): what the actor did at each recorded decision (its label where the encoding
        cannot express it), and ``agree``: the decisions where that is the label; where the
        heuristic weighs alternatives (``last_options``, as ``rollout`` does), ``options``:
        per recorded decision, the (k, 3) rows (slot, limit, cost) it weighed.

    Raises:
        ValueError: Neither ``weights`` nor ``heuristic``; an ``actor`` without a
            ``heuristic`` to label, or with ``weights``.
    """
    from schedlab.families.spark.graph import GraphCache
    from schedlab.learn.decima.features import observe, to_assign
    from schedlab.learn.decima.network import ARCHITECTURE, NumpyDecima
    from schedlab.learn.decima.scheduler import choose
    from schedlab.scenarios import parse_scenario
    from schedlab.sim.simulation import Simulation

    if weights is None and heuristic is None:
        raise ValueError("give weights (the policy), a heuristic, or both (the heuristic labels)")
    if actor is not None and (heuristic is None or weights is not None):
        raise ValueError("an actor needs a heuristic to label its decisions, and no weights")
    clock = time.perf_counter
    t0 = clock()
    scenario = parse_scenario(dict(scenario_data))
    sim = Simulation(scenario, seed)
    sched = actor_sched = None
    if heuristic is not None:
        from schedlab.schedulers import make

        sched = make(heuristic, "spark")
        if actor is None:
            sched.reset(sim.scheduler_rng)
        else:
            actor_sched = make(actor, "spark")
            actor_sched.reset(sim.scheduler_rng)
            sched.reset(np.random.default_rng([int(seed), 1]))
    net = NumpyDecima(weights, arch or ARCHITECTURE) if weights is not None else None
    pass_limit = bool((arch or ARCHITECTURE).get("pass_limit", True))
    rng = np.random.default_rng(sample_seed)
    cache = GraphCache()
    decisions, actions, logps, times, acted, options = [], [], [], [], [], []
    skipped = agree = 0
    t_obs = t_choose = 0.0
    while not sim.done:
        view = sim.observe()
        now = view.now_ms
        if now > time_limit_ms:
            break
        if not view.schedulable:
            # A heuristic that acts is still asked, as in a plain run: a stateful one (random)
            # must see every decision point to make the run's decisions.
            acting = actor_sched if actor_sched is not None else sched
            sim.act(list(acting.decide(view)) if net is None else [])
            continue
        a = clock()
        d = observe(view, cache)
        b = clock()
        if net is not None:
            slot, limit, lp = choose(net, d, None if greedy else rng)
            assign = to_assign(view, d, slot, limit)
            act = [assign] if assign is not None else []
            rec = (slot, limit)
            if sched is not None:
                rec = heuristic_action(view, d, list(sched.decide(view)), pass_limit)
        elif actor_sched is not None:
            act = list(actor_sched.decide(view))
            rec = heuristic_action(view, d, list(sched.decide(view)), pass_limit)
            weighed = _weighed(sched, view, d, pass_limit)
            did = heuristic_action(view, d, act, pass_limit) or rec
            agree += rec is not None and rec == did
            lp = 0.0
        else:
            act = list(sched.decide(view))
            rec = heuristic_action(view, d, act, pass_limit)
            weighed = _weighed(sched, view, d, pass_limit)
            lp = 0.0
        c = clock()
        t_obs += b - a
        t_choose += c - b
        if rec is not None:
            decisions.append(d)
            actions.append(rec)
            logps.append(lp)
            times.append(now)
            if actor_sched is not None:
                acted.append(did)
            if net is None:
                options.append(weighed)
        else:
            skipped += 1
        sim.act(act)
    end = sim.model.engine.now if sim.done else min(time_limit_ms, sim.model.engine.now)
    jobs = sim.model.jobs
    arrival = np.array([j.arrival for j in jobs], dtype=np.float64)
    completion = np.array([math.nan if j.completion is None else j.completion for j in jobs], dtype=np.float64)
    done = sim.done and not np.isnan(completion).any()
    total = clock() - t0
    ep = {
        "decisions": decisions,
        "actions": np.array(actions, dtype=np.int64).reshape(-1, 2),
        "logp": np.array(logps, dtype=np.float64),
        "times_ms": np.array(times, dtype=np.float64),
        "arrival_ms": arrival,
        "completion_ms": completion,
        "end_ms": float(end),
        "avg_jct_s": float(np.mean(completion - arrival) / 1000.0) if done else math.nan,
        "skipped": skipped,
        "timing": {"total_s": total, "observe_s": t_obs, "choose_s": t_choose, "simulate_s": total - t_obs - t_choose},
    }
    if actor_sched is not None:
        ep["acted"] = np.array(acted, dtype=np.int64).reshape(-1, 2)
        ep["agree"] = agree
    if any(len(o) for o in options):
        ep["options"] = options
    return ep


def _weighed(sched, view, d, pass_limit: bool) -> np.ndarray:
    """The options ``sched`` weighed at its last decision, as rows (slot, limit, cost).

    A scheduler that compares alternatives (``rollout``) names them, each with its cost, in
    ``last_options``; those the encoding cannot express are left out. (0, 3) for any other.
    """
    rows = []
    for option, cost in getattr(sched, "last_options", None) or ():
        enc = heuristic_action(view, d, list(option), pass_limit)
        if enc is not None:
            rows.append((enc[0], enc[1], float(cost)))
    return np.array(rows, dtype=np.float64).reshape(-1, 3)


def discounted_returns(
    times_ms: np.ndarray, arrival_ms: np.ndarray, completion_ms: np.ndarray, end_ms: float, beta_per_s: float
) -> np.ndarray:
    """Return-to-go at each decision: minus the jobs in the system integrated from then on, discounted.

    ``R(t) = -integral from t to end of n(s) exp(-beta (s - t)) ds`` (s in seconds), where
    ``n`` counts the jobs arrived and not completed; with ``beta = 0`` the sum of these is the
    total job completion time left. Computed backwards over the merged event times, so no
    large exponential is ever formed.
    """
    arr = np.sort(arrival_ms[arrival_ms <= end_ms])
    comp = completion_ms[~np.isnan(completion_ms)]
    comp = np.sort(comp[comp <= end_ms])
    grid = np.unique(np.concatenate([arr, comp, times_ms, [end_ms]]))
    grid = grid[grid <= end_ms]
    n = np.searchsorted(arr, grid, side="right") - np.searchsorted(comp, grid, side="right")
    dt = np.diff(grid) / 1000.0
    if beta_per_s > 0:
        decay = np.exp(-beta_per_s * dt)
        piece = n[:-1] * (1.0 - decay) / beta_per_s
    else:
        decay = np.ones_like(dt)
        piece = n[:-1] * dt
    out = np.zeros(len(grid))
    acc = 0.0
    for i in range(len(dt) - 1, -1, -1):
        acc = piece[i] + decay[i] * acc
        out[i] = acc
    return -out[np.searchsorted(grid, times_ms)]


def baselines(times: Sequence[np.ndarray], returns: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Each rollout's baseline: the mean return-to-go of the other rollouts at the same times.

    The other rollouts' returns are interpolated linearly in time (0 after a rollout's last
    decision: nothing is left to pay). With one rollout the baseline is its own mean.
    """
    k = len(times)
    if k == 1:
        return [np.full(len(returns[0]), float(np.mean(returns[0])) if len(returns[0]) else 0.0)]
    out = []
    for i in range(k):
        acc = np.zeros(len(times[i]))
        for j in range(k):
            if j != i and len(times[j]):
                acc += np.interp(times[i], times[j], returns[j], right=0.0)
        out.append(acc / (k - 1))
    return out
