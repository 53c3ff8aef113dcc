"""Experience pools: every decision of spark episodes run by any scheduler, for offline learning.

A pool is a folder:

- ``pool.json``: the format, the scenario every episode ran (as data), the action encoding;
- ``episodes/<scheduler>__seed<seed>.parquet``: one episode, one row per recorded decision.

A row holds the decision point as Decima's policy sees it (:class:`~schedlab.learn.decima.features.Decision`:
the stage graph with its five features per stage, its edges, the offered stages, each job's
executor base), the action as (stage slot, job-level limit) in the same encoding the decima
policy uses (:func:`~schedlab.learn.decima.rollout.heuristic_action`), its reward and the
return-to-go. The reward of a decision is minus the job-seconds spent in the system (jobs
arrived and not completed, integrated over time) until the next recorded decision, in seconds,
so an episode's rewards sum to minus its total job completion time up to its end, and the
return-to-go at a decision is the sum of the rewards from it on.

Episodes are written whole and atomically, so a pool is appendable (more schedulers or seeds
later) and resumable (an interrupted collection reruns only the episodes it lacks). Any spark
scheduler can fill a pool: a registered name, a ``module:Class``, a policy folder. A decision
its answer cannot be expressed in the encoding for is counted, not recorded.

An episode can also be *driven* by another scheduler (DAgger): the driver acts, exactly as in
its plain run, and the pool's scheduler only labels the decision points the driver reaches.
Such an episode is stored under ``<scheduler>@<driver>``; its rewards and JCT are the
driver's, its ``acted_stage`` / ``acted_limit`` columns what the driver did (the steps after a
decision follow from those, not from the label), and it counts the decisions where the driver
did what the label says.

A labeller that weighs alternatives before it decides (``rollout``) also leaves, per
decision, the options it weighed and their costs (``option_stage``, ``option_limit``,
``option_cost``; empty where it had one option), so a learner can tell a close call from a
clear one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from schedlab.errors import ConfigError, DataError

__all__ = ["FORMAT", "Pool", "collect", "record_episode", "read_pool", "pool_info", "episode_file", "episode_name"]

FORMAT = "schedlab-pool/1"
MANIFEST = "pool.json"
EPISODES = "episodes"

#: Columns of an episode file: per-decision scalars, then the decision graph as lists.
SCALARS = ("scheduler", "seed", "step", "time_ms", "stage", "limit", "reward", "return_to_go", "committable",
           "num_executors", "can_pass")  # fmt: skip
LISTS = ("x", "src", "dst", "level", "node_job", "stage_node", "base")
#: Columns of driven episodes only.
ACTED = ("acted_stage", "acted_limit")
#: Columns of a labeller that weighs options (rollout): per decision, each option and its cost.
OPTIONS = ("option_stage", "option_limit", "option_cost")


def episode_file(pool: str | os.PathLike, scheduler: str, seed: int) -> Path:
    """Where the episode of ``scheduler`` on ``seed`` is stored in ``pool``."""
    from schedlab.sim.io import file_part

    return Path(pool) / EPISODES / f"{file_part(scheduler)}__seed{int(seed)}.parquet"


def episode_name(scheduler: str, driver: str | None = None) -> str:
    """The name episodes are stored under: the scheduler, or ``scheduler@driver`` when driven.

    A driver given as a policy folder is named by the folder's last part.
    """
    if driver is None:
        return scheduler
    return f"{scheduler}@{Path(driver.rstrip('/')).name or driver}"


def record_episode(
    scenario_data: Mapping[str, Any], scheduler: str, seed: int, driver: str | None = None
) -> dict[str, Any]:
    """Run ``scheduler`` on one episode and record each decision point where a stage is offered.

    The episode is :func:`~schedlab.learn.decima.rollout.run_episode` with the scheduler
    acting, or with ``driver`` acting and the scheduler labelling; this adds the rewards.

    Returns:
        ``decisions`` (list of Decision), ``actions`` (D, 2), ``times_ms`` (D,), ``rewards``
        and ``return_to_go`` (D,), ``avg_jct_s``, ``skipped`` (decisions not expressible).
    """
    from schedlab.learn.decima.rollout import discounted_returns, run_episode

    ep = run_episode(scenario_data, seed, heuristic=scheduler, actor=driver)
    times_ms = ep["times_ms"]
    # beta 0: the return-to-go is minus the job-seconds left; a reward is the difference of two.
    rtg = discounted_returns(times_ms, ep["arrival_ms"], ep["completion_ms"], ep["end_ms"], 0.0)
    ep["return_to_go"] = rtg
    ep["rewards"] = rtg - np.append(rtg[1:], 0.0)
    return ep


def _episode_table(ep: Mapping[str, Any], scheduler: str, seed: int):
    import pyarrow as pa

    ds = ep["decisions"]
    n = len(ds)
    cols: dict[str, Any] = {
        "scheduler": pa.array([scheduler] * n, pa.string()),
        "seed": pa.array(np.full(n, seed, dtype=np.int64)),
        "step": pa.array(np.arange(n, dtype=np.int64)),
        "time_ms": pa.array(ep["times_ms"]),
        "stage": pa.array(ep["actions"][:, 0]),
        "limit": pa.array(ep["actions"][:, 1]),
        "reward": pa.array(ep["rewards"]),
        "return_to_go": pa.array(ep["return_to_go"]),
        "committable": pa.array(np.array([d.committable for d in ds], dtype=np.int64)),
        "num_executors": pa.array(np.array([d.num_executors for d in ds], dtype=np.int64)),
        "can_pass": pa.array(np.array([d.can_pass for d in ds], dtype=bool)),
    }
    if "acted" in ep:
        cols["acted_stage"] = pa.array(ep["acted"][:, 0])
        cols["acted_limit"] = pa.array(ep["acted"][:, 1])
    if "options" in ep:
        for j, (name, kind) in enumerate(zip(OPTIONS, (pa.int64(), pa.int64(), pa.float64()))):
            cols[name] = pa.array([o[:, j].tolist() for o in ep["options"]], pa.list_(kind))
    for name in LISTS:
        arrays = [np.asarray(getattr(d, name)) for d in ds]
        flat = np.concatenate([a.reshape(-1) for a in arrays]) if arrays else np.zeros(0)
        flat = flat.astype(np.float32 if name == "x" else np.int64)
        offsets = np.concatenate([[0], np.cumsum([a.size for a in arrays])]).astype(np.int32)
        cols[name] = pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat))
    meta = {"avg_jct_s": repr(ep["avg_jct_s"]), "skipped": str(ep["skipped"])}
    if "agree" in ep:
        meta["agree"] = str(ep["agree"])
    return pa.table(cols).replace_schema_metadata({"schedlab": json.dumps(meta)})


def _collect_one(
    pool: str, scenario_data: Mapping[str, Any], scheduler: str, seed: int, driver: str | None = None
) -> dict[str, Any]:
    """Record one episode and write its file; runs in a worker process."""
    import io

    import pyarrow.parquet as pq

    from schedlab.sim.io import write_atomic

    ep = record_episode(scenario_data, scheduler, seed, driver)
    name = episode_name(scheduler, driver)
    buf = io.BytesIO()
    pq.write_table(_episode_table(ep, name, seed), buf)
    write_atomic(episode_file(pool, name, seed), buf.getvalue())
    summary = {"scheduler": name, "seed": seed, "steps": len(ep["decisions"]), "avg_jct_s": ep["avg_jct_s"]}
    if "agree" in ep:
        summary["agree"] = ep["agree"]
    return summary


def collect(
    pool: str | os.PathLike,
    scenario: Any,
    schedulers: Sequence[str],
    seeds: Sequence[int],
    *,
    workers: int = 1,
    ray: bool = False,
    driver: str | None = None,
    on_done: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Fill ``pool`` with the episodes of each scheduler on each seed that it does not hold yet.

    Args:
        pool: The pool folder (created if needed).
        scenario: A spark scenario object (or preset name / path).
        schedulers: Spark scheduler names, ``module:Class`` paths or policy folders.
        seeds: Episode seeds; training seeds (10000 and up) only, as the evaluation protocol
            keeps validation and test episodes out of anything learned from.
        workers: Parallel processes.
        ray: Run the episodes as Ray tasks instead (``ray.init()`` finds the cluster).
        driver: A spark scheduler that acts in every episode while ``schedulers`` only label
            (DAgger); the episodes are stored as ``<scheduler>@<driver>``.
        on_done: Called with each finished episode's summary.

    Returns:
        The summaries of the episodes collected now (those already in the pool are skipped).

    Raises:
        ConfigError: Not a spark scenario, a seed below 10000, an unknown scheduler.
        DataError: ``pool`` holds episodes of another scenario, or cannot be written.
    """
    from schedlab.scenarios import load_scenario
    from schedlab.schedulers import check_family, make
    from schedlab.sim.io import check_writable, plain_json, write_atomic

    if isinstance(scenario, str):
        scenario = load_scenario(scenario)
    if scenario.family != "spark":
        raise ConfigError(f"experience pools hold spark episodes, not {scenario.family}", field="scenario")
    low = [s for s in seeds if s < 10000]
    if low:
        raise ConfigError(f"seed {low[0]} is not a training seed (10000 and up)", field="--seeds")
    for name in [*schedulers, *([driver] if driver is not None else [])]:
        check_family(make(name, "spark"), "spark")  # an unknown name fails before any work
    pool = Path(pool)
    check_writable(pool, folder=True)
    data = scenario.model_dump(mode="json")
    manifest = pool / MANIFEST
    if manifest.exists():
        held = _read_manifest(pool)
        if held["scenario"] != data:
            raise DataError(
                "the pool holds episodes of another scenario; collect into a new folder", source=str(manifest)
            )
    else:
        doc = {"format": FORMAT, "scenario": data, "encoding": "decima-slot-limit", "pass_limit": True}
        write_atomic(manifest, (plain_json(doc) + "\n").encode())
    todo = [
        (name, int(s))
        for name in schedulers
        for s in seeds
        if not episode_file(pool, episode_name(name, driver), s).is_file()
    ]
    calls = [(str(pool), data, name, s, driver) for name, s in todo]
    done: list[dict[str, Any]] = []

    def finished(r: dict[str, Any]) -> None:
        done.append(r)
        if on_done is not None:
            on_done(r)

    if ray:
        try:
            import ray as ray_mod
        except ImportError:
            raise ConfigError("--ray needs Ray installed (pip install 'schedlab[ray]')", field="--ray") from None
        if not ray_mod.is_initialized():
            ray_mod.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
        remote = ray_mod.remote(num_cpus=1)(_collect_one)
        pending = [remote.remote(*c) for c in calls]
        while pending:
            ready, pending = ray_mod.wait(pending, num_returns=1)
            finished(ray_mod.get(ready[0]))
    elif workers > 1 and len(calls) > 1:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor, as_completed

        from schedlab.learn.decima.rollout import init_worker

        with ProcessPoolExecutor(
            min(workers, len(calls)), mp_context=mp.get_context("forkserver"), initializer=init_worker
        ) as ex:
            for f in as_completed([ex.submit(_collect_one, *c) for c in calls]):
                finished(f.result())
    else:
        for c in calls:
            finished(_collect_one(*c))
    return done


