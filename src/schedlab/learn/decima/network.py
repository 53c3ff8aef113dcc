"""Decima's policy network: a message-passing graph encoder and two heads.

Per node (stage) ``v`` with features ``x_v`` (Decima's five):

- node embedding, children to parents one level at a time (a node's level is its longest
  path to a leaf): ``e_v = prep(x_v)`` for a leaf, ``e_v = prep(x_v) + g(sum over children u of
  f(e_u))`` otherwise, so a parent sees its whole remaining sub-DAG;
- job summary ``y_j = sum over nodes v of job j of dag([x_v, e_v])``; global summary
  ``z = sum over jobs of glob(y_j)``;
- stage head: ``score_v = stage([x_v, e_v, y_job(v), z])`` over the offered stages, softmax;
- executor head, for the chosen stage's job: ``score_L = limit([y_j, z, L / num_executors])``
  for the job-level limits ``L = 1 .. num_executors``, the invalid ones masked, softmax.

:class:`DecimaNet` is the PyTorch module; its :meth:`~DecimaNet.evaluate` scores every
decision of a :class:`~schedlab.learn.decima.features.Batch` at once (no Python loop over
decisions). :class:`NumpyDecima` computes the same numbers for one decision with NumPy, which
is several times faster than PyTorch on graphs this small.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from schedlab.learn.decima.features import Batch, Decision, limit_bounds

__all__ = ["ARCHITECTURE", "NumpyDecima", "parameter_count", "to_tensors"]  # and DecimaNet, built lazily

#: The default architecture (Decima's layout; widths chosen for about 20k parameters).
ARCHITECTURE: dict[str, Any] = {
    "features": 5,
    "embed": 16,
    "gnn_hidden": [32, 16],
    "head_hidden": [64, 48, 16],
    "negative_slope": 0.2,
    # The executor head may pick a job's current executors as its limit: assign nothing.
    "pass_limit": True,
}

_MODULES = ("prep", "f", "g", "dag", "glob", "stage", "limit")


def _layout(arch: Mapping[str, Any]) -> dict[str, tuple[list[int], bool]]:
    """Module name -> (layer widths from input to output, activation after the last layer)."""
    k, d = int(arch["features"]), int(arch["embed"])
    gh, hh = [int(w) for w in arch["gnn_hidden"]], [int(w) for w in arch["head_hidden"]]
    return {
        "prep": ([k, *gh, d], True),
        "f": ([d, *gh, d], True),
        "g": ([d, *gh, d], True),
        "dag": ([k + d, *gh, d], True),
        "glob": ([d, *gh, d], True),
        "stage": ([k + 3 * d, *hh, 1], False),
        "limit": ([2 * d + 1, *hh, 1], False),
    }


def parameter_count(arch: Mapping[str, Any] = ARCHITECTURE) -> int:
    """Trainable parameters of the network ``arch`` describes."""
    return sum(a * b + b for widths, _ in _layout(arch).values() for a, b in zip(widths, widths[1:]))


def _torch_net(arch: Mapping[str, Any]):
    import torch
    from torch import nn

    slope = float(arch["negative_slope"])

    def mlp(widths: Sequence[int], act_out: bool) -> nn.Sequential:
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(widths, widths[1:])):
            layers.append(nn.Linear(a, b))
            if i < len(widths) - 2 or act_out:
                layers.append(nn.LeakyReLU(slope))
        return nn.Sequential(*layers)

    class DecimaNet(nn.Module):
        """The policy network (see the module docstring); ``arch`` as :data:`ARCHITECTURE`."""

        def __init__(self, arch: Mapping[str, Any] = ARCHITECTURE) -> None:
            super().__init__()
            self.arch = dict(arch)
            for name, (widths, act_out) in _layout(arch).items():
                setattr(self, name, mlp(widths, act_out))

        def encode(self, b: Mapping[str, torch.Tensor]):
            """Node embeddings, job summaries and global summaries of a batch (tensors of :func:`to_tensors`)."""
            x = b["x"]
            e = self.prep(x)
            src, dst, level = b["src"], b["dst"], b["level"]
            if len(src):
                edge_level = level[src]
                for k in range(1, int(b["max_level"]) + 1):
                    sel = edge_level == k
                    s, t = src[sel], dst[sel]
                    agg = torch.zeros(len(x), e.shape[1], dtype=e.dtype).index_add(0, s, self.f(e[t]))
                    nodes = torch.nonzero(level == k).squeeze(1)
                    e = e.index_add(0, nodes, self.g(agg[nodes]))
            jobs = torch.zeros(int(b["num_jobs"]), e.shape[1], dtype=e.dtype)
            jobs = jobs.index_add(0, b["node_job"], self.dag(torch.cat([x, e], 1)))
            glob = torch.zeros(int(b["num_decisions"]), e.shape[1], dtype=e.dtype)
            glob = glob.index_add(0, b["job_dec"], self.glob(jobs))
            return e, jobs, glob

        def stage_logits(self, b: Mapping[str, torch.Tensor], e, jobs, glob) -> torch.Tensor:
            """(D, max_slots) log-probabilities of the offered stages; -inf past each decision's slots."""
            sn = b["stage_node"]
            inp = torch.cat([b["x"][sn], e[sn], jobs[b["node_job"][sn]], glob[b["stage_dec"]]], 1)
            scores = self.stage(inp).squeeze(1)
            dense = torch.full((int(b["num_decisions"]), int(b["max_slots"])), -torch.inf, dtype=scores.dtype)
            dense = dense.index_put((b["stage_dec"], b["stage_pos"]), scores)
            return torch.log_softmax(dense, 1)

        def limit_logits(self, b: Mapping[str, torch.Tensor], jobs, glob) -> torch.Tensor:
            """(D, max executors) log-probabilities of the chosen job's limits; -inf for invalid ones."""
            nexe = b["num_executors"]
            width = int(nexe.max())
            limits = torch.arange(1, width + 1, dtype=jobs.dtype)
            d = len(nexe)
            frac = (limits.unsqueeze(0) / nexe.unsqueeze(1).to(jobs.dtype)).unsqueeze(2)
            ctx = torch.cat([jobs[b["act_job"]], glob], 1).unsqueeze(1).expand(d, width, -1)
            scores = self.limit(torch.cat([ctx, frac], 2)).squeeze(2)
            ok = (limits.unsqueeze(0) >= b["lo"].unsqueeze(1)) & (limits.unsqueeze(0) <= b["hi"].unsqueeze(1))
            return torch.log_softmax(scores.masked_fill(~ok, -torch.inf), 1)

        def evaluate(self, b: Mapping[str, torch.Tensor]):
            """Log-probability and entropy of each decision's action, and the two heads' log-probabilities.

            Returns:
                ``(logp, entropy, stage_logp, limit_logp)``: (D,) log-probability of the joint
                action (stage, then limit), (D,) entropy of the stage head plus that of the limit
                head given the chosen stage, and the two heads' (D, ·) log-probabilities.
            """
            e, jobs, glob = self.encode(b)
            slp = self.stage_logits(b, e, jobs, glob)
            llp = self.limit_logits(b, jobs, glob)
            rows = torch.arange(len(slp))
            logp = slp[rows, b["act_slot"]] + llp[rows, b["act_limit"] - 1]
            ent = -(_xlogx(slp)).sum(1) - (_xlogx(llp)).sum(1)
            return logp, ent, slp, llp

    def _xlogx(lp: torch.Tensor) -> torch.Tensor:
        # -inf (masked) entries contribute 0; filling them first keeps the gradient finite.
        safe = lp.masked_fill(torch.isinf(lp), 0.0)
        return safe.exp() * safe * torch.isfinite(lp)

    return DecimaNet


