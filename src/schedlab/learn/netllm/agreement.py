"""Where a netllm policy parts from its teacher: agreement on a pool's decisions, by kind.

A ``rollout`` pool records, per decision, the options the teacher weighed (its base's action
first) and its choice. Each decision is one of three kinds: the teacher weighed a single
option (``single``), kept its base's action over the alternatives (``kept``), or overrode
its base (``overrode``). The policy predicts every decision teacher-forced: the pool's
episode is cut into consecutive windows of the policy's context, each step seeing the
teacher's actions before it in its window. On a pool the policy was not trained on, the
agreement per kind says whether it learned the teacher's corrections or only its base.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = ["KINDS", "teacher_agreement"]

#: The kinds of decision, in report order.
KINDS = ("overrode", "kept", "single")


def teacher_agreement(policy: Any, episodes: Iterable[Any]) -> dict[str, dict[str, float]]:
    """Stage and limit agreement of ``policy`` with the pool's labels, per kind of decision.

    Args:
        policy: A :class:`~schedlab.learn.netllm.scheduler.NetLLMScheduler`.
        episodes: A pool's episodes (``read_pool(path).episodes()``); those without the
            teacher's options count every decision as ``single``.

    Returns:
        Per kind in :data:`KINDS` (and ``"all"``): ``decisions``, ``stage`` (the share whose
        stage the policy picks, greedy) and ``limit`` (the share whose limit it picks, given
        the teacher's stage).
    """
    import torch

    from schedlab.learn.netllm.data import build_window, collate_windows, encode_pool_episode
    from schedlab.learn.netllm.model import to_torch

    net, s = policy._net, policy.settings
    context, max_tokens, max_stages = int(s["context"]), int(s["max_tokens"]), int(s["max_stages"])
    hits = {k: np.zeros(3, dtype=np.int64) for k in (*KINDS, "all")}  # decisions, stage, limit
    for ep in episodes:
        if not len(ep.decisions):
            continue
        steps, _ = encode_pool_episode(policy._enc, ep, max_stages, policy._job_features)
        kind = np.where(steps.overrode, 0, 2)
        if ep.options is not None:
            kind[[len(o) > 0 and not over for o, over in zip(ep.options, steps.overrode)]] = 1
        for start in range(0, len(steps), context):
            end = min(len(steps), start + context) - 1
            w = build_window(steps, end, context, max_tokens, max_stages, s["rtg_scale"], s["rtg"], start=start)
            with torch.inference_mode():
                sl, ll = net(to_torch(collate_windows([w])))
            stage = (sl.argmax(1).numpy() == w.target).astype(np.int64)
            limit = (ll.argmax(1).numpy() + 1 == w.limit).astype(np.int64)
            # A window too long for max_tokens drops steps from its start: those go unscored.
            for k, st, li in zip(kind[w.start : end + 1], stage, limit):
                for key in (KINDS[k], "all"):
                    hits[key] += (1, st, li)
    nan = float("nan")
    return {
        k: {"decisions": int(n), "stage": a / n if n else nan, "limit": b / n if n else nan}
        for k, (n, a, b) in hits.items()
    }
