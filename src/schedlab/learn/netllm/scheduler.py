"""The NetLLM policy as a spark scheduler: a return-conditioned decision transformer over a causal LM.

At each decision point it encodes the graph with the frozen Decima encoder (NumPy), feeds the
step's new tokens to the backbone with its key/value cache (:class:`~.model.Session`), one
pass, and picks a stage from the stage head, then a job-level limit from the executor head.
The return-to-go it conditions on starts at the policy's target (by default the best pool
episode's return, see ``docs/netllm.md``) and rises by the job-seconds that pass (jobs in the
system times the time since the previous decision), capped at 0. It passes (assigns nothing,
closing the round) only while some executor is busy, so a pass cannot stall the run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from schedlab.errors import ConfigError, DataError
from schedlab.schedulers.base import Scheduler
from schedlab.sim.actions import Assign

__all__ = ["NetLLMScheduler", "MODEL_ENV", "DECIMA_PREFIX"]

#: A policy directory to use when no ``model`` is given (for runs in worker processes).
MODEL_ENV = "SCHEDLAB_NETLLM_MODEL"
#: The frozen Decima encoder's tensors are saved with the policy under this prefix.
DECIMA_PREFIX = "decima."

_HOW = "train one with `schedlab train spark netllm --pool POOL --out DIR` and pass --param model=DIR"


def shipped_netllm() -> Path | None:
    from importlib import resources

    folder = resources.files("schedlab.learn") / "policies" / "spark-netllm"
    if not folder.is_dir() or not (folder / "policy.json").is_file():
        return None
    return Path(str(folder))


def decima_encoder(tensors: Mapping[str, Any], arch: Mapping[str, Any]):
    """The frozen Decima encoder (``NumpyDecima``) from its tensors."""
    from schedlab.learn.decima.network import ARCHITECTURE, NumpyDecima

    return NumpyDecima(tensors, {**ARCHITECTURE, **dict(arch)})


class NetLLMScheduler(Scheduler):
    """NetLLM's decision transformer (``schedlab train spark netllm``) as a scheduler.

    Args:
        model: A netllm policy directory; default ``$SCHEDLAB_NETLLM_MODEL``, else the shipped
            one (``learn/policies/spark-netllm``, for 50 executors; docs/netllm.md).
        greedy: Take the most probable stage and limit; False samples them from the
            scheduler's seeded stream.
        backbone: The backbone folder, if it is not where the card says (the card's
            ``"default"`` is the shipped MiniLM).

    Torch runs on one thread (``torch.set_num_threads(1)``).

    Raises:
        ConfigError: No model given and none ships, or a bad backbone.
        DataError: Not a netllm spark policy, or weights that do not fit.
    """

    name: ClassVar[str] = "netllm"
    families: ClassVar[tuple[str, ...]] = ("spark",)

    def __init__(self, model: str | None = None, greedy: bool = True, backbone: str | None = None) -> None:
        from schedlab.learn.policy import WEIGHTS_FILE, read_card

        self.model, self.greedy, self.backbone = model, bool(greedy), backbone
        path = model or os.environ.get(MODEL_ENV) or None
        if path is None:
            found = shipped_netllm()
            if found is None:
                raise ConfigError(f"no netllm policy ships; {_HOW}", field="model")
            path = str(found)
        card = read_card(path, algorithm="netllm", family="spark")
        arch = card["architecture"]["network"]
        net = _net_for(arch, backbone)
        dec = load_weights(net, path)
        try:
            enc = decima_encoder(dec, card["architecture"]["decima"])
        except ValueError as e:
            raise DataError(f"the Decima encoder's weights: {e}", source=str(Path(path) / WEIGHTS_FILE)) from None
        self._setup(net, enc, card["architecture"]["netllm"])

    @classmethod
    def from_parts(cls, net: Any, encoder: Any, settings: Mapping[str, Any], greedy: bool = True) -> NetLLMScheduler:
        """A scheduler over a network in memory (a trainer's copy, for validation)."""
        self = cls.__new__(cls)
        self.model, self.greedy, self.backbone = None, bool(greedy), None
        self._setup(net, encoder, settings)
        return self

    def _setup(self, net: Any, encoder: Any, s: Mapping[str, Any]) -> None:
        import torch

        from schedlab.learn.netllm.model import Session

        torch.set_num_threads(1)
        net.eval()
        # Inference folds LoRA into the frozen weights (the same function, fewer operations).
        net.lm.merge_adapter()
        self._net = net
        self._job_features = bool(net.arch.get("job_features", False))
        self._enc = encoder
        self.settings = dict(s)
        self.max_stages = int(s["max_stages"])
        self.rtg_scale = float(s["rtg_scale"])
        self.use_rtg = bool(s["rtg"])
        self.target = float(s["target_return"])
        self.pass_limit = bool(s.get("pass_limit", True))
        self._session = Session(net, int(s["context"]), int(s["max_tokens"]), int(s["keep"]))
        self._rng: np.random.Generator | None = None
        from schedlab.families.spark.graph import GraphCache

        self._cache = GraphCache()
        self._clock: tuple[float, int] | None = None
        self._spent = 0.0
        self._t = 0

    def get_params(self) -> dict[str, Any]:
        return {"model": self.model, "greedy": self.greedy, "backbone": self.backbone}

    def reset(self, rng: np.random.Generator) -> None:
        from schedlab.families.spark.graph import GraphCache

        self._rng = rng
        self._cache = GraphCache()
        self._session.reset()
        self._clock = None
        self._spent = 0.0
        self._t = 0

    def _rtg(self, view: Any) -> float:
        now = float(view.now_ms)
        if self._clock is not None:
            t0, n0 = self._clock
            self._spent += n0 * (now - t0) / 1000.0
        self._clock = (now, len(view.jobs))
        if not self.use_rtg:
            return 0.0
        return min(self.target + self._spent, 0.0) / self.rtg_scale

    def _pick(self, logits: np.ndarray) -> int:
        if self.greedy:
            return int(np.argmax(logits))
        z = logits - logits[np.isfinite(logits)].max()
        p = np.where(np.isfinite(z), np.exp(z), 0.0)
        from schedlab.learn.decima.scheduler import _pick

        return _pick(p / p.sum(), self._rng if self._rng is not None else np.random.default_rng(0))

    def decide(self, view: Any) -> list[Assign]:
        from schedlab.learn.decima.features import limit_bounds, observe, to_assign
        from schedlab.learn.netllm.data import act_extra, exec_features, limit_context, stage_tokens

        rtg = self._rtg(view)
        if not view.schedulable or view.committable < 1:
            return []
        d = observe(view, self._cache)
        if d.num_executors != self._net.max_executors:
            raise ConfigError(
                f"this netllm policy was trained for {self._net.max_executors} executors, "
                f"the scenario has {d.num_executors}",
                field="cluster.executors",
            )
        tok = stage_tokens(self._enc, d, self.max_stages, job_features=self._job_features)
        ex = exec_features(d, tok, self.max_stages)
        i = self._pick(self._session.stage_logits(self._t, rtg, ex, tok.feats))
        job = int(tok.jobs[i])
        base = int(d.base[job])
        # Passing closes the round; with no executor busy no event would open another, so a
        # pass then could leave jobs unfinished: it is allowed only while some executor runs.
        can_pass = self.pass_limit and d.can_pass and any(w.busy for w in view.workers)
        lo, hi = limit_bounds(base, d.committable, d.num_executors, can_pass)
        limit = self._pick(self._session.limit_logits(i, lo, hi, limit_context(d, job))) + 1
        self._session.commit(act_extra(limit, base, d.num_executors))
        self._t += 1
        a = to_assign(view, d, int(tok.slots[i]), limit)
        return [a] if a is not None else []


def load_weights(net: Any, folder: str | os.PathLike) -> dict[str, np.ndarray]:
    """Load a netllm policy folder's trained tensors into ``net``; its Decima encoder's arrays.

    Raises:
        DataError: A tensor is missing, unexpected or of another shape than ``net``'s.
    """
    from schedlab.learn.policy import WEIGHTS_FILE, read_tensors

    source = str(Path(folder) / WEIGHTS_FILE)
    tensors = read_tensors(source)
    dec = {k[len(DECIMA_PREFIX) :]: v.numpy() for k, v in tensors.items() if k.startswith(DECIMA_PREFIX)}
    own = {k: v for k, v in tensors.items() if not k.startswith(DECIMA_PREFIX)}
    want = net.trainable_state()
    missing, unknown = sorted(set(want) - set(own)), sorted(set(own) - set(want))
    if missing or unknown:
        what = f"missing tensors {missing[:2]}" if missing else f"unexpected tensors {unknown[:2]}"
        raise DataError(f"weights do not fit the network: {what}", source=source)
    for k, v in own.items():
        if tuple(v.shape) != tuple(want[k].shape):
            raise DataError(f"tensor {k} has shape {tuple(v.shape)}", source=source)
    net.load_state_dict(own, strict=False)
    return dec


def _net_for(arch: Mapping[str, Any], backbone: str | None):
    from schedlab.learn.netllm.model import build_net, default_backbone

    path = backbone or arch.get("backbone") or "default"
    if path == "default":
        path = default_backbone()
    return build_net(arch, path)
