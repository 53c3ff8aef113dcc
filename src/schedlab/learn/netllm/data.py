"""Decision steps as tokens, and windows of steps (NumPy only: no torch here).

A decision step (one :class:`~schedlab.learn.decima.features.Decision` with its action) becomes
these tokens, in this order::

    RTG  EXEC  STAGE_1 .. STAGE_m  ACT

- ``RTG``: the return-to-go, scaled (``rtg / rtg_scale``; minus the job-seconds left).
- ``STAGE_i``: one offered stage: Decima's five features, the frozen Decima encoder's node
  embedding, its job's summary and the global summary (16 each), and its job's executors over
  the cluster size (:data:`STAGE_DIM` values); with ``job_features``, also :data:`JOB_DIM`
  numbers about its job and its place in it (:func:`job_numbers`: the job's remaining work,
  its rank by remaining work and its executors in equal shares among the jobs, whether the
  stage waits on a parent and whether it is its job's next stage), which the frozen
  embeddings carry only implicitly. At most ``max_stages`` of them: when more are
  offered, the ones the frozen Decima scores highest, and at training time always the pool's
  chosen one and the one acted on (each replaces the lowest-scored of the kept ones); kept
  stages stay in slot order (job arrival, stage index), so a token's position does not tell
  whether it was forced in.
- ``EXEC``: the executors at this decision: the global summary and five numbers (free
  executors, whether passing is allowed, the cluster size, the offered stages, the jobs).
- ``ACT``: the chosen stage's features and the chosen limit (limit, executors assigned, pass).
  In a driven episode (DAgger, docs/pool.md) this is what the driver did, which made the
  steps after it, while the targets are the labels.

The stage head scores the ``STAGE`` tokens' outputs (each with the step's last STAGE output,
which has seen them all); the executor head reads the chosen STAGE token's output with the
last one and, with ``limit_features``, each count measured against the step's
:func:`limit_context`. The EXEC token comes first, so every STAGE token has seen it: one
backbone pass per decision serves both heads. A window is ``context`` consecutive steps of
one episode (never two), whose last step has no ``ACT`` token (at inference the action is
not known yet). When its tokens pass ``max_tokens``, whole steps are dropped from its start,
and every target is computed from the kept tokens, so it points at its own token
(:func:`build_window`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from schedlab.learn.decima.features import Decision, limit_bounds

__all__ = [
    "STAGE_DIM",
    "JOB_DIM",
    "LIMIT_DIM",
    "EXEC_DIM",
    "FEAT_DIM",
    "RTG",
    "STAGE",
    "EXEC",
    "ACT",
    "StepTokens",
    "EpisodeSteps",
    "Window",
    "stage_dim",
    "stage_tokens",
    "job_numbers",
    "exec_features",
    "act_extra",
    "limit_context",
    "soft_targets",
    "encode_episode",
    "encode_pool_episode",
    "build_window",
    "collate_windows",
]

EMBED = 16
STAGE_DIM = 5 + 3 * EMBED + 1  # x, node, job, global embeddings, the job's base / executors
JOB_DIM = 6  # job_numbers
LIMIT_DIM = 6  # the count head's numbers per count (model.limit_numbers)
EXEC_DIM = EMBED + 5
FEAT_DIM = max(STAGE_DIM + JOB_DIM + 3, EXEC_DIM)
RTG, STAGE, EXEC, ACT = 0, 1, 2, 3


def stage_dim(job_features: bool) -> int:
    """Values per STAGE token (an ACT token has 3 more)."""
    return STAGE_DIM + (JOB_DIM if job_features else 0)


@dataclass
class StepTokens:
    """One decision's stage tokens: which offered slots are kept and their features."""

    slots: np.ndarray  # (m,) offered-stage slots kept, ascending
    feats: np.ndarray  # (m, stage_dim)
    jobs: np.ndarray  # (m,) job slot of each kept stage
    forced: bool = False  # the chosen stage was not among the top-scored and was put in


