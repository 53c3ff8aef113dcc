"""``schedlab train spark netllm --pool POOL``: offline decision-transformer training on an experience pool.

The first iteration reads the pool and turns every recorded decision into token material
through the frozen Decima encoder (:func:`~schedlab.learn.netllm.data.encode_episode`; the
shipped ``spark-decima`` policy unless ``encoder=DIR``). Each iteration then takes ``updates``
Adam steps, each on a minibatch of ``batch_size`` windows: a window is ``context`` consecutive
decisions of one episode ending at a step drawn uniformly over the pool's decisions (so
windows never cross episodes, and windows near an episode's start are shorter, as at
inference). The loss is the cross-entropy of the stage head plus that of the executor head
over every step of every window; with ``soft``, that share of the stage loss is against the
teacher's soft targets instead of its choice (where the pool holds the options it weighed);
with ``override_weight``, the steps where the teacher overrode its base weigh that much in
both losses.
Only LoRA, the projections, the embeddings and the heads train; the backbone is frozen.

``num_timesteps`` counts the decision targets trained on (with repeats).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from schedlab.errors import ConfigError, DataError
from schedlab.sim.io import file_part

__all__ = ["NetLLMTrainer", "HYPERPARAMETERS"]

#: Defaults of the knobs (``--param key=value``); ``docs/netllm.md`` lists them all.
HYPERPARAMETERS: dict[str, Any] = {
    "pool": "",
    "backbone": "default",
    "pretrained": True,
    "rtg": True,
    "job_features": True,
    "limit_features": True,
    "context": 20,
    "max_stages": 16,
    "max_tokens": 0,
    "keep": 0,
    "lora_rank": 8,
    "lora_alpha": 16,
    "lora_targets": "query,value",
    "lora_dropout": 0.0,
    "dropout": 0.0,
    "time_bucket": 16,
    "time_buckets": 512,
    "batch_size": 8,
    "updates": 25,
    "learning_rate": 1e-4,
    "max_grad_norm": 1.0,
    "schedulers": "",
    "max_episodes": 0,
    "target_return": 0.0,
    "encoder": "",
    "init": "",
    "soft": 0.0,
    "temperature": 0.01,
    "override_weight": 1.0,
}


class NetLLMTrainer:
    """NetLLM on the spark family; the protocol of :mod:`schedlab.learn.train`.

    Args:
        family: ``"spark"``.
        algorithm: ``"netllm"``.
        scenario: The validation scenario (its executors must match the pool's).
        train_seeds, steps, workers: Unused (the pool holds the training episodes, all on
            training seeds); kept for the protocol.
        seed: Seeds the new weights and the window draws.
        params: Overrides of :data:`HYPERPARAMETERS`; ``pool`` is required.

    Raises:
        ConfigError: Not spark, no pool, an unknown or bad parameter, a bad backbone.
        DataError: The pool is missing or damaged.
    """

    def __init__(
        self,
        family: str,
        algorithm: str,
        scenario: Any,
        *,
        train_seeds: tuple[int, int] = (10000, 19999),
        steps: int = 0,
        workers: int = 1,
        seed: int = 0,
        params: Mapping[str, Any] | None = None,
        ray: bool = False,
    ) -> None:
        if family != "spark":
            raise ConfigError(f"netllm trains on spark, not on {family}", field="FAMILY")
        hp = dict(HYPERPARAMETERS)
        for key, value in (params or {}).items():
            if key not in hp:
                raise ConfigError(f"unknown netllm parameter {key!r}; known: {', '.join(hp)}", field="--param")
            if isinstance(hp[key], bool):
                if not isinstance(value, bool):
                    raise ConfigError(f"{key} must be true or false, got {value!r}", field="--param")
                hp[key] = value
            elif isinstance(hp[key], str):
                hp[key] = str(value)
            else:
                try:
                    hp[key] = type(hp[key])(value)
                except (TypeError, ValueError):
                    raise ConfigError(f"{key} must be a number, got {value!r}", field="--param") from None
        for key in ("context", "max_stages", "lora_rank", "batch_size", "updates", "time_bucket", "time_buckets"):
            if hp[key] < 1:
                raise ConfigError(f"{key} must be at least 1, got {hp[key]}", field="--param")
        if not hp["pool"]:
            raise ConfigError(
                "netllm learns from an experience pool: pass --pool POOL (`schedlab pool collect` makes one)",
                field="--pool",
            )
        if not 0.0 <= hp["soft"] <= 1.0:
            raise ConfigError(f"soft must be in [0, 1], got {hp['soft']}", field="--param")
        if not hp["temperature"] > 0:
            raise ConfigError(f"temperature must be positive, got {hp['temperature']}", field="--param")
        if not hp["override_weight"] > 0:
            raise ConfigError(f"override_weight must be positive, got {hp['override_weight']}", field="--param")
        if hp["target_return"] > 0:
            raise ConfigError("target_return is minus job-seconds: 0 (the best pool episode) or below", field="--param")
        import torch

        from schedlab.learn.pool import read_pool

        torch.set_num_threads(1)
        self.family, self.algorithm = family, algorithm
        self.hp = hp
        self.seed = int(seed)
        self.scenario_data = scenario.model_dump(mode="json")
        self.pool = read_pool(hp["pool"])
        if not self.pool.files:
            raise DataError("the pool holds no episodes", source=str(self.pool.path))
        execs = int(self.pool.scenario["cluster"]["executors"])
        if execs != int(self.scenario_data["cluster"]["executors"]):
            raise ConfigError(
                f"the pool's episodes have {execs} executors, the scenario "
                f"{self.scenario_data['cluster']['executors']}; pass --scenario with the pool's",
                field="--scenario",
            )
        # Episode files are named by file_part(scheduler); match the names `pool info` shows.
        wanted = {file_part(s.strip()) for s in hp["schedulers"].split(",") if s.strip()}
        files = [f for f in self.pool.files if not wanted or f.name.split("__seed")[0] in wanted]
        if not files:
            raise ConfigError(f"the pool holds no episode of {hp['schedulers']!r}", field="--param")
        if hp["max_episodes"] > 0:
            files = files[: hp["max_episodes"]]
        self.files = files
        self.encoder, self.encoder_arch, self.encoder_tensors, self.encoder_name = _load_encoder(hp["encoder"])
        backbone = hp["backbone"]
        if backbone != "default":
            if not (Path(backbone) / "config.json").is_file():
                raise ConfigError(
                    f"{backbone}: not a local Hugging Face model folder (no config.json)", field="backbone"
                )
            backbone = str(Path(backbone).resolve())
        from schedlab.learn.netllm.model import build_net, default_backbone

        path = default_backbone() if backbone == "default" else backbone
        self.arch: dict[str, Any] = {
            "backbone": backbone,
            "pretrained": hp["pretrained"],
            "lora_rank": hp["lora_rank"],
            "lora_alpha": hp["lora_alpha"],
            "lora_targets": [t.strip() for t in hp["lora_targets"].split(",") if t.strip()],
            "lora_dropout": hp["lora_dropout"],
            "dropout": hp["dropout"],
            "time_bucket": hp["time_bucket"],
            "time_buckets": hp["time_buckets"],
            "max_executors": execs,
            "init_seed": self.seed,
            "job_features": hp["job_features"],
            "limit_features": hp["limit_features"],
        }
        self.net = build_net(self.arch, path, self.seed)
        if hp["init"]:
            self._warm_start(hp["init"])
        self.backbone_path = path
        positions = self.net.positions
        max_tokens = hp["max_tokens"] or positions
        if max_tokens > positions:
            raise ConfigError(
                f"max_tokens {max_tokens} is more than the backbone's {positions} positions", field="--param"
            )
        if hp["max_stages"] + 3 > max_tokens:
            raise ConfigError("max_stages + 3 tokens must fit max_tokens", field="--param")
        self.max_tokens = int(max_tokens)
        self.keep = hp["keep"] or max(1, hp["context"] // 2)
        self.params = [p for p in self.net.parameters() if p.requires_grad]
        self.opt = torch.optim.Adam(self.params, lr=hp["learning_rate"])
        self.rng = np.random.default_rng(self.seed)
        self.iteration = 0
        self.num_timesteps = 0
        self.data: list[Any] | None = None
        self.data_info: dict[str, Any] = {}
        self.rtg_scale = math.nan
        self.target_return = math.nan

    def _warm_start(self, folder: str) -> None:
        """Start from the trained tensors of the netllm policy at ``folder`` (a warm start).

        For fine-tuning, e.g. on a pool grown with DAgger; the policy's network and Decima
        encoder must be this run's.
        """
        from schedlab.learn.netllm.scheduler import load_weights
        from schedlab.learn.policy import read_card

        try:
            card = read_card(folder, algorithm="netllm", family="spark")
        except (ConfigError, DataError) as e:
            raise ConfigError(e.problem, source=e.source or folder, field="init") from None
        theirs = card["architecture"]["network"]
        differ = [k for k in self.arch if k != "init_seed" and theirs.get(k) != self.arch[k]]
        if differ:
            raise ConfigError(
                f"init: {folder} has another {differ[0]} ({theirs.get(differ[0])!r}, here {self.arch[differ[0]]!r})",
                field="init",
            )
        enc = load_weights(self.net, folder)
        if set(enc) != set(self.encoder_tensors) or any(
            not np.array_equal(enc[k], np.asarray(v)) for k, v in self.encoder_tensors.items()
        ):
            raise ConfigError(f"init: {folder} was trained over another Decima encoder", field="init")

    # -- data ------------------------------------------------------------------------------

    def _prepare(self) -> dict[str, float]:
        from schedlab.learn.netllm.data import encode_pool_episode
        from schedlab.learn.pool import _read_episode

        t0 = time.perf_counter()
        data, starts, names, forced, offered, weighed = [], [], [], 0, 0, 0
        for f in self.files:
            ep = _read_episode(f)
            if not len(ep.decisions):
                continue
            steps, n_forced = encode_pool_episode(
                self.encoder, ep, self.hp["max_stages"], self.hp["job_features"], self.hp["temperature"]
            )
            data.append(steps)
            starts.append(float(ep.return_to_go[0]))
            names.append(ep.scheduler)
            forced += n_forced
            offered += sum(len(d.stage_node) > self.hp["max_stages"] for d in ep.decisions)
            weighed += sum(len(o) > 0 for o in ep.options or ())
        if not data:
            raise DataError("the pool's episodes hold no decisions", source=str(self.pool.path))
        self.data = data
        self.lengths = np.array([len(d) for d in data], dtype=np.int64)
        self.rtg_scale = float(max(abs(s) for s in starts)) or 1.0
        self.target_return = self.hp["target_return"] or float(max(starts))
        self.data_info = {
            "pool": str(self.pool.path),
            "episodes": len(data),
            "decisions": int(self.lengths.sum()),
            "schedulers": sorted(set(names)),
            "capped_decisions": int(offered),
            "chosen_forced_into_cap": int(forced),
            "decisions_with_options": int(weighed),
            "best_episode_return": float(max(starts)),
        }
        return {"prepare_s": time.perf_counter() - t0, "pool_decisions": float(self.lengths.sum())}

    def _windows(self, n: int) -> list[Any]:
        from schedlab.learn.netllm.data import build_window

        p = self.lengths / self.lengths.sum()
        eps = self.rng.choice(len(self.data), size=n, p=p)
        out = []
        for e in eps:
            end = int(self.rng.integers(self.lengths[e]))
            w = build_window(
                self.data[e],
                end,
                self.hp["context"],
                self.max_tokens,
                self.hp["max_stages"],
                self.rtg_scale,
                self.hp["rtg"],
            )
            w.episode = int(e)
            out.append(w)
        return out

    # -- one iteration ---------------------------------------------------------------------

    def iterate(self) -> dict[str, float]:
        """``updates`` minibatch steps (the first iteration also prepares the pool); the losses."""
        import torch

        from schedlab.learn.netllm.data import collate_windows
        from schedlab.learn.netllm.model import losses, to_torch

        out: dict[str, float] = {}
        if self.data is None:
            out.update(self._prepare())
        self.iteration += 1
        t0 = time.perf_counter()
        self.net.train()
        rows: dict[str, list[float]] = {k: [] for k in ("loss", "stage_ce", "limit_ce", "stage_acc", "limit_acc")}
        tokens = 0
        for _ in range(self.hp["updates"]):
            wins = self._windows(self.hp["batch_size"])
            b = to_torch(collate_windows(wins))
            ce_s, ce_l, acc_s, acc_l = losses(self.net, b, self.hp["soft"], self.hp["override_weight"])
            loss = ce_s + ce_l
            self.opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.params, self.hp["max_grad_norm"])
            self.opt.step()
            self.num_timesteps += len(b["target"])
            tokens += int(b["mask"].sum())
            for k, v in zip(rows, (loss, ce_s, ce_l, acc_s, acc_l)):
                rows[k].append(float(v.detach()))
        out.update({k: float(np.mean(v)) for k, v in rows.items()})
        out.update(tokens=tokens, update_s=time.perf_counter() - t0)
        return out

    # -- what the loop saves ---------------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        """What the scheduler needs besides the network: context, cap, RTG scale and target."""
        return {
            "context": self.hp["context"],
            "max_stages": self.hp["max_stages"],
            "max_tokens": self.max_tokens,
            "keep": self.keep,
            "rtg": self.hp["rtg"],
            "rtg_scale": self.rtg_scale,
            "target_return": self.target_return,
            "pass_limit": True,
        }

    def card(self) -> dict[str, Any]:
        """The policy card (without the training section, which the loop adds)."""
        from schedlab.families.spark.graph import STAGE_FEATURES

        trainable = sum(v.numel() for v in self.net.trainable_state().values())
        total = sum(p.numel() for p in self.net.parameters())
        return {
            "algorithm": "netllm",
            "family": "spark",
            "architecture": {
                "library": "torch+transformers+peft",
                "network": self.arch,
                "netllm": self.settings(),
                "decima": self.encoder_arch,
                "encoder": self.encoder_name,
                "backbone_name": getattr(self.net.lm.get_base_model().config, "_name_or_path", ""),
                "parameters": {"trainable": int(trainable), "total": int(total)},
            },
            "observation": {
                "stage_features": list(STAGE_FEATURES),
                "graph": "schedlab.families.spark.graph:graph_arrays",
                "scenario": self.scenario_data,
            },
            "hyperparameters": self.hp,
            "pool": self.data_info,
        }

    def weights(self) -> dict[str, Any]:
        """The trained tensors and the frozen Decima encoder's (``decima.*``); not the backbone."""
        import torch

        from schedlab.learn.netllm.scheduler import DECIMA_PREFIX

        out = {k: v.detach().clone() for k, v in self.net.trainable_state().items()}
        for k, v in self.encoder_tensors.items():
            out[DECIMA_PREFIX + k] = torch.from_numpy(np.ascontiguousarray(v))
        return out

    def scheduler(self):
        """The current policy as a greedy scheduler (a copy: training on does not change it)."""
        from schedlab.learn.netllm.scheduler import NetLLMScheduler

        if self.data is None:
            self._prepare()
        return NetLLMScheduler.from_parts(copy.deepcopy(self.net), self.encoder, self.settings(), greedy=True)

    def training_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        from schedlab.learn.train import optimizer_state

        tensors = {f"net.{k}": v for k, v in self.net.trainable_state().items()}
        optim, groups = optimizer_state(self.opt)
        tensors.update(optim)
        meta = {
            "iteration_count": self.iteration,
            "num_timesteps": self.num_timesteps,
            "param_groups": groups,
            "rng": self.rng.bit_generator.state,
        }
        return tensors, meta

    def load_training_state(self, tensors: Mapping[str, Any], meta: Mapping[str, Any]) -> None:
        from schedlab.learn.train import load_optimizer_state

        own = {k[4:]: v for k, v in tensors.items() if k.startswith("net.")}
        want = self.net.trainable_state()
        if set(own) != set(want):
            raise DataError("the checkpoint does not fit this network (another backbone or LoRA rank?)")
        self.net.load_state_dict(own, strict=False)
        load_optimizer_state(self.opt, tensors, meta["param_groups"])
        self.iteration = int(meta["iteration_count"])
        self.num_timesteps = int(meta["num_timesteps"])
        self.rng.bit_generator.state = meta["rng"]

    def worker_pids(self) -> list[int]:
        return []

    def close(self) -> None:
        pass


def _load_encoder(folder: str):
    """The frozen Decima encoder: the shipped policy, or the decima policy at ``folder``."""
    from schedlab.learn.decima.network import ARCHITECTURE
    from schedlab.learn.decima.scheduler import shipped_decima
    from schedlab.learn.netllm.scheduler import decima_encoder
    from schedlab.learn.policy import WEIGHTS_FILE, read_arrays, read_card

    path = Path(folder) if folder else shipped_decima()
    if path is None:
        raise ConfigError("no decima policy ships to encode the graphs; pass -p encoder=DIR", field="encoder")
    card = read_card(path, algorithm="decima", family="spark")
    arch = {**ARCHITECTURE, "pass_limit": False, **card["architecture"].get("network", {})}
    tensors = read_arrays(Path(path) / WEIGHTS_FILE)
    try:
        enc = decima_encoder(tensors, arch)
    except ValueError as e:
        raise DataError(f"the decima encoder's weights do not fit: {e}", source=str(path)) from None
    return enc, arch, tensors, ("spark-decima (shipped)" if not folder else str(path))