def _read_manifest(pool: Path) -> dict[str, Any]:
    from schedlab.scenarios.files import parse_json, read_text

    path = pool / MANIFEST
    if not path.is_file():
        raise DataError("not an experience pool (no pool.json)", source=str(pool))
    doc = parse_json(read_text(path, what="pool manifest", error=DataError), source=str(path), error=DataError)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise DataError(f"expected format {FORMAT!r}", source=str(path), field="format")
    if not isinstance(doc.get("scenario"), dict):
        raise DataError("expected the scenario as an object", source=str(path), field="scenario")
    return doc


@dataclass
class Episode:
    """One recorded episode: its decisions and actions, as the decima policy's encoding has them."""

    scheduler: str
    seed: int
    decisions: list
    actions: np.ndarray
    times_ms: np.ndarray
    rewards: np.ndarray
    return_to_go: np.ndarray
    avg_jct_s: float
    skipped: int
    acted: np.ndarray | None = None  # (D, 2) what a driver did, in a driven episode
    options: list[np.ndarray] | None = None  # per decision, (k, 3) rows (slot, limit, cost) weighed


@dataclass
class Pool:
    """An experience pool read back: the scenario and the episode files."""

    path: Path
    scenario: dict[str, Any]
    files: list[Path]

    def episodes(self) -> Iterator[Episode]:
        """Each episode, rebuilt as Decisions (file order: by scheduler, then seed)."""
        for f in self.files:
            yield _read_episode(f)