def stage_tokens(
    net, d: Decision, max_stages: int, chosen: int | Sequence[int] | None = None, job_features: bool = False
) -> StepTokens:
    """The stage tokens of ``d`` through the frozen Decima ``net`` (a ``NumpyDecima``).

    Args:
        net: The frozen encoder.
        d: The decision point.
        max_stages: The cap on stage tokens.
        chosen: The slot(s) the pool's scheduler chose and the driver acted on (training):
            always kept.
        job_features: Append :func:`job_numbers` of each stage's job.
    """
    e, jobs, glob = net.encode(d)
    k = len(d.stage_node)
    forced = False
    if k > max_stages:
        p = net.stage_probs(d, e, jobs, glob)
        top = np.argsort(-p, kind="stable")[:max_stages]
        keep = [] if chosen is None else [int(c) for c in np.atleast_1d(chosen)]
        for i, c in enumerate(dict.fromkeys(keep)):
            if c not in top:
                # Evict the lowest-scored kept slot that is not itself one to keep.
                free = [j for j in range(max_stages - 1, -1, -1) if int(top[j]) not in keep]
                if free:
                    top[free[0]] = c
                    forced = forced or i == 0
        slots = np.sort(top)
    else:
        slots = np.arange(k)
    sn = d.stage_node[slots]
    job = d.node_job[sn]
    n = float(d.num_executors)
    parts = [d.x[sn], e[sn], jobs[job], np.broadcast_to(glob, (len(sn), len(glob))), (d.base[job] / n)[:, None]]
    if job_features:
        parts.append(job_numbers(d)[sn])
    feats = np.concatenate(parts, 1).astype(np.float32)
    return StepTokens(slots.astype(np.int64), feats, job.astype(np.int64), forced)


def job_numbers(d: Decision) -> np.ndarray:
    """(nodes, :data:`JOB_DIM`) numbers per node of ``d``: four about its job, two about its place.

    - ``log1p`` of its job's remaining work (the sum of the job's stages' work feature);
    - the job's rank by remaining work among the jobs with an offered stage, least first,
      over their count (0 for the least; ties by arrival); 1 for a job with no offered stage;
    - 1 if its job is that least job, else 0;
    - its job's executors in equal shares (``base * jobs / executors``), at most 4;
    - 1 if a parent of the stage is unfinished (it waits on it), else 0;
    - 1 if it is its job's next stage: the first offered stage of the job (in stage order)
      that waits on no parent, else the job's first offered stage.

    Shortest-remaining-work heuristics order jobs by the first two, cap them by the fourth
    and pick a job's stage by the last two; a stage token would otherwise have to compare
    them with the other tokens through attention.
    """
    nj, n = len(d.base), len(d.x)
    work = np.bincount(d.node_job, weights=d.x[:, 4].astype(np.float64), minlength=nj)
    offered = np.unique(d.node_job[d.stage_node])
    rank = np.ones(nj)
    order = offered[np.argsort(work[offered], kind="stable")]
    rank[order] = np.arange(len(order)) / len(order)
    least = np.zeros(nj)
    least[order[:1]] = 1.0
    shares = np.minimum(d.base * nj / float(d.num_executors), 4.0)
    waits = np.zeros(n)
    waits[d.dst] = 1.0
    nxt = np.zeros(n)
    # Offered stages are in (job, stage) order: the first ready one of each job, else its first.
    jobs = d.node_job[d.stage_node]
    ready = waits[d.stage_node] == 0
    for j in offered:
        mine = d.stage_node[jobs == j]
        ok = mine[ready[jobs == j]]
        nxt[ok[0] if len(ok) else mine[0]] = 1.0
    per_job = np.stack([np.log1p(work), rank, least, shares], 1)[d.node_job]
    return np.concatenate([per_job, waits[:, None], nxt[:, None]], 1).astype(np.float32)


def exec_features(d: Decision, tok: StepTokens, max_stages: int) -> np.ndarray:
    """The EXEC token's input: the global summary and five numbers about the executors."""
    n = float(d.num_executors)
    z = tok.feats[0, 5 + 2 * EMBED : 5 + 3 * EMBED]
    extra = [d.committable / n, float(d.can_pass), n / 100.0, len(d.stage_node) / max_stages, len(d.base) / n]
    return np.concatenate([z, np.array(extra, dtype=np.float32)]).astype(np.float32)


def limit_context(d: Decision, job: int) -> np.ndarray:
    """What an executor count for ``job`` at ``d`` is measured against.

    Its executors, the free executors and the jobs in the system, read by the count head's
    ``limit_features`` (``model.limit_numbers``).
    """
    return np.array([d.base[job], d.committable, len(d.base)], dtype=np.int64)


def act_extra(limit: int, base: int, n: int) -> np.ndarray:
    """The action token's own numbers: the limit, the executors it assigns, whether it passes."""
    return np.array([limit / n, max(0, limit - base) / n, float(limit <= base)], dtype=np.float32)


