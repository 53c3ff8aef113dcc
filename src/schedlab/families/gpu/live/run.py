"""A live gpu run: the gpu model's ready queue, gangs and views, its nodes run by a model server.

Nothing here is a second model. :class:`LiveGpuCluster` *is* a
:class:`~schedlab.families.gpu.model.GpuCluster` (the same ready queue, validation of
placements, views and trace tables) except that a placed node is sent to a model server
instead of pushing its completion onto the event heap: a thread per gang makes the model
ready on the gang (a real load when the gang's GPUs hold another model) and sends the node's
call, both timed. :func:`run_live` is the simulator's loop on a wall clock: the engine's clock
is the seconds since the run began; arrivals are still events on its heap, due at their
offsets; a completion is a call coming back. The registered scheduler object decides on views
of this real state.

While a node runs, the model keeps its GPUs busy without end (the end is known only when the
call comes back); the scheduler's view shows them freeing at the estimate (dispatch, plus the
estimated switch, plus the estimated time), or now once that has passed.
A trace row starts its measured call time before the call came back (never before it was
dispatched plus its measured load) and its ``setup`` is the measured load. The task table keeps
the estimates next to what was measured: ``estimated_time`` (what the scheduler saw),
``measured_time`` (the HTTP call), ``estimated_switch`` (the scenario's switch cost) and
``measured_load`` (0.0 when the gang held the model). The execution log carries them.

What a node asks the server for is sized from its estimate: a generative model generates
``estimate x tokens_per_second x work_scale`` tokens (``tokens_per_second`` from the config,
:data:`DEFAULT_TOKENS_PER_S` for models given by inference time), an encoder embeds
``estimate x`` :data:`INPUTS_PER_S` ``x work_scale x 32`` inputs; both at least 1 and capped.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import queue
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from schedlab.errors import ConfigError, SchedlabError
from schedlab.families.gpu.live.client import ModelServer
from schedlab.families.gpu.model import GpuCluster, GpuView
from schedlab.sim.engine import Engine
from schedlab.sim.trace import Trace
from schedlab.sim.wallclock import live_run_inputs, run_on_wall_clock

__all__ = [
    "LiveError",
    "LiveGpuCluster",
    "run_live",
    "builtin_server",
    "model_kinds",
    "node_sizes",
    "DEFAULT_WORK_SCALE",
]

#: Tokens (or inputs, x 32) per second of estimate a node asks for: 1/32 keeps the built-in
#: workload's calls between a few tens of ms and a few seconds on one CPU core.
DEFAULT_WORK_SCALE = 1 / 32
#: Token rate assumed for generative models given by inference time (no tokens_per_second).
DEFAULT_TOKENS_PER_S = 32.0
#: Encoder inputs per second of estimate (before ``work_scale x 32``).
INPUTS_PER_S = 4.0
#: Most tokens or inputs one call asks for.
MAX_SIZE = 64
#: A model is served as an encoder when its key or name matches this.
ENCODER_NAME = re.compile(r"embed|encod|bert|minilm", re.IGNORECASE)
#: Config ``type`` values of encoder models (GSwarm's configs say ``embedding``).
ENCODER_TYPES = ("embedding", "encoder")


class LiveError(SchedlabError):
    """The model server died or failed a call during a live run."""


class _Done(NamedTuple):
    gid: int
    load_s: float
    call_s: float
    error: str | None


def model_kinds(config: Any) -> dict[str, str]:
    """Model key -> ``encoder`` or ``generative``.

    By the config's ``type`` where it gives one (``embedding`` is an encoder), else by
    :data:`ENCODER_NAME` on the key and the name.
    """
    return {k: _kind(k, s) for k, s in config.models.items()}


def _kind(key: str, spec: Any) -> str:
    if spec.type is not None:
        return "encoder" if spec.type.lower() in ENCODER_TYPES else "generative"
    return "encoder" if ENCODER_NAME.search(key) or ENCODER_NAME.search(spec.name or "") else "generative"


def node_sizes(config: Any, model: GpuCluster, work_scale: float = DEFAULT_WORK_SCALE) -> list[int]:
    """Per node (task id), the tokens or inputs its call asks for (see the module's docstring)."""
    kinds = model_kinds(config)
    out = []
    for nd in model._nodes:
        key = model._model_keys[nd.model]
        if kinds[key] == "encoder":
            size = nd.est * INPUTS_PER_S * work_scale * 32
        else:
            size = nd.est * (config.models[key].tokens_per_second or DEFAULT_TOKENS_PER_S) * work_scale
        out.append(int(min(MAX_SIZE, max(1, round(size)))))
    return out


class LiveGpuCluster(GpuCluster):
    """A :class:`~schedlab.families.gpu.model.GpuCluster` whose nodes run on a model server.

    Args:
        base: The simulator's model of the same workload (its requests, arrivals, estimates).
        engine: The engine; its clock is set to wall seconds by :func:`run_live`.
        config: The system config.
        server: The connected server.
        sizes: Per node, the tokens or inputs its call asks for.
        pool: Threads that send the calls, one per GPU at least.
        done: Where the threads put finished calls.
        switch_times: Model key -> estimated switch seconds; a model it leaves out, or all
            without it, uses the scenario's cost model.
    """

    def __init__(
        self,
        base: GpuCluster,
        engine: Engine,
        config: Any,
        server: ModelServer,
        sizes: Sequence[int],
        pool: ThreadPoolExecutor,
        done: queue.Queue,
        *,
        switch_times: dict[str, float] | None = None,
    ) -> None:
        requests = [_Req(r.rid, r.workflow) for r in base._requests]
        arrivals = [r.arrival for r in base._requests]
        super().__init__(
            engine,
            config,
            requests,
            arrivals,
            gpus=base.num_gpus,
            pcie_gb_per_s=base.pcie,
            switch_overhead_s=base.overhead,
            times=base.times,
        )
        self._server = server
        self._kinds = model_kinds(config)
        self._sizes = list(sizes)
        self._pool = pool
        self._done = done
        self._pending: dict[int, tuple[tuple[int, ...], float, tuple[int, ...], float]] = {}
        self._measured: dict[int, tuple[float, float, float]] = {}  # seq -> estimated switch, load, call
        given = switch_times or {}
        self._switch = [float(given[k]) if k in given else None for k in self._model_keys]
        self._expected_free = [0.0] * self.num_gpus  # per GPU: the estimated end of its node

    def _cost(self, loaded: int, model: int) -> float:
        t = self._switch[model]
        if t is None:
            return super()._cost(loaded, model)
        return 0.0 if loaded == model else t

    def view(self) -> GpuView:
        """The scheduler's view, running GPUs freeing at their estimated end."""
        v = GpuView(self)
        now = v.now
        v.gpus = tuple(g if g.idle else g._replace(free_at=max(now, self._expected_free[g.id])) for g in v.gpus)
        return v

    @property
    def running_any(self) -> bool:
        """Whether some node's call is out."""
        return bool(self._pending)

    def _place(self, node, gang: tuple[int, ...], delay: float = 0.0) -> None:
        prev, estimated_switch = self._take(node, gang)
        m = node.model
        now = self.engine.now
        for g in gang:
            self._gpu_model[g] = m
            self._gpu_free[g] = math.inf  # busy until its call comes back
        req = node.req
        self._decision_rows.append((now, req.id, node.index, node.k))
        self._pending[node.gid] = (gang, now, prev, estimated_switch)
        for g in gang:
            self._expected_free[g] = now + estimated_switch + node.est
        key = self._model_keys[m]
        switch = any(p != m for p in prev)
        self._pool.submit(self._run_node, node.gid, key, self._kinds[key], self._sizes[node.gid], gang, switch)

    def _run_node(self, gid: int, key: str, kind: str, size: int, gang: tuple[int, ...], switch: bool) -> None:
        """On a pool thread: make the model ready on the gang, then send the node's call."""
        try:
            load = self._server.load(key, kind, gang) if switch else 0.0
            call = self._server.call(key, kind, size, gang, text=f"node {gid}")
            self._done.put(_Done(gid, load, call, None))
        except Exception as e:  # noqa: BLE001 - any failure must reach the loop, or it waits forever
            self._done.put(_Done(gid, 0.0, 0.0, str(e) or type(e).__name__))

    def complete(self, now: float, done: _Done) -> bool:
        """A call came back at ``now``; True opens a decision point.

        Raises:
            LiveError: The call failed.
        """
        if done.error is not None:
            raise LiveError(f"model server: {done.error}")
        gang, dispatched, prev, estimated_switch = self._pending.pop(done.gid)
        setup = min(done.load_s, max(0.0, now - dispatched))
        start = min(now, max(now - done.call_s, dispatched + setup))
        for g in gang:
            self._gpu_free[g] = now
        node = self._nodes[done.gid]
        seq = len(self._runs)
        self._runs.append((done.gid, gang, self._ready_at[done.gid], start, now, setup, prev, seq))
        self._measured[seq] = (estimated_switch, done.load_s, done.call_s)
        return self._on_done(now, node, None)

    def finish(self, trace: Trace) -> None:
        super().finish(trace)
        runs = sorted(self._runs, key=lambda r: (r[3], r[7]))  # the order the task table has
        for k, col in enumerate(("estimated_switch", "measured_load", "measured_time")):
            trace.tasks[col] = [self._measured[r[7]][k] for r in runs]


class _Req(NamedTuple):
    """What :class:`GpuCluster` reads of a request (the base model already checked it)."""

    request_id: str
    workflow_id: str


def run_live(
    scenario: Any,
    scheduler: Any,
    seed: int = 0,
    *,
    server_url: str | None = None,
    work_scale: float = DEFAULT_WORK_SCALE,
    times: Any = None,
    switch_times: dict[str, float] | None = None,
    progress: Callable[[float], None] | None = None,
):
    """Run a gpu scenario's nodes on a model server, with ``scheduler`` deciding on live views.

    The workload (requests, arrivals, estimates) is the one the simulator builds for ``seed``.
    Without ``server_url`` the built-in server (:mod:`.server`) is started on 127.0.0.1 and
    stopped when the run ends, however it ends.

    Args:
        scenario: A preset name, YAML path or scenario object (``workload.jobs`` limits it).
        scheduler: A registered name, ``module:Class`` or a scheduler object.
        seed: Seeds the workload and the scheduler's own stream.
        server_url: An OpenAI-compatible server serving the config's model keys.
        work_scale: Tokens (or inputs) per estimated second and token (see the module).
        times: Estimates to use instead of the scenario's (an ``ExecutionTimeSource``); the
            calls are still sized from the scenario's.
        switch_times: Model key -> estimated seconds to make it ready on a GPU that holds
            another model or none, instead of the scenario's switch cost model.
        progress: Called now and then with the fraction of requests done.

    Returns:
        A :class:`schedlab.runs.RunResult`; ``meta["live"]`` is ``"model-server"``,
        ``meta["server"]`` names the URL, whether it was built in, and its pid.

    Raises:
        ConfigError: The scenario cannot run live, a bad option, or (field ``--server-url``)
            a server that cannot be reached or is not OpenAI-compatible.
        LiveError: The server died or failed a call.
        InvalidActionError: The scheduler answered with an invalid action.
    """
    from schedlab.metrics.summary import summarize
    from schedlab.runs import RunResult

    scenario, name, scheduler = live_run_inputs(scenario, scheduler, seed, "gpu")
    if not 0 < work_scale <= 1e3:
        raise ConfigError(f"work_scale must be in (0, 1000], got {work_scale!r}", field="work_scale")

    # The simulator's own model, for the workload and its estimates: the same seed draws the
    # same requests as a simulated run.
    base = scenario.build(Engine(), np.random.default_rng(seed))
    config = _system_config(scenario)
    sizes = node_sizes(config, base, work_scale)  # from the scenario's estimates, whatever ``times`` says
    if times is not None:
        base = _with_times(base, scenario, times)
    kinds = model_kinds(config)
    used = {base._model_keys[nd.model] for nd in base._nodes}
    kinds = {k: v for k, v in kinds.items() if k in used}
    scheduler.reset(np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0]))
    with contextlib.ExitStack() as stack:
        # Registered first, so it runs last: on an error or Ctrl-C the server stops first, the
        # calls still out fail at once, and nothing waits for them.
        pool = ThreadPoolExecutor(max_workers=base.num_gpus, thread_name_prefix="schedlab-gpu")
        stack.callback(pool.shutdown, wait=False, cancel_futures=True)
        if server_url is None:
            specs = {k: {"kind": kinds[k], "memory_gb": config.models[k].memory_gb} for k in kinds}
            builtin = stack.enter_context(builtin_server(specs))
            url, pid = builtin.url, builtin.pid
        else:
            url, pid = server_url, None
        server = ModelServer(url).connect(kinds)
        done: queue.Queue = queue.Queue()
        engine = Engine()
        model = LiveGpuCluster(base, engine, config, server, sizes, pool, done, switch_times=switch_times)
        wall, decide_s = run_on_wall_clock(model, engine, scheduler, _completions(done), progress)
    trace = Trace(
        family=model.family,
        time_unit=model.time_unit,
        meta={
            "seed": seed,
            "scenario": getattr(scenario, "name", ""),
            "scheduler": name,
            "live": "model-server",
            "server": {"url": url, "builtin": server_url is None, "pid": pid},
            "work_scale": work_scale,
            "cpus": os.cpu_count(),
        },
        scenario=scenario.model_dump(mode="json"),
        counters={"events": engine.events + len(model._runs), "decisions": len(decide_s)},
    )
    model.finish(trace)
    trace.timing = {"wall_s": wall, "decide_s": decide_s}
    if progress is not None:
        progress(1.0)
    # The makespan bounds are made of the estimates (GPU seconds of the config), which the
    # stand-ins do not follow: next to a measured makespan they would mislead.
    metrics = {k: v for k, v in summarize(trace).items() if not k.startswith(_BOUND_KEYS)}
    return RunResult(trace, metrics)