def read_pool(path: str | os.PathLike) -> Pool:
    """Open a pool folder.

    Raises:
        DataError: Not a pool (no or a malformed ``pool.json``).
    """
    p = Path(path)
    doc = _read_manifest(p)
    files = sorted((p / EPISODES).glob("*.parquet")) if (p / EPISODES).is_dir() else []
    return Pool(p, doc["scenario"], files)


def _read_episode(path: Path) -> Episode:
    import pyarrow.parquet as pq

    from schedlab.learn.decima.features import Decision

    try:
        t = pq.read_table(path)
        meta = json.loads((t.schema.metadata or {}).get(b"schedlab", b"{}"))
        missing = [c for c in (*SCALARS, *LISTS) if c not in t.column_names]
        if missing:
            raise DataError(f"missing column(s) {', '.join(missing)}", source=str(path))
        cols = {c: t.column(c).to_pylist() for c in SCALARS if c != "scheduler"}
        driven = all(c in t.column_names for c in ACTED)
        acted = np.stack([t.column(c).to_numpy().astype(np.int64) for c in ACTED], axis=1) if driven else None
        options = None
        if all(c in t.column_names for c in OPTIONS):
            per = [t.column(c).to_pylist() for c in OPTIONS]
            options = [np.array(list(zip(*row)), dtype=np.float64).reshape(-1, 3) for row in zip(*per)]
        lists = {c: t.column(c).to_pylist() for c in LISTS}
        sched = t.column("scheduler")[0].as_py() if t.num_rows else path.stem.rsplit("__seed", 1)[0]
    except DataError:
        raise
    except Exception as e:  # pyarrow's many error types for a damaged file
        raise DataError(f"unreadable episode file ({type(e).__name__}: {e})", source=str(path)) from None
    ds = []
    for i in range(t.num_rows):
        x = np.asarray(lists["x"][i], dtype=np.float32)
        if x.size % 5:
            raise DataError(f"row {i}: x does not hold 5 features per stage", source=str(path), field="x")
        ds.append(
            Decision(
                x=x.reshape(-1, 5),
                src=np.asarray(lists["src"][i], dtype=np.int64),
                dst=np.asarray(lists["dst"][i], dtype=np.int64),
                level=np.asarray(lists["level"][i], dtype=np.int64),
                node_job=np.asarray(lists["node_job"][i], dtype=np.int64),
                stage_node=np.asarray(lists["stage_node"][i], dtype=np.int64),
                base=np.asarray(lists["base"][i], dtype=np.int64),
                committable=int(cols["committable"][i]),
                num_executors=int(cols["num_executors"][i]),
                can_pass=bool(cols["can_pass"][i]),
            )
        )
    seeds = cols["seed"]
    return Episode(
        scheduler=str(sched),
        seed=int(seeds[0]) if seeds else -1,
        decisions=ds,
        actions=np.stack(
            [np.asarray(cols["stage"], dtype=np.int64), np.asarray(cols["limit"], dtype=np.int64)], axis=1
        ),
        times_ms=np.asarray(cols["time_ms"], dtype=np.float64),
        rewards=np.asarray(cols["reward"], dtype=np.float64),
        return_to_go=np.asarray(cols["return_to_go"], dtype=np.float64),
        avg_jct_s=float(meta.get("avg_jct_s", "nan")),
        skipped=int(meta.get("skipped", 0)),
        acted=acted,
        options=options,
    )