@dataclass
class EpisodeSteps:
    """One episode's steps as token material (see the module docstring).

    Attributes:
        offsets: (T + 1,) each step's first row in ``feats``.
        feats: (rows, stage_dim) stage-token features of every step.
        target: (T,) the chosen stage's index among its step's stage tokens.
        limit, lo, hi: (T,) the chosen limit (1-based) and its valid bounds.
        exec_feat: (T, EXEC_DIM); act_extra: (T, 3).
        rtg: (T,) the raw return-to-go (minus job-seconds left).
        num_executors: (T,) cluster size per step.
        limit_ctx: (T, 3) what a count means at the step (:func:`limit_context`).
        acted: (T,) the index of the stage acted on, where a driver acted instead of the
            labeller (DAgger); None: the chosen one (``target``). ``act_extra`` is then of the
            acted limit.
        soft: (rows,) per stage token, the teacher's probability of that stage
            (:func:`soft_targets`; one-hot on ``target`` where it weighed no options).
        overrode: (T,) the teacher overrode its base here: its choice is not the first
            option it weighed (``rollout``'s base action); False where it weighed none.
    """

    offsets: np.ndarray
    feats: np.ndarray
    target: np.ndarray
    limit: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    exec_feat: np.ndarray
    act_extra: np.ndarray
    rtg: np.ndarray
    num_executors: np.ndarray
    limit_ctx: np.ndarray
    acted: np.ndarray | None = None
    soft: np.ndarray | None = None
    overrode: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.target)

    def stages(self, t: int) -> np.ndarray:
        return self.feats[self.offsets[t] : self.offsets[t + 1]]


def soft_targets(slots: np.ndarray, target: int, options: np.ndarray, temperature: float) -> np.ndarray:
    """The teacher's probability of each kept stage, from the costs of the options it weighed.

    Args:
        slots: (m,) the offered-stage slots kept as tokens.
        target: The index among them of the stage the teacher chose.
        options: (k, 3) rows (slot, limit, cost) the teacher weighed (``rollout``'s
            time in the system over its horizon); (0, 3): one-hot on ``target``.
        temperature: In relative cost: a stage whose best option costs ``temperature``
            more (as a fraction of the best) gets ``1/e`` of the chosen stage's weight.

    A stage costs its cheapest option, and the chosen stage the least of them all: the
    teacher may keep its base's action over a slightly cheaper one, and no stage is to be
    more likely than its choice. Stages it did not weigh get nothing; options on stages not
    kept as tokens drop out.
    """
    out = np.zeros(len(slots), dtype=np.float32)
    cost = np.full(len(slots), np.inf)
    if len(options):
        idx = np.searchsorted(slots, options[:, 0].astype(np.int64))
        ok = (idx < len(slots)) & (slots[np.minimum(idx, len(slots) - 1)] == options[:, 0])
        np.minimum.at(cost, idx[ok], options[ok, 2])
    if not np.isfinite(cost).any():
        out[target] = 1.0
        return out
    best = float(np.min(cost))
    cost[target] = best
    w = np.exp(-(cost - best) / (max(abs(best), 1e-9) * temperature))
    return (w / w.sum()).astype(np.float32)