_BOUND_KEYS = ("makespan_bound", "makespan_lower_bound", "makespan_gap")


def _completions(done: queue.Queue) -> Callable[[float | None], list]:
    """``wait(timeout)`` for :func:`run_on_wall_clock`: the next call that came back, if any."""

    def wait(timeout: float | None) -> list:
        try:
            return [done.get(timeout=timeout)]
        except queue.Empty:
            return []

    return wait


def _system_config(scenario: Any):
    from schedlab.families.gpu import gswarm

    w = scenario.workload
    return gswarm.load_config(w.config) if w.config is not None else gswarm.default_config()


def _with_times(base: GpuCluster, scenario: Any, times: Any, cls: type[GpuCluster] = GpuCluster) -> GpuCluster:
    """The same workload with the estimates of ``times``, as a ``cls`` on a fresh engine."""
    c = scenario.cluster
    requests = [_Req(r.rid, r.workflow) for r in base._requests]
    return cls(
        Engine(),
        _system_config(scenario),
        requests,
        [r.arrival for r in base._requests],
        gpus=c.gpus,
        pcie_gb_per_s=c.pcie_gb_per_s,
        switch_overhead_s=c.switch_overhead_s,
        times=times,
    )


# -- the built-in server -----------------------------------------------------------------------


class _Started(NamedTuple):
    url: str
    pid: int