def pool_info(path: str | os.PathLike) -> dict[str, Any]:
    """Per scheduler: episodes, steps, average JCT, the distribution of episode returns.

    Driven episodes also give ``agree``: the share of decisions where the driver did what the
    label says (NaN for the others). Reads only the scalar columns, so a large pool is summarised quickly.
    """
    import pyarrow.parquet as pq

    pool = read_pool(path)
    per: dict[str, dict[str, list]] = {}
    for f in pool.files:
        try:
            t = pq.read_table(f, columns=["scheduler", "reward"])
            meta = json.loads((pq.read_schema(f).metadata or {}).get(b"schedlab", b"{}"))
        except Exception as e:  # noqa: BLE001 - a damaged file is named, not a traceback
            raise DataError(f"unreadable episode file ({type(e).__name__}: {e})", source=str(f)) from None
        name = t.column("scheduler")[0].as_py() if t.num_rows else f.stem.rsplit("__seed", 1)[0]
        s = per.setdefault(name, {"steps": [], "returns": [], "jct": [], "agree": []})
        s["steps"].append(t.num_rows)
        if "agree" in meta:
            s["agree"].append(int(meta["agree"]))
        s["returns"].append(float(np.sum(t.column("reward").to_numpy())))
        s["jct"].append(float(meta.get("avg_jct_s", "nan")))
    out: dict[str, Any] = {"path": str(pool.path), "episodes": len(pool.files), "steps": 0, "schedulers": {}}
    for name, s in sorted(per.items()):
        r = np.array(s["returns"])
        out["steps"] += int(sum(s["steps"]))
        out["schedulers"][name] = {
            "episodes": len(r),
            "steps": int(sum(s["steps"])),
            "avg_jct_s": float(np.nanmean(s["jct"])) if np.isfinite(s["jct"]).any() else float("nan"),
            "return_mean": float(r.mean()),
            "return_min": float(r.min()),
            "return_p50": float(np.median(r)),
            "return_max": float(r.max()),
            # Driven episodes: the share of the driver's decisions the labels agree with.
            "agree": sum(s["agree"]) / max(1, sum(s["steps"])) if s["agree"] else float("nan"),
        }
    return out