def encode_episode(
    net,
    decisions: Sequence[Decision],
    actions: np.ndarray,
    rtg: np.ndarray,
    max_stages: int,
    pass_limit: bool = True,
    job_features: bool = False,
    acted: np.ndarray | None = None,
    options: Sequence[np.ndarray] | None = None,
    temperature: float = 0.01,
) -> tuple[EpisodeSteps, int]:
    """An episode's steps as :class:`EpisodeSteps`, and how many chosen stages were forced into the cap.

    ``acted`` (D, 2): the (slot, limit) a driver acted on at each step, where the episode was
    driven (its action tokens); ``actions`` are then the labels (its targets). ``options``:
    per step, the (k, 3) options the labeller weighed with their costs, made into the soft
    stage targets by :func:`soft_targets` at ``temperature``.
    """
    rows, offs, target, lim, lo, hi, ex, ac, ne, lc, did = [], [0], [], [], [], [], [], [], [], [], []
    soft, over = [], []
    none = np.zeros((0, 3))
    forced = 0
    actions = np.asarray(actions, dtype=np.int64)
    done = actions if acted is None else np.asarray(acted, dtype=np.int64)
    for t, (d, (slot, limit), (slot_a, limit_a)) in enumerate(zip(decisions, actions, done)):
        tok = stage_tokens(net, d, max_stages, (int(slot), int(slot_a)), job_features)
        i = int(np.searchsorted(tok.slots, slot))
        opts = none if options is None else options[t]
        soft.append(soft_targets(tok.slots, i, opts, temperature))
        over.append(len(opts) > 0 and (int(opts[0, 0]), int(opts[0, 1])) != (int(slot), int(limit)))
        forced += int(tok.forced)
        job = int(tok.jobs[i])
        a, b = limit_bounds(int(d.base[job]), d.committable, d.num_executors, pass_limit and d.can_pass)
        limit = int(np.clip(limit, a, b))
        rows.append(tok.feats)
        offs.append(offs[-1] + len(tok.feats))
        target.append(i)
        lim.append(limit)
        lo.append(a)
        hi.append(b)
        ex.append(exec_features(d, tok, max_stages))
        k = int(np.searchsorted(tok.slots, slot_a))
        if k >= len(tok.slots) or tok.slots[k] != slot_a:  # a cap too small to keep both
            k, limit_a = i, limit
        job_a = int(tok.jobs[k])
        a_a, b_a = limit_bounds(int(d.base[job_a]), d.committable, d.num_executors, pass_limit and d.can_pass)
        did.append(k)
        ac.append(act_extra(int(np.clip(limit_a, a_a, b_a)), int(d.base[job_a]), d.num_executors))
        ne.append(d.num_executors)
        lc.append(limit_context(d, job))
    z = np.zeros
    return (
        EpisodeSteps(
            offsets=np.array(offs, dtype=np.int64),
            feats=np.concatenate(rows) if rows else z((0, stage_dim(job_features)), np.float32),
            target=np.array(target, dtype=np.int64),
            limit=np.array(lim, dtype=np.int64),
            lo=np.array(lo, dtype=np.int64),
            hi=np.array(hi, dtype=np.int64),
            exec_feat=np.array(ex, dtype=np.float32).reshape(-1, EXEC_DIM),
            act_extra=np.array(ac, dtype=np.float32).reshape(-1, 3),
            rtg=np.asarray(rtg, dtype=np.float64),
            num_executors=np.array(ne, dtype=np.int64),
            limit_ctx=np.array(lc, dtype=np.int64).reshape(-1, 3),
            acted=None if acted is None else np.array(did, dtype=np.int64),
            soft=np.concatenate(soft) if soft else z(0, np.float32),
            overrode=np.array(over, dtype=bool),
        ),
        forced,
    )


def encode_pool_episode(
    net, ep, max_stages: int, job_features: bool = False, temperature: float = 0.01
) -> tuple[EpisodeSteps, int]:
    """:func:`encode_episode` of a pool's episode (``read_pool(...).episodes()``).

    Its labels, what its driver acted on (DAgger) and the options its labeller weighed.
    """
    return encode_episode(
        net,
        ep.decisions,
        ep.actions,
        ep.return_to_go,
        max_stages,
        job_features=job_features,
        acted=ep.acted,
        options=ep.options,
        temperature=temperature,
    )


@dataclass
class Window:
    """The tokens of consecutive steps of one episode, and each step's targets.

    Attributes:
        feat: (L, FEAT_DIM) token inputs (zero-padded per type).
        types: (L,) RTG / STAGE / EXEC / ACT.
        step: (L,) the episode step each token belongs to.
        timestep: (L,) that step's index in the episode.
        stage_pos: (S, max_stages) positions of each step's stage tokens (-1 past its count).
        target: (S,) the chosen stage's index among them.
        soft: (S, max_stages) the teacher's probability of each of them (EpisodeSteps.soft).
        overrode: (S,) the teacher overrode its base at the step (EpisodeSteps.overrode).
        limit, lo, hi: (S,) chosen limit and its bounds; num_executors: (S,).
        limit_ctx: (S, 3) :func:`limit_context` of each step.
        start: the first step kept.
        episode: which episode it comes from (set by the trainer's sampler; -1 if unknown).
    """

    feat: np.ndarray
    types: np.ndarray
    step: np.ndarray
    timestep: np.ndarray
    stage_pos: np.ndarray
    target: np.ndarray
    soft: np.ndarray
    overrode: np.ndarray
    limit: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    num_executors: np.ndarray
    limit_ctx: np.ndarray
    start: int
    episode: int = -1


def step_token_count(ep: EpisodeSteps, t: int, with_act: bool) -> int:
    return 2 + int(ep.offsets[t + 1] - ep.offsets[t]) + int(with_act)


