"""``schedlab train spark decima``: behaviour cloning, then Decima's policy gradient.

An iteration of :class:`DecimaTrainer` is one of two kinds:

Behaviour cloning (the first ``bc_iterations``)
    The first one runs ``bc_episodes`` episodes of a heuristic (``bc_heuristic``, default
    ``srwf-capped``, the strongest spark heuristic) on training seeds and records its decisions as
    (stage slot, job-level limit); each cloning iteration then takes ``bc_epochs`` passes of
    cross-entropy on both heads over them.
Policy gradient (the rest)
    ``rollouts`` episodes of one training seed, each sampling its own actions, under one
    time limit drawn from an exponential (mean ``time_limit_mean_ms``, Decima's 2e7 ms). Each
    decision's return is minus the jobs in the system integrated from then on, discounted by
    ``exp(-beta t)`` (``beta`` per second); its baseline is the mean return of the other
    rollouts at the same simulated time (Decima's input-dependent baseline), so the
    advantage credits the actions, not the workload. The learner takes ``epochs`` PPO passes
    (clipped ratio, entropy bonus, Adam) over the whole rollouts, batched. A curriculum grows
    the episodes' job count from ``jobs_start`` by ``jobs_step`` per iteration up to the
    scenario's.

Rollouts run in a process pool (``workers`` processes; ``ray=True``: Ray tasks). ``steps`` is
not a budget here: episodes run to their end or time limit, and ``num_timesteps`` counts the
decisions seen.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from schedlab.errors import ConfigError

__all__ = ["DecimaTrainer", "HYPERPARAMETERS"]

#: Defaults of the knobs (``schedlab train spark decima --param key=value``).
HYPERPARAMETERS: dict[str, Any] = {
    "learning_rate": 3e-4,
    "rollouts": 4,
    "beta": 5e-3,
    "time_limit_mean_ms": 2e7,
    "ent_coef": 0.01,
    "clip_range": 0.2,
    "epochs": 3,
    "minibatch": 4096,
    "max_grad_norm": 1.0,
    "jobs_start": 50,
    "jobs_step": 10,
    "bc_iterations": 0,
    "bc_episodes": 8,
    "bc_epochs": 10,
    "bc_learning_rate": 1e-3,
    "bc_minibatch": 512,
    "bc_heuristic": "srwf-capped",
    "pass_limit": True,
    "dagger_iterations": 0,
    "dagger_rollouts": 4,
    "init": "",
}


def _pid_after(delay: float) -> int:
    time.sleep(delay)
    return os.getpid()


class DecimaTrainer:
    """Decima on the spark family (see the module docstring); the protocol of :mod:`schedlab.learn.train`.

    Args:
        family: ``"spark"``.
        algorithm: ``"decima"``.
        scenario: The validated training scenario.
        train_seeds: Inclusive range of training episode seeds.
        steps: Unused (episodes run whole); kept for the protocol.
        workers: Rollout processes (below 1: all cores).
        seed: Seeds the network, the seed draws and the action samples.
        params: Overrides of :data:`HYPERPARAMETERS`.
        ray: Run the rollouts as Ray tasks.

    Raises:
        ConfigError: Not spark, or an unknown or bad parameter.
    """

    def __init__(
        self,
        family: str,
        algorithm: str,
        scenario: Any,
        *,
        train_seeds: tuple[int, int],
        steps: int,
        workers: int,
        seed: int,
        params: Mapping[str, Any] | None = None,
        ray: bool = False,
    ) -> None:
        import torch

        from schedlab.learn.decima.network import ARCHITECTURE, DecimaNet

        if family != "spark":
            raise ConfigError(f"decima trains on spark, not on {family}", field="FAMILY")
        hp = dict(HYPERPARAMETERS)
        for key, value in (params or {}).items():
            if key not in hp:
                raise ConfigError(f"unknown decima parameter {key!r}; known: {', '.join(hp)}", field="--param")
            if isinstance(hp[key], bool):
                if not isinstance(value, bool):
                    raise ConfigError(f"{key} must be true or false, got {value!r}", field="--param")
                hp[key] = value
            else:
                hp[key] = type(hp[key])(value) if not isinstance(hp[key], str) else str(value)
        for key in ("rollouts", "epochs", "minibatch", "bc_minibatch", "jobs_start", "bc_episodes"):
            if hp[key] < 1:
                raise ConfigError(f"{key} must be at least 1, got {hp[key]}", field="--param")
        self.family, self.algorithm = family, algorithm
        self.hp = hp
        self.scenario = scenario
        self.scenario_data = scenario.model_dump(mode="json")
        self.train_seeds = (int(train_seeds[0]), int(train_seeds[1]))
        self.workers = workers if workers >= 1 else (os.cpu_count() or 1)
        self.seed = seed
        self.arch = {**ARCHITECTURE, "pass_limit": hp["pass_limit"]}
        # The learner shares the cores with the rollout workers: more threads only contend.
        torch.set_num_threads(1)
        torch.manual_seed(seed)
        self.net = DecimaNet(self.arch)
        if hp["init"]:
            from pathlib import Path

            from schedlab.learn.policy import WEIGHTS_FILE, read_card, read_tensors

            card = read_card(hp["init"], algorithm="decima", family="spark")
            if bool(card["architecture"].get("network", {}).get("pass_limit", False)) != hp["pass_limit"]:
                raise ConfigError(f"{hp['init']} was trained with another pass_limit", field="--param")
            self.net.load_state_dict(read_tensors(Path(hp["init"]) / WEIGHTS_FILE, self.net.state_dict()))
        self.opt = torch.optim.Adam(self.net.parameters(), lr=hp["learning_rate"])
        self.rng = np.random.default_rng(seed)
        self.iteration = 0
        self.num_timesteps = 0
        self._bc_data: tuple[list, np.ndarray] | None = None
        self._ray = None
        self._pool = None
        self._pids: list[int] = []
        if ray:
            try:
                import ray as ray_mod
            except ImportError:
                raise ConfigError("ray=True needs Ray installed (pip install ray)", field="--ray") from None
            if not ray_mod.is_initialized():
                ray_mod.init(num_cpus=self.workers, include_dashboard=False, log_to_driver=False)
            from schedlab.learn.decima.rollout import run_episode

            self._ray = ray_mod
            self._remote = ray_mod.remote(num_cpus=1)(run_episode)
        elif self.workers > 1:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            from schedlab.learn.decima.rollout import init_worker

            self._pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=mp.get_context("forkserver"), initializer=init_worker
            )
            # Start every worker now, so their CPU time is counted from the beginning.
            self._pids = sorted(set(self._pool.map(_pid_after, [0.2] * self.workers)))

    # -- rollouts --------------------------------------------------------------------------

    def _run(self, calls: list[tuple[dict, int, dict]]) -> list[dict[str, Any]]:
        from schedlab.learn.decima.rollout import run_episode

        if self._ray is not None:
            refs = [self._remote.remote(data, seed, **kw) for data, seed, kw in calls]
            return self._ray.get(refs)
        if self._pool is not None:
            futures = [self._pool.submit(run_episode, data, seed, **kw) for data, seed, kw in calls]
            return [f.result() for f in futures]
        return [run_episode(data, seed, **kw) for data, seed, kw in calls]

    def _scenario_with_jobs(self, jobs: int) -> dict[str, Any]:
        data = dict(self.scenario_data)
        data["workload"] = {**data["workload"], "jobs": int(jobs)}
        return data

    def _weights_np(self) -> dict[str, np.ndarray]:
        return {k: v.detach().cpu().numpy().copy() for k, v in self.net.state_dict().items()}

    def _train_seed(self) -> int:
        return int(self.rng.integers(self.train_seeds[0], self.train_seeds[1] + 1))

    # -- one iteration ---------------------------------------------------------------------

    def iterate(self) -> dict[str, float]:
        """One iteration (cloning or policy gradient, see the module docstring); its losses."""
        self.iteration += 1
        if self.iteration <= self.hp["bc_iterations"]:
            return self._clone()
        if self.iteration <= self.hp["bc_iterations"] + self.hp["dagger_iterations"]:
            return self._dagger()
        return self._policy_gradient()

    def _dagger(self) -> dict[str, float]:
        """DAgger: the greedy policy runs, the heuristic labels the states it reaches, all are cloned."""
        out: dict[str, float] = {}
        if self._bc_data is None:
            out.update(self._collect_heuristic())
        t0 = time.perf_counter()
        weights = self._weights_np()
        calls = [
            (
                self.scenario_data,
                self._train_seed(),
                {"weights": weights, "arch": self.arch, "heuristic": self.hp["bc_heuristic"], "greedy": True},
            )
            for _ in range(self.hp["dagger_rollouts"])
        ]
        results = self._run(calls)
        decisions, actions = self._bc_data
        new = [d for r in results for d in r["decisions"]]
        self._bc_data = (decisions + new, np.concatenate([actions, *[r["actions"] for r in results]]))
        self.num_timesteps += len(new)
        jct = [r["avg_jct_s"] for r in results if not math.isnan(r["avg_jct_s"])]
        out.update(dagger_collect_s=time.perf_counter() - t0, dagger_states=len(self._bc_data[0]))
        out["train_jct_s"] = float(np.mean(jct)) if jct else math.nan
        out.update(_timing(results))
        out.update(self._fit())
        return out

    def _collect_heuristic(self) -> dict[str, float]:
        t0 = time.perf_counter()
        calls = [
            (self.scenario_data, self._train_seed(), {"heuristic": self.hp["bc_heuristic"], "arch": self.arch})
            for _ in range(self.hp["bc_episodes"])
        ]
        results = self._run(calls)
        decisions = [d for r in results for d in r["decisions"]]
        actions = np.concatenate([r["actions"] for r in results])
        self._bc_data = (decisions, actions)
        self.num_timesteps += len(decisions)
        return {
            "collect_s": time.perf_counter() - t0,
            "bc_heuristic_jct": float(np.nanmean([r["avg_jct_s"] for r in results])),
            **_timing(results),
        }

    def _clone(self) -> dict[str, float]:
        out: dict[str, float] = {}
        if self._bc_data is None:
            out.update(self._collect_heuristic())
        out.update(self._fit())
        return out

    def _fit(self) -> dict[str, float]:
        """``bc_epochs`` epochs of cross-entropy on both heads over the cloning data."""
        import torch

        from schedlab.learn.decima.features import collate
        from schedlab.learn.decima.network import to_tensors

        out: dict[str, float] = {}
        decisions, actions = self._bc_data
        for g in self.opt.param_groups:
            g["lr"] = self.hp["bc_learning_rate"]
        t0 = time.perf_counter()
        losses, ents, acc_s, acc_l = [], [], [], []
        mb = self.hp["bc_minibatch"]
        self.net.train()
        for _ in range(self.hp["bc_epochs"]):
            order = self.rng.permutation(len(decisions))
            for i in range(0, len(order), mb):
                idx = order[i : i + mb]
                b = to_tensors(collate([decisions[j] for j in idx], actions[idx], self.arch["pass_limit"]))
                logp, ent, slp, llp = self.net.evaluate(b)
                loss = -logp.mean()
                self.opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.hp["max_grad_norm"])
                self.opt.step()
                losses.append(float(loss.detach()))
                ents.append(float(ent.detach().mean()))
                acc_s.append(float((slp.argmax(1) == b["act_slot"]).float().mean()))
                acc_l.append(float((llp.argmax(1) + 1 == b["act_limit"]).float().mean()))
        out.update(
            bc_loss=float(np.mean(losses[-max(1, len(losses) // self.hp["bc_epochs"]) :])),
            entropy=float(np.mean(ents)),
            bc_stage_acc=float(np.mean(acc_s[-max(1, len(acc_s) // self.hp["bc_epochs"]) :])),
            bc_limit_acc=float(np.mean(acc_l[-max(1, len(acc_l) // self.hp["bc_epochs"]) :])),
            update_s=time.perf_counter() - t0,
        )
        return out

    def _policy_gradient(self) -> dict[str, float]:
        import torch

        from schedlab.learn.decima.features import collate
        from schedlab.learn.decima.network import to_tensors
        from schedlab.learn.decima.rollout import baselines, discounted_returns

        hp = self.hp
        pg_iter = self.iteration - hp["bc_iterations"]
        final_jobs = int(self.scenario_data["workload"]["jobs"])
        jobs = min(final_jobs, hp["jobs_start"] + hp["jobs_step"] * (pg_iter - 1))
        seed = self._train_seed()
        limit = float(self.rng.exponential(hp["time_limit_mean_ms"]))
        weights = self._weights_np()
        data = self._scenario_with_jobs(jobs)
        t0 = time.perf_counter()
        calls = []
        for _ in range(hp["rollouts"]):
            sample_seed = int(self.rng.integers(2**63))
            kw = {"weights": weights, "arch": self.arch, "sample_seed": sample_seed, "time_limit_ms": limit}
            calls.append((data, seed, kw))
        results = self._run(calls)
        t_roll = time.perf_counter() - t0
        times = [r["times_ms"] for r in results]
        rets = [
            discounted_returns(r["times_ms"], r["arrival_ms"], r["completion_ms"], r["end_ms"], hp["beta"])
            for r in results
        ]
        bases = baselines(times, rets)
        adv = np.concatenate([g - b for g, b in zip(rets, bases)])
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        decisions = [d for r in results for d in r["decisions"]]
        actions = np.concatenate([r["actions"] for r in results])
        old_logp = np.concatenate([r["logp"] for r in results])
        self.num_timesteps += len(decisions)

        for g in self.opt.param_groups:
            g["lr"] = hp["learning_rate"]
        t1 = time.perf_counter()
        self.net.train()
        mb = hp["minibatch"]
        pg_losses, ents, kls, clips = [], [], [], []
        for _ in range(hp["epochs"]):
            order = self.rng.permutation(len(decisions))
            for i in range(0, len(order), mb):
                idx = order[i : i + mb]
                b = to_tensors(collate([decisions[j] for j in idx], actions[idx], self.arch["pass_limit"]))
                logp, ent, _, _ = self.net.evaluate(b)
                old = torch.from_numpy(old_logp[idx]).float()
                a = torch.from_numpy(adv[idx]).float()
                ratio = torch.exp(logp - old)
                clipped = torch.clamp(ratio, 1 - hp["clip_range"], 1 + hp["clip_range"])
                pg = -torch.min(ratio * a, clipped * a).mean()
                loss = pg - hp["ent_coef"] * ent.mean()
                self.opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.net.parameters(), hp["max_grad_norm"])
                self.opt.step()
                with torch.no_grad():
                    pg_losses.append(float(pg))
                    ents.append(float(ent.mean()))
                    kls.append(float((old - logp).mean()))
                    clips.append(float(((ratio - 1).abs() > hp["clip_range"]).float().mean()))
        jct = [r["avg_jct_s"] for r in results if not math.isnan(r["avg_jct_s"])]
        return {
            "policy_gradient_loss": float(np.mean(pg_losses)),
            "entropy": float(np.mean(ents)),
            "approx_kl": float(np.mean(kls)),
            "clip_fraction": float(np.mean(clips)),
            "jobs": jobs,
            "decisions": len(decisions),
            "train_jct_s": float(np.mean(jct)) if jct else math.nan,
            "train_return": float(np.mean([r[0] for r in rets if len(r)])),
            "rollout_s": t_roll,
            "update_s": time.perf_counter() - t1,
            **_timing(results),
        }

    # -- what the loop saves ---------------------------------------------------------------

    def card(self) -> dict[str, Any]:
        """The policy card (without the training section, which the loop adds)."""
        from schedlab.families.spark.graph import STAGE_FEATURES
        from schedlab.learn.decima.network import parameter_count

        return {
            "algorithm": "decima",
            "family": "spark",
            "architecture": {"library": "torch", "network": self.arch, "parameters": parameter_count(self.arch)},
            "observation": {
                "stage_features": list(STAGE_FEATURES),
                "graph": "schedlab.families.spark.graph:graph_arrays",
                "scenario": self.scenario_data,
            },
            "hyperparameters": self.hp,
        }

    def weights(self) -> dict[str, Any]:
        """The network's tensors."""
        return {k: v.detach().clone() for k, v in self.net.state_dict().items()}

    def scheduler(self):
        """The current policy as a greedy scheduler (a copy: training on does not change it)."""
        from schedlab.learn.decima.scheduler import DecimaScheduler

        return DecimaScheduler.from_weights(self._weights_np(), self.arch, greedy=True)

    def training_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """Tensors and JSON values to resume from: network, optimizer, counters, the random stream."""
        from schedlab.learn.train import optimizer_state

        tensors = {f"net.{k}": v for k, v in self.net.state_dict().items()}
        optim, param_groups = optimizer_state(self.opt)
        tensors.update(optim)
        meta = {
            "iteration_count": self.iteration,
            "num_timesteps": self.num_timesteps,
            "param_groups": param_groups,
            "rng": self.rng.bit_generator.state,
        }
        return tensors, meta

    def load_training_state(self, tensors: Mapping[str, Any], meta: Mapping[str, Any]) -> None:
        """Restore what :meth:`training_state` returned."""
        from schedlab.learn.train import load_optimizer_state

        self.net.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("net.")})
        load_optimizer_state(self.opt, tensors, meta["param_groups"])
        self.iteration = int(meta["iteration_count"])
        self.num_timesteps = int(meta["num_timesteps"])
        self.rng.bit_generator.state = meta["rng"]

    def worker_pids(self) -> list[int]:
        """Process ids of the rollout workers (for CPU accounting)."""
        return list(self._pids)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


def _timing(results: list[dict[str, Any]]) -> dict[str, float]:
    """Seconds the rollouts spent simulating, observing and choosing, summed over them."""
    keys = ("simulate_s", "observe_s", "choose_s")
    return {f"roll_{k}": float(sum(r["timing"][k] for r in results)) for k in keys}