@contextlib.contextmanager
def builtin_server(models: dict[str, dict[str, Any]], *, startup_s: float = 180.0) -> Iterator[_Started]:
    """Start the built-in server on 127.0.0.1 and a free port; stop it on leaving, however left.

    Args:
        models: Key -> ``{"kind", "memory_gb"}``.
        startup_s: Seconds to wait for it to answer ``/health``.

    Raises:
        LiveError: It exited or did not answer in time (its last output in the message).
    """
    with tempfile.TemporaryDirectory(prefix="schedlab-server-") as folder:
        spec = Path(folder) / "models.json"
        spec.write_text(json.dumps(models))
        log = open(Path(folder) / "server.log", "w+b")  # noqa: SIM115 - closed in finally
        port = _free_port()
        # -P: the working directory is not put on the path, so a user's timeit.py or json.py
        # there cannot shadow what the server imports.
        safe_path = ["-P"] if sys.version_info >= (3, 11) else []
        cmd = [sys.executable, *safe_path, "-m", "schedlab.families.gpu.live.server"]
        proc = subprocess.Popen(
            [*cmd, "--models", str(spec), "--port", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_healthy(proc, url, startup_s, log)
            yield _Started(url, proc.pid)
        finally:
            _stop(proc)
            log.close()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(proc: subprocess.Popen, url: str, startup_s: float, log) -> None:
    import urllib.request

    deadline = time.monotonic() + startup_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LiveError(f"the built-in model server exited with code {proc.returncode}: {_tail(log)}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise LiveError(f"the built-in model server did not answer within {startup_s:g} s: {_tail(log)}")


def _tail(log) -> str:
    log.flush()
    log.seek(0)
    lines = log.read().decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else "no output"


def _stop(proc: subprocess.Popen) -> None:
    """Terminate, then kill if it lingers; always reaped, so no process is left behind.

    It lingers when a call is still computing (a thread in torch that its exit waits for);
    the server keeps nothing worth a clean exit, so two seconds is all it gets.
    """
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            proc.kill()
    proc.wait()