def build_window(
    ep: EpisodeSteps,
    end: int,
    context: int,
    max_tokens: int,
    max_stages: int,
    rtg_scale: float,
    use_rtg: bool = True,
    start: int | None = None,
) -> Window:
    """The window of steps ``start .. end`` of ``ep`` (default ``end - context + 1``, at least 0).

    Steps are dropped from the start until the tokens fit ``max_tokens`` (the last step keeps
    no ``ACT`` token); every position in the result refers to the kept tokens.

    Raises:
        ValueError: ``end`` outside the episode, or one step alone does not fit.
    """
    if not 0 <= end < len(ep):
        raise ValueError(f"step {end} is outside the episode (0 .. {len(ep) - 1})")
    s = max(0, end - context + 1) if start is None else int(start)
    if not 0 <= s <= end:
        raise ValueError(f"window start {s} is outside 0 .. {end}")
    counts = [step_token_count(ep, t, t < end) for t in range(s, end + 1)]
    total = sum(counts)
    while total > max_tokens and s < end:
        total -= counts[0]
        counts.pop(0)
        s += 1
    if total > max_tokens:
        raise ValueError(f"one step needs {total} tokens, more than max_tokens {max_tokens}")
    feat = np.zeros((total, FEAT_DIM), dtype=np.float32)
    types = np.zeros(total, dtype=np.int64)
    step = np.zeros(total, dtype=np.int64)
    n_steps = end - s + 1
    stage_pos = np.full((n_steps, max_stages), -1, dtype=np.int64)
    soft = np.zeros((n_steps, max_stages), dtype=np.float32)
    sd = ep.feats.shape[1]
    p = 0
    for j, t in enumerate(range(s, end + 1)):
        feat[p, 0] = (ep.rtg[t] / rtg_scale) if use_rtg else 0.0
        types[p] = RTG
        step[p] = t
        feat[p + 1, :EXEC_DIM] = ep.exec_feat[t]
        types[p + 1] = EXEC
        step[p + 1] = t
        p += 2
        st = ep.stages(t)
        m = len(st)
        feat[p : p + m, :sd] = st
        types[p : p + m] = STAGE
        step[p : p + m] = t
        stage_pos[j, :m] = np.arange(p, p + m)
        if ep.soft is None:
            soft[j, ep.target[t]] = 1.0
        else:
            soft[j, :m] = ep.soft[ep.offsets[t] : ep.offsets[t + 1]]
        p += m
        if t < end:
            feat[p, :sd] = st[ep.target[t] if ep.acted is None else ep.acted[t]]
            feat[p, sd : sd + 3] = ep.act_extra[t]
            types[p] = ACT
            step[p] = t
            p += 1
    sl = slice(s, end + 1)
    return Window(
        feat=feat,
        types=types,
        step=step,
        timestep=step.copy(),
        stage_pos=stage_pos,
        target=ep.target[sl].copy(),
        soft=soft,
        overrode=ep.overrode[sl].copy() if ep.overrode is not None else np.zeros(n_steps, dtype=bool),
        limit=ep.limit[sl].copy(),
        lo=ep.lo[sl].copy(),
        hi=ep.hi[sl].copy(),
        num_executors=ep.num_executors[sl].copy(),
        limit_ctx=ep.limit_ctx[sl].copy(),
        start=s,
    )


def collate_windows(windows: Sequence[Window]) -> dict[str, np.ndarray]:
    """Windows padded on the right into one batch (``mask`` 0 on padding); step targets flattened.

    ``stage_pos`` becomes positions in the flattened (B * L) token rows.
    """
    if not windows:
        raise ValueError("no windows to collate")
    b = len(windows)
    length = max(len(w.types) for w in windows)
    feat = np.zeros((b, length, FEAT_DIM), dtype=np.float32)
    types = np.zeros((b, length), dtype=np.int64)
    ts = np.zeros((b, length), dtype=np.int64)
    mask = np.zeros((b, length), dtype=np.int64)
    sp, tg, sf, ov, lim, lo, hi, lc = [], [], [], [], [], [], [], []
    for i, w in enumerate(windows):
        n = len(w.types)
        feat[i, :n] = w.feat
        types[i, :n] = w.types
        ts[i, :n] = w.timestep
        mask[i, :n] = 1
        off = i * length
        sp.append(np.where(w.stage_pos >= 0, w.stage_pos + off, -1))
        tg.append(w.target)
        sf.append(w.soft)
        ov.append(w.overrode)
        lim.append(w.limit)
        lo.append(w.lo)
        hi.append(w.hi)
        lc.append(w.limit_ctx)
    return {
        "feat": feat,
        "types": types,
        "timestep": ts,
        "mask": mask,
        "stage_pos": np.concatenate(sp),
        "target": np.concatenate(tg),
        "soft": np.concatenate(sf),
        "overrode": np.concatenate(ov),
        "limit": np.concatenate(lim),
        "lo": np.concatenate(lo),
        "hi": np.concatenate(hi),
        "limit_ctx": np.concatenate(lc),
    }