def __getattr__(name: str):
    # The PyTorch class is built on first use, so importing this module does not import torch.
    if name == "DecimaNet":
        cls = _torch_net(ARCHITECTURE)
        globals()["DecimaNet"] = cls
        return cls
    raise AttributeError(name)


def to_tensors(batch: Batch) -> dict[str, Any]:
    """The :class:`Batch` as the tensors :meth:`DecimaNet.evaluate` reads."""
    import torch

    out: dict[str, Any] = {
        "x": torch.from_numpy(np.ascontiguousarray(batch.x, dtype=np.float32)),
        "num_jobs": len(batch.job_dec),
        "num_decisions": batch.num_decisions,
        "max_slots": batch.max_slots,
        "max_level": int(batch.level.max()) if len(batch.level) else 0,
    }
    for key in ("src", "dst", "level", "node_job", "job_dec", "stage_node", "stage_dec", "stage_pos", "num_executors"):
        out[key] = torch.from_numpy(np.ascontiguousarray(getattr(batch, key), dtype=np.int64))
    for key in ("lo", "hi", "act_slot", "act_job", "act_limit"):
        v = getattr(batch, key)
        if v is not None:
            out[key] = torch.from_numpy(np.ascontiguousarray(v, dtype=np.int64))
    return out


class NumpyDecima:
    """The network's forward pass for one decision, in NumPy (inference only).

    Args:
        tensors: The network's weights by name (``DecimaNet.state_dict()`` names), as arrays or tensors.
        arch: The architecture they belong to.

    Raises:
        ValueError: A weight is missing or has the wrong shape.
    """

    def __init__(self, tensors: Mapping[str, Any], arch: Mapping[str, Any] = ARCHITECTURE) -> None:
        self.arch = dict(arch)
        self.slope = float(arch["negative_slope"])
        self.pass_limit = bool(arch.get("pass_limit", False))
        self.layers: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
        for name, (widths, _) in _layout(arch).items():
            layers = []
            for i, (a, b) in enumerate(zip(widths, widths[1:])):
                # nn.Sequential numbers a Linear and its activation: Linear i sits at 2 * i.
                w = _array(tensors, f"{name}.{2 * i}.weight", (b, a))
                bias = _array(tensors, f"{name}.{2 * i}.bias", (b,))
                layers.append((np.ascontiguousarray(w.T), bias))
            self.layers[name] = layers
        self.act_out = {name: act for name, (_, act) in _layout(arch).items()}
        # Per module, each layer with whether an activation follows it.
        self._plan = {
            name: [(w, b, i < len(layers) - 1 or self.act_out[name]) for i, (w, b) in enumerate(layers)]
            for name, layers in self.layers.items()
        }
        self._limit_w0 = self.layers["limit"][0][0]

    def _mlp(self, name: str, h: np.ndarray) -> np.ndarray:
        s = self.slope
        for w, b, act in self._plan[name]:
            h = h @ w
            h += b
            if act:
                np.maximum(h, s * h, out=h)
        return h

    def encode(self, d: Decision) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Node embeddings (n, embed), job summaries (jobs, embed) and the global summary (embed,)."""
        x = d.x
        e = self._mlp("prep", x)
        src = d.src
        if len(src):
            # Edges ordered by their parent's level, then parent: each level is one slice, and
            # each parent's children one run within it, summed by reduceat.
            edge_level = d.level[src]
            order = np.lexsort((src, edge_level))
            s_all, t_all, l_all = src[order], d.dst[order], edge_level[order]
            cuts = np.flatnonzero(l_all[1:] != l_all[:-1]) + 1
            bounds = np.concatenate(([0], cuts, [len(order)]))
            for a, b in zip(bounds[:-1], bounds[1:]):
                s = s_all[a:b]
                runs = np.flatnonzero(np.concatenate(([True], s[1:] != s[:-1])))
                agg = np.add.reduceat(self._mlp("f", e[t_all[a:b]]), runs, axis=0)
                e[s[runs]] += self._mlp("g", agg)
        h = self._mlp("dag", np.concatenate([x, e], 1))
        # Nodes come grouped by job, jobs in slot order: a sum per group.
        nj = d.node_job
        starts = np.flatnonzero(np.concatenate(([True], nj[1:] != nj[:-1])))
        jobs = np.add.reduceat(h, starts, axis=0)
        glob = self._mlp("glob", jobs).sum(0)
        return e, jobs, glob

    def stage_probs(self, d: Decision, e: np.ndarray, jobs: np.ndarray, glob: np.ndarray) -> np.ndarray:
        """Probabilities of the offered stages, in slot order."""
        sn = d.stage_node
        k = len(sn)
        inp = np.concatenate([d.x[sn], e[sn], jobs[d.node_job[sn]], np.broadcast_to(glob, (k, len(glob)))], 1)
        return _softmax(self._mlp("stage", inp)[:, 0])

    def limit_probs(self, d: Decision, job: int, jobs: np.ndarray, glob: np.ndarray) -> np.ndarray:
        """Probabilities of the job-level limits 1 .. num_executors for job slot ``job`` (invalid ones 0)."""
        n = d.num_executors
        lo, hi = limit_bounds(int(d.base[job]), d.committable, n, self.pass_limit and d.can_pass)
        (w0, b0), rest = self.layers["limit"][0], self.layers["limit"][1:]
        # The first layer is affine in the limit: the context's part is computed once.
        ctx = np.concatenate([jobs[job], glob]) @ w0[:-1] + b0
        frac = np.arange(lo, hi + 1, dtype=np.float32) / n
        h = ctx[None, :] + frac[:, None] * w0[-1][None, :]
        s = self.slope
        h = np.maximum(h, s * h)
        last = len(rest) - 1
        for i, (w, b) in enumerate(rest):
            h = h @ w
            h += b
            if i < last:
                h = np.maximum(h, s * h)
        out = np.zeros(n, dtype=np.float64)
        out[lo - 1 : hi] = _softmax(h[:, 0])
        return out


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z.astype(np.float64) - z.max()
    p = np.exp(z)
    return p / p.sum()


def _array(tensors: Mapping[str, Any], key: str, shape: tuple[int, ...]) -> np.ndarray:
    if key not in tensors:
        raise ValueError(f"weights lack {key!r}")
    v = tensors[key]
    a = v.detach().cpu().numpy() if hasattr(v, "detach") else np.asarray(v)
    if a.shape != shape:
        raise ValueError(f"weight {key!r} has shape {a.shape}, the architecture expects {shape}")
    return a.astype(np.float32)
